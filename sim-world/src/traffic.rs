//! Manned traffic: light vehicles (pickups) and water carts that share the haul roads with
//! the autonomous trucks. Their drivers follow simple rules:
//! - pick a destination on a haul road (not a loader's or a dump's lane) from the vehicle's
//!   own seeded stream ([`site::seed::Stream::Traffic`]), ask the dispatcher for a route to
//!   it through the fleet tablet, stay there a while when arrived, pick the next one;
//! - follow the route at the speed the road, the vehicle's own limit and its **permission**
//!   allow: never past the end of the road granted ([`TabletCmd::Permission`]), stopped
//!   when the grant expires (the dispatcher's claims keep it behind the vehicle ahead);
//! - report position, speed and destination every `report_period` (a fleet tablet,
//!   [`site::protocol::tablet`]; encoded and decoded on the way like any message).
//!
//! Their motion is kinematic (a point moving along the route's driving line); their bodies
//! are kinematic rapier boxes ([`Physics::add_manned`]), so trucks' chassis boxes touch
//! them, the ray-cast lidar hits them and the fleet sensor model sees them
//! ([`crate::scene`]). Perception does not take them for fleet trucks: a truck's
//! supervisor and planner react to them as to any obstacle.
//!
//! The tablet link is in-process and lossless: reports reach the dispatcher at its next
//! turn, replies come back the same step (a modelled radio for tablets is not built).
//! A vehicle can also be placed standing with its tablet off ([`Traffic::add_standing`]):
//! the dispatcher does not know it and only the trucks' perception can keep them off it.

use crate::config::TrafficConfig;
use crate::physics::Physics;
use perception::ObstacleClass;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::ids::LaneId;
use site::protocol::tablet::{
    decode_reply, decode_report, MannedKind, TabletCmd, TabletReply, TabletReport, VehicleId,
    TABLET_PROTOCOL_VERSION,
};
use site::protocol::{encode, PermissionGrant};
use site::route::RoutePath;
use site::seed::Stream;
use site::{SimDuration, SimTime, Site};

/// What a kind of manned vehicle is like (typ. values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KindParams {
    /// Length, width, height, m.
    pub size: [f64; 3],
    pub max_speed_ms: f64,
    pub accel_ms2: f64,
    /// The driver's ordinary braking, m/s².
    pub decel_ms2: f64,
    /// What the detector takes it for (a water cart is a machine, as in its training data).
    pub class: ObstacleClass,
}

impl KindParams {
    pub fn of(kind: MannedKind) -> KindParams {
        match kind {
            MannedKind::LightVehicle => KindParams {
                size: [5.5, 2.0, 1.9],
                max_speed_ms: 50.0 / 3.6,
                accel_ms2: 2.0,
                decel_ms2: 3.0,
                class: ObstacleClass::LightVehicle,
            },
            MannedKind::WaterCart => KindParams {
                size: [10.0, 4.0, 4.0],
                max_speed_ms: 20.0 / 3.6,
                accel_ms2: 0.6,
                decel_ms2: 1.5,
                class: ObstacleClass::Machine,
            },
        }
    }
}

/// The hardest a manned vehicle can brake (a grant that shrank cannot happen; an expired
/// one can), m/s².
pub const MAX_DECEL_MS2: f64 = 6.0;
/// Lanes shorter than this are not destinations, m.
const MIN_DEST_LANE_M: f64 = 80.0;

/// One manned vehicle.
#[derive(Clone, Debug)]
pub struct MannedSim {
    pub id: VehicleId,
    pub kind: MannedKind,
    pub params: KindParams,
    /// Index of its body in [`Physics::manned`].
    pub body: usize,
    /// It reports to the dispatcher and drives by its grants.
    pub tablet: bool,
    /// Still in the world.
    pub active: bool,
    pub route: Option<RoutePath>,
    pub progress: f64,
    pub speed: f64,
    pub grant: Option<PermissionGrant>,
    pub destination: Option<(LaneId, f64)>,
    pub pos: [f64; 3],
    pub heading: f64,
    pub distance_m: f64,
    /// Seconds it stood with road to drive but no grant for it.
    pub waited_s: f64,
    dwell_until: SimTime,
    rng: ChaCha8Rng,
    seq: u64,
}

/// Counters of the tablets' link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TabletLink {
    pub reports: u64,
    pub replies: u64,
    pub bytes: u64,
    pub undecodable: u64,
}

/// Every manned vehicle of the world.
#[derive(Clone, Debug, Default)]
pub struct Traffic {
    pub vehicles: Vec<MannedSim>,
    pub report_period: SimDuration,
    pub dwell_s: (f64, f64),
    next_report: SimTime,
    outbox: Vec<TabletReport>,
    pub link: TabletLink,
    /// Lanes a driver may pick a destination on.
    destinations: Vec<LaneId>,
}

impl Traffic {
    /// Places `cfg`'s vehicles on free start slots of the site (at least 30 m from every
    /// truck's `taken` slot on the same lane), in the order of a shuffle drawn from
    /// [`Stream::Traffic`] index 0: light vehicles first, then water carts.
    pub fn spawn(
        site: &Site,
        cfg: &TrafficConfig,
        taken: &[site::site::Slot],
        physics: &mut Physics,
        seed: u64,
    ) -> Result<Traffic, String> {
        let destinations: Vec<LaneId> = site
            .roads
            .lanes
            .iter()
            .filter(|l| {
                l.intersection.is_none()
                    && !l.is_loop()
                    && l.length() >= MIN_DEST_LANE_M
                    && !site.loaders.iter().any(|x| x.lane == l.id)
                    && !site.dumps.iter().any(|d| d.lane == l.id)
            })
            .map(|l| l.id)
            .collect();
        let mut t = Traffic {
            report_period: cfg.report_period,
            dwell_s: cfg.dwell_s,
            destinations,
            ..Traffic::default()
        };
        let n = cfg.light_vehicles + cfg.water_carts;
        if n == 0 {
            return Ok(t);
        }
        let mut free: Vec<site::site::Slot> = site
            .start_slots(45.0)
            .into_iter()
            .filter(|s| t.destinations.contains(&s.lane))
            .filter(|s| {
                !taken
                    .iter()
                    .any(|x| x.lane == s.lane && (x.s - s.s).abs() < 30.0)
            })
            .collect();
        if free.len() < n {
            return Err(format!(
                "no room for {n} manned vehicles: {} free road slots beside the trucks",
                free.len()
            ));
        }
        let mut rng = site::seed::rng(seed, Stream::Traffic, 0);
        for i in (1..free.len()).rev() {
            let j = rng.random_range(0..=i);
            free.swap(i, j);
        }
        let kinds = std::iter::repeat_n(MannedKind::LightVehicle, cfg.light_vehicles)
            .chain(std::iter::repeat_n(MannedKind::WaterCart, cfg.water_carts));
        for (k, (kind, slot)) in kinds.zip(free).enumerate() {
            let pt = site.roads.lane(slot.lane).point_at(slot.s);
            t.add(physics, seed, k, kind, (pt.pos, pt.heading), true);
        }
        Ok(t)
    }

    /// Adds vehicle `k` of `kind` standing at `at` (ground point, heading).
    fn add(
        &mut self,
        physics: &mut Physics,
        seed: u64,
        k: usize,
        kind: MannedKind,
        at: ([f64; 3], f64),
        tablet: bool,
    ) -> usize {
        let (pos, heading) = at;
        let params = KindParams::of(kind);
        let body = physics.add_manned(pos, heading, params.size, params.class);
        let mut rng = site::seed::rng(seed, Stream::Traffic, 1 + k as u64);
        // Drivers do not all set off at once.
        let dwell_until = SimTime((rng.random_range(0.0..self.dwell_s.0.max(0.0)) * 1e6) as u64);
        self.vehicles.push(MannedSim {
            id: VehicleId(k as u32),
            kind,
            params,
            body,
            tablet,
            active: true,
            route: None,
            progress: 0.0,
            speed: 0.0,
            grant: None,
            destination: None,
            pos,
            heading,
            distance_m: 0.0,
            waited_s: 0.0,
            dwell_until,
            rng,
            seq: 0,
        });
        self.vehicles.len() - 1
    }

    /// A vehicle of `kind` standing at `pos` facing `heading` with its tablet off (the
    /// dispatcher does not know it): a broken-down pickup on a haul road. Returns its index.
    pub fn add_standing(
        &mut self,
        physics: &mut Physics,
        kind: MannedKind,
        pos: [f64; 3],
        heading: f64,
    ) -> usize {
        let k = self.vehicles.len();
        self.add(physics, 0, k, kind, (pos, heading), false)
    }

    /// Vehicle `k` (one with its tablet off) drives off along `route` from `progress`, at
    /// the road's speed, to the route's end.
    pub fn drive_off(&mut self, k: usize, route: RoutePath, progress: f64) {
        if let Some(v) = self.vehicles.get_mut(k).filter(|v| !v.tablet) {
            v.route = Some(route);
            v.progress = progress;
        }
    }

    /// Takes vehicle `k` out of the world (driven off, towed away): its body no longer
    /// touches or is seen.
    pub fn remove(&mut self, physics: &mut Physics, k: usize) {
        if let Some(v) = self.vehicles.get_mut(k) {
            v.active = false;
            v.speed = 0.0;
            physics.set_manned_enabled(v.body, false);
        }
    }

    /// The tablets' reports of vehicle positions now (for the dispatcher's roster at start).
    pub fn reports_now(&mut self, now: SimTime) -> Vec<TabletReport> {
        let reports: Vec<TabletReport> = self
            .vehicles
            .iter_mut()
            .filter(|v| v.tablet && v.active)
            .map(|v| v.report(now))
            .collect();
        reports
    }

    /// Every vehicle's driver: picks destinations, follows its route within its grant; puts
    /// the bodies where they are; queues the tablets' reports when due.
    pub fn drive(&mut self, now: SimTime, site: &Site, physics: &mut Physics) {
        let dt = physics.dt;
        for v in &mut self.vehicles {
            if !v.active {
                continue;
            }
            if v.tablet && v.destination.is_none() && now >= v.dwell_until {
                v.pick_destination(&self.destinations, site);
            }
            let Some(route) = &v.route else { continue };
            let p = v.params;
            let (lane, _) = route.locate(v.progress);
            let limit = p.max_speed_ms.min(site.roads.lane(lane).speed_limit_ms);
            let granted = match v.grant {
                Some(g) if g.route == route.route.id && now < g.expires => g.until_m,
                _ if v.tablet => v.progress,
                _ => route.length,
            };
            let stop = granted.min(route.length).max(v.progress);
            let v_allow = (2.0 * p.decel_ms2 * (stop - v.progress)).max(0.0).sqrt();
            let target = limit.min(v_allow);
            v.speed = if target > v.speed {
                (v.speed + p.accel_ms2 * dt).min(target)
            } else {
                (v.speed - MAX_DECEL_MS2 * dt).max(target)
            };
            let before = v.progress;
            v.progress = (v.progress + v.speed * dt).min(stop);
            v.distance_m += v.progress - before;
            if v.speed < 0.1 && stop < route.length - 0.5 {
                v.waited_s += dt;
            }
            let pt = route.point_at(v.progress, &site.roads);
            v.pos = pt.pos;
            v.heading = pt.heading;
            physics.place_manned(v.body, pt.pos, pt.heading);
            let arrived = v.progress >= route.length - 0.5
                && v.speed < 0.2
                && v.destination.is_some_and(|(l, s)| {
                    route.route.lanes.last() == Some(&l) && (route.route.end_s - s).abs() < 1e-6
                });
            if arrived {
                v.speed = 0.0;
                v.destination = None;
                let (lo, hi) = self.dwell_s;
                let dwell = if hi > lo {
                    v.rng.random_range(lo..hi)
                } else {
                    lo
                };
                v.dwell_until = now + SimDuration((dwell.max(0.0) * 1e6) as u64);
            }
        }
        if now >= self.next_report {
            self.next_report = now + self.report_period;
            for v in self.vehicles.iter_mut().filter(|v| v.tablet && v.active) {
                let r = v.report(now);
                self.outbox.push(r);
            }
        }
    }

    /// The reports to hand to the dispatcher, through the wire format (a report that does
    /// not survive encoding is counted and dropped).
    pub fn take_reports(&mut self) -> Vec<TabletReport> {
        let mut out = Vec::new();
        for r in std::mem::take(&mut self.outbox) {
            match encode(&r).map(|b| (decode_report(&b), b.len())) {
                Ok((Ok(r), n)) => {
                    self.link.reports += 1;
                    self.link.bytes += n as u64;
                    out.push(r);
                }
                _ => self.link.undecodable += 1,
            }
        }
        out
    }

    /// The dispatcher's replies to the tablets.
    pub fn deliver(&mut self, now: SimTime, site: &Site, replies: Vec<TabletReply>) {
        for m in replies {
            let m = match encode(&m).map(|b| (decode_reply(&b), b.len())) {
                Ok((Ok(m), n)) => {
                    self.link.replies += 1;
                    self.link.bytes += n as u64;
                    m
                }
                _ => {
                    self.link.undecodable += 1;
                    continue;
                }
            };
            let Some(v) = self.vehicles.iter_mut().find(|v| v.id == m.vehicle) else {
                continue;
            };
            match m.body {
                TabletCmd::Route(r) => {
                    if let Ok(path) = RoutePath::new(r, &site.roads) {
                        let half = v.params.size[0] / 2.0;
                        let (d, _) =
                            path.project([v.pos[0], v.pos[1]], 0.0, half + 60.0, &site.roads);
                        v.progress = d;
                        v.grant = None;
                        v.route = Some(path);
                    }
                }
                TabletCmd::Permission(g) => {
                    if v.route.as_ref().is_some_and(|r| r.route.id == g.route) {
                        v.grant = Some(g);
                    }
                }
                TabletCmd::NoRoute { .. } => {
                    v.destination = None;
                    v.dwell_until = now + SimDuration::from_secs(2);
                }
            }
        }
    }

    /// Kilometres driven by each kind, and counts.
    pub fn per_kind(&self) -> Vec<(MannedKind, usize, f64)> {
        MannedKind::ALL
            .iter()
            .map(|&k| {
                let of: Vec<&MannedSim> = self.vehicles.iter().filter(|v| v.kind == k).collect();
                (
                    k,
                    of.len(),
                    of.iter().map(|v| v.distance_m).sum::<f64>() / 1000.0,
                )
            })
            .collect()
    }
}

impl MannedSim {
    fn report(&mut self, now: SimTime) -> TabletReport {
        self.seq += 1;
        TabletReport {
            version: TABLET_PROTOCOL_VERSION,
            vehicle: self.id,
            kind: self.kind,
            seq: self.seq,
            sent: now,
            pos: self.pos,
            heading: self.heading,
            speed: self.speed,
            length_m: self.params.size[0],
            width_m: self.params.size[1],
            route: self.route.as_ref().map(|r| r.route.id),
            progress_m: self.progress,
            destination: self.destination,
        }
    }

    fn pick_destination(&mut self, lanes: &[LaneId], site: &Site) {
        if lanes.is_empty() {
            return;
        }
        let l = lanes[self.rng.random_range(0..lanes.len())];
        let len = site.roads.lane(l).length();
        let s = self.rng.random_range(30.0..(len - 30.0).max(31.0)).min(len);
        // Rounded so that the dispatcher recognises it when repeated.
        self.destination = Some((l, s.round()));
    }
}
