//! Site work: loaders fill trucks in passes (a bucket per pass, seeded jitter on the pass
//! time); trucks tip at their dump spot.

use crate::physics::Physics;
use crate::truck::TruckSim;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::ids::LoaderId;
use site::protocol::{MissionState, Task};
use site::seed::Stream;
use site::{SimDuration, SimTime, Site};

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

impl LoaderSim {
    /// Loader `index` of a run seeded with `seed`, idle; its pass times draw from
    /// [`Stream::Loader`] `index`.
    pub fn new(seed: u64, index: usize) -> LoaderSim {
        LoaderSim {
            state: LoaderState::Idle,
            rng: site::seed::rng(seed, Stream::Loader, index as u64),
            loads: 0,
            tonnes: 0.0,
            busy_us: 0,
        }
    }
}

/// What a site-work step needs to know of the world.
pub(crate) struct WorkStep<'a> {
    pub now: SimTime,
    /// The physics step, s and µs.
    pub dt: f64,
    pub step_us: u64,
    /// Truck body capacity, t.
    pub capacity_t: f64,
    /// Time to tip a full body, s.
    pub tip_s: f64,
    pub site: &'a Site,
}

/// Loaders fill trucks in passes: an idle loader starts on a truck standing still on its
/// spot; a truck is full within half a bucket of its capacity.
pub(crate) fn load(
    s: &WorkStep<'_>,
    physics: &mut Physics,
    loaders: &mut [LoaderSim],
    trucks: &mut [TruckSim],
) {
    let (now, cap) = (s.now, s.capacity_t);
    for t in trucks.iter_mut() {
        if t.brain.state() != MissionState::Loading {
            t.loader_done = false;
        }
    }
    for (i, l) in loaders.iter_mut().enumerate() {
        let spec = &s.site.loaders[i];
        match l.state {
            LoaderState::Idle => {
                let spot = s.site.roads.lane(spec.lane).point_at(spec.spot_s).pos;
                let ready = trucks.iter().position(|t| {
                    t.brain.state() == MissionState::Loading
                        && t.brain.task()
                            == Some(Task::Load {
                                loader: LoaderId(i as u32),
                            })
                        && !t.loader_done
                        && t.payload_t < cap - 1.0
                        && {
                            let p = physics.state(t.body);
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
                l.busy_us += s.step_us;
                if now >= next_pass {
                    let Some(t) = trucks.get_mut(truck) else {
                        l.state = LoaderState::Idle;
                        continue;
                    };
                    let add = spec.bucket_t.min(cap - t.payload_t).max(0.0);
                    t.payload_t += add;
                    physics.set_payload(t.body, t.payload_t);
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
}

/// Trucks tip at their dump spot: a truck dumping and standing still empties at
/// `capacity / tip_s`; each emptied body adds its load to the truck's and to `tonnes`.
pub(crate) fn tip(
    s: &WorkStep<'_>,
    physics: &mut Physics,
    trucks: &mut [TruckSim],
    tonnes: &mut f64,
) {
    let now = s.now;
    let rate = s.capacity_t / s.tip_s;
    for t in trucks.iter_mut() {
        if !(t.act.tip && t.brain.state() == MissionState::Dumping && t.payload_t > 0.0) {
            continue;
        }
        if physics.state(t.body).speed.abs() > 0.3 {
            continue;
        }
        if t.load_t <= 0.0 {
            t.load_t = t.payload_t;
        }
        t.payload_t = (t.payload_t - rate * s.dt).max(0.0);
        if t.payload_t <= 0.0 {
            t.metrics.dumps += 1;
            t.metrics.tonnes += t.load_t;
            *tonnes += t.load_t;
            if let Some(prev) = t.metrics.last_dump {
                t.metrics.cycle_s.push(now.since(prev).as_secs_f64());
            }
            t.metrics.last_dump = Some(now);
            t.load_t = 0.0;
        }
        physics.set_payload(t.body, t.payload_t);
    }
}
