//! The fleet's own trucks are not obstacles to each other's perception: a truck queueing
//! behind another one sees it (a confirmed track), but keeps no stopping point on it (the
//! block permissions keep trucks apart). Without that rule a truck would hold the truck in
//! front of it in memory through the blind zone and the two would wait for each other.

use sim_world::config::PerceptionSetup;
use sim_world::dataset::Sensing;
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig, FLEET_MARGIN_M};
use sim_world::{SimConfig, SimWorld};
use site::Site;
use std::sync::Arc;

fn site() -> Arc<Site> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    Arc::new(site::file::load(&path).expect("default site loads"))
}

#[test]
fn trucks_see_each_other_but_do_not_stop_for_each_other() {
    let cfg = PerceptionConfig {
        sensing: Sensing::Fleet,
        ..Default::default()
    };
    let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
        .expect("the committed detector loads and compiles");
    let config = SimConfig {
        trucks: 6,
        seed: 4,
        perception: Some(PerceptionSetup { cfg, detector }),
        ..SimConfig::default()
    };
    let mut w = SimWorld::new(site(), config).expect("world");
    let mut tracks_on_trucks = 0usize;
    let mut next_check = 0.0;
    while w.now.as_secs_f64() < 150.0 {
        w.step();
        if w.now.as_secs_f64() < next_check {
            continue;
        }
        next_check += 0.5;
        let centres: Vec<([f64; 2], f64)> = w
            .trucks
            .iter()
            .map(|t| {
                let st = w.physics.state(t.body);
                ([st.pos[0], st.pos[1]], 0.5 * t.brain.params.length_m)
            })
            .collect();
        let p = w.perception.as_ref().expect("perception on");
        for (i, tp) in p.trucks.iter().enumerate() {
            let on_other = |x: f64, y: f64, margin: f64| {
                centres
                    .iter()
                    .enumerate()
                    .any(|(k, (c, r))| k != i && (c[0] - x).hypot(c[1] - y) < r + margin)
            };
            tracks_on_trucks += tp
                .tracker
                .confirmed()
                .filter(|tr| on_other(tr.x, tr.y, FLEET_MARGIN_M))
                .count();
            // No obstacles are placed in this world: whatever a truck remembers must not be
            // one of the fleet's trucks.
            for m in &tp.memory {
                assert!(
                    !on_other(m.x, m.y, 0.0),
                    "truck {i} at {:.0} s keeps a stopping point on another truck: {m:?}",
                    w.now.as_secs_f64()
                );
            }
        }
    }
    assert!(
        tracks_on_trucks > 0,
        "no truck ever tracked another one: the test does not exercise the rule"
    );
    let s = w.perception.as_ref().expect("perception on").summary();
    assert!(s.detections > 0, "{s:?}");
}
