//! The world loop: physics, trucks, the dispatcher and the link advanced in fixed steps of
//! simulated time, in the order of [`Phase::ORDER`]. Plain Rust; the Bevy app in
//! [`crate::app`] schedules the same phases. Site work (loaders, dumps) is in
//! [`crate::site_work`], the safety monitor in [`crate::safety`], a truck in
//! [`crate::truck`].

use crate::config::SimConfig;
use crate::error::SimError;
use crate::gnss::SkyView;
use crate::obstacles::ObstacleSet;
use crate::perceive::Perception;
use crate::phase::Phase;
use crate::physics::Physics;
use crate::safety::SafetyMonitor;
use crate::site_work::{self, LoaderSim, WorkStep};
use crate::truck::{state_index, TruckSim};
use fleet::Dispatcher;
use network5g::transport::{LinkStats, Transport};
use site::ids::TruckId;
use site::protocol::TruckInfo;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;
use vehicle::Truck;

/// Whole-run counters.
#[derive(Clone, Debug)]
pub struct WorldMetrics {
    pub tonnes: f64,
    pub events: u64,
    /// Trucks the dispatcher's re-arm policy re-armed after they stopped themselves.
    pub auto_rearms: u64,
    /// FNV-1a ([`site::hash`]) over the dispatcher's event log.
    pub event_hash: u64,
    /// Longest stretch of simulated time in which no truck moved (a gridlock detector), s.
    pub longest_standstill_s: f64,
    last_motion: SimTime,
}

/// The simulated mine.
pub struct SimWorld {
    pub cfg: SimConfig,
    pub site: Arc<Site>,
    pub now: SimTime,
    pub physics: Physics,
    pub trucks: Vec<TruckSim>,
    pub loaders: Vec<LoaderSim>,
    pub dispatcher: Dispatcher,
    pub transport: Box<dyn Transport + Send + Sync>,
    next_dispatch: SimTime,
    pub metrics: WorldMetrics,
    /// Separation, contacts and permission compliance, measured independently.
    pub safety: SafetyMonitor,
    /// Obstacles of the run ([`crate::obstacles`]).
    pub obstacles: ObstacleSet,
    /// Perception on every truck ([`crate::perceive`]), when the run has it.
    pub perception: Option<Perception>,
    /// Planning on every truck's NPU (with perception).
    pub planning: Option<crate::planning::Planning>,
    /// Set when the detector failed during the run; every truck then stops.
    pub perception_error: Option<String>,
    /// Set when the planner failed during the run (no more plans: every truck stops).
    pub planning_error: Option<String>,
    /// Manned vehicles ([`crate::traffic`]); none unless the config asks.
    pub traffic: crate::traffic::Traffic,
    /// The terrain's sky view for GNSS ([`crate::gnss`]), filled as trucks go.
    pub sky: SkyView,
    step_us: u64,
}

impl SimWorld {
    pub fn new(site: Arc<Site>, cfg: SimConfig) -> Result<SimWorld, SimError> {
        if cfg.trucks == 0 {
            return Err(SimError::NoTrucks);
        }
        let capacity = site.capacity();
        // The seed decides which truck starts where.
        let slots = site
            .fleet_start(cfg.trucks, cfg.seed)
            .ok_or(SimError::TooManyTrucks {
                capacity,
                asked: cfg.trucks,
            })?;
        let mut physics = Physics::new(&site, cfg.truck, cfg.physics_hz);
        let mut trucks = Vec::with_capacity(cfg.trucks);
        for (i, slot) in slots.iter().enumerate() {
            let pt = site.roads.lane(slot.lane).point_at(slot.s);
            let body = physics.add_truck(pt.pos, pt.heading);
            let id = TruckId(i as u32);
            trucks.push(TruckSim::new(
                id,
                Truck::new(id, cfg.truck, site.clone(), SimTime::ZERO),
                body,
                cfg.seed,
            ));
        }
        if cfg.traffic.vehicles() > 0 && cfg.network.remote_dispatcher() {
            return Err(SimError::Config(
                "manned vehicles report to the in-process dispatcher; not with a remote one".into(),
            ));
        }
        let slot_list: Vec<site::site::Slot> = slots.to_vec();
        let mut traffic =
            crate::traffic::Traffic::spawn(&site, &cfg.traffic, &slot_list, &mut physics, cfg.seed)
                .map_err(SimError::Config)?;
        // Step once so that contacts and query structures exist before the first control step.
        physics.step();
        let loaders = (0..site.loaders.len())
            .map(|i| LoaderSim::new(cfg.seed, i))
            .collect();
        // The fleet roster: the dispatcher knows every truck and where it stands before the
        // first message arrives.
        let mut dispatcher = Dispatcher::new(site.clone(), cfg.dispatcher.clone());
        let info = TruckInfo {
            length_m: cfg.truck.length_m,
            width_m: cfg.truck.width_m,
            capacity_t: cfg.truck.capacity_t,
        };
        for (t, slot) in trucks.iter().zip(&slots) {
            let pt = site.roads.lane(slot.lane).point_at(slot.s);
            dispatcher.register(
                SimTime::ZERO,
                t.id,
                info,
                [pt.pos[0], pt.pos[1]],
                pt.heading,
            );
        }
        // The manned vehicles' tablets announce them: their road is held from the start.
        for r in traffic.reports_now(SimTime::ZERO) {
            dispatcher.tablet(SimTime::ZERO, &r);
        }
        let obstacles = ObstacleSet::new(cfg.obstacles.clone()).map_err(SimError::Config)?;
        let perception = cfg
            .perception
            .as_ref()
            .map(|p| Perception::new(p.cfg.clone(), p.detector.clone(), cfg.trucks, cfg.seed));
        if cfg.planning.is_some() && perception.is_none() {
            return Err(SimError::Config(
                "planning needs perception (it plans around the trucks' tracks)".into(),
            ));
        }
        let planning = cfg
            .planning
            .as_ref()
            .map(|p| crate::planning::Planning::new(p.cfg.clone(), p.planner.clone(), cfg.trucks));
        if planning.is_some() {
            for t in &mut trucks {
                t.brain.expect_plans(true);
            }
        }
        let transport = crate::net::make_transport(&site, &cfg)?;
        let step_us = (1e6 / cfg.physics_hz).round() as u64;
        let sky = SkyView::new(&site.terrain);
        Ok(SimWorld {
            site,
            now: SimTime::ZERO,
            physics,
            trucks,
            loaders,
            dispatcher,
            transport,
            next_dispatch: SimTime::ZERO,
            metrics: WorldMetrics {
                tonnes: 0.0,
                events: 0,
                auto_rearms: 0,
                event_hash: site::hash::FNV_OFFSET,
                longest_standstill_s: 0.0,
                last_motion: SimTime::ZERO,
            },
            safety: SafetyMonitor::new(cfg.trucks),
            obstacles,
            perception,
            planning,
            perception_error: None,
            planning_error: None,
            traffic,
            sky,
            step_us,
            cfg,
        })
    }

    pub fn link_stats(&self) -> LinkStats {
        self.transport.stats()
    }

    /// Sensing, truck autonomy and actuation for every truck.
    pub fn control(&mut self) {
        let now = self.now;
        let positions: Vec<[f64; 2]> = self
            .trucks
            .iter()
            .map(|t| {
                let p = self.physics.state(t.body).pos;
                [p[0], p[1]]
            })
            .collect();
        self.transport.step(now, &positions);
        for m in self.transport.recv_down(now) {
            if let Some(t) = self.trucks.get_mut(m.truck.index()) {
                t.inbox.push(m);
            }
        }
        self.obstacles.update(&mut self.physics, &self.site, now.0);
        self.traffic.drive(now, &self.site, &mut self.physics);
        if let Some(p) = &mut self.perception {
            if let Err(e) = p.step(
                now,
                &self.site,
                &self.physics,
                &self.obstacles,
                &mut self.trucks,
            ) {
                self.perception_error.get_or_insert(e.to_string());
            }
            if let Some(pl) = self
                .planning
                .as_mut()
                .filter(|_| self.planning_error.is_none())
            {
                if let Err(e) = pl.step(now, &self.site, &self.physics, p, &mut self.trucks) {
                    // No plans arrive: every supervisor slows and stops its truck.
                    self.planning_error.get_or_insert(e.to_string());
                }
            }
        }
        if self.perception_error.is_some() {
            // Blind trucks stop where they are.
            for t in &mut self.trucks {
                t.brain.set_obstacle_ahead(Some(0.0));
            }
        }
        let open_sigma = self.cfg.gnss_noise_m;
        let dt = self.physics.dt;
        for t in &mut self.trucks {
            let st = self.physics.state(t.body);
            let sensed = t.sense(now, &st, dt, &mut self.sky, &self.site.terrain, open_sigma);
            let (act, out) = t.brain.step(now, &sensed, &t.inbox);
            t.inbox.clear();
            for m in &out {
                self.transport.send_up(now, m);
            }
            t.act = act;
            self.physics.drive(t.body, &act, t.payload_t);
            t.metrics.distance_m += st.speed.abs() * self.physics.dt;
            t.metrics.state_us[state_index(t.brain.state())] += self.step_us;
        }
    }

    /// One physics step; advances the clock.
    pub fn physics_step(&mut self) {
        self.physics.step();
        self.now += SimDuration(self.step_us);
    }

    /// Loaders fill trucks in passes; trucks tip at dumps ([`crate::site_work`]).
    pub fn site_work(&mut self) {
        let step = WorkStep {
            now: self.now,
            dt: self.physics.dt,
            step_us: self.step_us,
            capacity_t: self.cfg.truck.capacity_t,
            tip_s: self.cfg.tip_s,
            site: &self.site,
        };
        site_work::load(
            &step,
            &mut self.physics,
            &mut self.loaders,
            &mut self.trucks,
        );
        site_work::tip(
            &step,
            &mut self.physics,
            &mut self.trucks,
            &mut self.metrics.tonnes,
        );
    }

    /// The dispatcher's turn, every `dispatch_period`.
    pub fn dispatch(&mut self) {
        let now = self.now;
        if now < self.next_dispatch || self.cfg.network.remote_dispatcher() {
            return;
        }
        self.next_dispatch = now + self.cfg.dispatch_period;
        for m in self.transport.recv_up(now) {
            self.dispatcher.handle(now, &m);
        }
        for r in self.traffic.take_reports() {
            self.dispatcher.tablet(now, &r);
        }
        self.dispatcher.tick(now);
        let replies = self.dispatcher.poll_tablet_outbox();
        self.traffic.deliver(now, &self.site, replies);
        for m in self.dispatcher.poll_outbox() {
            self.transport.send_down(now, &m);
        }
        for e in self.dispatcher.drain_events() {
            self.metrics.events += 1;
            if e.kind == fleet::FleetEventKind::AutoReArmed {
                self.metrics.auto_rearms += 1;
            }
            let text = format!("{}:{}:{:?}", e.at.0, e.truck.0, e.kind);
            self.metrics.event_hash = site::hash::fnv1a(self.metrics.event_hash, text.as_bytes());
        }
    }

    /// Safety measurements ([`SafetyMonitor`]: separation, contacts, permission compliance)
    /// and the standstill detector.
    pub fn measure(&mut self) {
        let states: Vec<_> = self
            .trucks
            .iter()
            .map(|t| self.physics.state(t.body))
            .collect();
        self.safety.separation(&self.physics, &states);
        if states.iter().any(|s| s.speed.abs() > 0.5) {
            self.metrics.last_motion = self.now;
        }
        let still = self.now.since(self.metrics.last_motion).as_secs_f64();
        self.metrics.longest_standstill_s = self.metrics.longest_standstill_s.max(still);
        self.safety.contacts(&self.physics);
        self.safety.obstacle_contacts(&self.physics);
        self.safety.manned(
            &self.physics,
            &self.trucks,
            &states,
            &self.traffic,
            &self.site,
        );
        self.safety.permissions(
            &mut self.trucks,
            &states,
            &self.dispatcher,
            self.cfg.network.remote_dispatcher(),
            &self.site.roads,
        );
    }

    /// Runs one phase of a step (the Bevy [`crate::app::SimPlugin`] runs them one per
    /// system set). [`Phase::Sync`] has nothing to do in the plain world.
    pub fn run_phase(&mut self, phase: Phase) {
        match phase {
            Phase::Control => self.control(),
            Phase::Physics => self.physics_step(),
            Phase::SiteWork => self.site_work(),
            Phase::Dispatch => self.dispatch(),
            Phase::Measure => self.measure(),
            Phase::Sync => {}
        }
    }

    /// All of one step: every phase of [`Phase::ORDER`], in order.
    pub fn step(&mut self) {
        for phase in Phase::ORDER {
            self.run_phase(phase);
        }
    }
}
