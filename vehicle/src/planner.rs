//! The truck's planning model on the NPU, in the style of neural motion planners: a cost
//! volume over space and time, computed by a small convolutional model on the truck's
//! Ascend 310, sampled along a lattice of candidate trajectories; the cheapest candidate wins.
//!
//! Sans-IO and deterministic. Three parts:
//!
//! 1. **The raster** ([`build_raster`]): a grid in the route frame, `s` (route distance,
//!    [`S_CELLS`] cells of [`S_CELL_M`] from [`grid_origin_m`], about 10 m behind the truck's
//!    centre to 150 m ahead, anchored to the route in whole cells) × `d` (lateral offset from
//!    the lane centre, positive left, [`D_MIN_M`]..−[`D_MIN_M`] at [`D_CELL_M`]), with
//!    [`CHANNELS`] channels: [`K`] occupancy
//!    slices (every track's footprint, grown by half the truck's width plus
//!    [`PlannerConfig::margin_m`], at its constant-velocity position swept over
//!    `t_k ± 0.5 s`), the lane-edge channel ([`LANE_CHANNEL`]: how far the truck's side stands
//!    outside the lane edge when its centre is in the cell, m) and the stopping boundary
//!    ([`STOP_CHANNEL`]: 1 beyond the stop point or the end of the known road).
//! 2. **The model** ([`build_model`], committed as `assets/models/planner.onnx` by
//!    `cargo run -p vehicle --example make_planner`): hand-set convolutions turn the raster
//!    into a cost volume `[K, S, D]` (see `assets/models/planner.md`).
//! 3. **The planner** ([`Planner`]): imports and checks the ONNX model, compiles it for the
//!    `ascend310` profile, runs the rasters of many trucks in one batched execution
//!    ([`Planner::plan_batch`]) and scores the candidates of each ([`score_candidates`]).
//!
//! A candidate is a target lateral offset × a speed profile over [`HORIZON_S`] s, followed by
//! a braking tail (the fallback: from the end of the horizon it brakes to a stop, sampled in
//! the last slice), so a candidate that is fine for 5 s but cannot stop before an obstacle or
//! the stop point afterwards is refused too. The truck's body is covered by discs of radius
//! half its width along its axis (centre and ±`(length − width)/2`); every disc samples the
//! cost volume. A sample at or above [`LETHAL_THRESHOLD`] (an obstacle cell or the stopping
//! boundary) makes the candidate *lethal*: lethal candidates rank after every non-lethal one,
//! and among lethal ones the stopping candidates rank first, so a candidate that enters an
//! obstacle or passes the stop point never wins over a stopping candidate.
//!
//! The simulated time of a plan is the cost model's latency for one raster on the truck's own
//! device ([`Planner::latency_us`]); the numerics of many trucks run in one batch.

use npu::builder::GraphBuilder;
use npu::compiler::{compile, CompileOptions, CompiledModel, Sample};
use npu::device::DeviceProfile;
use npu::ir::{BinaryOp, ConvAttrs, DType, Dim, Graph, Op, Precision};
use npu::Tensor;
use site::road::{wrap_angle, RoadNetwork};
use site::route::RoutePath;
use site::SimTime;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Time slices of the cost volume.
pub const K: usize = 6;
/// Time between slices, s (slice `k` is `t = k · SLICE_DT_S`).
pub const SLICE_DT_S: f64 = 1.0;
/// Rear edge of the grid, m along the route from the truck's centre.
pub const S_MIN_M: f64 = -10.0;
/// Cell length along the route, m.
pub const S_CELL_M: f64 = 1.0;
/// Rows along the route (`S_MIN_M` .. `S_MIN_M + S_CELLS · S_CELL_M` = −10 .. +150 m).
pub const S_CELLS: usize = 160;
/// Centre of the first column, m of lateral offset (positive left).
pub const D_MIN_M: f64 = -8.0;
/// Column width, m.
pub const D_CELL_M: f64 = 0.5;
/// Columns across the lane (centres −8 .. +8 m).
pub const D_CELLS: usize = 33;
/// Raster channels: `K` occupancy slices, the lane edge, the stopping boundary.
pub const CHANNELS: usize = K + 2;
/// Channel of the lane edge.
pub const LANE_CHANNEL: usize = K;
/// Channel of the stopping boundary.
pub const STOP_CHANNEL: usize = K + 1;
/// Cost of an obstacle cell and of a cell beyond the stopping boundary.
pub const LETHAL: f32 = 100.0;
/// A sampled cost at or above this makes a candidate lethal (no sum of the soft costs reaches
/// it: proximity ≤ [`PROX_MAX`], lane edge ≤ [`LANE_WEIGHT`] · [`LANE_MAX_M`]).
pub const LETHAL_THRESHOLD: f32 = 50.0;
/// Cost per metre the truck's side stands outside the lane edge.
pub const LANE_WEIGHT: f32 = 4.0;
/// The lane-edge channel is clipped here, m (so the soft costs stay below lethal).
pub const LANE_MAX_M: f64 = 10.0;
/// Sum of the proximity kernel: the largest proximity cost a cell can get.
pub const PROX_MAX: f32 = 8.0;
/// Proximity kernel, cells along `s` (odd).
pub const PROX_KS: usize = 7;
/// Proximity kernel, cells along `d` (odd).
pub const PROX_KD: usize = 9;
/// Proximity kernel's standard deviation along `s`, m.
pub const PROX_SIGMA_S_M: f64 = 2.0;
/// Proximity kernel's standard deviation along `d`, m.
pub const PROX_SIGMA_D_M: f64 = 1.0;
/// Planning horizon, s.
pub const HORIZON_S: f64 = 5.0;
/// Time between the horizon's points, s.
pub const POINT_DT_S: f64 = 0.25;
/// Below this speed, the "stop at the stop point" profile creeps up to the point instead of
/// braking where it stands, m/s.
pub const CREEP_BELOW_MPS: f64 = 1.0;
/// Deceleration the creeping profile stops at, m/s² (gentle: over a few metres the comfort
/// cost of a harder stop outweighs the progress it makes).
pub const CREEP_DECEL_MPS2: f64 = 0.3;
/// Time between the braking tail's samples, s.
pub const TAIL_DT_S: f64 = 0.25;
/// Name of the model's input.
pub const INPUT: &str = "raster";
/// Name of the model's output.
pub const OUTPUT: &str = "cost";
/// Gears (batch sizes) the model is compiled for.
pub const GEARS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
/// Device profile the planner compiles for (the truck's own NPU).
pub const DEVICE: &str = "ascend310";

/// Values in one raster (and in one cost volume, less the two static channels).
pub const RASTER_LEN: usize = CHANNELS * S_CELLS * D_CELLS;
/// Values in one slice of the cost volume.
pub const SLICE_LEN: usize = S_CELLS * D_CELLS;

/// Why planning failed. Errors about a model file name the file.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: cannot read the planner model: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: not a valid ONNX model: {reason}")]
    Import { path: PathBuf, reason: String },
    #[error("{path}: wrong planner model shape: {reason}")]
    Shape { path: PathBuf, reason: String },
    #[error("{path}: cannot compile the planner for {device}: {reason}")]
    Compile {
        path: PathBuf,
        device: String,
        reason: String,
    },
    #[error("plan input {index}: {reason}")]
    Input { index: usize, reason: String },
    #[error("planner inference failed: {0}")]
    Run(String),
    #[error("cannot build the planner model: {0}")]
    Build(String),
}

/// The route at one distance, site frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteSample {
    /// Route distance, m (the same axis as [`PlanInput::progress_m`]).
    pub s_m: f64,
    /// Centre line, site frame (east, north), m.
    pub x: f64,
    pub y: f64,
    /// Heading of the driving direction, rad counter-clockwise from east.
    pub heading: f64,
    /// Half the lane's width, m.
    pub half_width_m: f64,
    /// Speed limit, m/s.
    pub speed_limit_mps: f64,
}

/// A tracked obstacle, site frame, at the input's time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanTrack {
    /// Centre, m.
    pub x: f64,
    pub y: f64,
    /// Velocity, m/s.
    pub vx: f64,
    pub vy: f64,
    /// Footprint, m (along the velocity when it moves faster than 0.5 m/s, else along the
    /// route).
    pub length_m: f64,
    pub width_m: f64,
}

impl PlanTrack {
    /// A confirmed track predicted (constant velocity) from its state time to `now_us`; `None`
    /// for a tentative track.
    pub fn from_track(t: &perception::track::Track, now_us: u64) -> Option<PlanTrack> {
        if !t.confirmed {
            return None;
        }
        let dt = now_us.saturating_sub(t.state_us) as f64 * 1e-6;
        Some(PlanTrack {
            x: t.x + t.vx * dt,
            y: t.y + t.vy * dt,
            vx: t.vx,
            vy: t.vy,
            length_m: t.length,
            width_m: t.width,
        })
    }

    /// The confirmed ones of `tracks` at `now_us`.
    pub fn from_tracks(tracks: &[perception::track::Track], now_us: u64) -> Vec<PlanTrack> {
        tracks
            .iter()
            .filter_map(|t| PlanTrack::from_track(t, now_us))
            .collect()
    }
}

/// What one truck plans from: plain data, filled by the caller from its route and tracks.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanInput {
    /// Time of the input.
    pub time: SimTime,
    /// The route around the truck, increasing `s_m` (see [`route_samples`]); the grid beyond
    /// the last sample is treated as the end of the road.
    pub route: Vec<RouteSample>,
    /// Route distance of the truck's centre, m.
    pub progress_m: f64,
    /// Lateral offset of the truck's centre from the lane centre, m, positive left.
    pub offset_m: f64,
    /// Forward speed, m/s (negative is taken as 0).
    pub speed_mps: f64,
    /// Route distance the truck's centre must not pass (end of permission, stopping point);
    /// `f64::INFINITY` for none.
    pub stop_m: f64,
    /// The truck's footprint, m.
    pub truck_length_m: f64,
    pub truck_width_m: f64,
    /// Confirmed tracks, site frame, at `time`.
    pub tracks: Vec<PlanTrack>,
}

/// Samples `path` every [`S_CELL_M`] over the grid around `progress_m` (clipped to the
/// route), with each lane's half width and speed limit.
pub fn route_samples(path: &RoutePath, net: &RoadNetwork, progress_m: f64) -> Vec<RouteSample> {
    let lo = (progress_m + S_MIN_M).max(0.0);
    let hi = (progress_m + S_MIN_M + S_CELLS as f64 * S_CELL_M).min(path.length);
    let mut out = Vec::new();
    if !(lo.is_finite() && hi.is_finite()) || hi < lo {
        return out;
    }
    let n = ((hi - lo) / S_CELL_M).floor() as usize;
    for i in 0..=n {
        let s = (lo + i as f64 * S_CELL_M).min(hi);
        let (lane, _) = path.locate(s);
        let l = net.lane(lane);
        let p = path.point_at(s, net);
        out.push(RouteSample {
            s_m: s,
            x: p.pos[0],
            y: p.pos[1],
            heading: p.heading,
            half_width_m: 0.5 * l.width_m,
            speed_limit_mps: l.speed_limit_ms,
        });
    }
    out
}

/// Tunable figures of the planner (typ. values; every one is a default, not a standard).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannerConfig {
    /// Target lateral offsets of the lattice, m.
    pub offsets_m: Vec<f64>,
    /// Acceleration of the speed profiles, m/s² (a loaded ultra-class truck, typ.).
    pub accel: f64,
    /// Comfortable deceleration, m/s² (≈ 0.1 g).
    pub comfort_decel: f64,
    /// Deceleration of the hard stop and of the braking tail, m/s² (the truck's planning
    /// deceleration, 0.15 g).
    pub hard_decel: f64,
    /// Largest deceleration a "stop at the stop point" profile asks for, m/s² (full service
    /// brake, 0.25 g).
    pub max_decel: f64,
    /// Distance over which a lateral offset change is made, m.
    pub lateral_distance_m: f64,
    /// Gap short of the stop point the "stop at the stop point" profile aims for, m (more than
    /// one cell, so the boundary row is never touched).
    pub stop_margin_m: f64,
    /// Obstacles are grown by half the truck's width plus this, m.
    pub margin_m: f64,
    /// Reward per metre of progress over the horizon.
    pub w_progress: f64,
    /// Cost per metre of lateral offset change.
    pub w_lateral: f64,
    /// Cost per metre of target offset from the lane centre.
    pub w_centre: f64,
    /// Cost per (m/s²)² · s of deceleration.
    pub w_decel: f64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            offsets_m: vec![-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5],
            accel: 0.5,
            comfort_decel: 1.0,
            hard_decel: 0.15 * site::units::G,
            max_decel: 0.25 * site::units::G,
            lateral_distance_m: 20.0,
            stop_margin_m: 1.25,
            margin_m: 0.5,
            w_progress: 1.0,
            w_lateral: 2.0,
            w_centre: 1.0,
            w_decel: 2.0,
        }
    }
}

/// A speed profile of the lattice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpeedProfile {
    /// Accelerate to the speed limit (limits ahead reachable at the comfortable deceleration).
    Limit,
    /// Hold the current speed (never above the limit).
    Hold,
    /// Ease to 75 % of the limit.
    Ease75,
    /// Ease to 50 % of the limit.
    Ease50,
    /// Ease to 25 % of the limit.
    Ease25,
    /// Stop at the comfortable deceleration.
    StopComfort,
    /// Stop at the planning deceleration.
    StopHard,
    /// Stop [`PlannerConfig::stop_margin_m`] short of the stop point (at most the full
    /// service brake).
    StopAtPoint,
}

impl SpeedProfile {
    /// Every profile, lattice order.
    pub const ALL: [SpeedProfile; 8] = [
        SpeedProfile::Limit,
        SpeedProfile::Hold,
        SpeedProfile::Ease75,
        SpeedProfile::Ease50,
        SpeedProfile::Ease25,
        SpeedProfile::StopComfort,
        SpeedProfile::StopHard,
        SpeedProfile::StopAtPoint,
    ];

    /// Whether the profile brings the truck to a stop.
    pub fn is_stop(self) -> bool {
        matches!(
            self,
            SpeedProfile::StopComfort | SpeedProfile::StopHard | SpeedProfile::StopAtPoint
        )
    }

    /// Short name (viewer, docs).
    pub fn name(self) -> &'static str {
        match self {
            SpeedProfile::Limit => "limit",
            SpeedProfile::Hold => "hold",
            SpeedProfile::Ease75 => "ease75",
            SpeedProfile::Ease50 => "ease50",
            SpeedProfile::Ease25 => "ease25",
            SpeedProfile::StopComfort => "stop-comfort",
            SpeedProfile::StopHard => "stop-hard",
            SpeedProfile::StopAtPoint => "stop-at-point",
        }
    }
}

/// One point of a trajectory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanPoint {
    /// Time from the input, s.
    pub t_s: f64,
    /// Route distance of the truck's centre, m.
    pub s_m: f64,
    /// Lateral offset from the lane centre, m.
    pub d_m: f64,
    /// Speed, m/s.
    pub v_mps: f64,
}

/// One scored candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Target lateral offset, m.
    pub offset_m: f64,
    pub profile: SpeedProfile,
    /// The horizon's points, every [`POINT_DT_S`] from `t = 0`.
    pub points: Vec<PlanPoint>,
    /// Where the centre stands after the braking tail, m of route distance.
    pub stop_s_m: f64,
    /// Sampled cost volume (horizon and tail, integrated over time, mean over the body's
    /// discs).
    pub volume_cost: f64,
    /// Total: volume cost + comfort − progress.
    pub cost: f64,
    /// Some sample reached [`LETHAL_THRESHOLD`].
    pub lethal: bool,
}

/// A truck's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Time of the input.
    pub time: SimTime,
    /// Index of the chosen candidate in `candidates`.
    pub chosen: usize,
    /// Chosen target lateral offset, m.
    pub target_offset_m: f64,
    /// The chosen profile's speed at the first point after now ([`POINT_DT_S`]), m/s.
    pub target_speed_mps: f64,
    /// The chosen trajectory.
    pub points: Vec<PlanPoint>,
    /// Every candidate with its cost (lattice order: offsets outer, profiles inner).
    pub candidates: Vec<Candidate>,
    /// Slice 0 of the cost volume, `[S_CELLS, D_CELLS]` row-major: row `i` is centred on
    /// route distance `grid_origin_m + (i + 0.5) · S_CELL_M`, column `j` on offset
    /// `D_MIN_M + j · D_CELL_M`.
    pub cost_slice0: Vec<f32>,
    /// Route distance of the grid's rear edge, m ([`grid_origin_m`]).
    pub grid_origin_m: f64,
    /// Time of slice 0's centre relative to `time`, s ([`slice0_offset_s`]).
    pub slice0_offset_s: f64,
}

impl Plan {
    /// The chosen candidate.
    pub fn chosen_candidate(&self) -> Option<&Candidate> {
        self.candidates.get(self.chosen)
    }
}

// ---------------------------------------------------------------------------------------
// Raster
// ---------------------------------------------------------------------------------------

/// Route distance of the grid's rear edge for a truck at `progress_m`: the grid is anchored
/// to the route (whole cells), so a cell covers the same stretch of road from one plan to the
/// next and a point's cost does not change because the truck moved a fraction of a cell.
pub fn grid_origin_m(progress_m: f64) -> f64 {
    (progress_m / S_CELL_M).floor() * S_CELL_M + S_MIN_M
}

/// Route distance of row `i`'s centre, m.
pub fn row_s(origin_m: f64, i: usize) -> f64 {
    origin_m + (i as f64 + 0.5) * S_CELL_M
}

/// Time from the input to the centre of slice 0, s (≤ 0): slices are anchored to the clock,
/// slice `k` centred on the `k`-th whole slice interval from the last one, so an absolute time
/// falls in the same slice window from one plan to the next.
pub fn slice0_offset_s(time: SimTime) -> f64 {
    let period = (SLICE_DT_S * 1e6).round().max(1.0) as u64;
    -((time.0 % period) as f64 * 1e-6)
}

/// Lateral offset of column `j`'s centre, m.
pub fn col_d(j: usize) -> f64 {
    D_MIN_M + j as f64 * D_CELL_M
}

/// The route at one route distance (interpolated; straight extrapolation outside).
#[derive(Clone, Copy, Debug)]
struct Geo {
    x: f64,
    y: f64,
    heading: f64,
    half_width: f64,
}

fn geo_at(route: &[RouteSample], s: f64) -> Option<Geo> {
    let first = route.first()?;
    let last = route.last()?;
    let straight = |p: &RouteSample| {
        let (sn, cs) = p.heading.sin_cos();
        let ds = s - p.s_m;
        Geo {
            x: p.x + cs * ds,
            y: p.y + sn * ds,
            heading: p.heading,
            half_width: p.half_width_m,
        }
    };
    if s <= first.s_m {
        return Some(straight(first));
    }
    if s >= last.s_m {
        return Some(straight(last));
    }
    let i = route.partition_point(|p| p.s_m <= s).saturating_sub(1);
    let (a, b) = (&route[i], &route[(i + 1).min(route.len() - 1)]);
    let span = b.s_m - a.s_m;
    let f = if span > 0.0 { (s - a.s_m) / span } else { 0.0 };
    Some(Geo {
        x: a.x + f * (b.x - a.x),
        y: a.y + f * (b.y - a.y),
        heading: a.heading + f * wrap_angle(b.heading - a.heading),
        half_width: a.half_width_m.min(b.half_width_m),
    })
}

fn check_input(index: usize, p: &PlanInput) -> Result<(), PlanError> {
    let bad = |reason: String| PlanError::Input { index, reason };
    let finite = [
        ("progress_m", p.progress_m),
        ("offset_m", p.offset_m),
        ("speed_mps", p.speed_mps),
        ("truck_length_m", p.truck_length_m),
        ("truck_width_m", p.truck_width_m),
    ];
    for (name, v) in finite {
        if !v.is_finite() {
            return Err(bad(format!("{name} = {v} (must be finite)")));
        }
    }
    if p.stop_m.is_nan() {
        return Err(bad("stop_m is NaN".into()));
    }
    if p.truck_length_m <= 0.0 || p.truck_width_m <= 0.0 {
        return Err(bad(format!(
            "truck footprint {} × {} m (must be positive)",
            p.truck_length_m, p.truck_width_m
        )));
    }
    if p.route.is_empty() {
        return Err(bad("no route samples".into()));
    }
    for (k, r) in p.route.iter().enumerate() {
        let ok = [
            r.s_m,
            r.x,
            r.y,
            r.heading,
            r.half_width_m,
            r.speed_limit_mps,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !ok || r.half_width_m <= 0.0 || r.speed_limit_mps < 0.0 {
            return Err(bad(format!(
                "route sample {k} is not finite or negative: {r:?}"
            )));
        }
        if k > 0 && r.s_m <= p.route[k - 1].s_m {
            return Err(bad(format!("route sample {k}: s_m does not increase")));
        }
    }
    for (k, t) in p.tracks.iter().enumerate() {
        let ok = [t.x, t.y, t.vx, t.vy, t.length_m, t.width_m]
            .iter()
            .all(|v| v.is_finite());
        if !ok || t.length_m < 0.0 || t.width_m < 0.0 {
            return Err(bad(format!("track {k} is not finite or negative: {t:?}")));
        }
    }
    Ok(())
}

/// Front disc offset along the body: discs of radius `width/2` at the centre and
/// ±`(length − width)/2`.
fn disc_offset(p: &PlanInput) -> f64 {
    (0.5 * (p.truck_length_m - p.truck_width_m)).max(0.0)
}

/// Builds the model's input raster `[CHANNELS, S_CELLS, D_CELLS]` (row-major) for one truck.
pub fn build_raster(p: &PlanInput, cfg: &PlannerConfig) -> Result<Vec<f32>, PlanError> {
    check_input(0, p)?;
    Ok(raster_unchecked(p, cfg))
}

fn raster_unchecked(p: &PlanInput, cfg: &PlannerConfig) -> Vec<f32> {
    let mut r = vec![0.0f32; RASTER_LEN];
    let idx = |c: usize, i: usize, j: usize| (c * S_CELLS + i) * D_CELLS + j;
    let half_truck = 0.5 * p.truck_width_m;
    let front = disc_offset(p);
    // The road ends at the last sample; the boundary sits `front` beyond the stop so that the
    // front disc reaches it exactly when the centre reaches the stop.
    let end = p.route.last().map_or(f64::NEG_INFINITY, |l| l.s_m);
    let boundary = p.stop_m.min(end) + front;
    let origin = grid_origin_m(p.progress_m);
    let t0 = slice0_offset_s(p.time);
    let mut geo = Vec::with_capacity(S_CELLS);
    for i in 0..S_CELLS {
        let g = geo_at(&p.route, row_s(origin, i));
        geo.push(g);
        let upper = origin + (i + 1) as f64 * S_CELL_M;
        let beyond = upper > boundary;
        for j in 0..D_CELLS {
            let lane = match g {
                Some(g) => (col_d(j).abs() + half_truck - g.half_width).clamp(0.0, LANE_MAX_M),
                None => 0.0,
            };
            r[idx(LANE_CHANNEL, i, j)] = lane as f32;
            if beyond || g.is_none() {
                r[idx(STOP_CHANNEL, i, j)] = 1.0;
            }
        }
    }
    // Obstacles: rounded rectangles (footprint ⊕ disc of radius half the truck's width plus
    // the margin) at the constant-velocity position, swept over the slice's window.
    // A cell is marked when any point of it is within the grown footprint (its centre within
    // the growth plus half the cell's diagonal), so sampling the nearest cell never misses.
    let grow = half_truck + cfg.margin_m + 0.5 * S_CELL_M.hypot(D_CELL_M);
    let reach = D_MIN_M.abs() + 0.5 * D_CELL_M;
    for t in &p.tracks {
        let speed = t.vx.hypot(t.vy);
        let heading = if speed > 0.5 {
            t.vy.atan2(t.vx)
        } else {
            nearest_heading(&p.route, t.x, t.y)
        };
        let (sn, cs) = heading.sin_cos();
        let (hl, hw) = (0.5 * t.length_m, 0.5 * t.width_m);
        let bound = hl.hypot(hw) + grow;
        for k in 0..K {
            let tk = t0 + k as f64 * SLICE_DT_S;
            for q in 0..5 {
                let tau = tk + (q as f64 - 2.0) * 0.25 * SLICE_DT_S;
                let (px, py) = (t.x + t.vx * tau, t.y + t.vy * tau);
                for (i, g) in geo.iter().enumerate() {
                    let Some(g) = g else { continue };
                    if (g.x - px).hypot(g.y - py) > bound + reach {
                        continue;
                    }
                    let (gs, gc) = g.heading.sin_cos();
                    for j in 0..D_CELLS {
                        let d = col_d(j);
                        let (cx, cy) = (g.x - gs * d, g.y + gc * d);
                        let (dx, dy) = (cx - px, cy - py);
                        let u = (cs * dx + sn * dy).abs() - hl;
                        let v = (-sn * dx + cs * dy).abs() - hw;
                        let (u, v) = (u.max(0.0), v.max(0.0));
                        if u * u + v * v <= grow * grow {
                            r[idx(k, i, j)] = 1.0;
                        }
                    }
                }
            }
        }
    }
    r
}

fn nearest_heading(route: &[RouteSample], x: f64, y: f64) -> f64 {
    let mut best = (f64::INFINITY, 0.0);
    for s in route {
        let d = (s.x - x).hypot(s.y - y);
        if d < best.0 {
            best = (d, s.heading);
        }
    }
    best.1
}

// ---------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------

/// The proximity kernel `[PROX_KS, PROX_KD]`: a Gaussian over (s, d), summing to
/// [`PROX_MAX`].
pub fn proximity_kernel() -> Vec<f32> {
    let mut w = Vec::with_capacity(PROX_KS * PROX_KD);
    let (cs, cd) = ((PROX_KS / 2) as f64, (PROX_KD / 2) as f64);
    for a in 0..PROX_KS {
        for b in 0..PROX_KD {
            let ds = (a as f64 - cs) * S_CELL_M / PROX_SIGMA_S_M;
            let dd = (b as f64 - cd) * D_CELL_M / PROX_SIGMA_D_M;
            w.push((-0.5 * (ds * ds + dd * dd)).exp());
        }
    }
    let sum: f64 = w.iter().sum();
    w.iter()
        .map(|v| (v / sum * f64::from(PROX_MAX)) as f32)
        .collect()
}

/// The planner's cost model as an `npu` graph: input `raster [N, CHANNELS, S, D]`, output
/// `cost [N, K, S, D]`.
///
/// - `occupancy` = slice of channels `0..K`; `static` = channels `K..K+2`;
/// - `proximity` = depthwise conv of each occupancy slice with [`proximity_kernel`];
/// - `hit` = depthwise 1×1 conv, weight [`LETHAL`];
/// - `static cost` = 1×1 conv of (lane edge, stop boundary) with weights
///   ([`LANE_WEIGHT`], [`LETHAL`]), one channel broadcast over the slices;
/// - `cost` = proximity + hit + static cost.
pub fn build_model() -> Result<Graph, PlanError> {
    let err = |e: npu::NpuError| PlanError::Build(e.to_string());
    let mut b = GraphBuilder::new("planner_cost_volume");
    let x = b.input_batched(INPUT, &[CHANNELS, S_CELLS, D_CELLS]);
    let slice = |lo: usize, hi: usize| Op::Slice {
        starts: vec![lo as i64],
        ends: vec![hi as i64],
        axes: vec![1],
        steps: vec![1],
    };
    let occ = b.node(slice(0, K), &[&x]);
    let stat = b.node(slice(K, CHANNELS), &[&x]);
    let kernel = proximity_kernel();
    let mut wp = Vec::with_capacity(K * kernel.len());
    for _ in 0..K {
        wp.extend_from_slice(&kernel);
    }
    let depthwise = |pads: [usize; 4]| ConvAttrs {
        pads,
        group: K,
        ..ConvAttrs::default()
    };
    let (ps, pd) = (PROX_KS / 2, PROX_KD / 2);
    let wp = Tensor::from_f32(&[K, 1, PROX_KS, PROX_KD], wp).map_err(err)?;
    let prox = b.conv(&occ, wp, None, depthwise([ps, pd, ps, pd]));
    let wh = Tensor::from_f32(&[K, 1, 1, 1], vec![LETHAL; K]).map_err(err)?;
    let hit = b.conv(&occ, wh, None, depthwise([0; 4]));
    let ws = Tensor::from_f32(&[1, 2, 1, 1], vec![LANE_WEIGHT, LETHAL]).map_err(err)?;
    let st = b.conv(&stat, ws, None, ConvAttrs::default());
    let dynamic = b.binary(BinaryOp::Add, &prox, &hit);
    let total = b.binary(BinaryOp::Add, &dynamic, &st);
    b.output(&total, DType::F32);
    let mut g = b.build().map_err(err)?;
    // Name the output after the contract.
    for n in &mut g.nodes {
        for o in &mut n.outputs {
            if *o == total {
                *o = OUTPUT.to_string();
            }
        }
    }
    for o in &mut g.outputs {
        if o.name == total {
            o.name = OUTPUT.to_string();
        }
    }
    g.validate_and_sort().map_err(err)?;
    Ok(g)
}

/// The committed model's bytes: [`build_model`] exported as ONNX (deterministic).
pub fn model_onnx_bytes() -> Result<Vec<u8>, PlanError> {
    let g = build_model()?;
    npu::onnx::export::export_onnx(&g).map_err(|e| PlanError::Build(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Candidates
// ---------------------------------------------------------------------------------------

/// Speed the route allows at each sample: the limit, lowered so that every lower limit ahead
/// is reachable at `decel`.
fn allowed_speeds(route: &[RouteSample], decel: f64) -> Vec<f64> {
    let mut v: Vec<f64> = route.iter().map(|r| r.speed_limit_mps).collect();
    for i in (0..v.len().saturating_sub(1)).rev() {
        let ds = route[i + 1].s_m - route[i].s_m;
        let reach = (v[i + 1] * v[i + 1] + 2.0 * decel * ds).sqrt();
        v[i] = v[i].min(reach);
    }
    v
}

fn allowed_at(route: &[RouteSample], allowed: &[f64], s: f64) -> f64 {
    if route.is_empty() {
        return 0.0;
    }
    let i = route.partition_point(|p| p.s_m <= s);
    match i {
        0 => allowed[0],
        i if i >= route.len() => allowed[route.len() - 1],
        i => allowed[i - 1].min(allowed[i]),
    }
}

/// Lateral blend over the lateral distance: `1 − (1 − x)²`, starting at full slope so that a
/// plan renewed every few metres still converges (a smoothstep would restart at zero slope
/// each time and never get there), ending tangent to the target offset.
fn ease_out(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    1.0 - (1.0 - x) * (1.0 - x)
}

/// Samples the cost volume `[K, S, D]` at `t` s after slice 0's centre, `s_grid` m from the
/// grid's origin and offset `d` (clamped to the grid).
fn sample(volume: &[f32], t: f64, s_grid: f64, d: f64) -> f32 {
    let k = ((t / SLICE_DT_S).round().max(0.0) as usize).min(K - 1);
    let i = (s_grid / S_CELL_M).floor();
    let i = (i.max(0.0) as usize).min(S_CELLS - 1);
    let j = ((d - D_MIN_M) / D_CELL_M).round();
    let j = (j.max(0.0) as usize).min(D_CELLS - 1);
    volume[(k * S_CELLS + i) * D_CELLS + j]
}

/// Scores every candidate of the lattice for `p` on its cost volume (`[K, S, D]`, row-major)
/// and returns the plan. Pure Rust; [`Planner::plan_batch`] calls it after the model.
pub fn score_candidates(
    p: &PlanInput,
    volume: &[f32],
    cfg: &PlannerConfig,
) -> Result<Plan, PlanError> {
    if volume.len() != K * SLICE_LEN {
        return Err(PlanError::Run(format!(
            "cost volume has {} values, [{K}, {S_CELLS}, {D_CELLS}] expected",
            volume.len()
        )));
    }
    let allowed = allowed_speeds(&p.route, cfg.comfort_decel);
    let front = disc_offset(p);
    let discs = [-front, 0.0, front];
    let origin = grid_origin_m(p.progress_m);
    let t0 = slice0_offset_s(p.time);
    let (s0, d0, v0) = (p.progress_m, p.offset_m, p.speed_mps.max(0.0));
    let steps_per_point = 5usize;
    let h = POINT_DT_S / steps_per_point as f64;
    let n_points = (HORIZON_S / POINT_DT_S).round() as usize;
    let mut candidates = Vec::with_capacity(cfg.offsets_m.len() * SpeedProfile::ALL.len());
    for &target in &cfg.offsets_m {
        let d_at =
            |s: f64| d0 + (target - d0) * ease_out((s - s0) / cfg.lateral_distance_m.max(1e-3));
        for profile in SpeedProfile::ALL {
            // Without a stop point the profile is the comfortable stop; a far one is
            // approached at no less than 0.05 m/s².
            let stop_dist = p.stop_m - cfg.stop_margin_m - s0;
            let point_decel = if !stop_dist.is_finite() {
                cfg.comfort_decel
            } else if stop_dist > 0.01 {
                (v0 * v0 / (2.0 * stop_dist)).clamp(0.05, cfg.max_decel)
            } else {
                cfg.max_decel
            };
            // From (nearly) rest short of the stop point, "stop at the stop point" first
            // creeps up to it (accelerating, never faster than a stop at
            // [`CREEP_DECEL_MPS2`] at the point allows): a truck that stopped a few metres short of its loading spot
            // (behind a truck that has since left) must close the gap, and every other
            // profile would pass the point or stand still.
            let creep = profile == SpeedProfile::StopAtPoint
                && v0 < CREEP_BELOW_MPS
                && stop_dist.is_finite()
                && stop_dist > 0.01;
            let rest_s = s0 + stop_dist;
            let (want_stop, decel) = match profile {
                SpeedProfile::StopComfort => (true, cfg.comfort_decel),
                SpeedProfile::StopHard => (true, cfg.hard_decel),
                SpeedProfile::StopAtPoint if creep => (true, CREEP_DECEL_MPS2),
                SpeedProfile::StopAtPoint => (true, point_decel),
                _ => (false, cfg.comfort_decel),
            };
            let (mut s, mut v) = (s0, v0);
            let mut points = Vec::with_capacity(n_points + 1);
            points.push(PlanPoint {
                t_s: 0.0,
                s_m: s,
                d_m: d_at(s),
                v_mps: v,
            });
            let mut vol = 0.0f64;
            let mut lethal = false;
            let mut decel_cost = 0.0f64;
            let take = |t: f64, s: f64, dt: f64, vol: &mut f64, lethal: &mut bool| {
                let d = d_at(s);
                let mut acc = 0.0f64;
                for c in discs {
                    let c = sample(volume, t - t0, s + c - origin, d);
                    *lethal |= c >= LETHAL_THRESHOLD || c.is_nan();
                    acc += f64::from(c);
                }
                *vol += acc / discs.len() as f64 * dt;
            };
            for n in 1..=n_points {
                for _ in 0..steps_per_point {
                    let lim = allowed_at(&p.route, &allowed, s);
                    let want = match profile {
                        SpeedProfile::Limit => lim,
                        SpeedProfile::Hold => v0.min(lim),
                        SpeedProfile::Ease75 => 0.75 * lim,
                        SpeedProfile::Ease50 => 0.5 * lim,
                        SpeedProfile::Ease25 => 0.25 * lim,
                        _ => 0.0,
                    };
                    let v1 = if creep {
                        let room = (rest_s - s).max(0.0);
                        (v + cfg.accel * h)
                            .min(lim)
                            .min((2.0 * decel * room).sqrt())
                    } else if want_stop {
                        (v - decel * h).max(0.0)
                    } else if v < want {
                        (v + cfg.accel * h).min(want)
                    } else {
                        (v - decel * h).max(want)
                    };
                    let a = (v1 - v) / h;
                    if a < 0.0 {
                        decel_cost += a * a * h;
                    }
                    s += 0.5 * (v + v1) * h;
                    v = v1;
                }
                let t = n as f64 * POINT_DT_S;
                take(t, s, POINT_DT_S, &mut vol, &mut lethal);
                points.push(PlanPoint {
                    t_s: t,
                    s_m: s,
                    d_m: d_at(s),
                    v_mps: v,
                });
            }
            let progress = s - s0;
            // Braking tail: stop from the end of the horizon (stop profiles keep their own
            // deceleration, the others brake at the planning deceleration), in the last slice.
            let tail_decel = if want_stop { decel } else { cfg.hard_decel };
            let tail_decel = tail_decel.max(1e-3);
            let mut t = HORIZON_S;
            while v > 0.0 {
                let v1 = (v - tail_decel * TAIL_DT_S).max(0.0);
                let dt = if v1 > 0.0 { TAIL_DT_S } else { v / tail_decel };
                s += 0.5 * (v + v1) * dt;
                v = v1;
                t += dt;
                take(t, s, dt, &mut vol, &mut lethal);
                if t > HORIZON_S + 120.0 {
                    break;
                }
            }
            let cost = vol + cfg.w_lateral * (target - d0).abs() + cfg.w_centre * target.abs()
                - cfg.w_progress * progress
                + cfg.w_decel * decel_cost;
            candidates.push(Candidate {
                offset_m: target,
                profile,
                points,
                stop_s_m: s,
                volume_cost: vol,
                cost,
                lethal,
            });
        }
    }
    let rank = |c: &Candidate| (c.lethal, c.lethal && !c.profile.is_stop());
    let mut chosen = 0;
    for (i, c) in candidates.iter().enumerate().skip(1) {
        let b = &candidates[chosen];
        let better = match rank(c).cmp(&rank(b)) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => c.cost.total_cmp(&b.cost).is_lt(),
        };
        if better {
            chosen = i;
        }
    }
    let best = candidates
        .get(chosen)
        .ok_or_else(|| PlanError::Run("the lattice has no candidates".into()))?;
    Ok(Plan {
        time: p.time,
        chosen,
        target_offset_m: best.offset_m,
        target_speed_mps: best.points.get(1).map_or(0.0, |q| q.v_mps),
        points: best.points.clone(),
        cost_slice0: volume[..SLICE_LEN].to_vec(),
        grid_origin_m: origin,
        slice0_offset_s: t0,
        candidates,
    })
}

// ---------------------------------------------------------------------------------------
// Planner
// ---------------------------------------------------------------------------------------

/// The compiled planning model.
#[derive(Clone, Debug)]
pub struct Planner {
    pub path: PathBuf,
    pub model: CompiledModel,
    pub profile: DeviceProfile,
    pub precision: Precision,
    pub config: PlannerConfig,
    latency_us: u64,
    flops: u64,
}

impl Planner {
    /// Reads, checks and compiles the ONNX model at `path` for the `ascend310` profile at
    /// `precision` (INT8 calibrates on [`calibration_inputs`]).
    pub fn load(path: &Path, precision: Precision) -> Result<Planner, PlanError> {
        let bytes = std::fs::read(path).map_err(|e| PlanError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_onnx(path, &bytes, precision)
    }

    /// Like [`Planner::load`] from the file's bytes (`path` only names it in errors).
    pub fn from_onnx(
        path: &Path,
        bytes: &[u8],
        precision: Precision,
    ) -> Result<Planner, PlanError> {
        let profile = DeviceProfile::builtin(DEVICE).map_err(|e| PlanError::Compile {
            path: path.to_path_buf(),
            device: DEVICE.into(),
            reason: e.to_string(),
        })?;
        let graph = npu::onnx::import::import_onnx(bytes).map_err(|e| PlanError::Import {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let shape_err = |reason: String| PlanError::Shape {
            path: path.to_path_buf(),
            reason,
        };
        let input = graph
            .inputs
            .iter()
            .find(|i| i.name == INPUT)
            .ok_or_else(|| shape_err(format!("no input named `{INPUT}`")))?;
        let dims: Vec<Option<usize>> = input
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => Some(*v),
                Dim::Dynamic(_) => None,
            })
            .collect();
        if graph.inputs.len() != 1
            || dims.len() != 4
            || dims[0].is_some()
            || dims[1..] != [Some(CHANNELS), Some(S_CELLS), Some(D_CELLS)]
        {
            return Err(shape_err(format!(
                "one input `{INPUT}` [N, {CHANNELS}, {S_CELLS}, {D_CELLS}] with a dynamic batch expected, found {} input(s), `{}` {:?}",
                graph.inputs.len(),
                input.name,
                input.shape
            )));
        }
        if !graph.outputs.iter().any(|o| o.name == OUTPUT) {
            return Err(shape_err(format!("no output named `{OUTPUT}`")));
        }
        let config = PlannerConfig::default();
        let mut calibration = Vec::new();
        if precision == Precision::Int8 {
            for r in calibration_inputs() {
                let raster = raster_unchecked(&r, &config);
                calibration.push(one_request(&[raster]).map_err(PlanError::Run)?);
            }
        }
        let opts = CompileOptions {
            precision,
            gears: GEARS.to_vec(),
            calibration,
            ..Default::default()
        };
        let compile_err = |e: npu::NpuError| PlanError::Compile {
            path: path.to_path_buf(),
            device: profile.name.clone(),
            reason: e.to_string(),
        };
        let model = compile(&graph, &profile, &opts).map_err(compile_err)?;
        let latency_us = model.latency_us(1, &profile).map_err(compile_err)?;
        let flops = model.flops(1, &profile).map_err(compile_err)?;
        let planner = Planner {
            path: path.to_path_buf(),
            model,
            profile,
            precision,
            config,
            latency_us,
            flops,
        };
        // One run on an empty raster proves the output shape before any truck relies on it.
        planner
            .cost_volumes(&[vec![0.0; RASTER_LEN]])
            .map_err(|e| match e {
                PlanError::Run(r) => shape_err(r),
                other => other,
            })?;
        Ok(planner)
    }

    /// Simulated latency of one plan on the truck's device (cost model, batch 1), µs.
    pub fn latency_us(&self) -> u64 {
        self.latency_us
    }

    /// FLOPs of one plan's model execution.
    pub fn flops(&self) -> u64 {
        self.flops
    }

    /// Runs the model on rasters (one batched execution per chunk of the largest gear) and
    /// returns each cost volume `[K, S, D]`.
    pub fn cost_volumes(&self, rasters: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, PlanError> {
        let mut out = Vec::with_capacity(rasters.len());
        let max = GEARS[GEARS.len() - 1];
        for chunk in rasters.chunks(max) {
            let req = one_request(chunk).map_err(PlanError::Run)?;
            let res = self
                .model
                .run(&req)
                .map_err(|e| PlanError::Run(e.to_string()))?;
            let t = res
                .get(OUTPUT)
                .ok_or_else(|| PlanError::Run(format!("no output `{OUTPUT}`")))?;
            let shape = t.shape().to_vec();
            let want = [chunk.len(), K, S_CELLS, D_CELLS];
            if shape != want {
                return Err(PlanError::Run(format!(
                    "output `{OUTPUT}` must be {want:?}, got {shape:?}"
                )));
            }
            let a = t
                .as_f32(OUTPUT)
                .map_err(|e| PlanError::Run(format!("output `{OUTPUT}`: {e}")))?;
            let v: Vec<f32> = a.iter().copied().collect();
            for c in v.chunks(K * SLICE_LEN) {
                out.push(c.to_vec());
            }
        }
        Ok(out)
    }

    /// Plans for every input: rasters, one batched model execution, candidate scoring.
    /// Numerics only; the simulated time is [`Planner::latency_us`] per truck.
    pub fn plan_batch(&self, inputs: &[PlanInput]) -> Result<Vec<Plan>, PlanError> {
        let mut rasters = Vec::with_capacity(inputs.len());
        for (i, p) in inputs.iter().enumerate() {
            check_input(i, p)?;
            rasters.push(raster_unchecked(p, &self.config));
        }
        let volumes = self.cost_volumes(&rasters)?;
        inputs
            .iter()
            .zip(&volumes)
            .map(|(p, v)| score_candidates(p, v, &self.config))
            .collect()
    }
}

/// Rasters as one `raster` request of batch `rasters.len()`.
fn one_request(rasters: &[Vec<f32>]) -> Result<Sample, String> {
    let mut data = Vec::with_capacity(rasters.len() * RASTER_LEN);
    for r in rasters {
        if r.len() != RASTER_LEN {
            return Err(format!(
                "a raster has {} values, the model takes {RASTER_LEN}",
                r.len()
            ));
        }
        data.extend_from_slice(r);
    }
    let t = Tensor::from_f32(&[rasters.len(), CHANNELS, S_CELLS, D_CELLS], data)
        .map_err(|e| e.to_string())?;
    Ok(BTreeMap::from([(INPUT.to_string(), t)]))
}

/// A straight route along +x from `s = 0` to `length` m, every metre (tests, calibration,
/// demos).
pub fn straight_route(length: f64, half_width_m: f64, speed_limit_mps: f64) -> Vec<RouteSample> {
    let n = length.max(0.0).floor() as usize;
    (0..=n)
        .map(|i| RouteSample {
            s_m: i as f64,
            x: i as f64,
            y: 0.0,
            heading: 0.0,
            half_width_m,
            speed_limit_mps,
        })
        .collect()
}

/// Deterministic scenes the INT8 calibration runs on: free road, rocks, a crossing vehicle,
/// a stop point, a narrow lane (every channel at its full range).
pub fn calibration_inputs() -> Vec<PlanInput> {
    let base = PlanInput {
        time: SimTime::ZERO,
        route: straight_route(400.0, 8.5, 13.9),
        progress_m: 50.0,
        offset_m: 0.0,
        speed_mps: 10.0,
        stop_m: f64::INFINITY,
        truck_length_m: 15.5,
        truck_width_m: 9.5,
        tracks: Vec::new(),
    };
    let rock = |x: f64, y: f64| PlanTrack {
        x,
        y,
        vx: 0.0,
        vy: 0.0,
        length_m: 1.5,
        width_m: 1.5,
    };
    let mut out = vec![base.clone()];
    let mut a = base.clone();
    a.tracks = vec![rock(110.0, 0.0), rock(150.0, 6.0)];
    out.push(a);
    let mut b = base.clone();
    b.tracks = vec![PlanTrack {
        x: 120.0,
        y: -20.0,
        vx: 0.0,
        vy: 4.0,
        length_m: 15.5,
        width_m: 9.5,
    }];
    out.push(b);
    let mut c = base.clone();
    c.stop_m = 120.0;
    out.push(c);
    let mut d = base;
    d.route = straight_route(400.0, 5.0, 8.0);
    d.tracks = vec![rock(80.0, -3.0)];
    d.stop_m = 170.0;
    out.push(d);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(speed: f64) -> PlanInput {
        let mut p = calibration_inputs().remove(0);
        p.speed_mps = speed;
        p
    }

    #[test]
    fn raster_marks_lane_edges_stop_and_rocks() {
        let mut p = free(5.0);
        p.stop_m = 100.0;
        p.tracks = vec![PlanTrack {
            x: 80.0,
            y: 0.0,
            vx: 0.0,
            vy: 0.0,
            length_m: 2.0,
            width_m: 2.0,
        }];
        let cfg = PlannerConfig::default();
        let r = build_raster(&p, &cfg).expect("raster");
        let at = |c: usize, s_rel: f64, d: f64| {
            let i = ((s_rel - S_MIN_M) / S_CELL_M).floor() as usize;
            let j = ((d - D_MIN_M) / D_CELL_M).round() as usize;
            r[(c * S_CELLS + i) * D_CELLS + j]
        };
        // Lane half width 8.5, truck half width 4.75: the side leaves the lane past 3.75 m.
        assert_eq!(at(LANE_CHANNEL, 0.0, 3.5), 0.0);
        assert!((at(LANE_CHANNEL, 0.0, 8.0) - 4.25).abs() < 1e-6);
        // Stop 50 m ahead, front disc 3 m: the boundary is at +53 m.
        assert_eq!(at(STOP_CHANNEL, 51.5, 0.0), 0.0);
        assert_eq!(at(STOP_CHANNEL, 53.5, 0.0), 1.0);
        // The rock 30 m ahead, grown by 4.75 + 0.5 + half a cell diagonal 0.56 + its half size 1.
        for k in 0..K {
            assert_eq!(at(k, 30.0, 0.0), 1.0);
            assert_eq!(at(k, 30.0, 6.0), 1.0);
            assert_eq!(at(k, 30.0, 7.0), 0.0);
            assert_eq!(at(k, 23.5, 0.0), 1.0);
            assert_eq!(at(k, 22.5, 0.0), 0.0);
        }
    }

    #[test]
    fn a_moving_track_is_swept_along_its_path() {
        let mut p = free(0.0);
        p.tracks = vec![PlanTrack {
            x: 100.0,
            y: -30.0,
            vx: 0.0,
            vy: 6.0,
            length_m: 5.0,
            width_m: 3.0,
        }];
        let r = build_raster(&p, &PlannerConfig::default()).expect("raster");
        let occ = |k: usize| {
            (0..SLICE_LEN)
                .filter(|&q| r[k * SLICE_LEN + q] > 0.0)
                .count()
        };
        // At t = 0..2 s it is still beyond the grid's side; by 5 s it is on the lane.
        assert_eq!(occ(0), 0);
        assert!(occ(4) > 0 && occ(5) > 0, "{} {}", occ(4), occ(5));
    }

    #[test]
    fn bad_inputs_are_refused_with_the_reason() {
        let mut p = free(5.0);
        p.speed_mps = f64::NAN;
        let e = build_raster(&p, &PlannerConfig::default()).unwrap_err();
        assert!(e.to_string().contains("speed_mps"), "{e}");
        let mut p = free(5.0);
        p.route.clear();
        assert!(build_raster(&p, &PlannerConfig::default()).is_err());
        let mut p = free(5.0);
        p.route.swap(3, 4);
        assert!(build_raster(&p, &PlannerConfig::default()).is_err());
    }

    #[test]
    fn the_kernel_sums_to_its_maximum_and_soft_costs_stay_below_lethal() {
        let k = proximity_kernel();
        let sum: f32 = k.iter().sum();
        assert!((sum - PROX_MAX).abs() < 1e-4);
        assert!(PROX_MAX + LANE_WEIGHT * (LANE_MAX_M as f32) < LETHAL_THRESHOLD);
    }

    #[test]
    fn scoring_a_free_volume_goes_to_the_limit_in_the_centre() {
        let mut p = free(5.0);
        p.offset_m = 0.0;
        let vol = vec![0.0; K * SLICE_LEN];
        let plan = score_candidates(&p, &vol, &PlannerConfig::default()).expect("plan");
        let c = plan.chosen_candidate().expect("chosen");
        assert_eq!((c.offset_m, c.profile), (0.0, SpeedProfile::Limit));
        assert!(!c.lethal);
        assert_eq!(plan.candidates.len(), 7 * 8);
    }

    #[test]
    fn a_lethal_candidate_never_beats_a_stopping_one() {
        let p = free(10.0);
        // Everything lethal from 20 m on: only a stop short of it is fine; a fully lethal
        // volume still picks a stopping profile.
        let mut vol = vec![0.0; K * SLICE_LEN];
        for k in 0..K {
            for i in 0..S_CELLS {
                if row_s(grid_origin_m(p.progress_m), i) > p.progress_m + 60.0 {
                    for j in 0..D_CELLS {
                        vol[(k * S_CELLS + i) * D_CELLS + j] = LETHAL;
                    }
                }
            }
        }
        let cfg = PlannerConfig::default();
        let plan = score_candidates(&p, &vol, &cfg).expect("plan");
        let c = plan.chosen_candidate().expect("chosen");
        assert!(!c.lethal, "{c:?}");
        let all = vec![LETHAL; K * SLICE_LEN];
        let plan = score_candidates(&p, &all, &cfg).expect("plan");
        let c = plan.chosen_candidate().expect("chosen");
        assert!(c.lethal && c.profile.is_stop(), "{:?}", c.profile);
    }

    #[test]
    fn the_model_is_deterministic() {
        let a = model_onnx_bytes().expect("bytes");
        let b = model_onnx_bytes().expect("bytes");
        assert_eq!(a, b);
    }
}
