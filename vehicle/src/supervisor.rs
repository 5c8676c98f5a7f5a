//! The safety supervisor: independent of any planner and of the NPU, it takes the truck's
//! state and returns a speed cap, a brake demand, a stopping point and latched stops.
//!
//! Rules, each with its own [`Level`] (the verdict is the most severe):
//!
//! | rule ([`Reason`]) | trigger | action | latched |
//! |---|---|---|---|
//! | `Link` | dispatcher quiet ≥ 300 ms / ≥ 1 s (armed once heard) | slow / controlled stop | the stop, until re-armed |
//! | `EStop` | e-stop message | full brake | until re-armed |
//! | `PermissionEnd` | the full brake is all that still stops the truck before its permission end | full brake | no |
//! | `PermissionExpired` | the grant on the current route has expired | controlled stop | no (a fresh grant) |
//! | `Collision` | a confirmed track will be in the truck's corridor while the truck covers its stretch of road (a time-to-collision within the horizon), and the truck reaches that stretch in no more time than the full brake needs to stop short of it (the detection's age and a control period counted as reaction time, plus a standoff) | full brake; a track in the corridor ahead is a stopping point | no |
//! | `PerceptionStale` | no track update for 500 ms / 1.5 s, once perception has started | slow / controlled stop | no |
//! | `PlanStale` | no plan newer than 500 ms / 1.5 s, once a planner has started | slow / controlled stop | no |
//! | `Localisation` | position 1-σ over 0.5 m (cap 15 km/h falling to 5 km/h with σ) / over 2 m | slow / controlled stop | no, but logged |
//!
//! Every change of a rule's level is logged as a [`SupervisorEvent`] with its reason, and
//! every intervention (a rule leaving [`Level::Clear`]) is counted by reason.

use crate::control::full_brake_decel;
use crate::dynamics::TruckParams;
use site::protocol::{PermissionGrant, StopReason};
use site::road::RoadNetwork;
use site::route::RoutePath;
use site::units::kmh;
use site::{SimDuration, SimTime};

/// A tracked object as the supervisor sees it: plain data in the site frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackView {
    /// Centre, m (east, north).
    pub x: f64,
    pub y: f64,
    /// Velocity, m/s.
    pub vx: f64,
    pub vy: f64,
    /// Footprint along and across the observing truck's heading, m.
    pub length: f64,
    pub width: f64,
    pub confirmed: bool,
}

impl TrackView {
    fn is_usable(&self) -> bool {
        [self.x, self.y, self.vx, self.vy, self.length, self.width]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// Why the supervisor acts (a rule). Mapped to the protocol's [`StopReason`] only where a
/// message must carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Link,
    EStop,
    PermissionEnd,
    PermissionExpired,
    Collision,
    PerceptionStale,
    PlanStale,
    Localisation,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Link,
        Reason::EStop,
        Reason::PermissionEnd,
        Reason::PermissionExpired,
        Reason::Collision,
        Reason::PerceptionStale,
        Reason::PlanStale,
        Reason::Localisation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::Link => "link",
            Reason::EStop => "estop",
            Reason::PermissionEnd => "permission_end",
            Reason::PermissionExpired => "permission_expired",
            Reason::Collision => "collision",
            Reason::PerceptionStale => "perception_stale",
            Reason::PlanStale => "plan_stale",
            Reason::Localisation => "localisation",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How hard a rule intervenes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Clear,
    /// A speed cap.
    Slow,
    /// Controlled stop (the planning deceleration, up to the full brake where the stop needs it).
    Stop,
    /// Full brake.
    Brake,
}

/// One change of a rule's level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupervisorEvent {
    pub at: SimTime,
    pub from: Level,
    pub to: Level,
    pub reason: Reason,
}

/// Interventions (a rule leaving [`Level::Clear`]) counted by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interventions {
    counts: [u64; Reason::ALL.len()],
}

impl Interventions {
    pub fn get(&self, r: Reason) -> u64 {
        self.counts[r.index()]
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// `(reason, count)` for every reason, in [`Reason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Reason, u64)> + '_ {
        Reason::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}

/// Bounds and margins (typ. values; the watchdog's from the domain brief).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupervisorConfig {
    pub watchdog_slow: SimDuration,
    pub watchdog_stop: SimDuration,
    pub perception_slow: SimDuration,
    pub perception_stop: SimDuration,
    pub plan_slow: SimDuration,
    pub plan_stop: SimDuration,
    /// Speed cap while perception or the plan is stale, m/s.
    pub stale_speed_ms: f64,
    /// Position 1-σ above which the truck slows, m (the cap falls linearly with σ).
    pub sigma_slow_m: f64,
    /// Position 1-σ above which the truck stops, m.
    pub sigma_stop_m: f64,
    /// Speed cap just below [`SupervisorConfig::sigma_stop_m`], m/s.
    pub sigma_min_speed_ms: f64,
    /// Speed cap just above [`SupervisorConfig::sigma_slow_m`], m/s: with half a metre of
    /// position sigma the truck's lateral error is about that much, so it leaves speed.
    pub sigma_slow_speed_ms: f64,
    /// Hysteresis of the σ thresholds: a level clears below this fraction of its threshold.
    pub sigma_hysteresis: f64,
    /// Added to the truck's half width and the track's half width: the corridor, m.
    pub corridor_margin_m: f64,
    /// Gap the nose keeps to a track when braking or stopping for it, m.
    pub standoff_m: f64,
    /// Tracks are checked this far ahead in time, s.
    pub ttc_horizon_s: f64,
    /// Control period the truck may need to act on a verdict, s (added to the reaction).
    pub control_period_s: f64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            watchdog_slow: SimDuration::from_millis(300),
            watchdog_stop: SimDuration::from_secs(1),
            perception_slow: SimDuration::from_millis(500),
            perception_stop: SimDuration::from_millis(1500),
            plan_slow: SimDuration::from_millis(500),
            plan_stop: SimDuration::from_millis(1500),
            stale_speed_ms: kmh(15.0),
            sigma_slow_m: 0.5,
            sigma_stop_m: 2.0,
            sigma_min_speed_ms: kmh(5.0),
            sigma_slow_speed_ms: kmh(15.0),
            sigma_hysteresis: 0.9,
            corridor_margin_m: 1.0,
            standoff_m: 3.0,
            ttc_horizon_s: 15.0,
            control_period_s: 0.04,
        }
    }
}

/// What the supervisor sees of the truck in one step.
#[derive(Clone, Copy, Debug)]
pub struct SupervisorInput<'a> {
    pub now: SimTime,
    pub pos: [f64; 2],
    pub speed: f64,
    pub payload_t: f64,
    /// Grade under the truck, in its driving direction.
    pub grade: f64,
    pub route: Option<&'a RoutePath>,
    pub net: &'a RoadNetwork,
    /// Route distance of the truck's centre.
    pub progress: f64,
    pub permission: Option<PermissionGrant>,
    /// 1-sigma horizontal position uncertainty, m.
    pub pos_sigma_m: f64,
}

/// The supervisor's verdict for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// The most severe level of all rules.
    pub level: Level,
    /// The rule behind it (`None` when clear).
    pub reason: Option<Reason>,
    /// Speed the truck may not exceed, m/s (0: stop).
    pub speed_cap: f64,
    /// Apply the full brake.
    pub full_brake: bool,
    /// Route distance the centre must stop before (a track in the corridor ahead).
    pub stop_point: Option<f64>,
    /// Smallest time-to-collision of a confirmed track in the corridor, s.
    pub ttc_s: Option<f64>,
    /// A latched stop holds: the truck must be (or enter) mission state `Stopped` with this
    /// reason until re-armed.
    pub latch: Option<StopReason>,
}

/// The safety supervisor.
#[derive(Clone, Debug)]
pub struct Supervisor {
    pub cfg: SupervisorConfig,
    levels: [Level; Reason::ALL.len()],
    log: Vec<SupervisorEvent>,
    counts: Interventions,
    heard: Option<SimTime>,
    link_latched: bool,
    estop: Option<StopReason>,
    tracks: Vec<TrackView>,
    /// Time of the last track update and the age of the data behind it, µs.
    tracks_at: Option<SimTime>,
    tracks_age_us: u64,
    /// Time the newest plan was made.
    plan_made: Option<SimTime>,
}

impl Supervisor {
    pub fn new(cfg: SupervisorConfig) -> Supervisor {
        Supervisor {
            cfg,
            levels: [Level::Clear; Reason::ALL.len()],
            log: Vec::new(),
            counts: Interventions::default(),
            heard: None,
            link_latched: false,
            estop: None,
            tracks: Vec::new(),
            tracks_at: None,
            tracks_age_us: 0,
            plan_made: None,
        }
    }

    /// A message from the dispatcher arrived (arms and feeds the link watchdog).
    pub fn heard(&mut self, now: SimTime) {
        self.heard = Some(now);
    }

    /// E-stop: full brake, latched until [`Supervisor::rearm`].
    pub fn estop(&mut self, reason: StopReason) {
        self.estop = Some(reason);
    }

    /// Re-arm: clears the latched e-stop and link-loss stop.
    pub fn rearm(&mut self) {
        self.estop = None;
        self.link_latched = false;
    }

    /// Perception's tracks at `now`; `age_us` is the age of the detection behind them plus
    /// the NPU latency. Non-finite tracks are dropped.
    pub fn set_tracks(&mut self, now: SimTime, tracks: &[TrackView], age_us: u64) {
        self.tracks.clear();
        self.tracks
            .extend(tracks.iter().filter(|t| t.is_usable()).copied());
        self.tracks_at = Some(now);
        self.tracks_age_us = age_us;
    }

    /// A planner reports at `now` that its current plan was made `age_us` ago.
    pub fn set_plan_age(&mut self, now: SimTime, age_us: u64) {
        let made = SimTime(now.0.saturating_sub(age_us));
        // A late report of an older plan does not make the plan fresher.
        self.plan_made = Some(self.plan_made.map_or(made, |m| m.max(made)));
    }

    /// The truck has no road to plan for (no route): no plan is due, so none is stale; the
    /// next route starts the clock again ([`Supervisor::plan_due_from`]).
    pub fn plan_not_due(&mut self) {
        self.plan_made = None;
    }

    /// A plan is due from `now` on (a new route while a planner is expected): with no plan by
    /// the stale bounds the truck slows and stops as if the last plan had been made now.
    pub fn plan_due_from(&mut self, now: SimTime) {
        self.plan_made = Some(now);
    }

    pub fn log(&self) -> &[SupervisorEvent] {
        &self.log
    }
    pub fn interventions(&self) -> Interventions {
        self.counts
    }
    pub fn level(&self, r: Reason) -> Level {
        self.levels[r.index()]
    }
    /// Whether the truck is held by a latched stop (e-stop or link loss) until re-armed.
    pub fn latched(&self) -> bool {
        self.estop.is_some() || self.link_latched
    }

    fn set(&mut self, now: SimTime, r: Reason, to: Level) {
        let from = self.levels[r.index()];
        if from == to {
            return;
        }
        self.levels[r.index()] = to;
        if from == Level::Clear {
            self.counts.counts[r.index()] += 1;
        }
        self.log.push(SupervisorEvent {
            at: now,
            from,
            to,
            reason: r,
        });
    }

    /// Level of a staleness rule: `age` against its two bounds.
    fn stale_level(age: SimDuration, slow: SimDuration, stop: SimDuration) -> Level {
        if age >= stop {
            Level::Stop
        } else if age >= slow {
            Level::Slow
        } else {
            Level::Clear
        }
    }

    /// One step: evaluates every rule and returns the verdict.
    pub fn step(&mut self, p: &TruckParams, inp: &SupervisorInput) -> Verdict {
        let c = self.cfg;
        let now = inp.now;
        let v = if inp.speed.is_finite() {
            inp.speed
        } else {
            0.0
        };
        let mut cap = f64::INFINITY;
        let mut latch = None;

        // Link watchdog.
        let quiet = self.heard.map(|h| now.since(h));
        if quiet.is_some_and(|q| q >= c.watchdog_stop) {
            self.link_latched = true;
        }
        let link = if self.link_latched {
            Level::Stop
        } else if quiet.is_some_and(|q| q >= c.watchdog_slow) {
            cap = cap.min(0.5 * p.max_speed_ms).min(v.abs() * 0.9);
            Level::Slow
        } else {
            Level::Clear
        };
        self.set(now, Reason::Link, link);
        if self.link_latched {
            latch = Some(StopReason::LinkLost);
        }

        // E-stop.
        let e = if self.estop.is_some() {
            Level::Brake
        } else {
            Level::Clear
        };
        self.set(now, Reason::EStop, e);
        if let Some(r) = self.estop {
            latch = Some(r);
        }

        // Permission: expiry, and the last-resort full brake before its end.
        let a_full = full_brake_decel(p, inp.payload_t, inp.grade).max(0.1);
        let on_route = |g: &PermissionGrant| inp.route.is_some_and(|r| r.route.id == g.route);
        let grant = inp.permission.filter(on_route);
        let expired = grant.is_some_and(|g| now > g.expires);
        self.set(
            now,
            Reason::PermissionExpired,
            if expired { Level::Stop } else { Level::Clear },
        );
        let end_brake = match grant {
            Some(g) if v > 0.05 => {
                let left = g.until_m - inp.progress - v * c.control_period_s;
                v * v / (2.0 * a_full) >= left - 0.05
            }
            _ => false,
        };
        self.set(
            now,
            Reason::PermissionEnd,
            if end_brake {
                Level::Brake
            } else {
                Level::Clear
            },
        );

        // Tracks: time-to-collision in the corridor, stopping points.
        let (ttc, stop_point, brake_now) = self.tracks_check(p, inp, v, a_full);
        let was_braking = self.level(Reason::Collision) == Level::Brake;
        let collision = if brake_now || (was_braking && v > 0.2 && ttc.is_some()) {
            Level::Brake
        } else {
            Level::Clear
        };
        self.set(now, Reason::Collision, collision);

        // Stale perception (once it has started).
        let perception = match self.tracks_at {
            Some(t) => Self::stale_level(now.since(t), c.perception_slow, c.perception_stop),
            None => Level::Clear,
        };
        self.set(now, Reason::PerceptionStale, perception);
        // Stale plan (once a planner has started).
        let plan = match self.plan_made {
            Some(t) => Self::stale_level(now.since(t), c.plan_slow, c.plan_stop),
            None => Level::Clear,
        };
        self.set(now, Reason::PlanStale, plan);
        if perception == Level::Slow || plan == Level::Slow {
            cap = cap.min(c.stale_speed_ms);
        }

        // Localisation.
        let sigma = if inp.pos_sigma_m.is_finite() {
            inp.pos_sigma_m.max(0.0)
        } else {
            f64::INFINITY
        };
        let before = self.level(Reason::Localisation);
        let h = c.sigma_hysteresis;
        let loc = if sigma > c.sigma_stop_m || (before == Level::Stop && sigma > h * c.sigma_stop_m)
        {
            Level::Stop
        } else if sigma > c.sigma_slow_m || (before >= Level::Slow && sigma > h * c.sigma_slow_m) {
            Level::Slow
        } else {
            Level::Clear
        };
        self.set(now, Reason::Localisation, loc);
        if loc == Level::Slow {
            let f = ((c.sigma_stop_m - sigma) / (c.sigma_stop_m - c.sigma_slow_m)).clamp(0.0, 1.0);
            let top = c.sigma_slow_speed_ms.min(p.max_speed_ms);
            let v_cap = c.sigma_min_speed_ms + f * (top - c.sigma_min_speed_ms);
            cap = cap.min(v_cap);
        }

        let mut worst: Option<(Level, Reason)> = None;
        for r in Reason::ALL {
            let l = self.level(r);
            if l > Level::Clear && worst.is_none_or(|(wl, _)| l > wl) {
                worst = Some((l, r));
            }
        }
        let level = worst.map_or(Level::Clear, |w| w.0);
        if level >= Level::Stop {
            cap = 0.0;
        }
        Verdict {
            level,
            reason: worst.map(|w| w.1),
            speed_cap: cap.max(0.0),
            full_brake: level == Level::Brake,
            stop_point,
            ttc_s: ttc,
            latch,
        }
    }

    /// `(smallest TTC, stopping point, brake now)` over the confirmed tracks.
    fn tracks_check(
        &self,
        p: &TruckParams,
        inp: &SupervisorInput,
        v: f64,
        a_full: f64,
    ) -> (Option<f64>, Option<f64>, bool) {
        let c = self.cfg;
        let Some(route) = inp.route else {
            return (None, None, false);
        };
        if self.tracks_at.is_none() {
            return (None, None, false);
        }
        let age = self.tracks_age_us as f64 * 1e-6;
        // Time the truck needs to stop with the full brake from now, reacting `age` late
        // (and one control period more), keeping the standoff.
        let v_pos = v.max(0.0);
        let need =
            age + c.control_period_s + v_pos / (2.0 * a_full) + c.standoff_m / v_pos.max(0.5);
        let half_len = 0.5 * p.length_m;
        let reach = half_len + v_pos * c.ttc_horizon_s + 50.0;
        let mut min_ttc: Option<f64> = None;
        let mut stop: Option<f64> = None;
        let mut brake = false;
        for t in self.tracks.iter().filter(|t| t.confirmed) {
            // Where the track is now: its reported state moved on by the age.
            let xy = [t.x + t.vx * age, t.y + t.vy * age];
            let (d, d2) = route.project(xy, inp.progress, inp.progress + reach, inp.net);
            let pt = route.point_at(d, inp.net);
            let (sn, cs) = pt.heading.sin_cos();
            let lat = (xy[0] - pt.pos[0]) * -sn + (xy[1] - pt.pos[1]) * cs;
            let along_off = (xy[0] - pt.pos[0]) * cs + (xy[1] - pt.pos[1]) * sn;
            if d2.sqrt() > 200.0 || along_off.abs() > 0.5 * t.length.abs() + 5.0 {
                // Not beside this stretch of the route (behind the truck or past the end).
                continue;
            }
            let v_along = t.vx * cs + t.vy * sn;
            let v_lat = -t.vx * sn + t.vy * cs;
            let hw = 0.5 * p.width_m + 0.5 * t.width.abs() + c.corridor_margin_m;
            let gap = d - inp.progress - half_len - 0.5 * t.length.abs();
            if gap < -0.5 * t.length.abs() - half_len {
                continue;
            }
            // In the corridor now and ahead: a stopping point for the planner.
            if lat.abs() <= hw && gap > -0.5 {
                let s = d - 0.5 * t.length.abs() - half_len - c.standoff_m;
                stop = Some(stop.map_or(s, |x: f64| x.min(s)));
            }
            // Interval of time the track is laterally inside the corridor.
            let (t_in, t_out) = if v_lat.abs() < 1e-6 {
                if lat.abs() <= hw {
                    (0.0, f64::INFINITY)
                } else {
                    continue;
                }
            } else {
                let a = (-hw - lat) / v_lat;
                let b = (hw - lat) / v_lat;
                (a.min(b).max(0.0), a.max(b))
            };
            if t_out < 0.0 {
                continue;
            }
            let closing = v_pos - v_along;
            // Interval of time the truck covers the track's stretch of road (at its speed now).
            let (t_long, t_leave) = if closing > 1e-3 {
                (
                    gap.max(0.0) / closing,
                    (gap + p.length_m + t.length.abs()) / closing,
                )
            } else if gap <= 0.0 {
                (0.0, f64::INFINITY)
            } else {
                continue;
            };
            // A collision: both intervals overlap.
            let ttc = t_in.max(t_long);
            if ttc > t_out.min(t_leave) || ttc > c.ttc_horizon_s {
                continue;
            }
            min_ttc = Some(min_ttc.map_or(ttc, |m: f64| m.min(ttc)));
            // Brake when reaching the track's stretch takes no longer than stopping does.
            if t_long <= need && v_pos > 0.05 {
                brake = true;
            }
        }
        (min_ttc, stop, brake)
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::new(SupervisorConfig::default())
    }
}
