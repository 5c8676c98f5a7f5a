//! The independent safety monitor: what really happened on the ground, measured from the
//! physics, never from what the trucks or the dispatcher believe. Closest body-to-body
//! distance, truck–truck contacts, and a permission monitor comparing every truck's true
//! position with the road it was granted.

use crate::physics::{BodyState, Physics};
use crate::truck::TruckSim;
use fleet::Dispatcher;
use site::RoadNetwork;

/// Pairs of trucks further apart than this (centre to centre, m) are not measured.
const NEAR_M: f64 = 40.0;
/// How far past its grant a truck's centre may be before it counts as a violation, m.
const GRANT_TOLERANCE_M: f64 = 0.3;

/// Whole-run safety figures, and the state the monitor keeps between steps.
#[derive(Clone, Debug)]
pub struct SafetyMonitor {
    /// Truck–truck contacts begun (a pair touching over several steps counts once).
    pub collisions: u64,
    /// Closest body-to-body distance seen, m (infinite before any pair came within 40 m).
    pub min_separation_m: f64,
    touching: Vec<(usize, usize)>,
    /// Truck–obstacle contacts begun.
    pub obstacle_collisions: u64,
    touching_obstacles: Vec<(usize, usize)>,
    /// Per truck: past its grant at the last check.
    in_violation: Vec<bool>,
    /// Truck–manned-vehicle figures ([`SafetyMonitor::manned`]).
    pub manned: MannedSafety,
}

/// Trucks and manned vehicles, measured from the physics and from what each side holds.
#[derive(Clone, Debug, Default)]
pub struct MannedSafety {
    /// Truck–manned-vehicle contacts begun.
    pub contacts: u64,
    /// Closest truck body to manned body distance, m (infinite before any came within 40 m).
    pub min_distance_m: f64,
    /// Truck–manned pairs that began to hold overlapping road: each side's road from its
    /// true body rear to the end of the permission it holds plus half its length.
    pub claim_overlaps: u64,
    /// Manned vehicles past their own grant (steps).
    pub past_grant_steps: u64,
    touching: Vec<(usize, usize)>,
    overlapping: Vec<(usize, usize)>,
}

impl SafetyMonitor {
    pub fn new(trucks: usize) -> SafetyMonitor {
        SafetyMonitor {
            collisions: 0,
            min_separation_m: f64::INFINITY,
            touching: Vec::new(),
            obstacle_collisions: 0,
            touching_obstacles: Vec::new(),
            in_violation: vec![false; trucks],
            manned: MannedSafety {
                min_distance_m: f64::INFINITY,
                ..MannedSafety::default()
            },
        }
    }

    /// Closest body-to-body distance (parry `distance` on the boxes) over the pairs within
    /// 40 m; `states[i]` is truck `i`'s body.
    pub fn separation(&mut self, physics: &Physics, states: &[BodyState]) {
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by(|&a, &b| states[a].pos[0].total_cmp(&states[b].pos[0]));
        for (k, &a) in order.iter().enumerate() {
            for &b in &order[k + 1..] {
                if states[b].pos[0] - states[a].pos[0] > NEAR_M {
                    break;
                }
                let (pa, pb) = (states[a].pos, states[b].pos);
                if (pa[0] - pb[0]).hypot(pa[1] - pb[1]) < NEAR_M {
                    let d = physics.body_distance(a, b);
                    if d < self.min_separation_m {
                        self.min_separation_m = d;
                    }
                }
            }
        }
    }

    /// Truck–truck contacts: every pair that starts touching is one collision.
    pub fn contacts(&mut self, physics: &Physics) {
        let touching = physics.truck_contacts();
        for pair in &touching {
            if !self.touching.contains(pair) {
                self.collisions += 1;
            }
        }
        self.touching = touching;
    }

    /// Truck–obstacle contacts: every new touching pair counts once.
    pub fn obstacle_contacts(&mut self, physics: &Physics) {
        let touching = physics.truck_obstacle_contacts();
        for pair in &touching {
            if !self.touching_obstacles.contains(pair) {
                self.obstacle_collisions += 1;
            }
        }
        self.touching_obstacles = touching;
    }

    /// Trucks and manned vehicles: closest body distance (pairs within 40 m), contacts, and
    /// road held by both at once, from each side's true position and the permission it
    /// holds (a truck's as it received it, a manned vehicle's as its tablet did), never
    /// from the dispatcher's books.
    pub fn manned(
        &mut self,
        physics: &Physics,
        trucks: &[TruckSim],
        states: &[BodyState],
        traffic: &crate::traffic::Traffic,
        site: &site::Site,
    ) {
        if traffic.vehicles.is_empty() {
            return;
        }
        let m = &mut self.manned;
        let touching = physics.truck_manned_contacts();
        m.contacts += touching.iter().filter(|p| !m.touching.contains(p)).count() as u64;
        m.touching = touching;
        let roads = &site.roads;
        let mut overlapping = Vec::new();
        for (k, v) in traffic
            .vehicles
            .iter()
            .enumerate()
            .filter(|(_, v)| v.active)
        {
            let half = v.params.size[0] / 2.0;
            let held_m = match &v.route {
                _ if !v.tablet => None,
                Some(r) => {
                    let until = v
                        .grant
                        .filter(|g| g.route == r.route.id)
                        .map_or(v.progress, |g| g.until_m.max(v.progress));
                    Some(fleet::Claim::on_route(
                        r,
                        v.progress - half,
                        until + half,
                        site,
                    ))
                }
                // Standing before its first route: the road under its body.
                None => site.locate([v.pos[0], v.pos[1]], v.heading).map(|(l, s)| {
                    let len = roads.lane(l).length();
                    fleet::Claim {
                        stretches: vec![(l, (s - half).max(0.0), (s + half).min(len))],
                    }
                }),
            };
            if v.tablet
                && v.route.as_ref().is_some_and(|r| {
                    v.grant
                        .filter(|g| g.route == r.route.id)
                        .is_some_and(|g| v.progress > g.until_m + GRANT_TOLERANCE_M)
                })
            {
                m.past_grant_steps += 1;
            }
            for (i, t) in trucks.iter().enumerate() {
                let p = states[i].pos;
                let near = (p[0] - v.pos[0]).hypot(p[1] - v.pos[1]);
                if near < NEAR_M {
                    m.min_distance_m = m
                        .min_distance_m
                        .min(physics.truck_manned_distance(t.body, v.body));
                }
                let (Some(held_m), Some(route)) = (&held_m, t.brain.route()) else {
                    continue;
                };
                if near > 400.0 {
                    continue;
                }
                let (d, _) = route.project(
                    [p[0], p[1]],
                    t.brain.progress() - 20.0,
                    t.brain.progress() + 20.0,
                    roads,
                );
                let until = t
                    .brain
                    .permission()
                    .filter(|g| g.route == route.route.id)
                    .map_or(d, |g| g.until_m.max(d));
                let half = t.brain.params.length_m / 2.0;
                let held_t = fleet::Claim::on_route(route, d - half, until + half, site);
                if held_t.overlaps(held_m, site) {
                    overlapping.push((i, k));
                }
            }
        }
        m.claim_overlaps += overlapping
            .iter()
            .filter(|p| !m.overlapping.contains(p))
            .count() as u64;
        m.overlapping = overlapping;
    }

    /// The permission monitor: each truck's true position against what the dispatcher
    /// granted it (with a remote dispatcher: against the last grant the truck received).
    /// Every entry into a violation adds one to the truck's `metrics.violations`.
    pub fn permissions(
        &mut self,
        trucks: &mut [TruckSim],
        states: &[BodyState],
        dispatcher: &Dispatcher,
        remote_dispatcher: bool,
        roads: &RoadNetwork,
    ) {
        let views = dispatcher.trucks();
        self.in_violation.resize(trucks.len(), false);
        for (i, t) in trucks.iter_mut().enumerate() {
            let (route, granted) = if remote_dispatcher {
                let (Some(route), Some(g)) = (t.brain.route(), t.brain.permission()) else {
                    continue;
                };
                if g.route != route.route.id {
                    continue;
                }
                (route, g.until_m)
            } else {
                let Some(v) = views.get(&t.id) else { continue };
                let Some(route) = &v.route else { continue };
                if t.brain.route_id() != Some(route.route.id) {
                    continue;
                }
                (route, v.granted)
            };
            let p = states[i].pos;
            let (d, _) = route.project(
                [p[0], p[1]],
                t.brain.progress() - 20.0,
                t.brain.progress() + 20.0,
                roads,
            );
            let over = d > granted + GRANT_TOLERANCE_M;
            if over && !self.in_violation[i] {
                t.metrics.violations += 1;
            }
            self.in_violation[i] = over;
        }
    }
}
