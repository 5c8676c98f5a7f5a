//! Perception in the loop: every truck sweeps its lidar (ray-cast or the fleet-scale model),
//! rasterises the sweep into the BEV grid and, when its own NPU is free, runs the detector
//! on it; detections become usable when their simulated latency has passed, feed the
//! truck's tracker, and the closest tracked obstacle in the truck's lane becomes a stopping
//! point of its speed planner ([`vehicle::Truck::set_obstacle_ahead`]).
//!
//! Device timeline, per truck: a sweep that arrives while the device is still busy with the
//! previous frame is dropped (counted); otherwise inference starts at the sweep's time and
//! ends `latency` later (the cost model of the compiled detector on the truck's profile).
//! The numerics of all trucks that start a frame in the same step run as one batched
//! executor call; that changes no simulated time.
//!
//! What a truck ignores: tracks within [`LOADER_IGNORE_M`] of a mapped loader (the site map
//! holds them), tracks on another truck of the fleet (within its half length plus
//! [`FLEET_MARGIN_M`] of the position its telemetry reports), tracks moving faster than [`MOVING_MS`] (other machines in traffic are the
//! dispatcher's block permissions' business), and tracks outside its lane corridor.

pub use crate::config::{PerceptionConfig, Sensing};
use crate::obstacles::ObstacleSet;
use crate::physics::Physics;
use crate::scene::{Owner, Scene};
use crate::truck::TruckSim;
use perception::detector::{Detector, DetectorError};
use perception::fleet_bev::{self, GroundPattern};
use perception::fleet_sensor::{self, SensorPose};
use perception::track::{to_world, Tracker};
use perception::{BevSpec, Detection, LidarConfig, LidarPoint};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use site::seed::Stream;
use site::{SimTime, Site};
use std::sync::Arc;

/// Tracks whose footprint comes this close to a mapped loader's position are the loader, m
/// (a loader is big, and a truck beside it sees only part of it: that part's centroid can
/// lie more than 10 m from the loader's position).
pub const LOADER_IGNORE_M: f64 = 10.0;

/// Whether a track at (`x`, `y`) with half extent `half` is a mapped loader.
pub(crate) fn near_loader(site: &Site, x: f64, y: f64, half: f64) -> bool {
    let half = if half.is_finite() { half.max(0.0) } else { 0.0 };
    site.loaders
        .iter()
        .any(|l| (l.pos[0] - x).hypot(l.pos[1] - y) < LOADER_IGNORE_M + half)
}
/// A track within a fleet truck's half length plus this of its centre is that truck, m.
pub const FLEET_MARGIN_M: f64 = 2.0;
/// Tracks faster than this are traffic, not obstacles, m/s.
pub const MOVING_MS: f64 = 1.0;
/// Lateral margin of the lane corridor beyond the truck's half width, m.
pub const CORRIDOR_MARGIN_M: f64 = 1.0;
/// How far ahead along the route obstacles are considered, m.
pub const LOOKAHEAD_M: f64 = 80.0;

/// A frame on a truck's device.
#[derive(Clone, Debug)]
struct InFlight {
    frame_us: u64,
    ready_us: u64,
    pose: SensorPose,
    detections: Vec<Detection>,
}

/// A stationary obstacle a truck has tracked in its lane, kept while the sensor cannot see
/// it (below the lowest beam, close in front of the truck) and dropped once it is in plain
/// view and no longer tracked, or once the track it came from moves off (a machine that was
/// standing in the lane and drives on: tall enough to stay in view in the blind zone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Remembered {
    /// The track it was last confirmed by.
    pub track: u32,
    pub x: f64,
    pub y: f64,
    /// Half its largest extent, m.
    pub half: f64,
    /// Last time a track confirmed it, µs.
    pub seen_us: u64,
}

/// One truck's perception.
#[derive(Clone, Debug)]
pub struct TruckPerception {
    next_sweep_us: u64,
    pub(crate) busy_until_us: u64,
    in_flight: Option<InFlight>,
    pub tracker: Tracker,
    rng: ChaCha8Rng,
    /// Draws of the watched truck's display sweep.
    display_rng: ChaCha8Rng,
    /// The last sweep (truck frame) and the pose it was taken at. At fleet sensing only
    /// the watched truck ([`Perception::watch`]) keeps its points: a display sweep of the
    /// same sensor model on [`TruckPerception::display_rng`].
    pub last_points: Vec<LidarPoint>,
    pub last_pose: Option<SensorPose>,
    /// The last detections that became usable, the pose of their frame and the frame's time.
    pub last_detections: Vec<Detection>,
    pub detections_pose: Option<SensorPose>,
    pub detections_frame_us: u64,
    /// Distance to the obstacle the planner stops for, as last reported, m.
    pub obstacle_ahead_m: Option<f64>,
    /// Stationary obstacles in the lane, kept through the sensor's blind zone.
    pub memory: Vec<Remembered>,
    pub stats: TruckPerceptionStats,
    /// A result became usable this step (the supervisor gets the tracks).
    fresh: bool,
}

/// Counters of one truck.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TruckPerceptionStats {
    pub sweeps: u64,
    pub points: u64,
    pub inferences: u64,
    pub dropped_frames: u64,
    pub detections: u64,
    /// Steps in which an obstacle was a stopping point.
    pub obstacle_steps: u64,
}

/// One inference on a truck's device (the trace).
#[derive(Clone, Copy, Debug)]
pub struct InferenceSpan {
    pub truck: usize,
    pub start_us: u64,
    pub end_us: u64,
}

/// Perception of the whole fleet.
pub struct Perception {
    pub cfg: PerceptionConfig,
    pub detector: Arc<Detector>,
    pub trucks: Vec<TruckPerception>,
    /// Simulated latency of every inference, µs.
    pub latencies_us: Samples,
    /// Age of detections when they became usable (frame to result), µs.
    pub ages_us: Samples,
    pub spans: Vec<InferenceSpan>,
    /// The truck whose full point cloud is kept in its [`TruckPerception::last_points`]
    /// (the viewer's selected truck). At fleet sensing the detector's input is rasterised
    /// without making points, so other trucks keep none.
    pub watch: Option<usize>,
    /// Where the fleet-scale model's ground returns land in the grid (fleet sensing).
    pattern: Option<GroundPattern>,
}

impl Perception {
    pub fn new(cfg: PerceptionConfig, detector: Arc<Detector>, trucks: usize, seed: u64) -> Self {
        let period = cfg.lidar.period_us();
        let trucks = (0..trucks)
            .map(|i| TruckPerception {
                // Sweeps of the fleet are spread over the period, as real sensors are not
                // synchronised.
                next_sweep_us: (i as u64 * 7919) % period.max(1),
                busy_until_us: 0,
                in_flight: None,
                tracker: Tracker::new(cfg.tracker),
                rng: site::seed::rng(seed, Stream::Lidar, i as u64),
                display_rng: site::seed::rng(seed, Stream::Lidar, (1 << 32) + i as u64),
                last_points: Vec::new(),
                last_pose: None,
                last_detections: Vec::new(),
                detections_pose: None,
                detections_frame_us: 0,
                obstacle_ahead_m: None,
                memory: Vec::new(),
                stats: TruckPerceptionStats::default(),
                fresh: false,
            })
            .collect();
        Perception {
            pattern: (cfg.sensing == Sensing::Fleet)
                .then(|| GroundPattern::new(&cfg.lidar, &cfg.bev)),
            cfg,
            detector,
            trucks,
            latencies_us: Samples::default(),
            ages_us: Samples::default(),
            spans: Vec::new(),
            watch: None,
        }
    }

    /// One control step of perception for every truck (before the trucks' own step).
    pub fn step(
        &mut self,
        now: SimTime,
        site: &Site,
        physics: &Physics,
        obstacles: &ObstacleSet,
        trucks: &mut [TruckSim],
    ) -> Result<(), DetectorError> {
        let now_us = now.0;
        // 1. Results whose latency has passed become usable.
        for p in &mut self.trucks {
            if let Some(f) = p.in_flight.take_if(|f| f.ready_us <= now_us) {
                let world: Vec<_> = f
                    .detections
                    .iter()
                    .map(|d| to_world(d, f.pose.x, f.pose.y, f.pose.heading))
                    .collect();
                p.tracker.update(f.frame_us, &world);
                self.ages_us.record(f.ready_us - f.frame_us);
                p.stats.detections += f.detections.len() as u64;
                p.last_detections = f.detections;
                p.detections_pose = Some(f.pose);
                p.detections_frame_us = f.frame_us;
                p.fresh = true;
            }
        }
        // 2. Sweeps that are due: each truck's sweep is a function of the world (read
        // only), its pose and its own generator, so they run in parallel; results come back
        // in truck order.
        let period = self.cfg.lidar.period_us().max(1);
        if self.trucks.iter().any(|p| p.next_sweep_us <= now_us) {
            let scene = match self.cfg.sensing {
                Sensing::Fleet => Some(Scene::of_world(site, physics, obstacles.active())),
                Sensing::Raycast => None,
            };
            let poses: Vec<(usize, SensorPose)> = trucks
                .iter()
                .map(|t| {
                    let st = physics.state(t.body);
                    let pose = SensorPose {
                        x: st.pos[0],
                        y: st.pos[1],
                        heading: st.heading,
                    };
                    (t.body, pose)
                })
                .collect();
            let (cfg, pattern, watch) = (&self.cfg, self.pattern.as_ref(), self.watch);
            let swept: Vec<(usize, Vec<f32>)> = self
                .trucks
                .par_iter_mut()
                .enumerate()
                .filter(|(_, p)| p.next_sweep_us <= now_us)
                .map(|(i, p)| {
                    let (body, pose) = poses[i];
                    while p.next_sweep_us <= now_us {
                        p.next_sweep_us += period;
                    }
                    let (grid, points) = match (&scene, pattern) {
                        (Some(s), Some(pattern)) => {
                            let own = s.index_of(Owner::Truck(body));
                            let sw = fleet_bev::sweep(
                                pattern, &pose, &s.boxes, own, cfg.dust, &mut p.rng,
                            );
                            // The watched truck's points, for display only: the same sensor
                            // model as points, on its own generator (what the truck does
                            // does not depend on being watched).
                            p.last_points = if watch == Some(i) {
                                let boxes: Vec<_> = s
                                    .boxes
                                    .iter()
                                    .enumerate()
                                    .filter(|(k, _)| Some(*k) != own)
                                    .map(|(_, b)| *b)
                                    .collect();
                                fleet_sensor::scan(
                                    &cfg.lidar,
                                    &pose,
                                    &boxes,
                                    cfg.dust,
                                    &mut p.display_rng,
                                    now_us,
                                )
                                .0
                                .points
                            } else {
                                Vec::new()
                            };
                            (sw.grid, sw.points)
                        }
                        _ => {
                            let scan = crate::lidar::cast_scan(
                                physics, site, body, &cfg.lidar, cfg.dust, &mut p.rng, now_us,
                            )
                            .0;
                            let grid = perception::bev::rasterise(&cfg.bev, &scan.points);
                            let n = scan.points.len() as u64;
                            p.last_points = scan.points;
                            (grid, n)
                        }
                    };
                    p.stats.sweeps += 1;
                    p.stats.points += points;
                    p.last_pose = Some(pose);
                    (i, grid)
                })
                .collect();
            let mut grids = Vec::new();
            let mut starts = Vec::new();
            for (i, grid) in swept {
                let p = &mut self.trucks[i];
                if p.busy_until_us > now_us {
                    p.stats.dropped_frames += 1;
                } else {
                    grids.push(grid);
                    starts.push((i, poses[i].1));
                }
            }
            // 3. The numerics of every frame that starts now, batched, the batch split over
            // the host's threads (results in frame order; no simulated time depends on it).
            if !grids.is_empty() {
                let refs: Vec<&[f32]> = grids.iter().map(Vec::as_slice).collect();
                let per = refs.len().div_ceil(rayon::current_num_threads().max(1));
                let parts: Vec<Result<Vec<Vec<Detection>>, DetectorError>> = refs
                    .par_chunks(per.max(1))
                    .map(|c| self.detector.infer(c))
                    .collect();
                let mut results = Vec::with_capacity(refs.len());
                for part in parts {
                    results.extend(part?);
                }
                let lat = self.detector.latency_us();
                for ((i, pose), dets) in starts.into_iter().zip(results) {
                    let p = &mut self.trucks[i];
                    p.busy_until_us = now_us + lat;
                    p.stats.inferences += 1;
                    p.in_flight = Some(InFlight {
                        frame_us: now_us,
                        ready_us: now_us + lat,
                        pose,
                        detections: dets,
                    });
                    self.latencies_us.record(lat);
                    if self.cfg.trace {
                        self.spans.push(InferenceSpan {
                            truck: i,
                            start_us: now_us,
                            end_us: now_us + lat,
                        });
                    }
                }
            }
        }
        // 4. The closest obstacle in each truck's lane.
        // Where the fleet's trucks are (their telemetry, which the dispatcher shares): a
        // track on one of them is the block permissions' business, not an obstacle.
        let fleet = fleet_footprints(trucks, physics);
        for (i, t) in trucks.iter_mut().enumerate() {
            let st = physics.state(t.body);
            let p = &mut self.trucks[i];
            let others = fleet
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != i)
                .map(|(_, f)| *f);
            if std::mem::take(&mut p.fresh) {
                // The supervisor's view: confirmed tracks that are neither the fleet's own
                // trucks nor the mapped loaders, with the age of the frame behind them.
                let views: Vec<vehicle::TrackView> = p
                    .tracker
                    .confirmed()
                    .filter(|tr| is_obstacle_track(site, &fleet, i, tr))
                    .map(|tr| vehicle::TrackView {
                        x: tr.x,
                        y: tr.y,
                        vx: tr.vx,
                        vy: tr.vy,
                        length: tr.length,
                        width: tr.width,
                        confirmed: tr.confirmed,
                    })
                    .collect();
                let age = now_us.saturating_sub(p.detections_frame_us);
                t.brain.set_tracks(now, &views, age);
            }
            remember(site, t, p, &st, &self.cfg.lidar, now_us, others);
            let d = obstacle_ahead(site, t, &p.memory);
            if d.is_some() {
                p.stats.obstacle_steps += 1;
            }
            p.obstacle_ahead_m = d;
            t.brain
                .set_obstacle_standoff(seeing_standoff_m(&self.cfg.lidar, &t.brain.params));
            t.brain.set_obstacle_ahead(d);
        }
        Ok(())
    }

    /// Fleet figures for the report.
    pub fn summary(&self) -> PerceptionSummary {
        let sum =
            |f: fn(&TruckPerceptionStats) -> u64| self.trucks.iter().map(|t| f(&t.stats)).sum();
        let sweeps: u64 = sum(|s| s.sweeps);
        PerceptionSummary {
            sensing: self.cfg.sensing,
            dust: self.cfg.dust,
            model: self.detector.path.display().to_string(),
            device: self.detector.profile.name.clone(),
            precision: format!("{:?}", self.detector.precision).to_lowercase(),
            model_flops: self.detector.flops(),
            sweeps,
            points_per_sweep: if sweeps > 0 {
                sum(|s| s.points) as f64 / sweeps as f64
            } else {
                0.0
            },
            inferences: sum(|s| s.inferences),
            dropped_frames: sum(|s| s.dropped_frames),
            detections: sum(|s| s.detections),
            latency_us: Figures::of(&self.latencies_us),
            detection_age_us: Figures::of(&self.ages_us),
            obstacle_stop_steps: sum(|s| s.obstacle_steps),
        }
    }

    /// The Chrome/Perfetto trace of every truck's device: one process per truck, one span
    /// per inference, with the compiled model's kernels inside it.
    /// Records every detector frame on its truck's device into `prof` (tasks numbered from
    /// `task` on); [`crate::planning::chrome_trace`] adds the plans and writes the trace.
    pub fn record_trace(
        &self,
        prof: &mut npu::profiler::Profiler,
        task: &mut u64,
    ) -> Result<(), DetectorError> {
        let costs = self
            .detector
            .model
            .kernel_costs(1, &self.detector.profile)
            .map_err(|e| DetectorError::Run(e.to_string()))?;
        for s in &self.spans {
            prof.record(
                npu::profiler::TaskSpan {
                    device: s.truck,
                    device_name: format!("truck {} {}", s.truck, self.detector.profile.name),
                    stream: 0,
                    task: *task,
                    model: "detector".into(),
                    gear: 1,
                    requests: 1,
                    start_us: s.start_us,
                    end_us: s.end_us,
                },
                &costs,
            );
            *task += 1;
        }
        Ok(())
    }
}

/// A stream of µs values kept as an HDR histogram (`hdrhistogram`: constant memory, three
/// significant digits, mergeable) instead of every sample.
#[derive(Clone, Debug)]
pub struct Samples(hdrhistogram::Histogram<u64>);

impl Default for Samples {
    fn default() -> Self {
        Samples(
            // 1 µs to one hour at three significant digits (a fixed range: auto-resizing
            // histograms clamp `saturating_record` to their initial, tiny range)
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("a valid fixed range at three significant digits"),
        )
    }
}

impl Samples {
    /// Adds one value (values beyond the histogram's range are clamped to it).
    pub fn record(&mut self, v: u64) {
        self.0.saturating_record(v);
    }
    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Samples) {
        // Both auto-resize, so adding never runs out of range.
        let _ = self.0.add(&other.0);
    }
    pub fn len(&self) -> u64 {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Count, mean, percentiles and max of a set of µs values (percentiles and max to three
/// significant digits).
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Figures {
    pub n: u64,
    pub mean: f64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Figures {
    pub fn of(s: &Samples) -> Figures {
        let h = &s.0;
        if h.is_empty() {
            return Figures::default();
        }
        Figures {
            n: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Perception's part of the run report.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PerceptionSummary {
    pub sensing: Sensing,
    pub dust: f64,
    pub model: String,
    pub device: String,
    pub precision: String,
    pub model_flops: u64,
    pub sweeps: u64,
    pub points_per_sweep: f64,
    pub inferences: u64,
    pub dropped_frames: u64,
    pub detections: u64,
    /// Simulated inference latency per frame on the truck's device.
    pub latency_us: Figures,
    /// Age of detections when they became usable (sweep to result).
    pub detection_age_us: Figures,
    pub obstacle_stop_steps: u64,
}

/// Horizontal range from the sensor within which the lowest beam passes over an object of
/// [`BLIND_OBJECT_M`] height: what stands closer is not seen, m.
pub fn blind_range_m(lidar: &LidarConfig) -> f64 {
    let down = (-lidar.elev_min_deg).to_radians().tan().max(1e-3);
    ((lidar.mount_height_m - BLIND_OBJECT_M) / down).max(0.0)
}

/// The gap a truck's nose keeps to an obstacle it stops for, so that the obstacle stays in
/// plain view of its sensor (beyond the blind zone, where the memory can see that it has gone
/// and the truck drives on by itself), m. An obstacle that appears closer than this is still
/// stopped for as well as physics allows; it is then remembered through the blind zone.
pub fn seeing_standoff_m(lidar: &LidarConfig, params: &vehicle::TruckParams) -> f64 {
    let sensor_ahead_of_nose = lidar.mount_forward_m - 0.5 * params.length_m;
    blind_range_m(lidar) + 1.0 + sensor_ahead_of_nose + 1.0
}

/// Height of the smallest obstacle the blind zone is sized for, m.
pub const BLIND_OBJECT_M: f64 = 0.5;
/// A remembered obstacle in plain view that no track has confirmed for this long is gone, µs.
pub const FORGET_US: u64 = 1_000_000;

/// Updates a truck's obstacle memory from its confirmed stationary tracks in the corridor.
/// Where the fleet's trucks are (their telemetry, which the dispatcher shares) and how far
/// from each centre a track is that truck.
pub(crate) fn fleet_footprints(trucks: &[TruckSim], physics: &Physics) -> Vec<([f64; 2], f64)> {
    trucks
        .iter()
        .map(|t| {
            let st = physics.state(t.body);
            (
                [st.pos[0], st.pos[1]],
                0.5 * t.brain.params.length_m + FLEET_MARGIN_M,
            )
        })
        .collect()
}

/// A track seen by truck `me` is an obstacle for its supervisor and planner: it is none of
/// the fleet's other trucks and not a mapped loader ([`near_loader`] on its footprint).
pub(crate) fn is_obstacle_track(
    site: &Site,
    fleet: &[([f64; 2], f64)],
    me: usize,
    tr: &perception::track::Track,
) -> bool {
    let (x, y) = (tr.x, tr.y);
    !fleet
        .iter()
        .enumerate()
        .any(|(k, (c, r))| k != me && (c[0] - x).hypot(c[1] - y) < *r)
        && !near_loader(site, x, y, 0.5 * tr.length.max(tr.width))
}

fn remember(
    site: &Site,
    t: &TruckSim,
    p: &mut TruckPerception,
    st: &crate::physics::BodyState,
    lidar: &LidarConfig,
    now_us: u64,
    fleet: impl Iterator<Item = ([f64; 2], f64)> + Clone,
) {
    let blind = blind_range_m(lidar);
    for tr in p.tracker.confirmed() {
        if fleet
            .clone()
            .any(|(c, r)| (c[0] - tr.x).hypot(c[1] - tr.y) < r)
        {
            // One of the fleet's trucks: forget anything remembered from that track.
            p.memory.retain(|m| m.track != tr.id);
            continue;
        }
        if tr.speed() > MOVING_MS {
            // What stood here drives on: it is not an obstacle any more.
            p.memory.retain(|m| m.track != tr.id);
            continue;
        }
        if tr.since_update_us(now_us) > 300_000 {
            continue;
        }
        if !in_corridor(site, t, tr.x, tr.y, 0.5 * tr.length.max(tr.width)) {
            continue;
        }
        let half = 0.5 * tr.length.max(tr.width);
        match p
            .memory
            .iter_mut()
            .find(|m| (m.x - tr.x).hypot(m.y - tr.y) < 3.0)
        {
            Some(m) => {
                *m = Remembered {
                    track: tr.id,
                    x: tr.x,
                    y: tr.y,
                    half,
                    seen_us: tr.last_update_us,
                }
            }
            None => p.memory.push(Remembered {
                track: tr.id,
                x: tr.x,
                y: tr.y,
                half,
                seen_us: tr.last_update_us,
            }),
        }
    }
    // Forget what the sensor can see and no longer confirms, and what is behind the truck.
    let (c, s) = (st.heading.cos(), st.heading.sin());
    let sx = st.pos[0] + lidar.mount_forward_m * c;
    let sy = st.pos[1] + lidar.mount_forward_m * s;
    p.memory.retain(|m| {
        let (dx, dy) = (m.x - sx, m.y - sy);
        let ahead = dx * c + dy * s;
        let range = dx.hypot(dy);
        let behind = ahead < -(0.5 * t.brain.params.length_m + lidar.mount_forward_m + m.half);
        let visible = range - m.half > blind + 1.0 && range < 60.0;
        !(behind || (visible && now_us.saturating_sub(m.seen_us) > FORGET_US))
    });
}

/// Whether a point (with half extent `half`) lies in `t`'s lane corridor ahead.
fn in_corridor(site: &Site, t: &TruckSim, x: f64, y: f64, half: f64) -> bool {
    let Some(route) = t.brain.route() else {
        return false;
    };
    if near_loader(site, x, y, half) {
        return false;
    }
    let progress = t.brain.progress();
    let (d, d2) = route.project([x, y], progress, progress + LOOKAHEAD_M, &site.roads);
    let lateral = d2.max(0.0).sqrt();
    d > progress && lateral - half <= 0.5 * t.brain.params.width_m + CORRIDOR_MARGIN_M
}

/// The distance along `t`'s route from its centre to the near edge of the closest
/// remembered obstacle in its corridor.
fn obstacle_ahead(site: &Site, t: &TruckSim, memory: &[Remembered]) -> Option<f64> {
    let route = t.brain.route()?;
    let progress = t.brain.progress();
    let mut best: Option<f64> = None;
    for m in memory {
        if !in_corridor(site, t, m.x, m.y, m.half) {
            continue;
        }
        let (d, _) = route.project([m.x, m.y], progress, progress + LOOKAHEAD_M, &site.roads);
        let ahead = (d - progress - m.half).max(0.0);
        if best.is_none_or(|b| ahead < b) {
            best = Some(ahead);
        }
    }
    best
}

/// The committed detector, `assets/models/detector.onnx` (from the working directory when
/// it has one, else from the source tree).
pub fn default_model_path() -> std::path::PathBuf {
    const MODEL: &str = "assets/models/detector.onnx";
    let here = std::path::PathBuf::from(MODEL);
    if here.exists() {
        return here;
    }
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(MODEL)
}

/// Grids for INT8 calibration: sweeps of the fleet-scale model over flat ground with random
/// obstacles around the sensor (seeded, so the compiled model is the same every run).
pub fn calibration_grids(lidar: &LidarConfig, bev: &BevSpec, n: usize) -> Vec<Vec<f32>> {
    use rand::RngExt;
    let mut rng = site::seed::rng(0, Stream::Dataset, 1);
    let pose = SensorPose {
        x: 0.0,
        y: 0.0,
        heading: 0.0,
    };
    (0..n)
        .map(|_| {
            let k = rng.random_range(1..=6usize);
            let boxes: Vec<_> = (0..k)
                .map(|_| {
                    let x = rng.random_range(5.0..70.0);
                    let y = rng.random_range(-30.0..30.0);
                    fleet_sensor::SceneBox::from(&crate::scene::random_obstacle(&mut rng, x, y))
                })
                .collect();
            let (scan, _) = fleet_sensor::scan(lidar, &pose, &boxes, 0.0, &mut rng, 0);
            perception::bev::rasterise(bev, &scan.points)
        })
        .collect()
}

/// Loads and compiles the detector at `path` for the trucks' Ascend 310 at `precision`.
pub fn load_detector(
    path: &std::path::Path,
    precision: npu::ir::Precision,
    cfg: &PerceptionConfig,
) -> Result<Arc<Detector>, DetectorError> {
    let profile =
        npu::device::DeviceProfile::builtin("ascend310").map_err(|e| DetectorError::Compile {
            path: path.to_path_buf(),
            device: "ascend310".into(),
            reason: e.to_string(),
        })?;
    let calib = if precision == npu::ir::Precision::Int8 {
        calibration_grids(&cfg.lidar, &cfg.bev, 32)
    } else {
        Vec::new()
    };
    Detector::load(path, cfg.bev, profile, precision, &calib).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of a loader a truck beside it sees can have its centroid more than
    /// `LOADER_IGNORE_M` from the loader's position: such a track (20 m across, 10.6 m off,
    /// as a truck leaving loader 0 of the default site saw it, and then stood beside it for
    /// ever) is the loader; a rock 12 m off is not.
    #[test]
    fn a_big_track_overlapping_a_loader_is_the_loader_a_rock_beside_it_is_not() {
        let site = site::default_site::load().expect("default site");
        let l = site.loaders[0].pos;
        let (x, y) = (l[0] + 10.6, l[1]);
        assert!(near_loader(&site, x, y, 10.35));
        let x = l[0] + 12.0;
        assert!(near_loader(&site, x, y, 10.35));
        assert!(!near_loader(&site, x, y, 0.75));
        assert!(!near_loader(&site, x, y, f64::NAN));
        assert!(near_loader(&site, l[0] + 3.0, l[1], 0.75));
    }

    #[test]
    fn figures_of_samples_are_the_percentiles_of_what_was_recorded() {
        let mut s = Samples::default();
        assert_eq!(Figures::of(&s), Figures::default());
        for v in 1..=1000u64 {
            s.record(v * 100); // 100 µs .. 100 ms
        }
        let f = Figures::of(&s);
        assert_eq!(f.n, 1000);
        assert!((f.mean - 50_050.0).abs() < 50.0, "{f:?}");
        assert!((49_950..=50_100).contains(&f.p50), "{f:?}");
        assert!((98_900..=99_100).contains(&f.p99), "{f:?}");
        assert!((99_800..=100_100).contains(&f.max), "{f:?}");
        let mut more = Samples::default();
        more.record(5_000_000);
        s.merge(&more);
        assert!(Figures::of(&s).max >= 4_990_000);
    }
}
