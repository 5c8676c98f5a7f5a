//! A truck stops short of a rock that its own perception detected: the rock is seen by the
//! lidar, found by the committed detector compiled for the truck's NPU, tracked, and the
//! track becomes a stopping point of the speed planner. Without perception the same truck
//! drives into the rock, so the test would catch a perception that does not act.

use perception::{ObstacleClass, ObstacleSpec};
use sim_world::config::PerceptionSetup;
use sim_world::dataset::Sensing;
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use sim_world::{SimConfig, SimWorld};
use site::Site;
use std::sync::Arc;

fn site() -> Arc<Site> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    Arc::new(site::file::load(&path).expect("default site loads"))
}

fn config(obstacles: Vec<ObstacleSpec>, perception: Option<Sensing>) -> SimConfig {
    let perception = perception.map(|sensing| {
        let cfg = PerceptionConfig {
            sensing,
            ..Default::default()
        };
        let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
            .expect("the committed detector loads and compiles");
        PerceptionSetup { cfg, detector }
    });
    SimConfig {
        trucks: 1,
        seed: 4,
        obstacles,
        perception,
        ..SimConfig::default()
    }
}

fn run_until(w: &mut SimWorld, secs: f64) {
    while w.now.as_secs_f64() < secs {
        w.step();
    }
}

/// Where the lone truck will be driving: a point 60 m ahead of it on its route, once it is
/// under way (the same seed gives the same route).
fn rock_ahead() -> ObstacleSpec {
    let mut w = SimWorld::new(site(), config(Vec::new(), None)).expect("world");
    let mut t = 0.0;
    loop {
        t += 1.0;
        run_until(&mut w, t);
        let tr = &w.trucks[0];
        let st = w.physics.state(tr.body);
        if st.speed > 3.0 {
            let r = tr.brain.route().expect("a moving truck has a route");
            let p = r.point_at(tr.brain.progress() + 90.0, &w.site.roads);
            let mut o = ObstacleSpec::typical(ObstacleClass::Rock, p.pos[0], p.pos[1], 0.4);
            o.length = 2.0;
            o.width = 1.8;
            o.height = 1.5;
            // It falls there once the truck is close.
            o.appear_at_us = w.now.0;
            return o;
        }
        assert!(t < 120.0, "the truck never got going");
    }
}

#[test]
fn a_truck_stops_short_of_a_rock_it_detected_and_hits_it_without_perception() {
    let rock = rock_ahead();
    let end = rock.appear_at_us as f64 / 1e6 + 60.0;

    let mut blind = SimWorld::new(site(), config(vec![rock], None)).expect("world");
    run_until(&mut blind, end);
    assert!(
        blind.safety.obstacle_collisions > 0,
        "without perception the truck should have driven into the rock"
    );

    let mut w = SimWorld::new(site(), config(vec![rock], Some(Sensing::Fleet))).expect("world");
    run_until(&mut w, end);
    assert_eq!(w.safety.obstacle_collisions, 0, "it touched the rock");
    let t = &w.trucks[0];
    let st = w.physics.state(t.body);
    assert!(st.speed.abs() < 0.2, "still moving at {} m/s", st.speed);
    let gap = (st.pos[0] - rock.x).hypot(st.pos[1] - rock.y);
    let half_len = 0.5 * t.brain.params.length_m;
    assert!(
        gap > half_len + 1.0 && gap < half_len + 25.0,
        "stopped {gap:.1} m from the rock's centre"
    );
    assert!(
        t.brain.obstacle_ahead().is_some(),
        "the stop is perception's"
    );
    let p = w.perception.as_ref().expect("perception on");
    let s = p.summary();
    assert!(s.inferences > 0 && s.detections > 0, "{s:?}");
    assert!(s.latency_us.mean > 0.0, "inference takes simulated time");
    // Close in front, the rock is below the lowest beam: the truck keeps it in memory.
    let held = p.trucks[0]
        .memory
        .iter()
        .any(|m| (m.x - rock.x).hypot(m.y - rock.y) < 2.0);
    assert!(held, "the rock is remembered: {:?}", p.trucks[0].memory);
}
