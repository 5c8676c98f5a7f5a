//! The simulated mine: physics, trucks, loaders, dumps, the dispatcher and the link, advanced
//! in fixed steps of simulated time. Plain Rust; the Bevy app in [`crate::app`] schedules it.

use crate::net::NetworkChoice;
use crate::physics::Physics;
use fleet::{Dispatcher, DispatcherConfig};
use network5g::transport::{LinkStats, Transport};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use site::ids::{LoaderId, TruckId};
use site::protocol::{DownMsg, MissionState, Task, TruckInfo};
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;
use vehicle::{Actuation, Sensed, Truck, TruckParams};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub trucks: usize,
    pub seed: u64,
    pub duration: SimDuration,
    pub physics_hz: f64,
    pub dispatch_period: SimDuration,
    pub link_latency: SimDuration,
    pub truck: TruckParams,
    /// Standard deviation of GNSS position noise, m.
    pub gnss_noise_m: f64,
    /// Time to tip a full body at the dump, s.
    pub tip_s: f64,
    pub dispatcher: DispatcherConfig,
    /// Which transport carries the messages.
    pub network: NetworkChoice,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            trucks: 100,
            seed: 1,
            duration: SimDuration::from_secs(3600),
            physics_hz: 50.0,
            dispatch_period: SimDuration::from_millis(100),
            link_latency: SimDuration::from_millis(5),
            truck: TruckParams::default(),
            gnss_noise_m: 0.02,
            tip_s: 25.0,
            dispatcher: DispatcherConfig::default(),
            network: NetworkChoice::InMemory,
        }
    }
}

/// Why a world cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--trucks must be at least 1")]
    NoTrucks,
    #[error("the site has room to start {capacity} trucks, {asked} asked")]
    TooManyTrucks { capacity: usize, asked: usize },
    #[error("cannot build the network: {0}")]
    Network(String),
}

/// Counters kept per truck.
#[derive(Clone, Debug, Default)]
pub struct TruckMetrics {
    pub loads: u64,
    pub dumps: u64,
    pub tonnes: f64,
    pub distance_m: f64,
    pub state_us: [u64; 12],
    pub last_dump: Option<SimTime>,
    pub cycle_s: Vec<f64>,
    pub violations: u64,
    in_violation: bool,
}

/// One simulated truck: its autonomy, its body and what it carries.
pub struct TruckSim {
    pub id: TruckId,
    pub brain: Truck,
    pub body: usize,
    pub payload_t: f64,
    pub loader_done: bool,
    load_t: f64,
    rng: ChaCha8Rng,
    pub act: Actuation,
    inbox: Vec<DownMsg>,
    pub metrics: TruckMetrics,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LoaderState {
    Idle,
    Loading { truck: usize, next_pass: SimTime },
}

/// A loader and its counters.
pub struct LoaderSim {
    state: LoaderState,
    rng: ChaCha8Rng,
    pub loads: u64,
    pub tonnes: f64,
    pub busy_us: u64,
}

/// Whole-run counters.
#[derive(Clone, Debug)]
pub struct WorldMetrics {
    pub collisions: u64,
    pub min_separation_m: f64,
    pub tonnes: f64,
    pub events: u64,
    /// Trucks the dispatcher's re-arm policy re-armed after they stopped themselves.
    pub auto_rearms: u64,
    pub event_hash: u64,
    /// Longest stretch of simulated time in which no truck moved (a gridlock detector), s.
    pub longest_standstill_s: f64,
    last_motion: SimTime,
    touching: Vec<(usize, usize)>,
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
    step_us: u64,
}

fn state_index(s: MissionState) -> usize {
    MissionState::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    let mut h = hash;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A standard normal draw (Box–Muller) from a seeded generator.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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
            trucks.push(TruckSim {
                id,
                brain: Truck::new(id, cfg.truck, site.clone(), SimTime::ZERO),
                body,
                payload_t: 0.0,
                loader_done: false,
                load_t: 0.0,
                rng: ChaCha8Rng::seed_from_u64(
                    cfg.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1)),
                ),
                act: Actuation::default(),
                inbox: Vec::new(),
                metrics: TruckMetrics::default(),
            });
        }
        // Step once so that contacts and query structures exist before the first control step.
        physics.step();
        let loaders = (0..site.loaders.len())
            .map(|i| LoaderSim {
                state: LoaderState::Idle,
                rng: ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(1000 + i as u64)),
                loads: 0,
                tonnes: 0.0,
                busy_us: 0,
            })
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
        let transport = crate::net::make_transport(&site, &cfg)?;
        let step_us = (1e6 / cfg.physics_hz).round() as u64;
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
                collisions: 0,
                min_separation_m: f64::INFINITY,
                tonnes: 0.0,
                events: 0,
                auto_rearms: 0,
                event_hash: 0xcbf29ce484222325,
                longest_standstill_s: 0.0,
                last_motion: SimTime::ZERO,
                touching: Vec::new(),
            },
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
        let noise = self.cfg.gnss_noise_m;
        for t in &mut self.trucks {
            let st = self.physics.state(t.body);
            let (nx, ny) = (normal(&mut t.rng) * noise, normal(&mut t.rng) * noise);
            let sensed = Sensed {
                pos: [st.pos[0] + nx, st.pos[1] + ny, st.pos[2]],
                heading: st.heading,
                speed: st.speed,
                payload_t: t.payload_t,
                loader_done: t.loader_done,
            };
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

    /// Loaders fill trucks in passes; trucks tip at dumps.
    pub fn site_work(&mut self) {
        let now = self.now;
        let dt = self.physics.dt;
        let cap = self.cfg.truck.capacity_t;
        for t in &mut self.trucks {
            if t.brain.state() != MissionState::Loading {
                t.loader_done = false;
            }
        }
        for (i, l) in self.loaders.iter_mut().enumerate() {
            let spec = &self.site.loaders[i];
            match l.state {
                LoaderState::Idle => {
                    let spot = self.site.roads.lane(spec.lane).point_at(spec.spot_s).pos;
                    let ready = self.trucks.iter().position(|t| {
                        t.brain.state() == MissionState::Loading
                            && t.brain.task()
                                == Some(Task::Load {
                                    loader: LoaderId(i as u32),
                                })
                            && !t.loader_done
                            && t.payload_t < cap - 1.0
                            && {
                                let p = self.physics.state(t.body);
                                p.speed.abs() < 0.3
                                    && (p.pos[0] - spot[0]).hypot(p.pos[1] - spot[1]) < 3.0
                            }
                    });
                    if let Some(k) = ready {
                        let jitter = 0.85 + 0.3 * l.rng.random_range(0.0..1.0);
                        l.state = LoaderState::Loading {
                            truck: k,
                            next_pass: now + SimDuration::from_secs_f64(spec.pass_s * jitter),
                        };
                    }
                }
                LoaderState::Loading { truck, next_pass } => {
                    l.busy_us += self.step_us;
                    if now >= next_pass {
                        let t = &mut self.trucks[truck];
                        let add = spec.bucket_t.min(cap - t.payload_t).max(0.0);
                        t.payload_t += add;
                        self.physics.set_payload(t.body, t.payload_t);
                        if t.payload_t >= cap - spec.bucket_t * 0.5 {
                            t.loader_done = true;
                            t.metrics.loads += 1;
                            l.loads += 1;
                            l.tonnes += t.payload_t;
                            l.state = LoaderState::Idle;
                        } else {
                            let jitter = 0.85 + 0.3 * l.rng.random_range(0.0..1.0);
                            l.state = LoaderState::Loading {
                                truck,
                                next_pass: now + SimDuration::from_secs_f64(spec.pass_s * jitter),
                            };
                        }
                    }
                }
            }
        }
        let rate = cap / self.cfg.tip_s;
        for t in &mut self.trucks {
            if !(t.act.tip && t.brain.state() == MissionState::Dumping && t.payload_t > 0.0) {
                continue;
            }
            if self.physics.state(t.body).speed.abs() > 0.3 {
                continue;
            }
            if t.load_t <= 0.0 {
                t.load_t = t.payload_t;
            }
            t.payload_t = (t.payload_t - rate * dt).max(0.0);
            if t.payload_t <= 0.0 {
                t.metrics.dumps += 1;
                t.metrics.tonnes += t.load_t;
                self.metrics.tonnes += t.load_t;
                if let Some(prev) = t.metrics.last_dump {
                    t.metrics.cycle_s.push(now.since(prev).as_secs_f64());
                }
                t.metrics.last_dump = Some(now);
                t.load_t = 0.0;
            }
            self.physics.set_payload(t.body, t.payload_t);
        }
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
        self.dispatcher.tick(now);
        for m in self.dispatcher.poll_outbox() {
            self.transport.send_down(now, &m);
        }
        for e in self.dispatcher.drain_events() {
            self.metrics.events += 1;
            if e.kind == fleet::FleetEventKind::AutoReArmed {
                self.metrics.auto_rearms += 1;
            }
            let text = format!("{}:{}:{:?}", e.at.0, e.truck.0, e.kind);
            self.metrics.event_hash = fnv(self.metrics.event_hash, text.as_bytes());
        }
    }

    /// Safety measurements: separation, contacts, permission compliance.
    pub fn measure(&mut self) {
        let n = self.trucks.len();
        let states: Vec<_> = (0..n)
            .map(|i| self.physics.state(self.trucks[i].body))
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| states[a].pos[0].total_cmp(&states[b].pos[0]));
        const NEAR: f64 = 40.0;
        for (k, &a) in order.iter().enumerate() {
            for &b in &order[k + 1..] {
                if states[b].pos[0] - states[a].pos[0] > NEAR {
                    break;
                }
                let (pa, pb) = (states[a].pos, states[b].pos);
                if (pa[0] - pb[0]).hypot(pa[1] - pb[1]) < NEAR {
                    let d = self.physics.body_distance(a, b);
                    if d < self.metrics.min_separation_m {
                        self.metrics.min_separation_m = d;
                    }
                }
            }
        }
        if states.iter().any(|s| s.speed.abs() > 0.5) {
            self.metrics.last_motion = self.now;
        }
        let still = self.now.since(self.metrics.last_motion).as_secs_f64();
        self.metrics.longest_standstill_s = self.metrics.longest_standstill_s.max(still);
        let touching = self.physics.truck_contacts();
        for pair in &touching {
            if !self.metrics.touching.contains(pair) {
                self.metrics.collisions += 1;
            }
        }
        self.metrics.touching = touching;
        // Independent monitor: the true position against what the dispatcher granted (with
        // a remote dispatcher: against the last grant the truck received).
        let views = self.dispatcher.trucks();
        let remote = self.cfg.network.remote_dispatcher();
        for (i, t) in self.trucks.iter_mut().enumerate() {
            let (route, granted) = if remote {
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
                &self.site.roads,
            );
            let over = d > granted + 0.3;
            if over && !t.metrics.in_violation {
                t.metrics.violations += 1;
            }
            t.metrics.in_violation = over;
        }
    }

    /// All of one step, in order.
    pub fn step(&mut self) {
        self.control();
        self.physics_step();
        self.site_work();
        self.dispatch();
        self.measure();
    }
}
