//! The truck's onboard state machine.

use crate::control::{pedals, Controller};
use crate::dynamics::{sin_of_grade, TruckParams};
use crate::supervisor::{
    Interventions, Level, Reason, Supervisor, SupervisorEvent, SupervisorInput, TrackView, Verdict,
};
use site::ids::{RouteId, TruckId};
use site::protocol::{
    DispatchMsg, DownMsg, MissionState, PermissionGrant, StopReason, Task, Telemetry, TruckInfo,
    TruckMsg, UpMsg,
};
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

/// Safety timing (typ. values from the domain brief). The watchdog bounds here are the ones
/// the [`Supervisor`] applies (copied into its configuration every step).
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
    /// Supervisor interventions (a rule leaving clear) by reason.
    pub interventions: Interventions,
}

/// Distance short of a stopping point the planner aims for, m.
const STOP_MARGIN_M: f64 = 0.5;
/// A permission end that is not the route's end (someone else's road begins there) is
/// kept this many position sigmas further back: the truck's estimate may be behind its true
/// position by that much (one-sided 3 sigma: 99.87 %).
pub const PERMISSION_SIGMAS: f64 = 3.0;
/// The sigma counted at most, m (above 2 m the supervisor stops the truck anyway).
const PERMISSION_SIGMA_CAP_M: f64 = 3.0;
/// Gap the truck's nose keeps to a perceived obstacle's near edge when it stops for it, m.
pub const OBSTACLE_STANDOFF_M: f64 = 5.0;
/// Within this distance of the route end, the truck is "at" the spot, m.
const AT_SPOT_M: f64 = 1.5;
/// A plan's rest point within this distance of the truck's own stopping point is the
/// planner stopping for that same point (the permission or route end, less the planner's
/// margin and its integration error), not for something else, m. The truck's own stopping
/// point already holds it; taking the plan's would leave the truck short of its loading or
/// tipping spot for ever (the planner's margin is more than [`AT_SPOT_M`]).
const PLAN_REST_SLACK_M: f64 = 2.5;
/// Within this distance of its own stopping point, a truck whose plan rests at that point
/// (within [`PLAN_REST_SLACK_M`]) drives the last metres on its own speed planner, m.
const LAST_METRES_M: f64 = 8.0;

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
    /// Gap the nose keeps to that obstacle when the truck stops for it, m.
    obstacle_standoff_m: f64,
    /// The controller (lateral and speed).
    pub controller: Controller,
    supervisor: Supervisor,
    verdict: Verdict,
    /// 1-sigma horizontal position uncertainty last sensed, m ([`Truck::pos_sigma`]).
    pos_sigma_m: f64,
    /// Target offset left of the route's centreline, m ([`Truck::set_lateral_offset`]).
    lateral_offset_m: f64,
    last_step: Option<SimTime>,
    /// The plan the truck follows ([`Truck::set_plan`]).
    plan: Option<FollowPlan>,
    /// A planner serves this truck ([`Truck::expect_plans`]).
    plans_expected: bool,
}

/// What the truck keeps of the planner's latest plan.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowPlan {
    /// Time of the plan's input.
    pub made: SimTime,
    /// Route the plan was made on.
    pub route: RouteId,
    /// Target offset left of the lane centre, m.
    pub offset_m: f64,
    /// The chosen speed profile: (time from `made`, s; speed, m/s).
    pub speeds: Vec<(f64, f64)>,
    /// Where a stopping profile brings the centre to rest, m of route distance.
    pub stop_s_m: Option<f64>,
    /// Where the chosen trajectory (any profile, with its braking tail) comes to rest, m.
    pub rest_s_m: Option<f64>,
}

impl FollowPlan {
    /// The profile's speed `t` seconds after the plan was made (held after its last point).
    pub fn speed_at(&self, t: f64) -> f64 {
        let Some(&(t0, v0)) = self.speeds.first() else {
            return 0.0;
        };
        if t <= t0 {
            return v0;
        }
        for w in self.speeds.windows(2) {
            let ((ta, va), (tb, vb)) = (w[0], w[1]);
            if t <= tb {
                let f = if tb > ta { (t - ta) / (tb - ta) } else { 1.0 };
                return va + f * (vb - va);
            }
        }
        self.speeds.last().map_or(0.0, |p| p.1)
    }
}

/// A plan older than this is not followed (the supervisor slows and stops the truck on its
/// own bounds), s.
pub const PLAN_MAX_AGE_S: f64 = 1.0;
/// The speed target is the plan's speed this far ahead of now, s: the speed controller's
/// lead, so a profile that accelerates is not followed one control step late.
pub const PLAN_LEAD_S: f64 = 0.8;

/// Position 1-sigma a truck assumes until told otherwise, m (a good RTK GNSS fix).
pub const DEFAULT_POS_SIGMA_M: f64 = 0.05;

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
            obstacle_standoff_m: OBSTACLE_STANDOFF_M,
            controller: Controller::default(),
            supervisor: Supervisor::default(),
            verdict: Verdict {
                level: Level::Clear,
                reason: None,
                speed_cap: f64::INFINITY,
                full_brake: false,
                stop_point: None,
                ttc_s: None,
                latch: None,
            },
            pos_sigma_m: DEFAULT_POS_SIGMA_M,
            lateral_offset_m: 0.0,
            plan: None,
            plans_expected: false,
            last_step: None,
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
    /// The speed planner then treats `d − length/2 − standoff` (the nose the standoff short
    /// of the obstacle: [`OBSTACLE_STANDOFF_M`] unless [`Truck::set_obstacle_standoff`] set
    /// another) as a stopping point, like the end of a permission; it holds until the next
    /// report.
    pub fn set_obstacle_ahead(&mut self, d: Option<f64>) {
        self.obstacle_ahead_m = d.filter(|d| d.is_finite());
    }

    /// The gap the nose keeps to a perceived obstacle when the truck stops for it, m (at
    /// least [`OBSTACLE_STANDOFF_M`]). Perception sets it so that the truck stops where its
    /// sensor still sees the obstacle, and can see it go.
    pub fn set_obstacle_standoff(&mut self, m: f64) {
        if m.is_finite() {
            self.obstacle_standoff_m = m.max(OBSTACLE_STANDOFF_M);
        }
    }

    /// The last obstacle report ([`Truck::set_obstacle_ahead`]).
    pub fn obstacle_ahead(&self) -> Option<f64> {
        self.obstacle_ahead_m
    }

    /// Perception's tracks at `now` (site frame), `age_us` the age of the detection behind
    /// them plus the NPU latency. The supervisor brakes on time-to-collision and treats a
    /// track in the corridor ahead as a stopping point; once this has been called, a gap in
    /// the updates slows and then stops the truck (stale perception).
    pub fn set_tracks(&mut self, now: SimTime, tracks: &[TrackView], age_us: u64) {
        self.supervisor.set_tracks(now, tracks, age_us);
    }

    /// A planner serves this truck: from every new route on, the supervisor expects plans
    /// (none by its bounds slows and then stops the truck).
    pub fn expect_plans(&mut self, on: bool) {
        self.plans_expected = on;
    }

    /// The planner's plan, usable from `now` (its latency has passed): the truck follows its
    /// lateral offset and speed profile (never faster than its own speed planner allows, and
    /// never past its stopping point) while it is at most [`PLAN_MAX_AGE_S`] old and made on
    /// the current route. A stopping profile's rest point becomes a stopping point.
    pub fn set_plan(&mut self, now: SimTime, plan: &crate::planner::Plan) {
        let Some(route) = self.route_id() else {
            return;
        };
        let chosen = plan.chosen_candidate();
        self.plan = Some(FollowPlan {
            made: plan.time,
            route,
            offset_m: if plan.target_offset_m.is_finite() {
                plan.target_offset_m
            } else {
                0.0
            },
            speeds: plan
                .points
                .iter()
                .filter(|p| p.t_s.is_finite() && p.v_mps.is_finite())
                .map(|p| (p.t_s, p.v_mps.max(0.0)))
                .collect(),
            stop_s_m: chosen
                .filter(|c| c.profile.is_stop() && c.stop_s_m.is_finite())
                .map(|c| c.stop_s_m),
            rest_s_m: chosen
                .filter(|c| c.stop_s_m.is_finite())
                .map(|c| c.stop_s_m),
        });
        self.supervisor
            .set_plan_age(now, now.0.saturating_sub(plan.time.0));
    }

    /// The plan being followed, if any.
    pub fn plan(&self) -> Option<&FollowPlan> {
        self.plan.as_ref()
    }

    /// Route distance the truck's centre must stop at: the end of its permission, of its
    /// route, or short of a perceived obstacle; `None` without a route.
    pub fn stop_point_m(&self) -> Option<f64> {
        let route = self.route.as_ref()?;
        let perm_end = match self.permission {
            Some(g) if g.route == route.route.id => g.until_m,
            _ => self.progress,
        };
        let mut stop = self.permission_stop(perm_end, route.length);
        if let Some(d) = self.obstacle_ahead_m {
            stop =
                stop.min(self.progress + d - 0.5 * self.params.length_m - self.obstacle_standoff_m);
        }
        Some(stop)
    }

    /// Where the centre may stop for a permission ending at `perm_end` on a route of
    /// `route_len`: short of it by [`PERMISSION_SIGMAS`] position sigmas when the road
    /// beyond is someone else's (the permission ends before the route does), so a truck
    /// whose estimate lags its true position still stops inside its permission. At the
    /// route's own end (a loading or dump spot, a parking slot) the claim's margin beyond
    /// the grant covers the localisation error, and the spot must stay reachable.
    fn permission_stop(&self, perm_end: f64, route_len: f64) -> f64 {
        if perm_end >= route_len - 1e-6 {
            return route_len;
        }
        let sigma = if self.pos_sigma_m.is_finite() {
            self.pos_sigma_m.clamp(0.0, PERMISSION_SIGMA_CAP_M)
        } else {
            PERMISSION_SIGMA_CAP_M
        };
        perm_end - PERMISSION_SIGMAS * sigma
    }

    /// A planner's report at `now`: its current plan was made `age_us` ago. Once a planner
    /// has reported, a plan older than the supervisor's bounds slows and then stops the truck.
    pub fn set_plan_age(&mut self, now: SimTime, age_us: u64) {
        self.supervisor.set_plan_age(now, age_us);
    }

    /// The localisation's 1-sigma horizontal position uncertainty the last step sensed
    /// ([`Sensed::pos_sigma_m`]; [`DEFAULT_POS_SIGMA_M`] before the first step). Over 0.5 m
    /// the truck slows, over 2 m it stops until the uncertainty recovers; non-finite counts
    /// as lost.
    pub fn pos_sigma(&self) -> f64 {
        self.pos_sigma_m
    }

    /// Target offset from the route's centreline, m, positive left (a planner's request; the
    /// controller clamps it to its limit). Non-finite means 0.
    pub fn set_lateral_offset(&mut self, offset_m: f64) {
        self.lateral_offset_m = if offset_m.is_finite() { offset_m } else { 0.0 };
    }

    /// Every supervisor transition so far, with its reason.
    pub fn supervisor_log(&self) -> &[SupervisorEvent] {
        self.supervisor.log()
    }

    /// The supervisor (its configuration is public).
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    pub fn supervisor_mut(&mut self) -> &mut Supervisor {
        &mut self.supervisor
    }

    /// The supervisor's verdict of the last step.
    pub fn verdict(&self) -> Verdict {
        self.verdict
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
        self.supervise(now, sensed, &mut out);
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
        self.supervisor.heard(now);
        match &msg.body {
            DispatchMsg::Heartbeat => {}
            DispatchMsg::EStop(reason) => {
                self.stats.estops += 1;
                self.supervisor.estop(*reason);
                self.stop_latched(now, *reason, out);
            }
            DispatchMsg::ReArm => {
                self.supervisor.rearm();
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
                        self.plan = None;
                        if self.plans_expected {
                            self.supervisor.plan_due_from(now);
                        }
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

    fn supervise(&mut self, now: SimTime, sensed: &Sensed, out: &mut Vec<UpMsg>) {
        self.supervisor.cfg.watchdog_slow = self.timing.watchdog_slow;
        self.supervisor.cfg.watchdog_stop = self.timing.watchdog_stop;
        let grade = match &self.route {
            Some(r) => r.point_at(self.progress, &self.site.roads).grade,
            None => 0.0,
        };
        let input = SupervisorInput {
            now,
            pos: [sensed.pos[0], sensed.pos[1]],
            speed: sensed.speed,
            payload_t: sensed.payload_t,
            grade,
            route: self.route.as_ref(),
            net: &self.site.roads,
            progress: self.progress,
            permission: self.permission,
            pos_sigma_m: sensed.pos_sigma_m,
        };
        self.pos_sigma_m = sensed.pos_sigma_m;
        self.verdict = self.supervisor.step(&self.params, &input);
        self.stats.interventions = self.supervisor.interventions();
        if self.verdict.latch == Some(StopReason::LinkLost)
            && self.supervisor.level(Reason::Link) == Level::Stop
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
                            self.plan = None;
                            self.supervisor.plan_not_due();
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
        let dt = self.last_step.map_or(0.02, |t| now.since(t).as_secs_f64());
        self.last_step = Some(now);
        let verdict = self.verdict;
        let hold = Actuation {
            throttle: 0.0,
            brake: 1.0,
            steer: 0.0,
            tip: false,
        };
        let tip = self.state == MissionState::Dumping && sensed.payload_t > 0.01;
        let Some(route) = &self.route else {
            self.controller.speed.reset();
            return Actuation { tip, ..hold };
        };
        let net = &self.site.roads;
        let here = route.point_at(self.progress, net);

        // The planner's plan, while it is fresh and made on this route.
        let follow = self
            .plan
            .as_ref()
            .filter(|f| f.route == route.route.id)
            .map(|f| (f, now.since(f.made).as_secs_f64()))
            .filter(|(_, age)| *age <= PLAN_MAX_AGE_S);
        let offset = follow.map_or(self.lateral_offset_m, |(f, _)| f.offset_m);

        // Steering: the lateral controller on the route (and the planner's offset).
        let steer = self
            .controller
            .lateral
            .steer(
                &p,
                route,
                net,
                self.progress,
                [sensed.pos[0], sensed.pos[1]],
                sensed.heading,
                v,
                offset,
            )
            .steer;

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
        let mut stop_at = self.permission_stop(perm_end, route.length);
        if let Some(d) = self.obstacle_ahead_m {
            let nose = 0.5 * self.params.length_m;
            stop_at = stop_at.min(self.progress + d - nose - self.obstacle_standoff_m);
        }
        if let Some(s) = verdict.stop_point {
            stop_at = stop_at.min(s);
        }
        if let Some(s) = follow.and_then(|(f, _)| f.stop_s_m) {
            if s < stop_at - PLAN_REST_SLACK_M {
                stop_at = s;
            }
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
        // The supervisor's cap (watchdog, stale inputs, localisation, controlled stops).
        let mut v_target = v_max
            .min(Self::reachable(0.0, to_stop, decel))
            .min(verdict.speed_cap);
        // The last metres to the truck's own stopping point are the truck's: a plan that
        // comes to rest there (within the slack) is stopping for that same point, with its
        // larger margin, and following its speed would leave the truck short of its spot.
        let last_metres = stop_at - self.progress < LAST_METRES_M
            && follow
                .and_then(|(f, _)| f.rest_s_m)
                .is_some_and(|s| s >= stop_at - PLAN_REST_SLACK_M);
        if let Some((f, age)) = follow.filter(|_| !last_metres) {
            v_target = v_target.min(f.speed_at(age + PLAN_LEAD_S));
        }
        if !may_move || expired || to_stop <= 0.0 {
            v_target = 0.0;
        }

        // Wanted acceleration: the speed PID on the target; brake as hard as the stop requires.
        let mut a_des = self
            .controller
            .speed
            .accel(dt, v_target, v, p.planning_decel);
        if to_stop > 0.05 && v > 0.0 {
            let a_req = v * v / (2.0 * to_stop);
            if a_req > 0.8 * decel {
                a_des = a_des.min(-a_req);
            }
        } else if v > 0.0 {
            a_des = -10.0;
        }
        if verdict.full_brake || self.stop_reason == Some(StopReason::Operator) {
            // E-stop, time-to-collision, last-resort permission end: full brakes.
            return Actuation { steer, tip, ..hold };
        }
        if v_target <= 0.0 && v.abs() < 0.3 {
            self.controller.speed.reset();
            return Actuation { steer, tip, ..hold };
        }
        // Forces: m·a = traction − brake − m·g·sinθ − rolling.
        let (throttle, brake) = pedals(&p, sensed.payload_t, v, here.grade, a_des);
        Actuation {
            throttle,
            brake,
            steer,
            tip,
        }
    }
}
