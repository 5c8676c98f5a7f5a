//! A shift from start to report: the loop `minesim run` drives. The wall clock (to measure
//! the run's own speed and, with a remote dispatcher, to keep simulated time to real time)
//! and the progress display are injected, so the library never reads a clock itself.

use crate::app::{make_app, step, world};
use crate::config::{NetworkChoice, SimConfig};
use crate::error::SimError;
use crate::report::{PerceptionConfigEcho, Report, RunConfig};
use crate::world::SimWorld;
use site::{SimDuration, SimTime, Site};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where a run's inputs came from, for the report's [`RunConfig`] echo.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    /// The site file's path, or `(embedded default site)`.
    pub site_file: String,
    /// SHA-256 of the site file's bytes, hex.
    pub site_sha256: String,
    /// SHA-256 of the detector file's bytes, hex (with perception).
    pub model_sha256: Option<String>,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a shift runs: the flags of `minesim run` that shape the simulation.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub trucks: usize,
    pub seed: u64,
    pub duration: SimDuration,
    pub network: NetworkChoice,
    /// The dispatcher's re-arm policy ([`fleet::DispatcherConfig::auto_rearm_after`]).
    pub auto_rearm_after: Option<SimDuration>,
    /// How the dispatcher assigns trucks (`--policy`, [`fleet::assign::Policy`]).
    pub policy: fleet::assign::Policy,
    /// Obstacles placed in the world.
    pub obstacles: Vec<perception::ObstacleSpec>,
    /// Manned vehicles (`--light-vehicles`, `--water-carts`).
    pub traffic: crate::config::TrafficConfig,
    /// Perception on every truck, or none.
    pub perception: Option<crate::config::PerceptionSetup>,
    /// The planning model on every truck's NPU (needs perception), or none.
    pub planning: Option<crate::config::PlanningSetup>,
    /// Where to write the Chrome trace of every truck's NPU (needs perception).
    pub npu_trace: Option<std::path::PathBuf>,
    /// Where the inputs came from (echoed in the report).
    pub sources: Sources,
    /// Set from outside (Ctrl-C, SIGTERM) to end the shift early: the report then covers what
    /// was simulated and says `interrupted`.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl RunArgs {
    /// The world's configuration: [`SimConfig::default`] but for these.
    pub fn config(&self) -> SimConfig {
        SimConfig {
            trucks: self.trucks,
            seed: self.seed,
            duration: self.duration,
            network: self.network.clone(),
            dispatcher: fleet::DispatcherConfig {
                auto_rearm_after: self.auto_rearm_after,
                policy: self.policy,
                ..fleet::DispatcherConfig::default()
            },
            obstacles: self.obstacles.clone(),
            traffic: self.traffic.clone(),
            perception: self.perception.clone().map(|mut p| {
                p.cfg.trace = self.npu_trace.is_some();
                p
            }),
            planning: self.planning.clone().map(|mut p| {
                p.cfg.trace = self.npu_trace.is_some();
                p
            }),
            ..SimConfig::default()
        }
    }

    /// The configuration as the report echoes it.
    pub fn echo(&self) -> RunConfig {
        RunConfig {
            site_file: self.sources.site_file.clone(),
            site_sha256: self.sources.site_sha256.clone(),
            trucks: self.trucks,
            seed: self.seed,
            duration_s: self.duration.as_secs_f64(),
            transport: self.network.name().to_string(),
            auto_rearm_s: self.auto_rearm_after.map(|d| d.as_secs_f64()),
            policy: self.policy.name().to_string(),
            obstacles: self.obstacles.len(),
            perception: self.perception.as_ref().map(|p| PerceptionConfigEcho {
                sensing: p.cfg.sensing,
                dust: p.cfg.dust,
                model: p.detector.path.display().to_string(),
                model_sha256: self.sources.model_sha256.clone().unwrap_or_default(),
                precision: format!("{:?}", p.detector.precision).to_lowercase(),
            }),
            planning_model: self
                .planning
                .as_ref()
                .map(|p| p.planner.path.display().to_string()),
        }
    }
}

/// The wall clock a shift runs against (the binary's is `std::time::Instant`; tests use a
/// counter).
pub trait WallClock {
    /// Seconds since the shift started.
    fn elapsed_s(&self) -> f64;
    /// Waits `secs` seconds of wall time.
    fn sleep_s(&self, secs: f64);
}

/// Where a shift stands, reported every 10 simulated seconds (from 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Whole simulated seconds done.
    pub sim_s: u64,
    pub tonnes: f64,
    /// Simulated over wall time so far.
    pub real_time_factor: f64,
    /// Wall-clock seconds since the shift started.
    pub wall_s: f64,
}

/// Runs a shift of `args.duration` on `site` through the Bevy schedule and builds its
/// report. With a remote dispatcher ([`NetworkChoice::remote_dispatcher`]) simulated time is
/// kept to the wall clock. When `args.interrupt` is set the shift ends after the current step
/// and the report, marked `interrupted`, covers what ran.
pub fn run_shift(
    site: Arc<Site>,
    args: &RunArgs,
    clock: &dyn WallClock,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, SimError> {
    let mut app = make_app(SimWorld::new(site, args.config())?);
    let end = SimTime(args.duration.micros());
    let paced = args.network.remote_dispatcher();
    let mut next_update = 0u64;
    let interrupted = || {
        args.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    };
    let mut stopped_early = false;
    while world(&app).now < end {
        if interrupted() {
            stopped_early = true;
            break;
        }
        step(&mut app);
        let w = world(&app);
        if paced {
            // real mode: simulated time keeps to the wall clock
            let ahead = w.now.as_secs_f64() - clock.elapsed_s();
            if ahead > 0.0 {
                clock.sleep_s(ahead);
            }
        }
        let secs = w.now.micros() / 1_000_000;
        if secs >= next_update {
            next_update = secs + 10;
            let wall = clock.elapsed_s().max(1e-9);
            progress(Progress {
                sim_s: secs,
                tonnes: w.metrics.tonnes,
                real_time_factor: w.now.as_secs_f64() / wall,
                wall_s: wall,
            });
        }
    }
    let w = world(&app);
    if let (Some(path), Some(p)) = (&args.npu_trace, &w.perception) {
        let trace = crate::planning::chrome_trace(p, w.planning.as_ref())
            .map_err(|e| SimError::Output(format!("{}: {e}", path.display())))?;
        let text = serde_json::to_string(&trace)
            .map_err(|e| SimError::Output(format!("{}: {e}", path.display())))?;
        std::fs::write(path, text)
            .map_err(|e| SimError::Output(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut report = Report::build(w, clock.elapsed_s());
    report.config = args.echo();
    report.interrupted = stopped_early;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A wall clock that advances by a fixed amount every time it is read.
    struct Ticking {
        now: Cell<f64>,
        slept: Cell<f64>,
    }

    impl WallClock for Ticking {
        fn elapsed_s(&self) -> f64 {
            self.now.set(self.now.get() + 0.001);
            self.now.get()
        }
        fn sleep_s(&self, secs: f64) {
            self.slept.set(self.slept.get() + secs);
            self.now.set(self.now.get() + secs);
        }
    }

    fn site() -> Arc<Site> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
        Arc::new(site::file::load(&path).expect("default site loads"))
    }

    #[test]
    fn a_shift_reports_progress_every_ten_seconds_and_builds_its_report() {
        let args = RunArgs {
            trucks: 2,
            seed: 3,
            duration: SimDuration::from_secs(21),
            network: NetworkChoice::InMemory,
            auto_rearm_after: Some(SimDuration::from_secs(30)),
            policy: Default::default(),
            obstacles: Vec::new(),
            traffic: Default::default(),
            perception: None,
            planning: None,
            npu_trace: None,
            sources: Sources::default(),
            interrupt: None,
        };
        let clock = Ticking {
            now: Cell::new(0.0),
            slept: Cell::new(0.0),
        };
        let mut seen = Vec::new();
        let r = run_shift(site(), &args, &clock, &mut |p| seen.push(p.sim_s)).expect("runs");
        assert_eq!(seen, [0, 10, 20]);
        assert_eq!(r.trucks, 2);
        assert_eq!(r.seed, 3);
        assert!((r.sim_seconds - 21.0).abs() < 0.03, "{}", r.sim_seconds);
        assert!(r.wall_seconds > 0.0);
        assert_eq!(clock.slept.get(), 0.0, "only a remote dispatcher is paced");
    }

    #[test]
    fn a_shift_that_cannot_start_says_why() {
        let args = RunArgs {
            trucks: 5000,
            seed: 1,
            duration: SimDuration::from_secs(1),
            network: NetworkChoice::InMemory,
            auto_rearm_after: None,
            policy: Default::default(),
            obstacles: Vec::new(),
            traffic: Default::default(),
            perception: None,
            planning: None,
            npu_trace: None,
            sources: Sources::default(),
            interrupt: None,
        };
        let clock = Ticking {
            now: Cell::new(0.0),
            slept: Cell::new(0.0),
        };
        let e = run_shift(site(), &args, &clock, &mut |_| {}).expect_err("too many");
        assert!(matches!(e, SimError::TooManyTrucks { .. }), "{e}");
    }
}
