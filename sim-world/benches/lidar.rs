//! Prints what a ray-cast lidar sweep costs on one thread: wall µs per scan and rays per
//! second for truck 0 of the default fleet on the default site, for the default lidar
//! (32 × 1024) and two smaller ones. `cargo bench -p sim-world --bench lidar [-- SCANS]`
#![allow(clippy::disallowed_methods)] // a benchmark measures the wall clock

use perception::LidarConfig;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_world::lidar::cast_scan;
use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let scans: u32 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = match site::file::load(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => return eprintln!("{e}"),
    };
    let cfg = SimConfig::default();
    let trucks = cfg.trucks;
    let w = match SimWorld::new(site.clone(), cfg) {
        Ok(w) => w,
        Err(e) => return eprintln!("{e}"),
    };
    println!("truck 0 of {trucks} on the default site, {scans} scans each, one thread");
    let base = LidarConfig::default();
    let configs = [
        base,
        LidarConfig {
            beams: 16,
            azimuth_steps: 360,
            ..base
        },
        LidarConfig {
            beams: 8,
            azimuth_steps: 180,
            ..base
        },
    ];
    for lidar in configs {
        for dust in [0.0, 1.0] {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            // one scan to warm caches
            let (warm, _) = cast_scan(&w.physics, &site, 0, &lidar, dust, &mut rng, 0);
            let start = Instant::now();
            let mut points = 0usize;
            for k in 0..scans {
                let (s, _) = cast_scan(&w.physics, &site, 0, &lidar, dust, &mut rng, u64::from(k));
                points += s.points.len();
            }
            let wall = start.elapsed().as_secs_f64();
            let per_scan_us = wall / f64::from(scans) * 1e6;
            let rays = f64::from(warm.rays) * f64::from(scans);
            println!(
                "{:>2} × {:<4} ({:>6} rays) dust {dust:.1}: {per_scan_us:>9.0} µs/scan, {:>6.2} M rays/s, {:>6.0} returns/scan, {:.1} scans/s",
                lidar.beams,
                lidar.azimuth_steps,
                warm.rays,
                rays / wall / 1e6,
                points as f64 / f64::from(scans),
                1e6 / per_scan_us,
            );
        }
    }
}
