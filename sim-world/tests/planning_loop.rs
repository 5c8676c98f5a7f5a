//! The planning model in the loop with the real physics: a truck that plans around what it
//! perceives stops short of a rock on its road, and a planner that stops delivering (an NPU
//! stall) makes the supervisor bring the truck to a controlled stop.

use perception::{ObstacleClass, ObstacleSpec};
use sim_world::config::{PerceptionSetup, PlanningSetup};
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use sim_world::planning::{default_planner_path, load_planner, PlanningConfig};
use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;

fn config(obstacles: Vec<ObstacleSpec>, planning: bool) -> SimConfig {
    let cfg = PerceptionConfig::default();
    let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
        .expect("the committed detector compiles");
    let planning = planning.then(|| PlanningSetup {
        cfg: PlanningConfig::default(),
        planner: load_planner(&default_planner_path(), npu::ir::Precision::Int8)
            .expect("the committed planner compiles"),
    });
    SimConfig {
        trucks: 1,
        seed: 4,
        obstacles,
        perception: Some(PerceptionSetup { cfg, detector }),
        planning,
        ..SimConfig::default()
    }
}

fn world(cfg: SimConfig) -> SimWorld {
    let site = Arc::new(site::default_site::load().expect("default site"));
    SimWorld::new(site, cfg).expect("world")
}

fn run_until(w: &mut SimWorld, secs: f64) {
    while w.now.as_secs_f64() < secs {
        w.step();
    }
}

/// Runs until the truck drives faster than 3 m/s; its time.
fn until_moving(w: &mut SimWorld) -> f64 {
    loop {
        let t = w.now.as_secs_f64() + 0.5;
        run_until(w, t);
        if w.physics.state(w.trucks[0].body).speed > 3.0 {
            return t;
        }
        assert!(t < 120.0, "the truck never got going");
    }
}

#[test]
fn a_planning_truck_stops_short_of_a_rock_it_perceived() {
    let mut w = world(config(Vec::new(), true));
    let t0 = until_moving(&mut w);
    let tr = &w.trucks[0];
    let r = tr.brain.route().expect("a route");
    let p = r.point_at(tr.brain.progress() + 90.0, &w.site.roads);
    let mut rock = ObstacleSpec::typical(ObstacleClass::Rock, p.pos[0], p.pos[1], 0.4);
    rock.length = 2.0;
    rock.width = 1.8;
    rock.height = 1.5;
    rock.appear_at_us = w.now.0;

    let mut w = world(config(vec![rock], true));
    run_until(&mut w, t0 + 60.0);
    let st = w.physics.state(w.trucks[0].body);
    let pl = w.planning.as_ref().expect("planning");
    println!(
        "planning truck: {} plans, {} stopping, speed {:.2} m/s, {:.1} m from the rock, obstacle contacts {}",
        pl.trucks[0].stats.plans,
        pl.trucks[0].stats.stop_plans,
        st.speed,
        (st.pos[0] - rock.x).hypot(st.pos[1] - rock.y),
        w.safety.obstacle_collisions
    );
    assert_eq!(w.safety.obstacle_collisions, 0, "it stopped short");
    assert!(st.speed.abs() < 0.3, "it stands: {} m/s", st.speed);
    assert!(pl.trucks[0].stats.plans > 100);
    assert!(
        pl.trucks[0].stats.stop_plans > 0,
        "the planner chose to stop"
    );
    assert!(w.planning_error.is_none() && w.perception_error.is_none());
}

#[test]
fn a_planner_that_stops_delivering_stops_the_truck_in_a_controlled_way() {
    let mut w = world(config(Vec::new(), true));
    let t0 = until_moving(&mut w);
    run_until(&mut w, t0 + 5.0);
    let v0 = w.physics.state(w.trucks[0].body).speed;
    assert!(v0 > 3.0, "driving on plans: {v0} m/s");
    // The NPU stalls: no more plans reach the truck.
    w.planning_error = Some("injected NPU stall".into());
    let stalled = w.now.as_secs_f64();
    let mut max_decel = 0.0f64;
    let mut last = v0;
    while w.now.as_secs_f64() < stalled + 30.0 {
        w.step();
        let v = w.physics.state(w.trucks[0].body).speed;
        if v > 1.0 {
            // (below 1 m/s the truck is being held, brakes on)
            max_decel = max_decel.max((last - v) / w.physics.dt);
        }
        last = v;
    }
    let log = w.trucks[0].brain.supervisor_log();
    assert!(
        log.iter()
            .any(|e| e.reason == vehicle::Reason::PlanStale && e.at.as_secs_f64() >= stalled),
        "the supervisor saw the plans go stale: {log:?}"
    );
    assert!(last.abs() < 0.3, "stopped: {last} m/s");
    // controlled: the service brake, not the emergency full brake (about 0.25 g at most)
    assert!(
        max_decel < 0.3 * 9.81,
        "max deceleration {max_decel:.2} m/s²"
    );
    assert_eq!(w.trucks[0].metrics.violations, 0);
    println!(
        "stall at {stalled:.1} s from {v0:.1} m/s: stopped, max deceleration {max_decel:.2} m/s²"
    );
}
