//! The truck's onboard state machine.

use crate::dynamics::{sin_of_grade, TruckParams};
use site::ids::{RouteId, TruckId};
use site::protocol::{
    DispatchMsg, DownMsg, MissionState, PermissionGrant, StopReason, Task, Telemetry, TruckInfo,
    TruckMsg, UpMsg,
};
use site::road::wrap_angle;
use site::route::RoutePath;
use site::units::G;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;

/// What the truck senses this step (from GNSS/IMU, the drive, the scale and the loader).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sensed {
    pub pos: [f64; 3],
    pub heading: f64,
    /// Forward speed, m/s (negative when rolling back).
    pub speed: f64,
    pub payload_t: f64,
    /// The loader's operator signals the load is complete.
    pub loader_done: bool,
    /// 1-sigma horizontal uncertainty of `pos`, m (from [`crate::localise`]).
    pub pos_sigma_m: f64,
}

/// What the truck commands to its drive, brakes, steering and body.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Actuation {
    /// Fraction of available tractive force, 0..1.
    pub throttle: f64,
    /// Fraction of full brake force, 0..1.
    pub brake: f64,
    /// Front wheel angle, radians, positive left.
    pub steer: f64,
    /// Raise the body to tip the load.
    pub tip: bool,
}

/// Safety timing (typ. values from the domain brief).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub telemetry_period: SimDuration,
    pub work_request_period: SimDuration,
    /// No word from the dispatcher for this long: slow down.
    pub watchdog_slow: SimDuration,
    /// No word for this long: controlled stop, then stay stopped until re-armed.
    pub watchdog_stop: SimDuration,
    /// Time to lower the body after tipping.
    pub body_lower: SimDuration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            telemetry_period: SimDuration::from_millis(100),
            work_request_period: SimDuration::from_secs(5),
            watchdog_slow: SimDuration::from_millis(300),
            watchdog_stop: SimDuration::from_secs(1),
            body_lower: SimDuration::from_secs(15),
        }
    }
}

/// Counters a truck keeps about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TruckStats {
    pub rejected_msgs: u64,
    pub watchdog_stops: u64,
    pub estops: u64,
    pub expired_permissions: u64,
}

/// Distance short of a stopping point the planner aims for, m.
const STOP_MARGIN_M: f64 = 0.5;
/// Gap the truck's nose keeps to a perceived obstacle's near edge when it stops for it, m.
pub const OBSTACLE_STANDOFF_M: f64 = 5.0;
/// Within this distance of the route end, the truck is "at" the spot, m.
const AT_SPOT_M: f64 = 1.5;

/// One truck's autonomy.
pub struct Truck {
    pub id: TruckId,
    pub params: TruckParams,
    pub timing: Timing,
    site: Arc<Site>,
    state: MissionState,
    /// State to resume when re-armed.
    resume: MissionState,
    stop_reason: Option<StopReason>,
    task: Option<Task>,
    route: Option<RoutePath>,
    progress: f64,
    permission: Option<PermissionGrant>,
    last_heard: SimTime,
    /// The watchdog arms once the dispatcher has been heard (before that the truck has no
    /// permission and cannot move anyway).
    heard: bool,
    next_telemetry: SimTime,
    next_work_request: SimTime,
    lowering_until: Option<SimTime>,
    load_reported: bool,
    expired_seen: Option<SimTime>,
    seq: u64,
    hello_sent: bool,
    pub stats: TruckStats,
    last_actuation: Actuation,
    /// Distance along the route from the truck's centre to the near edge of the closest
    /// tracked obstacle in its lane, as perception last reported it.
    obstacle_ahead_m: Option<f64>,
}

impl Truck {
    pub fn new(id: TruckId, params: TruckParams, site: Arc<Site>, now: SimTime) -> Truck {
        Truck {
            id,
            params,
            timing: Timing::default(),
            site,
            state: MissionState::Idle,
            resume: MissionState::Idle,
            stop_reason: None,
            task: None,
            route: None,
            progress: 0.0,
            permission: None,
            last_heard: now,
            heard: false,
            next_telemetry: now,
            next_work_request: now,
            lowering_until: None,
            load_reported: false,
            expired_seen: None,
            seq: 0,
            hello_sent: false,
            stats: TruckStats::default(),
            last_actuation: Actuation::default(),
            obstacle_ahead_m: None,
        }
    }

    pub fn state(&self) -> MissionState {
        self.state
    }
    pub fn task(&self) -> Option<Task> {
        self.task
    }
    pub fn route(&self) -> Option<&RoutePath> {
        self.route.as_ref()
    }
    pub fn route_id(&self) -> Option<RouteId> {
        self.route.as_ref().map(|r| r.route.id)
    }
    pub fn progress(&self) -> f64 {
        self.progress
    }
    pub fn permission(&self) -> Option<PermissionGrant> {
        self.permission
    }
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop_reason
    }
    /// Perception's report: the closest tracked obstacle in the truck's lane lies `d` metres
    /// ahead along the route (from the truck's centre to the obstacle's near edge), or none.
    /// The speed planner then treats `d − length/2 − OBSTACLE_STANDOFF_M` (the nose
    /// [`OBSTACLE_STANDOFF_M`] short of the obstacle) as a stopping point, like the end of a
    /// permission; it holds until the next report.
    pub fn set_obstacle_ahead(&mut self, d: Option<f64>) {
        self.obstacle_ahead_m = d.filter(|d| d.is_finite());
    }

    /// The last obstacle report ([`Truck::set_obstacle_ahead`]).
    pub fn obstacle_ahead(&self) -> Option<f64> {
        self.obstacle_ahead_m
    }

    pub fn last_actuation(&self) -> Actuation {
        self.last_actuation
    }

    /// Distance from the truck's centre to the end of its permission (0 without one).
    pub fn permission_left(&self) -> f64 {
        match (&self.route, self.permission) {
            (Some(r), Some(p)) if p.route == r.route.id => (p.until_m - self.progress).max(0.0),
            _ => 0.0,
        }
    }

    fn send(&mut self, now: SimTime, body: TruckMsg, out: &mut Vec<UpMsg>) {
        self.seq += 1;
        out.push(UpMsg {
            truck: self.id,
            seq: self.seq,
            sent: now,
            body,
        });
    }

    fn set_state(&mut self, now: SimTime, to: MissionState, out: &mut Vec<UpMsg>) {
        if self.state != to {
            let from = self.state;
            self.state = to;
            self.send(now, TruckMsg::StateChanged { from, to }, out);
        }
    }

    fn stop_latched(&mut self, now: SimTime, reason: StopReason, out: &mut Vec<UpMsg>) {
        if self.state != MissionState::Stopped {
            self.resume = self.state;
        }
        self.stop_reason = Some(reason);
        self.set_state(now, MissionState::Stopped, out);
    }

    /// One control step.
    pub fn step(
        &mut self,
        now: SimTime,
        sensed: &Sensed,
        inbox: &[DownMsg],
    ) -> (Actuation, Vec<UpMsg>) {
        let mut out = Vec::new();
        if !self.hello_sent {
            self.hello_sent = true;
            let info = TruckInfo {
                length_m: self.params.length_m,
                width_m: self.params.width_m,
                capacity_t: self.params.capacity_t,
            };
            self.send(now, TruckMsg::Hello(info), &mut out);
        }
        for msg in inbox {
            self.handle(now, sensed, msg, &mut out);
        }
        self.update_progress(sensed);
        self.supervise(now, &mut out);
        self.mission(now, sensed, &mut out);
        let act = self.control(now, sensed);
        if now >= self.next_telemetry {
            self.next_telemetry = now + self.timing.telemetry_period;
            let t = Telemetry {
                pos: sensed.pos,
                heading: sensed.heading,
                speed: sensed.speed,
                route: self.route_id(),
                progress_m: self.progress,
                payload_t: sensed.payload_t,
                state: self.state,
            };
            self.send(now, TruckMsg::Telemetry(t), &mut out);
        }
        self.last_actuation = act;
        (act, out)
    }

    fn handle(&mut self, now: SimTime, sensed: &Sensed, msg: &DownMsg, out: &mut Vec<UpMsg>) {
        if msg.truck != self.id {
            self.stats.rejected_msgs += 1;
            return;
        }
        self.last_heard = now;
        self.heard = true;
        match &msg.body {
            DispatchMsg::Heartbeat => {}
            DispatchMsg::EStop(reason) => {
                self.stats.estops += 1;
                self.stop_latched(now, *reason, out);
            }
            DispatchMsg::ReArm => {
                if self.state == MissionState::Stopped {
                    self.stop_reason = None;
                    let back = self.resume;
                    self.set_state(now, back, out);
                }
            }
            DispatchMsg::Permission(p) => {
                if self.route.as_ref().map(|r| r.route.id) == Some(p.route) {
                    self.permission = Some(*p);
                } else {
                    self.stats.rejected_msgs += 1;
                }
            }
            DispatchMsg::Assignment { task, route } => {
                match RoutePath::new(route.clone(), &self.site.roads) {
                    Ok(path) => {
                        let (d, _) = path.project(
                            [sensed.pos[0], sensed.pos[1]],
                            0.0,
                            80.0,
                            &self.site.roads,
                        );
                        self.progress = d;
                        self.route = Some(path);
                        self.permission = None;
                        self.task = Some(*task);
                        self.load_reported = false;
                        let next = match task {
                            Task::Load { .. } => MissionState::ToLoader,
                            Task::Dump { .. } => MissionState::Hauling,
                            Task::Park => MissionState::ToParking,
                        };
                        if self.state == MissionState::Stopped {
                            self.resume = next;
                        } else {
                            self.set_state(now, next, out);
                        }
                    }
                    Err(_) => self.stats.rejected_msgs += 1,
                }
            }
        }
    }

    fn update_progress(&mut self, sensed: &Sensed) {
        if let Some(r) = &self.route {
            let (d, _) = r.project(
                [sensed.pos[0], sensed.pos[1]],
                self.progress - 5.0,
                self.progress + 30.0,
                &self.site.roads,
            );
            self.progress = d;
        }
    }

    fn supervise(&mut self, now: SimTime, out: &mut Vec<UpMsg>) {
        if now.since(self.last_heard) >= self.timing.watchdog_stop
            && self.state != MissionState::Stopped
        {
            self.stats.watchdog_stops += 1;
            self.stop_latched(now, StopReason::LinkLost, out);
        }
        if let Some(p) = self.permission {
            if now > p.expires && self.expired_seen != Some(p.expires) {
                self.expired_seen = Some(p.expires);
                self.stats.expired_permissions += 1;
            }
        }
    }

    fn remaining(&self) -> f64 {
        self.route
            .as_ref()
            .map(|r| r.length - self.progress)
            .unwrap_or(0.0)
    }

    fn mission(&mut self, now: SimTime, sensed: &Sensed, out: &mut Vec<UpMsg>) {
        let stopped = sensed.speed.abs() < 0.2;
        let at_end = self.route.is_some() && self.remaining() < AT_SPOT_M && stopped;
        let near = |d: f64| self.route.is_some() && self.remaining() < d;
        match self.state {
            MissionState::Idle => {
                if now >= self.next_work_request {
                    self.next_work_request = now + self.timing.work_request_period;
                    self.send(now, TruckMsg::WorkRequest, out);
                }
            }
            MissionState::ToLoader | MissionState::QueueLoader | MissionState::Spotting => {
                // Waiting anywhere near the loader is queueing; moving in the last 60 m is
                // spotting.
                let next = if at_end {
                    MissionState::Loading
                } else if near(400.0) && stopped {
                    MissionState::QueueLoader
                } else if near(60.0) {
                    MissionState::Spotting
                } else {
                    MissionState::ToLoader
                };
                self.set_state(now, next, out);
            }
            MissionState::Loading => {
                if sensed.loader_done && !self.load_reported {
                    self.load_reported = true;
                    if let Some(Task::Load { loader }) = self.task {
                        self.send(
                            now,
                            TruckMsg::LoadDone {
                                loader,
                                tonnes: sensed.payload_t,
                            },
                            out,
                        );
                    }
                }
            }
            MissionState::Hauling | MissionState::QueueDump => {
                let next = if at_end {
                    MissionState::Dumping
                } else if near(400.0) && stopped {
                    MissionState::QueueDump
                } else {
                    MissionState::Hauling
                };
                if next == MissionState::Dumping {
                    self.lowering_until = None;
                }
                self.set_state(now, next, out);
            }
            MissionState::Dumping => {
                if sensed.payload_t <= 0.01 {
                    match self.lowering_until {
                        None => self.lowering_until = Some(now + self.timing.body_lower),
                        Some(t) if now >= t => {
                            self.lowering_until = None;
                            if let Some(Task::Dump { dump }) = self.task {
                                self.send(now, TruckMsg::DumpDone { dump, tonnes: 0.0 }, out);
                            }
                            self.task = None;
                            self.route = None;
                            self.permission = None;
                            self.set_state(now, MissionState::Idle, out);
                            self.next_work_request = now;
                            self.send(now, TruckMsg::WorkRequest, out);
                            self.next_work_request = now + self.timing.work_request_period;
                        }
                        Some(_) => {}
                    }
                }
            }
            MissionState::ToParking => {
                if at_end {
                    self.set_state(now, MissionState::Parked, out);
                }
            }
            MissionState::Parked | MissionState::Stopped | MissionState::Faulted => {}
        }
    }

    /// Speed the truck may have now so it can still stop (or slow to `v_end`) within `dist`
    /// at deceleration `decel`.
    fn reachable(v_end: f64, dist: f64, decel: f64) -> f64 {
        (v_end * v_end + 2.0 * decel * dist.max(0.0)).sqrt()
    }

    fn control(&mut self, now: SimTime, sensed: &Sensed) -> Actuation {
        let p = self.params;
        let v = sensed.speed;
        let mass = p.mass(sensed.payload_t);
        let hold = Actuation {
            throttle: 0.0,
            brake: 1.0,
            steer: 0.0,
            tip: false,
        };
        let tip = self.state == MissionState::Dumping && sensed.payload_t > 0.01;
        let Some(route) = &self.route else {
            return Actuation { tip, ..hold };
        };
        let net = &self.site.roads;
        let here = route.point_at(self.progress, net);

        // Steering: pure pursuit on the route.
        let look = (1.2 * v.abs() + 8.0).clamp(10.0, 30.0);
        let ahead = self.progress + look;
        let end = route.point_at(ahead.min(route.length), net);
        let over = (ahead - route.length).max(0.0);
        let target = [
            end.pos[0] + over * end.heading.cos(),
            end.pos[1] + over * end.heading.sin(),
        ];
        let alpha = wrap_angle(
            (target[1] - sensed.pos[1]).atan2(target[0] - sensed.pos[0]) - sensed.heading,
        );
        let steer = (2.0 * p.wheelbase_m * alpha.sin() / look)
            .atan()
            .clamp(-p.max_steer_rad, p.max_steer_rad);

        let may_move = matches!(
            self.state,
            MissionState::ToLoader
                | MissionState::QueueLoader
                | MissionState::Spotting
                | MissionState::Hauling
                | MissionState::QueueDump
                | MissionState::ToParking
        );
        // The stopping point: end of permission and end of route. An expired permission still
        // bounds the stop, but allows no more driving.
        let (perm_end, expired) = match self.permission {
            Some(g) if g.route == route.route.id => (g.until_m, now > g.expires),
            _ => (f64::NEG_INFINITY, true),
        };
        let mut stop_at = perm_end.min(route.length);
        if let Some(d) = self.obstacle_ahead_m {
            let nose = 0.5 * self.params.length_m;
            stop_at = stop_at.min(self.progress + d - nose - OBSTACLE_STANDOFF_M);
        }
        let to_stop = stop_at - self.progress - STOP_MARGIN_M;

        // Braking ability over the stretch ahead: gravity on the steepest downgrade helps the
        // truck run away, so it lowers the planning deceleration.
        let horizon = v * v / (2.0 * p.planning_decel) + 20.0;
        let mut min_grade = here.grade;
        let mut v_max = p.max_speed_ms;
        let mut x = 0.0;
        while x <= horizon {
            let pt = route.point_at(self.progress + x, net);
            min_grade = min_grade.min(pt.grade);
            let lane_limit = net.lane(route.locate(self.progress + x).0).speed_limit_ms;
            let curve_limit = (p.max_lateral_accel / pt.curvature.abs().max(1e-6)).sqrt();
            let decel = p.planning_decel;
            v_max = v_max.min(Self::reachable(lane_limit.min(curve_limit), x - 2.0, decel));
            x += 5.0;
        }
        let decel = (p.planning_decel + G * sin_of_grade(min_grade.min(0.0))).max(0.3);
        let link_quiet = self.heard && now.since(self.last_heard) >= self.timing.watchdog_slow;
        let mut v_target = v_max.min(Self::reachable(0.0, to_stop, decel));
        if link_quiet {
            v_target = v_target.min(0.5 * p.max_speed_ms).min(v.abs() * 0.9);
        }
        if !may_move || expired || to_stop <= 0.0 {
            v_target = 0.0;
        }

        // Wanted acceleration: track the target; brake as hard as the stop requires.
        let mut a_des = ((v_target - v) / 1.5).clamp(-p.planning_decel, 0.8);
        if to_stop > 0.05 && v > 0.0 {
            let a_req = v * v / (2.0 * to_stop);
            if a_req > 0.8 * decel {
                a_des = a_des.min(-a_req);
            }
        } else if v > 0.0 {
            a_des = -10.0;
        }
        if self.stop_reason == Some(StopReason::Operator) {
            // E-stop: full brakes.
            a_des = -10.0;
        }
        if v_target <= 0.0 && v.abs() < 0.3 {
            return Actuation { steer, tip, ..hold };
        }
        // Forces: m·a = traction − brake − m·g·sinθ − rolling.
        let gravity = mass * G * sin_of_grade(here.grade);
        let rolling = p.rolling_force(mass, here.grade);
        let needed = mass * a_des + gravity + rolling;
        let (throttle, brake) = if needed >= 0.0 {
            (
                (needed / p.traction_available(mass, v)).clamp(0.0, 1.0),
                0.0,
            )
        } else {
            (0.0, (-needed / p.brake_force_max()).clamp(0.0, 1.0))
        };
        Actuation {
            throttle,
            brake,
            steer,
            tip,
        }
    }
}
