//! Runs a shift over simulated QUIC and, whenever a truck's watchdog stops it, prints the
//! last seconds of that truck's link (serving cell, SINR, RTT, connection) — a debugging aid
//! for radio trouble. `cargo run --release -p sim-world --example linkwatch -- TRUCKS SECONDS SEED`
use sim_world::{NetworkChoice, SimConfig, SimWorld};
use std::collections::VecDeque;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(600.0);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = match site::file::load(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => return eprintln!("{e}"),
    };
    let cfg = SimConfig {
        trucks: n,
        seed,
        network: NetworkChoice::QuicRadio,
        ..SimConfig::default()
    };
    let mut w = match SimWorld::new(site, cfg) {
        Ok(w) => w,
        Err(e) => return eprintln!("{e}"),
    };
    let mut stops = vec![0u64; n];
    let mut history: Vec<VecDeque<String>> = vec![VecDeque::new(); n];
    let mut k = 0u64;
    while w.now.as_secs_f64() < secs {
        w.step();
        k += 1;
        if k.is_multiple_of(5) {
            for r in w.transport.link_report() {
                let h = &mut history[r.truck as usize];
                h.push_back(format!(
                    "{:.1}s cell {:?} sinr {:.1} rtt {:?} conn {} lost {}/{} ho {} rlf {}",
                    w.now.as_secs_f64(),
                    r.serving_cell,
                    r.sinr_db.unwrap_or(f64::NAN),
                    r.rtt_ms.map(|v| (v * 10.0).round() / 10.0),
                    r.connected,
                    r.packets_lost,
                    r.packets,
                    r.handovers,
                    r.radio_link_failures
                ));
                if h.len() > 30 {
                    h.pop_front();
                }
            }
        }
        for (i, t) in w.trucks.iter().enumerate() {
            if t.brain.stats.watchdog_stops > stops[i] {
                stops[i] = t.brain.stats.watchdog_stops;
                let p = w.physics.state(t.body).pos;
                println!(
                    "t={:.2}s truck {i} watchdog stop at ({:.0}, {:.0}, {:.0}) state {:?}",
                    w.now.as_secs_f64(),
                    p[0],
                    p[1],
                    p[2],
                    t.brain.state()
                );
                for line in &history[i] {
                    println!("    {line}");
                }
            }
        }
        for e in w.transport.drain_link_events() {
            println!("link event {e:?}");
        }
    }
}
