//! `minesim`: run the simulated mine. A thin command line over the library: the run loop is
//! [`sim_world::run::run_shift`]; here are the flags, the progress bar, the wall clock and
//! the files written.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sim_world::run::{run_shift, Progress, RunArgs, WallClock};
use sim_world::NetworkChoice;
#[cfg(feature = "viewer")]
use sim_world::{SimConfig, SimWorld};
use site::SimDuration;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "minesim",
    version,
    about = "Autonomous haul-truck fleet simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a headless haul shift and report its KPIs.
    Run(RunCmd),
    /// Run the same shift under several dispatch policies and seeds; print each policy's
    /// KPIs as mean ± sd over the seeds.
    Compare(CompareCmd),
    /// Write the site's 5G coverage map (best-server downlink SINR) as a PNG.
    Coverage {
        #[command(flatten)]
        site: SiteArg,
        /// Grid step, m.
        #[arg(long, default_value_t = 10.0, value_parser = parse_step, allow_hyphen_values = true)]
        step: f64,
        /// Seed of the shadowing (as in `minesim run --seed`).
        #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Open the 3D viewer (needs a build with `--features viewer`).
    View(ViewArgs),
    /// Write labelled detector samples (BEV grids and ground truth) from the simulator.
    Dataset(DatasetCmd),
    /// Score the detector on a labelled set (from `minesim dataset`) at each precision.
    DetectorEval(DetectorEvalCmd),
    /// Work with site files.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
}

/// `--site`, taken by every subcommand that simulates a site.
#[derive(clap::Args, Debug)]
struct SiteArg {
    /// Site file (TOML). Default: the default site.
    #[arg(long)]
    site: Option<PathBuf>,
}

/// A site as read for a command: how to name it, the hash of its bytes, the site.
struct LoadedSite {
    name: String,
    sha256: String,
    site: Arc<site::Site>,
}

impl SiteArg {
    /// The site: `--site FILE`, else the default site embedded in the binary. One validation
    /// for every command: the site file's own checks, then the radio model's of `[radio]`.
    fn load(&self) -> anyhow::Result<LoadedSite> {
        let (name, text) = match &self.site {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read site file {}", p.display()))?,
            ),
            None => (
                site::default_site::NAME.to_string(),
                site::default_site::TEXT.to_string(),
            ),
        };
        let site = network5g::radio::site::load_site_str(&name, &text)?;
        Ok(LoadedSite {
            sha256: sim_world::run::sha256_hex(text.as_bytes()),
            name,
            site: Arc::new(site),
        })
    }
}

/// The fleet of a simulation: `minesim run` and `minesim view`.
#[derive(clap::Args, Debug)]
struct FleetArgs {
    /// Number of trucks.
    #[arg(long, default_value_t = 100, value_parser = parse_trucks, allow_hyphen_values = true)]
    trucks: usize,
    /// Seed of every random draw in the run.
    #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
}

/// `minesim run`.
#[derive(clap::Args, Debug)]
struct RunCmd {
    #[command(flatten)]
    site: SiteArg,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Simulated duration, e.g. 90s, 15m, 1h.
    #[arg(long, default_value = "1h", value_parser = parse_duration, allow_hyphen_values = true)]
    duration: SimDuration,
    /// Manned light vehicles on the roads (fleet tablets, the dispatcher's permissions).
    #[arg(long, default_value_t = 0, value_parser = parse_manned, allow_hyphen_values = true)]
    light_vehicles: usize,
    /// Manned water carts on the roads.
    #[arg(long, default_value_t = 0, value_parser = parse_manned, allow_hyphen_values = true)]
    water_carts: usize,
    /// Write the JSON report here (checked before the run starts; written also when the run
    /// is interrupted or fails an expectation).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Exit with code 1 when the run shows any of these (comma-separated): collisions
    /// (truck–truck contacts), violations (a truck past its permission), obstacle-collisions,
    /// perception-error; `none` for no check.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "collisions,violations"
    )]
    fail_on: Vec<FailOn>,
    /// Transport: `quic` (simulated QUIC over the site's 5G radio model), `memory`
    /// (fixed 5 ms, lossless; about three times faster) or `real` (quinn over loopback
    /// UDP to a `dispatcher` server, paced to the wall clock).
    #[arg(long, value_enum, default_value_t = RunTransport::Quic)]
    transport: RunTransport,
    /// With `--transport real`: the dispatcher server (`dispatcher --listen`), on
    /// loopback. The run is paced to the wall clock.
    #[arg(long, default_value = "127.0.0.1:4433")]
    dispatcher: std::net::SocketAddr,
    /// With `--transport real`: the site PKI seed, as given to the dispatcher.
    #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true)]
    pki_seed: u64,
    /// With `--transport real`: send packets straight to the dispatcher instead of
    /// through the site's radio model.
    #[arg(long)]
    no_radio: bool,
    /// Also write the site's 5G coverage map (best-server SINR) as a PNG.
    #[arg(long)]
    coverage: Option<PathBuf>,
    /// The dispatcher re-arms a truck that stopped itself (link watchdog, expired grant;
    /// never an operator e-stop) once it has reported `Stopped` over a working link this
    /// long, as a remote operator would; `off` leaves stopped trucks stopped.
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    auto_rearm: site::DelayOrOff,
    /// How the dispatcher assigns trucks that ask for work: `lp` (a linear program for the
    /// best flow on every loader→dump path, then each truck to the path furthest behind its
    /// rate), `fixed` (each truck to one loader for the shift) or `nearest` (the loader
    /// where the truck starts loading soonest).
    #[arg(long, value_enum, default_value_t = PolicyArg::Nearest)]
    policy: PolicyArg,
    #[command(flatten)]
    perception: PerceptionArgs,
    /// Write the Chrome/Perfetto trace of every truck's NPU here (one process per truck).
    #[arg(long)]
    npu_trace: Option<PathBuf>,
}

/// `minesim compare`.
#[derive(clap::Args, Debug)]
struct CompareCmd {
    #[command(flatten)]
    site: SiteArg,
    /// Number of trucks.
    #[arg(long, default_value_t = 100, value_parser = parse_trucks, allow_hyphen_values = true)]
    trucks: usize,
    /// The policies, comma-separated, in the order of the table (the first is the one the
    /// others are measured against).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "lp,fixed,nearest"
    )]
    policy: Vec<PolicyArg>,
    /// Seeds per policy: `--seed`, `--seed`+1, …
    #[arg(long, default_value_t = 3, value_parser = parse_count, allow_hyphen_values = true)]
    seeds: usize,
    /// The first seed.
    #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
    /// Simulated duration of each run, e.g. 30m, 4h.
    #[arg(long, default_value = "1h", value_parser = parse_duration, allow_hyphen_values = true)]
    duration: SimDuration,
    /// Transport of every run: `memory` (fixed 5 ms, lossless: the dispatch question alone)
    /// or `quic` (simulated QUIC over the site's radio model).
    #[arg(long, value_enum, default_value_t = CompareTransport::Memory)]
    transport: CompareTransport,
    /// Runs at once (each is single-threaded); default: the machine's cores.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    jobs: Option<usize>,
    /// Write the comparison (every row, every seed's figures) as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CompareTransport {
    Memory,
    Quic,
}

fn compare(cmd: CompareCmd) -> anyhow::Result<()> {
    if let Some(out) = &cmd.report {
        check_output("--report", out)?;
    }
    let mut policies: Vec<PolicyArg> = Vec::new();
    for p in &cmd.policy {
        if policies.contains(p) {
            anyhow::bail!("--policy: {p:?} is named twice");
        }
        policies.push(*p);
    }
    let loaded = cmd.site.load()?;
    let network = match cmd.transport {
        CompareTransport::Memory => NetworkChoice::InMemory,
        CompareTransport::Quic => NetworkChoice::QuicRadio,
    };
    let seeds: Vec<u64> = (0..cmd.seeds as u64)
        .map(|k| cmd.seed.wrapping_add(k))
        .collect();
    let jobs: Vec<(fleet::assign::Policy, u64)> = policies
        .iter()
        .flat_map(|p| seeds.iter().map(move |s| ((*p).into(), *s)))
        .collect();
    let interrupt = interrupt_flag()?;
    let threads = cmd
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .context("cannot start the worker threads")?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = jobs.len();
    eprintln!(
        "minesim compare: {total} runs ({} policies × {} seeds), {threads} at once",
        policies.len(),
        seeds.len()
    );
    let results: Vec<anyhow::Result<(String, sim_world::report::Report)>> = pool.install(|| {
        use rayon::prelude::*;
        jobs.par_iter()
            .map(|&(policy, seed)| {
                let args = RunArgs {
                    trucks: cmd.trucks,
                    seed,
                    duration: cmd.duration,
                    network: network.clone(),
                    auto_rearm_after: Some(SimDuration::from_secs(30)),
                    policy,
                    obstacles: Vec::new(),
                    traffic: Default::default(),
                    perception: None,
                    planning: None,
                    npu_trace: None,
                    sources: sim_world::run::Sources {
                        site_file: loaded.name.clone(),
                        site_sha256: loaded.sha256.clone(),
                        model_sha256: None,
                    },
                    interrupt: Some(interrupt.clone()),
                };
                #[allow(clippy::disallowed_methods)] // the binary measures its own speed
                let clock = Wall(std::time::Instant::now());
                let r = run_shift(loaded.site.clone(), &args, &clock, &mut |_| {})
                    .with_context(|| format!("policy {policy}, seed {seed}"))?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                eprintln!(
                    "minesim compare: {n}/{total} done: {policy} seed {seed}: {:.0} t, {:.1}× real time",
                    r.tonnes, r.real_time_factor
                );
                Ok((policy.name().to_string(), r))
            })
            .collect()
    });
    let runs = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    if runs.iter().any(|(_, r)| r.interrupted) {
        anyhow::bail!("interrupted: no comparison of unfinished runs");
    }
    let c = sim_world::compare::compare(&runs);
    print!("{}", c.table());
    if let Some(out) = cmd.report {
        let json = serde_json::to_string_pretty(&c)?;
        std::fs::write(&out, json).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("comparison written to {}", out.display());
    }
    Ok(())
}

/// `--policy` ([`fleet::assign::Policy`]).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PolicyArg {
    Lp,
    Fixed,
    Nearest,
}

impl From<PolicyArg> for fleet::assign::Policy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Lp => fleet::assign::Policy::Lp,
            PolicyArg::Fixed => fleet::assign::Policy::Fixed,
            PolicyArg::Nearest => fleet::assign::Policy::Nearest,
        }
    }
}

/// Perception and obstacles: `minesim run` and `minesim view`.
#[derive(clap::Args, Debug)]
struct PerceptionArgs {
    /// Perception on every truck: lidar, the detector on the truck's NPU, tracking; a
    /// tracked obstacle in the lane stops the truck short of it. Off by default: with it,
    /// 100 trucks run at about 1.1× real time here instead of 3.2× (see README).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    perception: OnOff,
    /// Sensor level: `fleet` (the fleet-scale model) or `raycast` (every ray through the
    /// physics world; about ten times the cost).
    #[arg(long, value_enum, default_value_t = sim_world::dataset::Sensing::Fleet)]
    sensing: sim_world::dataset::Sensing,
    /// Dust level of the air, 0 (clear) to 1 (thick haul-road plume).
    #[arg(long, default_value_t = 0.0, value_parser = parse_dust, allow_hyphen_values = true)]
    dust: f64,
    /// The detector (ONNX). Default: assets/models/detector.onnx.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Precision the detector and the planner are compiled at for the trucks' Ascend 310.
    #[arg(long, value_enum, default_value_t = ModelPrecision::Int8)]
    precision: ModelPrecision,
    /// The planning model on every truck's NPU (needs `--perception on`): a cost volume from
    /// the trucks' tracks, lane and stopping point, sampled along candidate trajectories;
    /// the trucks follow its plans (10 Hz, queued behind the detector on the same device).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    planning: OnOff,
    /// The planning model (ONNX). Default: assets/models/planner.onnx.
    #[arg(long)]
    planner_model: Option<PathBuf>,
    /// An obstacle: `CLASS@X,Y` or `CLASS@X,Y@TIME` (site frame, m; appears at TIME, e.g.
    /// 30s). Classes: rock, light_vehicle, person, machine. Repeat for more.
    #[arg(long = "obstacle", value_parser = parse_obstacle)]
    obstacle: Vec<perception::ObstacleSpec>,
    /// Obstacles from a TOML file: `[[obstacle]]` tables with class, x, y, length, width,
    /// height and optional yaw and appear_at_us.
    #[arg(long)]
    obstacles: Option<PathBuf>,
    /// The roof lidar from a TOML file: any of beams, elev_min_deg, elev_max_deg,
    /// azimuth_steps, fov_deg, rate_hz, range_m, mount_height_m, mount_forward_m,
    /// range_sigma_m, dropout (the rest keep their defaults: 32 beams, −20°..+4°, 1024 steps
    /// over 360°, 10 Hz, 150 m). The committed detector was trained on the default sensor.
    #[arg(long)]
    lidar: Option<PathBuf>,
}

/// `minesim run --fail-on`: what makes a finished run exit with code 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Collisions,
    Violations,
    ObstacleCollisions,
    PerceptionError,
    None,
}

impl FailOn {
    /// What failed in `r`, if this expectation did.
    fn failure(self, r: &sim_world::report::Report) -> Option<String> {
        match self {
            FailOn::Collisions if r.collisions > 0 => {
                Some(format!("{} truck–truck collisions", r.collisions))
            }
            FailOn::Violations if r.permission_violations > 0 => {
                Some(format!("{} permission violations", r.permission_violations))
            }
            FailOn::ObstacleCollisions if r.obstacle_collisions > 0 => Some(format!(
                "{} truck–obstacle collisions",
                r.obstacle_collisions
            )),
            FailOn::PerceptionError => r
                .perception_error
                .as_ref()
                .map(|e| format!("perception failed: {e}")),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModelPrecision {
    Fp32,
    Fp16,
    Int8,
}

impl From<ModelPrecision> for npu::ir::Precision {
    fn from(p: ModelPrecision) -> Self {
        match p {
            ModelPrecision::Fp32 => npu::ir::Precision::Fp32,
            ModelPrecision::Fp16 => npu::ir::Precision::Fp16,
            ModelPrecision::Int8 => npu::ir::Precision::Int8,
        }
    }
}

fn parse_dust(s: &str) -> Result<f64, String> {
    let d: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !(0.0..=1.0).contains(&d) {
        return Err(format!("dust must be in 0–1, got {d}"));
    }
    Ok(d)
}

fn parse_obstacle(s: &str) -> Result<perception::ObstacleSpec, String> {
    let bad = || format!("expected CLASS@X,Y or CLASS@X,Y@TIME (e.g. rock@120,-40@30s), got {s:?}");
    let mut parts = s.split('@');
    let class = parts.next().ok_or_else(bad)?;
    let class = perception::ObstacleClass::ALL
        .into_iter()
        .find(|c| c.name() == class)
        .ok_or_else(|| {
            format!("unknown obstacle class {class:?} (rock, light_vehicle, person, machine)")
        })?;
    let (x, y) = parts
        .next()
        .and_then(|p| p.split_once(','))
        .ok_or_else(bad)?;
    let x: f64 = x.trim().parse().map_err(|_| bad())?;
    let y: f64 = y.trim().parse().map_err(|_| bad())?;
    let mut o = perception::ObstacleSpec::typical(class, x, y, 0.0);
    if let Some(t) = parts.next() {
        o.appear_at_us = SimDuration::parse(t)?.micros();
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    o.validate()?;
    Ok(o)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ObstacleFile {
    #[serde(default)]
    obstacle: Vec<perception::ObstacleSpec>,
}

/// A lidar TOML file; errors name the file and the field.
fn load_lidar(f: &std::path::Path) -> anyhow::Result<perception::LidarConfig> {
    let text =
        std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
    let lidar: perception::LidarConfig =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
    lidar
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
    Ok(lidar)
}

impl PerceptionArgs {
    /// The obstacles (flags, then the file) and the perception setup; errors name the file.
    fn load(&self) -> anyhow::Result<Loaded> {
        let mut obstacles = self.obstacle.clone();
        if let Some(f) = &self.obstacles {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let file: ObstacleFile =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            for (i, o) in file.obstacle.iter().enumerate() {
                o.validate()
                    .map_err(|e| anyhow::anyhow!("{}: obstacle {i}: {e}", f.display()))?;
            }
            obstacles.extend(file.obstacle);
        }
        let lidar = match &self.lidar {
            Some(f) => load_lidar(f)?,
            None => perception::LidarConfig::default(),
        };
        if self.perception == OnOff::Off {
            anyhow::ensure!(
                self.lidar.is_none(),
                "--lidar needs --perception on (the lidar is part of perception)"
            );
            anyhow::ensure!(
                self.planning == OnOff::Off && self.planner_model.is_none(),
                "--planning needs --perception on (the planner plans around the trucks' tracks)"
            );
            return Ok(Loaded {
                obstacles,
                perception: None,
                planning: None,
            });
        }
        let cfg = sim_world::perceive::PerceptionConfig {
            sensing: self.sensing,
            dust: self.dust,
            lidar,
            ..Default::default()
        };
        let path = self
            .model
            .clone()
            .unwrap_or_else(sim_world::perceive::default_model_path);
        let precision = self.precision.into();
        let detector = sim_world::perceive::load_detector(&path, precision, &cfg)?;
        let planning = match self.planning {
            OnOff::Off => {
                anyhow::ensure!(
                    self.planner_model.is_none(),
                    "--planner-model needs --planning on"
                );
                None
            }
            OnOff::On => {
                let path = self
                    .planner_model
                    .clone()
                    .unwrap_or_else(sim_world::planning::default_planner_path);
                Some(sim_world::config::PlanningSetup {
                    cfg: sim_world::planning::PlanningConfig::default(),
                    planner: sim_world::planning::load_planner(&path, precision)?,
                })
            }
        };
        Ok(Loaded {
            obstacles,
            perception: Some(sim_world::config::PerceptionSetup { cfg, detector }),
            planning,
        })
    }
}

/// What `PerceptionArgs` loads: the obstacles, perception and planning.
struct Loaded {
    obstacles: Vec<perception::ObstacleSpec>,
    perception: Option<sim_world::config::PerceptionSetup>,
    planning: Option<sim_world::config::PlanningSetup>,
}

/// `minesim run --transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RunTransport {
    Quic,
    Memory,
    Real,
}

/// `minesim view --transport`: no real mode in the viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[cfg_attr(not(feature = "viewer"), allow(dead_code))]
enum ViewTransport {
    Quic,
    Memory,
}

impl RunCmd {
    fn network(&self) -> NetworkChoice {
        match self.transport {
            RunTransport::Quic => NetworkChoice::QuicRadio,
            RunTransport::Memory => NetworkChoice::InMemory,
            RunTransport::Real => NetworkChoice::Real {
                server: self.dispatcher,
                pki_seed: self.pki_seed,
                radio: !self.no_radio,
            },
        }
    }
}

#[derive(Subcommand, Debug)]
enum SiteCommand {
    /// Generate a procedural open pit and write it as a site file.
    Generate {
        #[arg(long, default_value_t = 1, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
        /// Loading faces (4 to 8).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(4..=8))]
        faces: u64,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check a site file and print what it holds.
    Check { file: PathBuf },
}

fn parse_manned(s: &str) -> Result<usize, String> {
    site::cli::count_in(s, "manned vehicles", 0, 200).map(|n| n as usize)
}

fn parse_trucks(s: &str) -> Result<usize, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if n < 1 {
        return Err(format!("a run needs at least one truck, got {n}"));
    }
    if n > 2000 {
        return Err(format!("at most 2000 trucks, got {n}"));
    }
    Ok(n as usize)
}

/// A count of at least one (`--seeds`, `--jobs`).
fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        Ok(n) => Err(format!("needs at least 1, got {n}")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

fn parse_seed(s: &str) -> Result<u64, String> {
    site::cli::seed(s)
}

fn parse_step(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(v.is_finite() && (1.0..=1000.0).contains(&v)) {
        return Err(format!("the grid step must be 1–1000 m, got {s}"));
    }
    Ok(v)
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    site::cli::duration(s)
}

/// Fails unless `path` can be written: before a run, so a bad path costs a second, not a
/// shift. A file that did not exist is not left behind.
fn check_output(flag: &str, path: &std::path::Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!("{flag} {}: is a folder, not a file", path.display());
    }
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        anyhow::bail!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            parent.display()
        );
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("{flag} {}: cannot be written", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn coverage(
    site: &Arc<site::Site>,
    step: f64,
    seed: u64,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let (area, map) = sim_world::net::coverage_map(site, step, seed)?;
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    map.write_png(
        std::io::BufWriter::new(file),
        network5g::ColourScale::default(),
    )
    .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "coverage map {:.0} × {:.0} m written to {}: {:.1}% of the area at SINR ≥ 0 dB",
        area.x_max - area.x_min,
        area.y_max - area.y_min,
        out.display(),
        map.fraction_at_least(0.0) * 100.0
    );
    let road = sim_world::net::road_coverage(site, 10.0, seed)?;
    let attach = network5g::RadioConfig::default()
        .mobility
        .reestablishment_min_sinr_db;
    let weak = road.iter().filter(|p| p.sinr_db < attach).count();
    eprintln!(
        "roads, every 10 m: {} points, {:.1}% below {attach} dB (a truck there cannot attach or re-establish)",
        road.len(),
        100.0 * weak as f64 / road.len().max(1) as f64
    );
    for p in road.iter().take(5) {
        eprintln!(
            "  lane {} at {:.0} m ({:.0}, {:.0}): SINR {:.1} dB, RSRP {:.1} dBm",
            p.lane.0, p.s, p.pos[0], p.pos[1], p.sinr_db, p.rsrp_dbm
        );
    }
    Ok(())
}

/// The wall clock of `minesim run`: the binary measures its own speed and paces real mode.
struct Wall(std::time::Instant);

impl WallClock for Wall {
    fn elapsed_s(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
    fn sleep_s(&self, secs: f64) {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    }
}

/// How a long command shows where it stands: a bar with elapsed time and ETA on a terminal,
/// else (CI logs) one line on stderr every 10 % of the work or every 10 s of wall clock,
/// whichever comes first.
struct ProgressView {
    bar: Option<ProgressBar>,
    /// `minesim run`, `minesim dataset`: starts each line.
    what: &'static str,
    /// What `pos` counts, e.g. `s simulated`.
    unit: &'static str,
    total: u64,
    next_pct: u64,
    last_line_wall_s: f64,
}

impl ProgressView {
    fn new(what: &'static str, unit: &'static str, total: u64) -> ProgressView {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{elapsed_precise}} {{bar:30}} {{pos}}/{{len}} {unit} · ETA {{eta}} · {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        ProgressView {
            bar,
            what,
            unit,
            total: total.max(1),
            next_pct: 10,
            last_line_wall_s: 0.0,
        }
    }

    /// `pos` of `total` done after `wall_s` seconds; `msg` adds figures.
    fn show(&mut self, pos: u64, wall_s: f64, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            bar.set_message(msg.to_string());
            return;
        }
        let pct = pos.min(self.total) * 100 / self.total;
        if pct < self.next_pct && wall_s - self.last_line_wall_s < 10.0 {
            return;
        }
        while self.next_pct <= pct {
            self.next_pct += 10;
        }
        self.last_line_wall_s = wall_s;
        let eta = if pos > 0 {
            clock_text(self.total.saturating_sub(pos) as f64 * wall_s / pos as f64)
        } else {
            "unknown".to_string()
        };
        eprintln!(
            "{}: {pos}/{} {} ({pct}%), {msg}, {} elapsed, ETA {eta}",
            self.what,
            self.total,
            self.unit,
            clock_text(wall_s),
        );
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1h02m03s`, `4m05s`, `6s`.
fn clock_text(secs: f64) -> String {
    let t = secs.max(0.0).round() as u64;
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Ctrl-C and SIGTERM set the returned flag (the run then ends after its current step and
/// writes what it has); a second one ends the process at once with code 130.
fn interrupt_flag() -> anyhow::Result<Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the report of what ran (again to quit at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

fn run(cmd: RunCmd) -> anyhow::Result<ExitCode> {
    // Everything that can be wrong with the input is found before the shift starts.
    for (flag, out) in [
        ("--report", &cmd.report),
        ("--coverage", &cmd.coverage),
        ("--npu-trace", &cmd.npu_trace),
    ] {
        if let Some(out) = out {
            check_output(flag, out)?;
        }
    }
    if cmd.fail_on.contains(&FailOn::None) && cmd.fail_on.len() > 1 {
        anyhow::bail!("--fail-on: `none` cannot be combined with other checks");
    }
    let loaded = cmd.site.load()?;
    let site = loaded.site.clone();
    if let Some(out) = &cmd.coverage {
        coverage(&site, 20.0, cmd.fleet.seed, out)?;
    }
    let Loaded {
        obstacles,
        perception,
        planning,
    } = cmd.perception.load()?;
    if cmd.npu_trace.is_some() && perception.is_none() {
        anyhow::bail!("--npu-trace needs perception on (it traces the trucks' detector)");
    }
    let model_sha256 = match &perception {
        Some(p) => Some(sim_world::run::sha256_hex(
            &std::fs::read(&p.detector.path)
                .with_context(|| format!("cannot read {}", p.detector.path.display()))?,
        )),
        None => None,
    };
    let interrupt = interrupt_flag()?;
    let args = RunArgs {
        trucks: cmd.fleet.trucks,
        seed: cmd.fleet.seed,
        duration: cmd.duration,
        network: cmd.network(),
        auto_rearm_after: cmd.auto_rearm.0,
        policy: cmd.policy.into(),
        obstacles,
        traffic: sim_world::config::TrafficConfig {
            light_vehicles: cmd.light_vehicles,
            water_carts: cmd.water_carts,
            ..Default::default()
        },
        perception,
        planning,
        npu_trace: cmd.npu_trace.clone(),
        sources: sim_world::run::Sources {
            site_file: loaded.name.clone(),
            site_sha256: loaded.sha256.clone(),
            model_sha256,
        },
        interrupt: Some(interrupt),
    };
    let mut view = ProgressView::new(
        "minesim run",
        "s simulated",
        cmd.duration.micros() / 1_000_000,
    );
    #[allow(clippy::disallowed_methods)] // the binary measures its own wall-clock speed
    let clock = Wall(std::time::Instant::now());
    let shown = run_shift(site, &args, &clock, &mut |p: Progress| {
        let msg = format!("{:.0} t, {:.1}× real time", p.tonnes, p.real_time_factor);
        view.show(p.sim_s, p.wall_s, &msg)
    });
    view.finish();
    let r = shown.with_context(|| format!("cannot start on {}", loaded.name))?;
    print!("{}", r.table());
    if let Some(out) = cmd.report {
        let json = serde_json::to_string_pretty(&r)?;
        std::fs::write(&out, json)
            .with_context(|| format!("cannot write report {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    if r.interrupted {
        eprintln!(
            "interrupted after {:.0} of {:.0} simulated seconds",
            r.sim_seconds,
            cmd.duration.as_secs_f64()
        );
        return Ok(ExitCode::from(130));
    }
    let failures: Vec<String> = cmd.fail_on.iter().filter_map(|f| f.failure(&r)).collect();
    if !failures.is_empty() {
        eprintln!("failed: {} (--fail-on)", failures.join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn site_cmd(cmd: SiteCommand) -> anyhow::Result<()> {
    match cmd {
        SiteCommand::Generate {
            seed,
            faces,
            output,
        } => {
            let f = site::generate::generate(&site::generate::GenParams {
                seed,
                faces: faces as usize,
                ..Default::default()
            });
            let s = site::file::build(&output.display().to_string(), &f)?;
            let text = site::file::to_toml(&f).map_err(anyhow::Error::msg)?;
            let header = "# minesim site file. Generated by `minesim site generate`; edit freely.\n# Coordinates in metres: x east, y north, z up. References are indices into the tables.\n";
            std::fs::write(&output, format!("{header}{text}"))
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!(
                "wrote {}: {} lanes, {:.1} km of road, {} loaders, {} dumps, room for {} trucks",
                output.display(),
                s.roads.lanes.len(),
                s.road_length_m() / 1000.0,
                s.loaders.len(),
                s.dumps.len(),
                s.capacity()
            );
        }
        SiteCommand::Check { file } => {
            let s = SiteArg {
                site: Some(file.clone()),
            }
            .load()?
            .site;
            let (lo, hi) = s.terrain.range();
            println!(
                "{}: ok — {} lanes, {:.1} km of road, {} intersections, {} loaders, {} dumps, {} gNBs, terrain {:.0}..{:.0} m, room for {} trucks",
                file.display(),
                s.roads.lanes.len(),
                s.road_length_m() / 1000.0,
                s.intersections.len(),
                s.loaders.len(),
                s.dumps.len(),
                s.gnbs.len(),
                lo,
                hi,
                s.capacity()
            );
        }
    }
    Ok(())
}

/// `minesim dataset`.
#[derive(clap::Args, Debug)]
struct DatasetCmd {
    #[command(flatten)]
    site: SiteArg,
    /// Seeds of the worlds, as a range `A..=B` or a list `1,2,5`.
    #[arg(long, default_value = "1..=40", value_parser = parse_seeds)]
    seeds: SeedList,
    /// Samples per seed (each at every sensing level).
    #[arg(long, default_value_t = 40)]
    samples_per_seed: usize,
    /// Trucks in each world.
    #[arg(long, default_value_t = 20, value_parser = parse_trucks)]
    trucks: usize,
    /// Sensing levels, each sample taken at all of them.
    #[arg(long, value_delimiter = ',', default_value = "fleet")]
    sensing: Vec<sim_world::dataset::Sensing>,
    /// Dust levels (0–1), used in turn.
    #[arg(long, value_delimiter = ',', default_value = "0,0,0.25,0.5,0.8")]
    dust: Vec<f64>,
    /// Output folder (created): bev.npy, labels.jsonl, summary.json.
    #[arg(short, long)]
    out: PathBuf,
}

#[derive(Clone, Debug)]
struct SeedList(Vec<u64>);

fn parse_seeds(s: &str) -> Result<SeedList, String> {
    let bad = || format!("expected A..=B or a comma list of seeds, got {s:?}");
    if let Some((a, b)) = s.split_once("..=") {
        let a: u64 = a.trim().parse().map_err(|_| bad())?;
        let b: u64 = b.trim().parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        return Ok(SeedList((a..=b).collect()));
    }
    s.split(',')
        .map(|x| x.trim().parse::<u64>().map_err(|_| bad()))
        .collect::<Result<Vec<_>, _>>()
        .map(SeedList)
}

fn dataset(cmd: DatasetCmd) -> anyhow::Result<()> {
    use sim_world::dataset::{generate, DatasetSpec};
    for d in &cmd.dust {
        if !(0.0..=1.0).contains(d) {
            anyhow::bail!("--dust: levels must be in 0–1, got {d}");
        }
    }
    let site = cmd.site.load()?.site;
    let spec = DatasetSpec {
        seeds: cmd.seeds.0,
        trucks: cmd.trucks,
        samples_per_seed: cmd.samples_per_seed,
        sensing: cmd.sensing,
        dust_levels: cmd.dust,
        ..Default::default()
    };
    std::fs::create_dir_all(&cmd.out)
        .with_context(|| format!("cannot create {}", cmd.out.display()))?;
    let labels_path = cmd.out.join("labels.jsonl");
    let mut labels = std::io::BufWriter::new(
        std::fs::File::create(&labels_path)
            .with_context(|| format!("cannot create {}", labels_path.display()))?,
    );
    let mut grids: Vec<f32> = Vec::new();
    let total = spec.seeds.len() * spec.samples_per_seed * spec.sensing.len();
    let mut view = ProgressView::new("minesim dataset", "samples", total as u64);
    #[allow(clippy::disallowed_methods)] // the binary shows its own progress
    let t0 = std::time::Instant::now();
    let mut done = 0u64;
    let summary = generate(site, &spec, |g, s| {
        use std::io::Write;
        grids.extend_from_slice(g);
        let line =
            serde_json::to_string(s).map_err(|e| sim_world::SimError::Output(e.to_string()))?;
        writeln!(labels, "{line}")
            .map_err(|e| sim_world::SimError::Output(format!("{}: {e}", labels_path.display())))?;
        done += 1;
        view.show(done, t0.elapsed().as_secs_f64(), "written");
        Ok(())
    })?;
    view.finish();
    {
        use std::io::Write;
        labels
            .flush()
            .with_context(|| format!("cannot write {}", labels_path.display()))?;
    }
    let [c, h, w] = spec.bev.shape();
    let t = npu::Tensor::from_f32(&[summary.samples, c, h, w], grids)?;
    let bev_path = cmd.out.join("bev.npy");
    std::fs::write(&bev_path, npu::npy::write_npy(&t))
        .with_context(|| format!("cannot write {}", bev_path.display()))?;
    let sum_path = cmd.out.join("summary.json");
    std::fs::write(&sum_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", sum_path.display()))?;
    println!(
        "wrote {}: {} samples, {} objects ({} with ≥ 2 returns)",
        cmd.out.display(),
        summary.samples,
        summary.objects,
        summary.visible_objects
    );
    Ok(())
}

/// `minesim detector-eval`.
#[derive(clap::Args, Debug)]
struct DetectorEvalCmd {
    /// The labelled set (bev.npy, labels.jsonl).
    #[arg(long)]
    data: PathBuf,
    /// The detector (ONNX). Default: assets/models/detector.onnx.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Precisions to compile and score.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fp32,fp16,int8"
    )]
    precision: Vec<ModelPrecision>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Score threshold of a detection (default: the detector's).
    #[arg(long)]
    threshold: Option<f32>,
}

fn detector_eval(cmd: DetectorEvalCmd) -> anyhow::Result<()> {
    use sim_world::dataset::{evaluate, figures_table, read_set};
    if let Some(out) = &cmd.json {
        check_output("--json", out)?;
    }
    let (grids, samples, bev) = read_set(&cmd.data)?;
    let refs: Vec<&[f32]> = grids.chunks(bev.len()).collect();
    let path = cmd
        .model
        .clone()
        .unwrap_or_else(sim_world::perceive::default_model_path);
    let cfg = sim_world::perceive::PerceptionConfig::default();
    let mut all = serde_json::Map::new();
    for p in &cmd.precision {
        let precision = (*p).into();
        let mut det = sim_world::perceive::load_detector(&path, precision, &cfg)?;
        if let Some(t) = cmd.threshold {
            std::sync::Arc::make_mut(&mut det).threshold = t;
        }
        let figs = evaluate(&det, &refs, &samples)?;
        let name = format!("{p:?}").to_lowercase();
        println!(
            "## {name}: {} on {}, {:.2} MFLOP, simulated latency {} µs per frame\n",
            path.display(),
            det.profile.name,
            det.flops() as f64 / 1e6,
            det.latency_us()
        );
        print!("{}", figures_table(&figs));
        all.insert(
            name,
            serde_json::json!({
                "latency_us": det.latency_us(),
                "flops": det.flops(),
                "levels": figs,
            }),
        );
    }
    if let Some(out) = &cmd.json {
        std::fs::write(out, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run(cmd) => match run(cmd) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Coverage {
            site,
            step,
            seed,
            output,
        } => check_output("--output", &output)
            .and_then(|()| site.load())
            .and_then(|s| coverage(&s.site, step, seed, &output)),
        Command::Site { command } => site_cmd(command),
        Command::Compare(cmd) => compare(cmd),
        Command::View(args) => view(args),
        Command::Dataset(cmd) => dataset(cmd),
        Command::DetectorEval(cmd) => detector_eval(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `minesim view`: the 3D viewer, or one screenshot of it.
#[derive(clap::Args, Debug)]
#[cfg_attr(not(feature = "viewer"), allow(dead_code))]
struct ViewArgs {
    #[command(flatten)]
    site: SiteArg,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Save one PNG of the view and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Simulate headlessly up to this time before the first frame, e.g. 90s, 15m.
    #[arg(long, value_parser = parse_duration)]
    at: Option<SimDuration>,
    /// Camera: overview, follow:TRUCK (chase) or top:TRUCK (top-down).
    #[arg(long, default_value = "overview")]
    camera: String,
    /// Overlays on at start: comma-separated routes, claims, queues, links, coverage, points,
    /// detections, tracks, or all.
    #[arg(long, default_value = "")]
    overlays: String,
    /// Transport: `quic` (simulated QUIC over the site's 5G radio model) or `memory`.
    #[arg(long, value_enum, default_value_t = ViewTransport::Quic)]
    transport: ViewTransport,
    #[command(flatten)]
    perception: PerceptionArgs,
}

#[cfg(not(feature = "viewer"))]
fn view(_args: ViewArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this minesim was built without the 3D viewer; build it with\n  cargo build --release -p sim-world --features viewer\nand run ./target/release/minesim view"
    )
}

#[cfg(feature = "viewer")]
fn view(args: ViewArgs) -> anyhow::Result<()> {
    use sim_world::viewer::{self, CameraChoice, OverlayKind, ShotOptions, ViewerOptions};
    let camera: CameraChoice = args.camera.parse().map_err(anyhow::Error::msg)?;
    let overlays = OverlayKind::parse_list(&args.overlays).map_err(anyhow::Error::msg)?;
    if let CameraChoice::Follow(n) | CameraChoice::Top(n) = camera {
        anyhow::ensure!(
            (n as usize) < args.fleet.trucks,
            "--camera names truck {n}, there are {} (0..{})",
            args.fleet.trucks,
            args.fleet.trucks
        );
    }
    let loaded = args.site.load()?;
    let Loaded {
        obstacles,
        perception,
        planning,
    } = args.perception.load()?;
    let cfg = SimConfig {
        trucks: args.fleet.trucks,
        seed: args.fleet.seed,
        network: match args.transport {
            ViewTransport::Quic => NetworkChoice::QuicRadio,
            ViewTransport::Memory => NetworkChoice::InMemory,
        },
        obstacles,
        perception,
        planning,
        ..SimConfig::default()
    };
    let sim = SimWorld::new(loaded.site, cfg)
        .with_context(|| format!("cannot start on {}", loaded.name))?;
    let opts = ViewerOptions {
        start_at: site::SimTime(args.at.map_or(0, |d| d.micros())),
        screenshot: args.screenshot.map(|path| ShotOptions {
            path,
            camera,
            overlays: overlays.clone(),
        }),
        width: 1280,
        height: 720,
        camera,
        overlays,
    };
    let mut app = viewer::build_app(sim, &opts);
    match app.run() {
        bevy::app::AppExit::Success => Ok(()),
        bevy::app::AppExit::Error(code) => anyhow::bail!("viewer exited with code {code}"),
    }
}
