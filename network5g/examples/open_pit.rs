//! Open-pit demo: a synthetic 150 m deep pit, four cells on the rim, 100 trucks driving
//! spiral ramps for 60 s of simulated time, each sending a 300-byte telemetry packet
//! uplink every 100 ms and receiving a 200-byte command downlink every 100 ms.
//!
//! Prints link statistics and writes the best-server SINR map as a PNG.
//!
//! ```text
//! cargo run -p network5g --example open_pit --release -- [out.png] [seed]
//! ```

use std::error::Error;
use std::fs::File;
use std::io::BufWriter;

use network5g::{
    CellSiteConfig, ColourScale, CoverageArea, Delivery, Direction, LinkEventKind, RadioConfig,
    RadioSim, TerrainProfile,
};

/// A conical pit: flat floor of radius 300 m at −150 m, walls up to the rim at 900 m,
/// flat ground beyond, and a 60 m waste dump north-east of the pit.
struct Pit;

impl TerrainProfile for Pit {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        if x.abs() > 3000.0 || y.abs() > 3000.0 {
            return None;
        }
        let r = x.hypot(y);
        let pit = if r < 300.0 {
            -150.0
        } else if r < 900.0 {
            -150.0 * (900.0 - r) / 600.0
        } else {
            0.0
        };
        let dump_r = (x - 1400.0).hypot(y - 1400.0);
        let dump = 60.0 * (1.0 - dump_r / 400.0).max(0.0);
        Some(pit + dump)
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("network5g-open-pit.png")
            .display()
            .to_string()
    });
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);

    let config = RadioConfig {
        cells: vec![
            CellSiteConfig::at(1000.0, 0.0),
            CellSiteConfig::at(-1000.0, 0.0),
            CellSiteConfig::at(0.0, 1000.0),
            CellSiteConfig::at(0.0, -1000.0),
        ],
        ..RadioConfig::default()
    };
    let mut radio = RadioSim::new(config, Pit, seed)?;
    let trucks: Vec<_> = (0..100).map(|_| radio.add_ue()).collect();

    let mut ul = Vec::new();
    let mut dl = Vec::new();
    let mut lost = [0u64; 2];
    let mut sent = [0u64; 2];
    let mut handovers = 0;
    let mut rlfs = 0;
    let step_us = 100_000;
    let mut t = 0u64;
    while t < 60_000_000 {
        for (i, &truck) in trucks.iter().enumerate() {
            // Spiral ramp: radius oscillates between 300 m (floor) and 1500 m (outside).
            let s = t as f64 * 1e-6;
            let phase = i as f64 * 0.37;
            let r = 900.0 + 600.0 * (0.02 * s + phase).sin();
            let a = 0.012 * s + phase * 2.0;
            radio.step(truck, t, r * a.cos(), r * a.sin());
            for (k, dir, bytes) in [(0, Direction::Uplink, 300), (1, Direction::Downlink, 200)] {
                sent[k] += 1;
                match radio.transmit(t + 7 * i as u64, truck, dir, bytes) {
                    Delivery::Delivered { at_us, .. } => {
                        let d = (at_us - t - 7 * i as u64) as f64 / 1000.0;
                        if k == 0 {
                            ul.push(d)
                        } else {
                            dl.push(d)
                        }
                    }
                    Delivery::Lost { .. } => lost[k] += 1,
                }
            }
        }
        for e in radio.drain_events() {
            match e.kind {
                LinkEventKind::HandoverStarted { .. } => handovers += 1,
                LinkEventKind::RadioLinkFailure { .. } => rlfs += 1,
                _ => {}
            }
        }
        t += step_us;
    }
    let pct = |v: &mut Vec<f64>, p: f64| -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!("seed {seed}: 100 trucks, 60 s, 4 rim cells");
    for (name, v, k) in [("uplink", &mut ul, 0), ("downlink", &mut dl, 1)] {
        println!(
            "{name:8}: delay p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; lost {} of {} ({:.3} %)",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0),
            lost[k],
            sent[k],
            100.0 * lost[k] as f64 / sent[k] as f64
        );
    }
    println!("handovers {handovers}, radio-link failures {rlfs}");
    let m = radio.metrics(trucks[0]).ok_or("no truck 0")?;
    println!(
        "truck 0: cell {:?}, RSRP {:.1} dBm, SINR {:.1} dB, DL {:.1} Mbit/s, UL {:.1} Mbit/s",
        m.serving_cell,
        m.rsrp_dbm,
        m.sinr_db,
        m.dl_rate_bps / 1e6,
        m.ul_rate_bps / 1e6
    );

    let map = radio.coverage_map(CoverageArea {
        x_min: -2000.0,
        y_min: -2000.0,
        x_max: 2000.0,
        y_max: 2000.0,
        spacing_m: 10.0,
    });
    println!(
        "coverage: {:.1} % of the 4 km × 4 km area at SINR ≥ −6 dB, {:.1} % at ≥ 10 dB",
        100.0 * map.fraction_at_least(-6.0),
        100.0 * map.fraction_at_least(10.0)
    );
    map.write_png(BufWriter::new(File::create(&out)?), ColourScale::default())?;
    println!("map written to {out}");
    Ok(())
}
