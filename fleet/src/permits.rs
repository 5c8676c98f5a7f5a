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
