//! The run report (JSON) and the KPI table.

use crate::world::SimWorld;
use serde::Serialize;
use site::protocol::MissionState;

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TruckReport {
    pub id: u32,
    pub loads: u64,
    pub cycles: u64,
    pub tonnes: f64,
    pub distance_km: f64,
    pub mean_cycle_s: Option<f64>,
    pub permission_violations: u64,
    pub final_state: &'static str,
    /// Seconds spent in each mission state.
    pub state_s: std::collections::BTreeMap<&'static str, f64>,
    /// The truck's perception counters (sweeps, inferences, dropped frames, detections).
    pub perception: Option<crate::perceive::TruckPerceptionStats>,
    /// The truck's planning counters (`null` without planning).
    pub planning: Option<crate::planning::TruckPlanningStats>,
    /// The truck's safety supervisor interventions.
    pub supervisor: SupervisorReport,
    /// How well the truck knew where it was ([`crate::gnss`], [`vehicle::localise`]).
    pub localisation: LocalisationReport,
}

/// Localisation figures of a truck or of the fleet (all trucks' samples together).
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LocalisationReport {
    /// Horizontal error of the pose the truck drove on (its EKF's estimate) against the true
    /// pose, m, over every control step: mean, 99th percentile, max.
    pub mean_error_m: f64,
    pub p99_error_m: f64,
    pub max_error_m: f64,
    /// Time the GNSS receiver had no fix, s (fleet: summed over trucks), and the longest
    /// stretch without one, s.
    pub no_fix_s: f64,
    pub longest_no_fix_s: f64,
    /// Largest `pos_sigma_m` the EKF reported (1-sigma horizontal), m.
    pub max_sigma_m: f64,
    /// Time with `pos_sigma_m` above 0.5 m (a truck slows) and above 2 m (it stops), s.
    pub sigma_over_0_5_s: f64,
    pub sigma_over_2_s: f64,
    /// Fixes received; refused by the EKF's innovation gate; corrupted by multipath (ground
    /// truth) and of those the ones the gate let in; position restarts after refusals in a row.
    pub fixes: u64,
    pub rejected_fixes: u64,
    pub multipath_fixes: u64,
    pub multipath_accepted: u64,
    pub resets: u64,
    /// Time under each kind of fix (`rtk_fixed`, `rtk_float`, `dgps`, `poor`), s.
    pub fix_kind_s: std::collections::BTreeMap<&'static str, f64>,
    /// The error against the EKF's own sigma: over every control step, under an open sky
    /// (RTK fixed) and under the walls (DGPS or worse).
    pub consistency: ConsistencyReport,
    pub open_sky: ConsistencyReport,
    pub under_walls: ConsistencyReport,
}

/// How honest the EKF's sigma was over a set of control steps.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ConsistencyReport {
    /// Time sampled, s.
    pub time_s: f64,
    /// Horizontal error against the truth, m: 99th percentile and max.
    pub p99_error_m: f64,
    pub max_error_m: f64,
    /// Share of the steps with the error above 3 sigma (`pos_sigma_m`), %. A consistent
    /// filter with a round 2D Gaussian error gives 1.1%, one with an elongated ellipse less.
    pub over_3_sigma_pct: f64,
    /// 99th percentile of error / sigma (consistent, round: 3.03).
    pub p99_error_over_sigma: f64,
}

impl ConsistencyReport {
    pub fn of(c: &crate::truck::ConsistencyMetrics, step_s: f64) -> ConsistencyReport {
        ConsistencyReport {
            time_s: round(c.samples as f64 * step_s, 1),
            p99_error_m: round(c.error_um.value_at_quantile(0.99) as f64 * 1e-6, 4),
            max_error_m: round(c.max_error_m, 4),
            over_3_sigma_pct: round(100.0 * c.over_3_sigma as f64 / c.samples.max(1) as f64, 3),
            p99_error_over_sigma: round(c.ratio_milli.value_at_quantile(0.99) as f64 * 1e-3, 3),
        }
    }
}

impl LocalisationReport {
    /// The figures of `m`, with control steps of `step_s` seconds.
    pub fn of(m: &crate::truck::LocalisationMetrics, step_s: f64) -> LocalisationReport {
        let epoch_s = 1.0 / crate::gnss::GNSS_HZ;
        LocalisationReport {
            mean_error_m: round(m.error_sum_m / m.samples.max(1) as f64, 4),
            p99_error_m: round(m.error_um.value_at_quantile(0.99) as f64 * 1e-6, 4),
            max_error_m: round(m.error_max_m, 4),
            no_fix_s: round(m.no_fix_epochs as f64 * epoch_s, 1),
            longest_no_fix_s: round(m.longest_no_fix_epochs as f64 * epoch_s, 1),
            max_sigma_m: round(m.sigma_max_m, 4),
            sigma_over_0_5_s: round(m.steps_sigma_over_0_5 as f64 * step_s, 2),
            sigma_over_2_s: round(m.steps_sigma_over_2 as f64 * step_s, 2),
            fixes: m.fixes,
            rejected_fixes: m.rejected,
            multipath_fixes: m.multipath,
            multipath_accepted: m.multipath_accepted,
            resets: m.resets,
            fix_kind_s: crate::truck::FIX_KIND_NAMES
                .iter()
                .zip(m.epochs_by_kind)
                .map(|(k, n)| (*k, round(n as f64 * epoch_s, 1)))
                .collect(),
            consistency: ConsistencyReport::of(&m.consistency, step_s),
            open_sky: ConsistencyReport::of(&m.open_sky, step_s),
            under_walls: ConsistencyReport::of(&m.under_walls, step_s),
        }
    }

    /// The fleet's figures: every truck's samples together.
    pub fn fleet<'a>(
        all: impl Iterator<Item = &'a crate::truck::LocalisationMetrics>,
        step_s: f64,
    ) -> LocalisationReport {
        let mut f = crate::truck::LocalisationMetrics::default();
        for m in all {
            // both histograms auto-resize, so adding never runs out of range
            let _ = f.error_um.add(&m.error_um);
            f.error_sum_m += m.error_sum_m;
            f.error_max_m = f.error_max_m.max(m.error_max_m);
            f.samples += m.samples;
            f.no_fix_epochs += m.no_fix_epochs;
            f.longest_no_fix_epochs = f.longest_no_fix_epochs.max(m.longest_no_fix_epochs);
            f.fixes += m.fixes;
            f.rejected += m.rejected;
            f.multipath += m.multipath;
            f.multipath_accepted += m.multipath_accepted;
            f.resets += m.resets;
            f.sigma_max_m = f.sigma_max_m.max(m.sigma_max_m);
            f.steps_sigma_over_0_5 += m.steps_sigma_over_0_5;
            f.steps_sigma_over_2 += m.steps_sigma_over_2;
            for (a, b) in f.epochs_by_kind.iter_mut().zip(m.epochs_by_kind) {
                *a += b;
            }
            f.consistency.add(&m.consistency);
            f.open_sky.add(&m.open_sky);
            f.under_walls.add(&m.under_walls);
        }
        LocalisationReport::of(&f, step_s)
    }
}

/// Safety supervisor interventions (a rule leaving clear) by reason: `link`, `estop`,
/// `permission_end`, `permission_expired`, `collision`, `perception_stale`, `plan_stale`,
/// `localisation` (see `vehicle::supervisor`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SupervisorReport {
    pub interventions: u64,
    pub by_reason: std::collections::BTreeMap<&'static str, u64>,
}

impl SupervisorReport {
    fn of(i: &vehicle::supervisor::Interventions) -> SupervisorReport {
        SupervisorReport {
            interventions: i.total(),
            by_reason: i.iter().map(|(r, n)| (r.name(), n)).collect(),
        }
    }

    fn add(&mut self, other: &SupervisorReport) {
        self.interventions += other.interventions;
        for (k, v) in &other.by_reason {
            *self.by_reason.entry(k).or_insert(0) += v;
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LoaderReport {
    pub id: u32,
    pub name: String,
    pub material: String,
    pub loads: u64,
    pub tonnes: f64,
    pub utilisation: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LinkReport {
    pub transport: &'static str,
    pub up_msgs: u64,
    pub down_msgs: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
    pub undecodable: u64,
    /// Messages that could not be encoded and were never sent.
    pub unencodable: u64,
}

/// Network figures of a run over a transport that measures them (simulated QUIC).
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct NetworkReport {
    pub kpis: network5g::transport::NetKpis,
    /// What the safety layer refused at each end (`safety_at_dispatcher`, `safety_at_trucks`).
    #[serde(flatten)]
    pub safety: network5g::quic::safety::SafetyReport,
    pub per_truck: Vec<network5g::transport::TruckLinkReport>,
}

/// Version of the report's layout: raised whenever a field is renamed, removed or changes
/// meaning (adding a field keeps it). `assets/schemas/report.schema.json` is its JSON Schema.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// What a run was asked to do, echoed in its report so the report alone says how it was made.
#[derive(Clone, Debug, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RunConfig {
    /// The site file (a path, or `(embedded default site)`).
    pub site_file: String,
    /// SHA-256 of the site file's bytes, hex.
    pub site_sha256: String,
    pub trucks: usize,
    pub seed: u64,
    /// Simulated duration asked for, s (`sim_seconds` is what ran).
    pub duration_s: f64,
    /// `quic`, `memory` or `real`.
    pub transport: String,
    /// The dispatcher re-arms a truck that stopped itself after this long, s; `null`: never.
    pub auto_rearm_s: Option<f64>,
    /// The dispatch policy: `lp`, `fixed` or `nearest`.
    pub policy: String,
    /// Obstacles placed by flags or files.
    pub obstacles: usize,
    /// `null` when perception is off.
    pub perception: Option<PerceptionConfigEcho>,
    /// The planning model's file; `null` when planning is off.
    pub planning_model: Option<String>,
}

/// Perception's settings in [`RunConfig`].
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct PerceptionConfigEcho {
    pub sensing: crate::config::Sensing,
    pub dust: f64,
    /// The detector file.
    pub model: String,
    /// SHA-256 of the detector file's bytes, hex.
    pub model_sha256: String,
    pub precision: String,
}

/// The run report. Only `wall_seconds` and `real_time_factor` depend on the machine.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The `minesim` version that wrote the report.
    pub tool_version: String,
    /// What the run was asked to do.
    pub config: RunConfig,
    /// The run was stopped early (Ctrl-C, SIGTERM): the figures cover `sim_seconds` only.
    pub interrupted: bool,
    pub site: String,
    pub seed: u64,
    pub trucks: usize,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub real_time_factor: f64,
    pub tonnes: f64,
    pub loads: u64,
    pub cycles: u64,
    pub trucks_with_full_cycle: usize,
    pub collisions: u64,
    pub permission_violations: u64,
    /// Closest body-to-body distance of two trucks, m; `null` when no two trucks ever came
    /// within 40 m of each other (pairs further apart are not measured).
    pub min_separation_m: Option<f64>,
    pub mean_cycle_s: f64,
    pub mean_queue_loader_s: f64,
    pub mean_queue_dump_s: f64,
    pub loader_utilisation: f64,
    pub truck_utilisation: f64,
    pub tonnes_per_hour: f64,
    pub watchdog_stops: u64,
    /// Stopped trucks the dispatcher's re-arm policy re-armed (`--auto-rearm`).
    pub auto_rearms: u64,
    /// Longest time no truck in the fleet moved (gridlock shows up here), s.
    pub longest_standstill_s: f64,
    pub dispatcher_events: u64,
    pub event_log_hash: String,
    /// How the dispatcher assigned the trucks.
    pub dispatch: DispatchReport,
    pub link: LinkReport,
    /// Link metrics and network KPIs (`None` for the in-memory transport).
    pub network: Option<NetworkReport>,
    pub per_truck: Vec<TruckReport>,
    pub per_loader: Vec<LoaderReport>,
    /// Obstacles placed in the world and truck–obstacle contacts begun.
    pub obstacles: usize,
    pub obstacle_collisions: u64,
    /// Perception figures of the fleet (`None` when perception is off).
    pub perception: Option<crate::perceive::PerceptionSummary>,
    /// Set when the detector failed during the run (every truck then stopped).
    pub perception_error: Option<String>,
    /// Localisation figures of the fleet (every truck's samples together).
    pub localisation: LocalisationReport,
    /// Planning figures of the fleet (`null` without planning).
    pub planning: Option<crate::planning::PlanningSummary>,
    /// Set when the planner failed during the run (no more plans: every truck stopped).
    pub planning_error: Option<String>,
    /// Safety supervisor interventions of the fleet, summed over the trucks.
    pub supervisor: SupervisorReport,
    /// Manned vehicles on the roads (absent when the run has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficReport>,
}

/// The dispatcher's assignment: its policy and, for `lp`, its last flow plan.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct DispatchReport {
    /// `lp`, `fixed` or `nearest`.
    pub policy: String,
    /// Flow programs solved (`lp`: every minute), and failed (the old plan kept).
    pub plan_solves: u64,
    pub plan_failures: u64,
    /// The last plan's tonnes per hour and the trucks it keeps busy (`null` but for `lp`).
    pub plan_tph: Option<f64>,
    pub plan_trucks_needed: Option<f64>,
    /// Legs (loaded and empty) timed from the trucks' state changes.
    pub legs_timed: u64,
    /// Observed over free-flow travel time, mean over the legs driven (1 when none).
    pub travel_slowdown: f64,
}

impl DispatchReport {
    fn of(d: &fleet::Dispatcher, policy: fleet::assign::Policy) -> DispatchReport {
        let plan = d.flow_plan();
        let lp = policy == fleet::assign::Policy::Lp;
        let legs = d.legs();
        DispatchReport {
            policy: policy.name().to_string(),
            plan_solves: d.plan_solves,
            plan_failures: d.plan_failures,
            plan_tph: lp.then(|| round(plan.tph, 1)),
            plan_trucks_needed: lp.then(|| round(plan.trucks_needed, 2)),
            legs_timed: legs
                .loaded
                .values()
                .chain(legs.empty.values())
                .map(|l| u64::from(l.n))
                .sum(),
            travel_slowdown: round(legs.slowdown(), 3),
        }
    }
}

/// Manned traffic (light vehicles, water carts) and the trucks around it.
#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TrafficReport {
    /// Per kind (`light_vehicle`, `water_cart`): how many and the km they drove.
    pub per_kind: std::collections::BTreeMap<&'static str, MannedKindReport>,
    pub km_driven: f64,
    /// Routes the dispatcher gave manned vehicles.
    pub routes: u64,
    pub tablet_reports: u64,
    /// Closest truck body to manned vehicle body, m; `null` when none came within 40 m.
    pub truck_closest_approach_m: Option<f64>,
    /// Truck–manned-vehicle contacts begun.
    pub truck_contacts: u64,
    /// Truck–manned pairs that began to hold overlapping road (independent monitor).
    pub claim_overlaps: u64,
    /// Steps a manned vehicle was past its own grant.
    pub manned_past_grant_steps: u64,
    /// Truck-seconds a truck's grant was held short by a manned vehicle's claim.
    pub truck_held_s: f64,
    /// Of those, seconds the truck stood still waiting.
    pub truck_waited_s: f64,
    /// Seconds manned vehicles stood waiting for a grant, summed.
    pub manned_waited_s: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MannedKindReport {
    pub count: usize,
    pub km: f64,
}

impl TrafficReport {
    fn of(w: &SimWorld) -> Option<TrafficReport> {
        let t = &w.traffic;
        if t.vehicles.is_empty() {
            return None;
        }
        let m = &w.safety.manned;
        let st = &w.dispatcher.manned().stats;
        let per_kind: std::collections::BTreeMap<&'static str, MannedKindReport> = t
            .per_kind()
            .into_iter()
            .map(|(k, count, km)| {
                (
                    k.name(),
                    MannedKindReport {
                        count,
                        km: round(km, 3),
                    },
                )
            })
            .collect();
        Some(TrafficReport {
            km_driven: round(per_kind.values().map(|k| k.km).sum(), 3),
            per_kind,
            routes: st.routes,
            tablet_reports: t.link.reports,
            truck_closest_approach_m: m
                .min_distance_m
                .is_finite()
                .then(|| round(m.min_distance_m, 3)),
            truck_contacts: m.contacts,
            claim_overlaps: m.claim_overlaps,
            manned_past_grant_steps: m.past_grant_steps,
            truck_held_s: round(st.truck_held_s, 1),
            truck_waited_s: round(st.truck_waited_s, 1),
            manned_waited_s: round(t.vehicles.iter().map(|v| v.waited_s).sum(), 1),
        })
    }
}

/// The report's JSON Schema (draft 2020-12), generated from these types; committed as
/// `assets/schemas/report.schema.json`.
pub fn schema_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&schemars::schema_for!(Report))
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

impl Report {
    pub fn build(w: &SimWorld, wall_seconds: f64) -> Report {
        let sim = w.now.as_secs_f64();
        let per_truck: Vec<TruckReport> = w
            .trucks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let m = &t.metrics;
                TruckReport {
                    id: t.id.0,
                    loads: m.loads,
                    cycles: m.dumps,
                    tonnes: round(m.tonnes, 1),
                    distance_km: round(m.distance_m / 1000.0, 3),
                    mean_cycle_s: (!m.cycle_s.is_empty())
                        .then(|| round(m.cycle_s.iter().sum::<f64>() / m.cycle_s.len() as f64, 1)),
                    permission_violations: m.violations,
                    final_state: t.brain.state().name(),
                    perception: w
                        .perception
                        .as_ref()
                        .and_then(|p| p.trucks.get(i))
                        .map(|p| p.stats.clone()),
                    planning: w
                        .planning
                        .as_ref()
                        .and_then(|p| p.trucks.get(i))
                        .map(|p| p.stats.clone()),
                    state_s: MissionState::ALL
                        .iter()
                        .map(|s| (s.name(), round(m.time_in_us(*s) as f64 * 1e-6, 1)))
                        .filter(|(_, v)| *v > 0.0)
                        .collect(),
                    localisation: LocalisationReport::of(&m.localisation, w.physics.dt),
                    supervisor: SupervisorReport::of(&t.brain.stats.interventions),
                }
            })
            .collect();
        let per_loader: Vec<LoaderReport> = w
            .loaders
            .iter()
            .enumerate()
            .map(|(i, l)| LoaderReport {
                id: i as u32,
                name: w.site.loaders[i].name.clone(),
                material: format!("{:?}", w.site.loaders[i].material).to_lowercase(),
                loads: l.loads,
                tonnes: round(l.tonnes, 1),
                utilisation: round(l.busy_us as f64 * 1e-6 / sim.max(1e-9), 4),
            })
            .collect();
        let loads: u64 = w.trucks.iter().map(|t| t.metrics.loads).sum();
        let cycles: u64 = w.trucks.iter().map(|t| t.metrics.dumps).sum();
        let all_cycles: Vec<f64> = w
            .trucks
            .iter()
            .flat_map(|t| t.metrics.cycle_s.iter().copied())
            .collect();
        let total_state = |s: MissionState| -> f64 {
            w.trucks
                .iter()
                .map(|t| t.metrics.time_in_us(s) as f64 * 1e-6)
                .sum()
        };
        let truck_time = sim * w.trucks.len() as f64;
        let productive: f64 = [
            MissionState::ToLoader,
            MissionState::Spotting,
            MissionState::Loading,
            MissionState::Hauling,
            MissionState::Dumping,
        ]
        .iter()
        .map(|s| total_state(*s))
        .sum();
        let link = w.link_stats();
        let mut supervisor = SupervisorReport::of(&Default::default());
        for t in &per_truck {
            supervisor.add(&t.supervisor);
        }
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            config: RunConfig::default(),
            interrupted: false,
            site: w.site.name.clone(),
            seed: w.cfg.seed,
            trucks: w.trucks.len(),
            sim_seconds: round(sim, 3),
            wall_seconds: round(wall_seconds, 3),
            real_time_factor: round(sim / wall_seconds.max(1e-9), 2),
            tonnes: round(w.metrics.tonnes, 1),
            loads,
            cycles,
            trucks_with_full_cycle: w.trucks.iter().filter(|t| t.metrics.dumps >= 1).count(),
            collisions: w.safety.collisions,
            permission_violations: w.trucks.iter().map(|t| t.metrics.violations).sum(),
            min_separation_m: w
                .safety
                .min_separation_m
                .is_finite()
                .then(|| round(w.safety.min_separation_m, 3)),
            mean_cycle_s: round(
                if all_cycles.is_empty() {
                    0.0
                } else {
                    all_cycles.iter().sum::<f64>() / all_cycles.len() as f64
                },
                1,
            ),
            mean_queue_loader_s: round(
                total_state(MissionState::QueueLoader) / (loads.max(1) as f64),
                1,
            ),
            mean_queue_dump_s: round(
                total_state(MissionState::QueueDump) / (cycles.max(1) as f64),
                1,
            ),
            loader_utilisation: round(
                per_loader.iter().map(|l| l.utilisation).sum::<f64>()
                    / per_loader.len().max(1) as f64,
                4,
            ),
            truck_utilisation: round(productive / truck_time.max(1e-9), 4),
            tonnes_per_hour: round(w.metrics.tonnes / (sim / 3600.0).max(1e-9), 1),
            watchdog_stops: w.trucks.iter().map(|t| t.brain.stats.watchdog_stops).sum(),
            longest_standstill_s: round(w.metrics.longest_standstill_s, 1),
            dispatcher_events: w.metrics.events,
            auto_rearms: w.metrics.auto_rearms,
            event_log_hash: format!("{:016x}", w.metrics.event_hash),
            dispatch: DispatchReport::of(&w.dispatcher, w.cfg.dispatcher.policy),
            link: LinkReport {
                transport: w.transport.name(),
                up_msgs: link.up_msgs,
                down_msgs: link.down_msgs,
                up_bytes: link.up_bytes,
                down_bytes: link.down_bytes,
                undecodable: link.undecodable,
                unencodable: link.unencodable,
            },
            network: w.transport.kpis().map(|kpis| NetworkReport {
                kpis,
                safety: w
                    .transport
                    .safety_layer()
                    .map(|s| s.safety())
                    .unwrap_or_default(),
                per_truck: w.transport.link_report(),
            }),
            per_truck,
            per_loader,
            obstacles: w.obstacles.len(),
            obstacle_collisions: w.safety.obstacle_collisions,
            perception: w.perception.as_ref().map(|p| p.summary()),
            perception_error: w.perception_error.clone(),
            localisation: LocalisationReport::fleet(
                w.trucks.iter().map(|t| &t.metrics.localisation),
                w.physics.dt,
            ),
            planning: w.planning.as_ref().map(|p| p.summary()),
            planning_error: w.planning_error.clone(),
            supervisor,
            traffic: TrafficReport::of(w),
        }
    }

    /// The KPI table printed at the end of a run.
    pub fn table(&self) -> String {
        let rows: Vec<(&str, String)> = vec![
            ("site", self.site.clone()),
            ("trucks", self.trucks.to_string()),
            ("seed", self.seed.to_string()),
            ("simulated", format!("{:.0} s", self.sim_seconds)),
            ("wall clock", format!("{:.1} s", self.wall_seconds)),
            (
                "interrupted",
                if self.interrupted {
                    format!("yes, after {:.0} s", self.sim_seconds)
                } else {
                    "no".to_string()
                },
            ),
            ("real-time factor", format!("{:.1}×", self.real_time_factor)),
            ("dispatch policy", self.dispatch.policy.clone()),
            ("tonnes hauled", format!("{:.0} t", self.tonnes)),
            (
                "tonnes per hour",
                format!("{:.0} t/h", self.tonnes_per_hour),
            ),
            (
                "loads / cycles",
                format!("{} / {}", self.loads, self.cycles),
            ),
            (
                "trucks with a full cycle",
                format!("{} of {}", self.trucks_with_full_cycle, self.trucks),
            ),
            ("mean cycle", format!("{:.0} s", self.mean_cycle_s)),
            (
                "mean queue at loader",
                format!("{:.0} s", self.mean_queue_loader_s),
            ),
            (
                "mean queue at dump",
                format!("{:.0} s", self.mean_queue_dump_s),
            ),
            (
                "loader utilisation",
                format!("{:.1}%", self.loader_utilisation * 100.0),
            ),
            (
                "truck utilisation",
                format!("{:.1}%", self.truck_utilisation * 100.0),
            ),
            ("collisions", self.collisions.to_string()),
            (
                "permission violations",
                self.permission_violations.to_string(),
            ),
            (
                "min separation",
                match self.min_separation_m {
                    Some(d) => format!("{d:.2} m"),
                    None => "no two trucks within 40 m".to_string(),
                },
            ),
            ("watchdog stops", self.watchdog_stops.to_string()),
            (
                "supervisor interventions",
                self.supervisor.interventions.to_string(),
            ),
            ("re-armed by policy", self.auto_rearms.to_string()),
            (
                "longest fleet standstill",
                format!("{:.0} s", self.longest_standstill_s),
            ),
            (
                "localisation error mean / p99 / max",
                format!(
                    "{:.3} / {:.3} / {:.3} m",
                    self.localisation.mean_error_m,
                    self.localisation.p99_error_m,
                    self.localisation.max_error_m
                ),
            ),
            (
                "localisation error > 3 sigma / p99 error over sigma",
                format!(
                    "{:.2}% / {:.2}",
                    self.localisation.consistency.over_3_sigma_pct,
                    self.localisation.consistency.p99_error_over_sigma
                ),
            ),
            (
                "GNSS without fix (all trucks) / longest",
                format!(
                    "{:.0} s / {:.1} s",
                    self.localisation.no_fix_s, self.localisation.longest_no_fix_s
                ),
            ),
            (
                "position sigma max / time over 0.5 m",
                format!(
                    "{:.2} m / {:.0} s",
                    self.localisation.max_sigma_m, self.localisation.sigma_over_0_5_s
                ),
            ),
            ("transport", self.link.transport.to_string()),
        ];
        let mut rows = rows;
        if let Some(p) = &self.perception {
            rows.push((
                "NPU detector latency mean / p99",
                format!(
                    "{:.0} / {} µs ({} frames, {} dropped)",
                    p.latency_us.mean, p.latency_us.p99, p.inferences, p.dropped_frames
                ),
            ));
        }
        if let Some(p) = &self.planning {
            rows.push((
                "NPU planner latency mean / p99",
                format!(
                    "{:.0} / {} µs ({} plans, {} queued behind the detector)",
                    p.latency_us.mean, p.latency_us.p99, p.plans, p.queued
                ),
            ));
        }
        if let Some(n) = &self.network {
            let k = &n.kpis;
            rows.push((
                "command latency p50 / p99",
                format!(
                    "{:.1} / {:.1} ms",
                    k.command_latency_p50_ms, k.command_latency_p99_ms
                ),
            ));
            // with a remote dispatcher only the trucks' side is measured here (the
            // dispatcher server prints what it sent and received)
            let remote = k.commands_sent == 0 && k.commands_delivered > 0;
            rows.push((
                "commands delivered",
                if remote {
                    format!("{} (sent: see the dispatcher)", k.commands_delivered)
                } else {
                    format!("{} of {}", k.commands_delivered, k.commands_sent)
                },
            ));
            rows.push((
                "telemetry delivery",
                if remote {
                    format!("{} sent (delivery: see the dispatcher)", k.telemetry_sent)
                } else {
                    format!("{:.2}%", k.telemetry_delivery_ratio * 100.0)
                },
            ));
            rows.push(("handovers", k.handovers.to_string()));
            rows.push((
                "link downs / radio link failures",
                format!("{} / {}", k.link_downs, k.radio_link_failures),
            ));
            rows.push((
                "safety rejects (dispatcher / trucks)",
                format!(
                    "{} / {}",
                    n.safety.safety_at_dispatcher.rejected(),
                    n.safety.safety_at_trucks.rejected()
                ),
            ));
        }
        if let Some(t) = &self.traffic {
            rows.push((
                "manned vehicles (LV / water cart)",
                format!(
                    "{} / {}, {:.1} km",
                    t.per_kind.get("light_vehicle").map_or(0, |k| k.count),
                    t.per_kind.get("water_cart").map_or(0, |k| k.count),
                    t.km_driven
                ),
            ));
            rows.push((
                "truck-manned contacts / closest",
                format!(
                    "{} / {}",
                    t.truck_contacts,
                    t.truck_closest_approach_m
                        .map_or("-".to_string(), |d| format!("{d:.1} m"))
                ),
            ));
            rows.push((
                "trucks waiting for manned",
                format!("{:.0} truck-s", t.truck_waited_s),
            ));
        }
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<w$}  {v}\n"));
        }
        out
    }
}
