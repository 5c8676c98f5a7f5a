//! Runs a short shift and prints every truck's situation at the end (a debugging aid).
//! `cargo run --release -p sim-world --example inspect -- TRUCKS SECONDS`
use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(600);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = match site::file::load(&path) {
        Ok(s) => Arc::new(s),
        Err(e) => return eprintln!("{e}"),
    };
    let cfg = SimConfig {
        trucks: n,
        ..SimConfig::default()
    };
    let mut w = match SimWorld::new(site.clone(), cfg) {
        Ok(w) => w,
        Err(e) => return eprintln!("{e}"),
    };
    while w.now.as_secs_f64() < secs as f64 {
        w.step();
    }
    for t in &w.trucks {
        let s = w.physics.state(t.body);
        let v = &w.dispatcher.trucks()[&t.id];
        let lane = v.route.as_ref().map(|r| r.locate(v.progress));
        println!(
            "{} {:?} pos ({:.0},{:.0},{:.0}) v {:.2} lat {:.2} prog {:.1} granted {:.1} len {:.1} lane {:?} act thr {:.2} brk {:.2} steer {:.2} payload {:.0} perm_left {:.1}",
            t.id,
            t.brain.state(),
            s.pos[0], s.pos[1], s.pos[2],
            s.speed, s.lateral_speed,
            v.progress,
            v.granted,
            v.route.as_ref().map(|r| r.length).unwrap_or(0.0),
            lane,
            t.act.throttle, t.act.brake, t.act.steer,
            t.payload_t,
            t.brain.permission_left(),
        );
    }
}
