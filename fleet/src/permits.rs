//! Claims and permission extension (block control).
//!
//! A truck's claim is the road from `progress − half` to `granted + half` along its route,
//! where `half` is half the truck's length plus a margin. The dispatcher extends one truck's
//! grant at a time against everyone else's current claims, so the claims stay disjoint:
//! - on a lane, another claim ahead caps the extension at that claim's rear;
//! - an intersection connector is entered only if no other truck holds a connector of the same
//!   intersection that comes too close to it (the site's conflict table);
//! - a grant never ends with the claim inside an intersection the truck has not yet entered
//!   ("don't block the box"), so whoever enters an intersection can always leave it.

use site::ids::{LaneId, TruckId};
use site::route::RoutePath;
use site::Site;

/// The road a truck holds: lane stretches `(lane, s0, s1)`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Claim {
    pub stretches: Vec<(LaneId, f64, f64)>,
}

impl Claim {
    pub fn on_route(route: &RoutePath, rear: f64, front: f64, site: &Site) -> Claim {
        Claim {
            stretches: route.stretches(rear, front, &site.roads),
        }
    }

    /// True when two claims share road: overlapping stretches of one lane, or connectors of
    /// one intersection that conflict.
    pub fn overlaps(&self, other: &Claim, site: &Site) -> bool {
        for &(l, a0, a1) in &self.stretches {
            for &(m, b0, b1) in &other.stretches {
                if l == m && a0 < b1 - 1e-6 && b0 < a1 - 1e-6 {
                    return true;
                }
                let (x, y) = (
                    site.roads.lane(l).intersection,
                    site.roads.lane(m).intersection,
                );
                if let (Some(x), Some(y)) = (x, y) {
                    if x == y && l != m && site.intersections[x.index()].conflict(l, m) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Everyone's claims, indexed by lane for fast look-ups.
#[derive(Clone, Debug)]
pub struct ClaimIndex {
    by_lane: Vec<Vec<(TruckId, f64, f64)>>,
}

impl ClaimIndex {
    pub fn new(lanes: usize) -> ClaimIndex {
        ClaimIndex {
            by_lane: vec![Vec::new(); lanes],
        }
    }

    pub fn insert(&mut self, truck: TruckId, claim: &Claim) {
        for &(l, a, b) in &claim.stretches {
            self.by_lane[l.index()].push((truck, a, b));
        }
    }

    pub fn remove(&mut self, truck: TruckId, claim: &Claim) {
        for &(l, _, _) in &claim.stretches {
            self.by_lane[l.index()].retain(|e| e.0 != truck);
        }
    }

    fn on_lane(&self, l: LaneId) -> &[(TruckId, f64, f64)] {
        &self.by_lane[l.index()]
    }
}

/// Claims that touch within this distance (position noise) are still taken as one ahead of
/// the other rather than as overlapping, m.
pub const TOUCH_TOLERANCE_M: f64 = 1.0;

/// A request to extend one truck's grant.
#[derive(Clone, Copy, Debug)]
pub struct Extension<'a> {
    pub me: TruckId,
    pub route: &'a RoutePath,
    /// The truck's centre on `route`.
    pub progress: f64,
    /// Its current grant.
    pub granted: f64,
    /// Half its length plus the claim margin.
    pub half: f64,
    /// The grant it would like.
    pub want: f64,
}

/// How far a truck's grant can be extended now: the new grant, never less than the old.
pub fn extend(site: &Site, req: &Extension<'_>, index: &ClaimIndex) -> f64 {
    let Extension {
        me,
        route,
        progress,
        granted,
        half,
        want,
    } = *req;
    let e0 = granted.max(progress);
    let want = want.min(route.length);
    if want <= e0 {
        return e0;
    }
    let rear = progress - half;
    let front0 = e0 + half;
    let mut limit = want;
    // Other claims on the lanes ahead.
    for (i, &l) in route.route.lanes.iter().enumerate() {
        let o = route.offsets[i];
        if o > limit + half {
            break;
        }
        for &(t, a, b) in index.on_lane(l) {
            if t == me {
                continue;
            }
            let (ra, rb) = (o + a, o + b);
            if rb <= rear + 1e-9 || ra < rear {
                continue; // behind us: a follower keeps its distance from our rear
            }
            if ra >= front0 - TOUCH_TOLERANCE_M {
                limit = limit.min(ra - half);
            } else {
                // Overlaps what we already hold: never grows (cannot happen while the invariant
                // holds; freeze rather than guess).
                return e0;
            }
        }
    }
    // Intersections ahead that are held by a conflicting connector.
    for z in &route.zones {
        if z.d_in < front0 - 1e-9 || z.d_in >= limit + half {
            continue; // already entered, or beyond reach
        }
        let x = &site.intersections[z.intersection.index()];
        let blocked = x.lanes.iter().any(|&other| {
            other != z.lane
                && x.conflict(z.lane, other)
                && index.on_lane(other).iter().any(|e| e.0 != me)
        });
        if blocked {
            limit = limit.min(z.d_in - half);
        }
    }
    // Do not stop with the claim inside an intersection not yet entered.
    loop {
        let (lo, hi) = (limit - half, limit + half);
        let inside = route
            .zones
            .iter()
            .filter(|z| z.d_in >= front0 - 1e-9 && z.d_in < hi && z.d_out > lo)
            .map(|z| z.d_in)
            .fold(f64::INFINITY, f64::min);
        if inside.is_finite() && inside - half < limit {
            limit = inside - half;
        } else {
            break;
        }
    }
    limit.max(e0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::crossroad;
    use site::ids::RouteId;
    use site::route::Route;

    /// Half of a 15.5 m truck plus the default 4 m claim margin.
    const HALF: f64 = 15.5 / 2.0 + 4.0;
    const ME: TruckId = TruckId(0);
    const OTHER: TruckId = TruckId(1);

    /// W → X1 → (connector 1 of the crossing) → X2 → E on the crossroad: 800 m, the crossing
    /// from 400 m to 440 m.
    fn through(site: &Site) -> RoutePath {
        let route = Route {
            id: RouteId(1),
            lanes: vec![LaneId(0), LaneId(1), LaneId(2)],
            start_s: 0.0,
            end_s: site.roads.lane(LaneId(2)).length(),
        };
        RoutePath::new(route, &site.roads).expect("a valid route")
    }

    /// `OTHER` holding these stretches.
    fn held(site: &Site, stretches: &[(u32, f64, f64)]) -> ClaimIndex {
        let mut index = ClaimIndex::new(site.roads.lanes.len());
        let claim = Claim {
            stretches: stretches
                .iter()
                .map(|&(l, a, b)| (LaneId(l), a, b))
                .collect(),
        };
        index.insert(OTHER, &claim);
        index
    }

    fn grant(site: &Site, index: &ClaimIndex, progress: f64, granted: f64, want: f64) -> f64 {
        let route = through(site);
        let req = Extension {
            me: ME,
            route: &route,
            progress,
            granted,
            half: HALF,
            want,
        };
        extend(site, &req, index)
    }

    #[test]
    fn the_route_crosses_the_intersection_where_expected() {
        let site = crossroad();
        let r = through(&site);
        assert!((r.length - 800.0).abs() < 1e-9);
        assert_eq!(r.zones.len(), 1);
        assert!((r.zones[0].d_in - 400.0).abs() < 1e-9);
        assert!((r.zones[0].d_out - 440.0).abs() < 1e-9);
    }

    #[test]
    fn a_truck_alone_is_granted_its_target() {
        let site = crossroad();
        let free = ClaimIndex::new(site.roads.lanes.len());
        assert_eq!(grant(&site, &free, 50.0, 50.0, 210.0), 210.0);
        // through a free intersection
        assert_eq!(grant(&site, &free, 300.0, 300.0, 460.0), 460.0);
        // never beyond the end of the route
        assert_eq!(grant(&site, &free, 700.0, 700.0, 1_000.0), 800.0);
        // its own claim does not hold it back
        let mut own = ClaimIndex::new(site.roads.lanes.len());
        own.insert(
            ME,
            &Claim {
                stretches: vec![(LaneId(0), 38.25, 200.0)],
            },
        );
        assert_eq!(grant(&site, &own, 50.0, 50.0, 210.0), 210.0);
    }

    #[test]
    fn the_claim_ahead_caps_the_grant() {
        let site = crossroad();
        // on the same lane: the claim ends `half` short of the other's rear
        let ahead = held(&site, &[(0, 150.0, 180.0)]);
        assert_eq!(grant(&site, &ahead, 50.0, 50.0, 210.0), 150.0 - HALF);
        // on a later lane, beyond the (free) crossing: lane 2 starts at 440 m
        let beyond = held(&site, &[(2, 100.0, 130.0)]);
        let g = grant(&site, &beyond, 380.0, 380.0, 560.0);
        assert!((g - (540.0 - HALF)).abs() < 1e-9, "{g}");
        // a claim behind the truck's rear is not in its way
        let behind = held(&site, &[(0, 0.0, 30.0)]);
        assert_eq!(grant(&site, &behind, 100.0, 100.0, 250.0), 250.0);
    }

    #[test]
    fn held_before_an_intersection_whose_conflicting_connector_is_held() {
        let site = crossroad();
        // the crossing connector S → N (lane 4) is held: stop short of the zone
        let crossing = held(&site, &[(4, 0.0, 40.0)]);
        let g = grant(&site, &crossing, 300.0, 300.0, 460.0);
        assert!((g - (400.0 - HALF)).abs() < 1e-9, "{g}");
        // the approach to it (lane 3) is not the intersection: no hold
        let approach = held(&site, &[(3, 300.0, 370.0)]);
        assert_eq!(grant(&site, &approach, 300.0, 300.0, 460.0), 460.0);
        // already inside the crossing: the other connector does not stop the way out
        let g = grant(&site, &crossing, 420.0, 420.0, 500.0);
        assert_eq!(g, 500.0);
    }

    #[test]
    fn never_left_inside_an_intersection_not_yet_entered() {
        let site = crossroad();
        let free = ClaimIndex::new(site.roads.lanes.len());
        // a target just inside the crossing: the grant stops before it
        let g = grant(&site, &free, 300.0, 300.0, 410.0);
        assert!((g - (400.0 - HALF)).abs() < 1e-9, "{g}");
        assert!(g + HALF <= 400.0 + 1e-9);
        // a claim just beyond the exit would leave the claim in the box: pulled back too
        let exit = held(&site, &[(2, 5.0, 40.0)]);
        let g = grant(&site, &exit, 300.0, 300.0, 460.0);
        assert!((g - (400.0 - HALF)).abs() < 1e-9, "{g}");
        // once its claim is in the crossing the truck may stop wherever it must
        assert_eq!(grant(&site, &free, 395.0, 395.0, 410.0), 410.0);
    }

    #[test]
    fn grants_never_shrink() {
        let site = crossroad();
        let free = ClaimIndex::new(site.roads.lanes.len());
        // a smaller want leaves the grant as it is
        assert_eq!(grant(&site, &free, 50.0, 120.0, 80.0), 120.0);
        // a truck past its grant is granted at least where it stands
        assert_eq!(grant(&site, &free, 130.0, 120.0, 125.0), 130.0);
        // road ahead taken meanwhile: frozen, not taken back
        let taken = held(&site, &[(0, 125.0, 160.0)]);
        assert_eq!(grant(&site, &taken, 50.0, 120.0, 210.0), 120.0);
        // everywhere on a grid of positions, grants, wants and neighbours
        let indexes = [
            free,
            taken,
            held(&site, &[(4, 0.0, 40.0)]),
            held(&site, &[(2, 5.0, 40.0)]),
        ];
        for index in &indexes {
            for p in (0..80).map(|i| i as f64 * 10.0) {
                for dg in [0.0, 5.0, 30.0] {
                    for dw in [-10.0, 0.0, 20.0, 100.0, 200.0] {
                        let (granted, want) = (p + dg, p + dw);
                        let g = grant(&site, index, p, granted, want);
                        assert!(g >= granted.max(p), "{g} < {granted} at {p}");
                        assert!(g <= granted.max(p).max(want.min(800.0)), "{g} > {want}");
                    }
                }
            }
        }
    }
}
