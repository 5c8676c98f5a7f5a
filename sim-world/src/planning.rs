//! Planning in the loop: every truck's planning model ([`vehicle::Planner`], a cost volume
//! computed by a compiled `npu` model and sampled along a lattice of candidate trajectories)
//! runs on the truck's own NPU, the device perception's detector runs on.
//!
//! Device timeline, per truck: a plan is due every [`PlanningConfig::period_us`]; it is
//! queued behind whatever the device is doing (a detector frame), starts when the device is
//! free and is usable `latency` later (the compiled model's cost-model latency at batch 1 on
//! the truck's profile). The truck follows the latest plan that has arrived
//! ([`vehicle::Truck::set_plan`]) and its supervisor slows and stops it when plans go stale.
//! The numerics of every plan due in a step run as one batched executor call; they change no
//! simulated time.
//!
//! What a plan sees: the truck's route ahead, its offset from the lane centre, its speed, its
//! stopping point (permission end, route end, a remembered obstacle) and its perception's
//! confirmed tracks that are neither the fleet's own trucks (their shared positions; the
//! block permissions keep trucks apart) nor the mapped loaders.

use crate::perceive::{
    fleet_footprints, is_obstacle_track, Figures, InferenceSpan, Perception, Samples,
};
use crate::physics::Physics;
use crate::truck::TruckSim;
use rayon::prelude::*;
use serde::Serialize;
use site::{SimTime, Site};
use std::sync::Arc;
use vehicle::planner::{route_samples, PlanError, PlanInput, PlanTrack};
use vehicle::{Plan, Planner};

pub use crate::config::PlanningConfig;

/// One truck's planning.
#[derive(Clone, Debug, Default)]
pub struct TruckPlanning {
    next_plan_us: u64,
    /// The plan on the device, usable at its time.
    in_flight: Option<(u64, Plan)>,
    /// The latest plan the truck has (the viewer shows it).
    pub latest: Option<Plan>,
    pub stats: TruckPlanningStats,
}

/// Counters of one truck's planning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TruckPlanningStats {
    pub plans: u64,
    /// Plans that waited for the device (busy with a detector frame), and how long in all, µs.
    pub queued: u64,
    pub queued_us: u64,
    /// Plans whose chosen candidate is a stopping profile.
    pub stop_plans: u64,
    /// Plans whose chosen offset is off the lane centre.
    pub offset_plans: u64,
}

/// Planning of the whole fleet.
pub struct Planning {
    pub cfg: PlanningConfig,
    pub planner: Arc<Planner>,
    pub trucks: Vec<TruckPlanning>,
    /// Simulated latency of every plan (queueing included: due to usable), µs.
    pub latencies_us: Samples,
    pub spans: Vec<InferenceSpan>,
}

/// Planning's part of the run report.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlanningSummary {
    pub model: String,
    pub device: String,
    pub precision: String,
    pub model_flops: u64,
    pub period_ms: f64,
    pub plans: u64,
    pub queued: u64,
    pub stop_plans: u64,
    pub offset_plans: u64,
    /// From due to usable on the truck's device (waiting for the detector included).
    pub latency_us: Figures,
}

impl Planning {
    pub fn new(cfg: PlanningConfig, planner: Arc<Planner>, trucks: usize) -> Planning {
        let period = cfg.period_us.max(1);
        Planning {
            trucks: (0..trucks)
                .map(|i| TruckPlanning {
                    // spread over the period, off the lidar's phase
                    next_plan_us: (i as u64 * 6151 + period / 2) % period,
                    ..Default::default()
                })
                .collect(),
            cfg,
            planner,
            latencies_us: Samples::default(),
            spans: Vec::new(),
        }
    }

    /// One control step of planning for every truck (after perception, before the trucks'
    /// own step).
    pub fn step(
        &mut self,
        now: SimTime,
        site: &Site,
        physics: &Physics,
        perception: &mut Perception,
        trucks: &mut [TruckSim],
    ) -> Result<(), PlanError> {
        let now_us = now.0;
        // 1. Plans whose latency has passed reach their truck.
        for (p, t) in self.trucks.iter_mut().zip(trucks.iter_mut()) {
            if let Some((_, plan)) = p.in_flight.take_if(|(ready, _)| *ready <= now_us) {
                t.brain.set_plan(now, &plan);
                p.latest = Some(plan);
            }
        }
        // 2. Plans that are due: inputs from the truck's state and its perception.
        let fleet = fleet_footprints(trucks, physics);
        let period = self.cfg.period_us.max(1);
        let mut due = Vec::new();
        let mut inputs = Vec::new();
        for (i, t) in trucks.iter().enumerate() {
            let p = &mut self.trucks[i];
            if now_us < p.next_plan_us || p.in_flight.is_some() {
                continue;
            }
            p.next_plan_us += period * (1 + (now_us - p.next_plan_us) / period);
            let (Some(route), Some(stop)) = (t.brain.route(), t.brain.stop_point_m()) else {
                continue;
            };
            let st = physics.state(t.body);
            let progress = t.brain.progress();
            let here = route.point_at(progress, &site.roads);
            let (dx, dy) = (st.pos[0] - here.pos[0], st.pos[1] - here.pos[1]);
            let offset = -dx * here.heading.sin() + dy * here.heading.cos();
            let tracks: Vec<PlanTrack> = perception.trucks[i]
                .tracker
                .confirmed()
                .filter(|tr| is_obstacle_track(site, &fleet, i, tr))
                .filter_map(|tr| PlanTrack::from_track(tr, now_us))
                .collect();
            inputs.push(PlanInput {
                time: now,
                route: route_samples(route, &site.roads, progress),
                progress_m: progress,
                offset_m: offset,
                speed_mps: st.speed.max(0.0),
                stop_m: stop,
                truck_length_m: t.brain.params.length_m,
                truck_width_m: t.brain.params.width_m,
                tracks,
            });
            due.push(i);
        }
        if inputs.is_empty() {
            return Ok(());
        }
        // 3. The numerics of every plan due now, batched, the batch split over the host's
        // threads (results in input order; no simulated time depends on it).
        let per = inputs
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1);
        let parts: Vec<Result<Vec<Plan>, PlanError>> = inputs
            .par_chunks(per)
            .map(|c| self.planner.plan_batch(c))
            .collect();
        let mut plans = Vec::with_capacity(inputs.len());
        for part in parts {
            plans.extend(part?);
        }
        let lat = self.planner.latency_us();
        for (i, plan) in due.into_iter().zip(plans) {
            let dev = &mut perception.trucks[i];
            let start = now_us.max(dev.busy_until_us);
            let end = start + lat;
            dev.busy_until_us = end;
            let p = &mut self.trucks[i];
            p.stats.plans += 1;
            if start > now_us {
                p.stats.queued += 1;
                p.stats.queued_us += start - now_us;
            }
            if plan.chosen_candidate().is_some_and(|c| c.profile.is_stop()) {
                p.stats.stop_plans += 1;
            }
            if plan.target_offset_m.abs() > 0.01 {
                p.stats.offset_plans += 1;
            }
            self.latencies_us.record(end - now_us);
            if self.cfg.trace {
                self.spans.push(InferenceSpan {
                    truck: i,
                    start_us: start,
                    end_us: end,
                });
            }
            p.in_flight = Some((end, plan));
        }
        Ok(())
    }

    /// Fleet figures for the report.
    pub fn summary(&self) -> PlanningSummary {
        let sum = |f: fn(&TruckPlanningStats) -> u64| -> u64 {
            self.trucks.iter().map(|t| f(&t.stats)).sum()
        };
        PlanningSummary {
            model: self.planner.path.display().to_string(),
            device: self.planner.profile.name.clone(),
            precision: format!("{:?}", self.planner.precision).to_lowercase(),
            model_flops: self.planner.flops(),
            period_ms: self.cfg.period_us as f64 / 1000.0,
            plans: sum(|s| s.plans),
            queued: sum(|s| s.queued),
            stop_plans: sum(|s| s.stop_plans),
            offset_plans: sum(|s| s.offset_plans),
            latency_us: Figures::of(&self.latencies_us),
        }
    }
}

/// Every truck's device as a Chrome/Perfetto trace: the detector's frames and, with
/// `planning`, the plans queued behind them on the same device (one process per truck).
pub fn chrome_trace(
    perception: &Perception,
    planning: Option<&Planning>,
) -> Result<serde_json::Value, String> {
    let mut prof = npu::profiler::Profiler::default();
    let mut task = 0u64;
    perception
        .record_trace(&mut prof, &mut task)
        .map_err(|e| e.to_string())?;
    if let Some(pl) = planning {
        let costs = pl
            .planner
            .model
            .kernel_costs(1, &pl.planner.profile)
            .map_err(|e| e.to_string())?;
        for s in &pl.spans {
            prof.record(
                npu::profiler::TaskSpan {
                    device: s.truck,
                    device_name: format!("truck {} {}", s.truck, pl.planner.profile.name),
                    stream: 0,
                    task,
                    model: "planner".into(),
                    gear: 1,
                    requests: 1,
                    start_us: s.start_us,
                    end_us: s.end_us,
                },
                &costs,
            );
            task += 1;
        }
    }
    Ok(prof.chrome_trace())
}

/// The planning model from `path`, compiled for the trucks' Ascend 310 at `precision`.
pub fn load_planner(
    path: &std::path::Path,
    precision: npu::ir::Precision,
) -> Result<Arc<Planner>, PlanError> {
    Planner::load(path, precision).map(Arc::new)
}

/// `assets/models/planner.onnx` of the source tree.
pub fn default_planner_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models/planner.onnx")
}
