//! Prints what perception costs: for each sensing level, wall time per truck per simulated
//! second (the run with perception on every truck at 10 Hz minus the same run without it)
//! and the real-time factor of the fleet with perception on.
//! `cargo bench -p sim-world --bench perception [-- TRUCKS SECONDS RAYCAST_TRUCKS]`
#![allow(clippy::disallowed_methods)] // a benchmark measures the wall clock

use sim_world::config::PerceptionSetup;
use sim_world::dataset::Sensing;
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;
use std::time::Instant;

fn run(site: &Arc<site::Site>, trucks: usize, seconds: f64, p: Option<PerceptionSetup>) -> f64 {
    let cfg = SimConfig {
        trucks,
        perception: p,
        ..SimConfig::default()
    };
    let mut w = match SimWorld::new(site.clone(), cfg) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return f64::NAN;
        }
    };
    let start = Instant::now();
    while w.now.as_secs_f64() < seconds {
        w.step();
    }
    let wall = start.elapsed().as_secs_f64();
    if let Some(p) = &w.perception {
        let s = p.summary();
        println!(
            "    {} sweeps, {:.0} points per sweep, {} inferences, {} dropped, latency mean {:.0} µs p99 {} µs",
            s.sweeps, s.points_per_sweep, s.inferences, s.dropped_frames, s.latency_us.mean, s.latency_us.p99
        );
    }
    wall
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let trucks: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30.0);
    let ray_trucks: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = match site::file::load(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => return eprintln!("{e}"),
    };
    for (sensing, n) in [(Sensing::Fleet, trucks), (Sensing::Raycast, ray_trucks)] {
        let cfg = PerceptionConfig {
            sensing,
            ..Default::default()
        };
        let detector = match load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg) {
            Ok(d) => d,
            Err(e) => return eprintln!("{e}"),
        };
        println!(
            "{} sensing, {n} trucks, {seconds:.0} s simulated (detector {:.2} MFLOP, {} µs on ascend310 int8):",
            sensing.name(),
            detector.flops() as f64 / 1e6,
            detector.latency_us()
        );
        let off = run(&site, n, seconds, None);
        let on = run(&site, n, seconds, Some(PerceptionSetup { cfg, detector }));
        let per_truck_ms = (on - off) / (n as f64 * seconds) * 1e3;
        println!(
            "  without perception {off:.2} s wall ({:.1}x real time), with it {on:.2} s ({:.1}x)",
            seconds / off,
            seconds / on
        );
        let projected = if n == 100 {
            ""
        } else {
            " (projected linearly)"
        };
        println!(
            "  perception: {per_truck_ms:.2} ms wall per truck per simulated second; 100 trucks with it: {:.2}x real time{projected}",
            seconds / (off / n as f64 * 100.0 + per_truck_ms * 1e-3 * 100.0 * seconds)
        );
    }
}
