//! Prints how fast the headless world runs at fleet scale, and where the time goes.
//! `cargo bench -p sim-world --bench fleet [-- TRUCKS SECONDS]`
#![allow(clippy::disallowed_methods)] // a benchmark measures the wall clock

use sim_world::phase::Phase;
use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let trucks: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(120.0);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = match site::file::load(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => return eprintln!("{e}"),
    };
    let cfg = SimConfig {
        trucks,
        ..SimConfig::default()
    };
    let mut w = match SimWorld::new(site, cfg) {
        Ok(w) => w,
        Err(e) => return eprintln!("{e}"),
    };
    let mut phases = [Duration::ZERO; Phase::ORDER.len()];
    let start = Instant::now();
    while w.now.as_secs_f64() < seconds {
        for (k, phase) in Phase::ORDER.into_iter().enumerate() {
            let t0 = Instant::now();
            w.run_phase(phase);
            phases[k] += t0.elapsed();
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{trucks} trucks, {seconds:.0} s simulated in {wall:.2} s wall: real-time factor {:.1}x",
        seconds / wall
    );
    println!("per simulated second: {:.1} ms wall", wall / seconds * 1e3);
    for (phase, d) in Phase::ORDER.into_iter().zip(phases) {
        let n = phase.name();
        println!(
            "  {n:<18} {:>6.1}%  {:>7.3} ms per simulated second",
            d.as_secs_f64() / wall * 100.0,
            d.as_secs_f64() / seconds * 1e3
        );
    }
}
