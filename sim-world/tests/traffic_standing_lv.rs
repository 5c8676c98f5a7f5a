//! A light vehicle standing on a haul road ahead of a moving truck, its fleet tablet off
//! (a broken-down pickup the dispatcher does not know about): only the truck's own
//! perception can keep the truck off it. The light vehicle is a manned vehicle's body in the
//! physics world (the lidar and the fleet sensor see it); perception does not take it for a
//! fleet truck, so the truck stops short of it. The test reports the minimum distance and
//! the reaction time (first detection → brake onset, and appearance → first detection).
//! Without perception the same truck drives into it, so the test fails if the trucks stop
//! yielding to what they see. Once the light vehicle drives off, the truck drives on.

use sim_world::config::PerceptionSetup;
use sim_world::dataset::Sensing;
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use sim_world::{SimConfig, SimWorld};
use site::protocol::tablet::MannedKind;
use site::Site;
use std::sync::Arc;

fn site() -> Arc<Site> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    Arc::new(site::file::load(&path).expect("default site loads"))
}

fn config(perception: bool) -> SimConfig {
    let perception = perception.then(|| {
        let cfg = PerceptionConfig {
            sensing: Sensing::Fleet,
            ..Default::default()
        };
        let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
            .expect("the committed detector loads and compiles");
        PerceptionSetup { cfg, detector }
    });
    SimConfig {
        trucks: 1,
        seed: 4,
        perception,
        ..SimConfig::default()
    }
}

fn run_until(w: &mut SimWorld, secs: f64) {
    while w.now.as_secs_f64() < secs {
        w.step();
    }
}

/// Where the lone truck will be driving once under way: a point 90 m ahead on its route,
/// the heading there, and the moment (the same seed gives the same route).
fn spot_ahead() -> ([f64; 3], f64, f64) {
    let mut w = SimWorld::new(site(), config(false)).expect("world");
    let mut t = 0.0;
    loop {
        t += 1.0;
        run_until(&mut w, t);
        let tr = &w.trucks[0];
        if w.physics.state(tr.body).speed > 7.0 {
            let r = tr.brain.route().expect("a moving truck has a route");
            let p = r.point_at(tr.brain.progress() + 90.0, &w.site.roads);
            return (p.pos, p.heading, w.now.as_secs_f64());
        }
        assert!(t < 120.0, "the truck never got going");
    }
}

#[test]
fn a_truck_stops_short_of_a_light_vehicle_standing_on_the_road_and_drives_on_once_it_is_gone() {
    let (pos, heading, t0) = spot_ahead();

    // Blind: the truck drives into the light vehicle.
    let mut blind = SimWorld::new(site(), config(false)).expect("world");
    run_until(&mut blind, t0);
    blind
        .traffic
        .add_standing(&mut blind.physics, MannedKind::LightVehicle, pos, heading);
    run_until(&mut blind, t0 + 40.0);
    assert!(
        blind.safety.manned.contacts > 0,
        "without perception the truck should have driven into the light vehicle"
    );

    // With perception.
    let mut w = SimWorld::new(site(), config(true)).expect("world");
    run_until(&mut w, t0);
    let lv = w
        .traffic
        .add_standing(&mut w.physics, MannedKind::LightVehicle, pos, heading);
    let body = w.traffic.vehicles[lv].body;
    let speed0 = w.physics.state(w.trucks[0].body).speed;
    let (mut detected, mut brake_on, mut stopped) = (None, None, None);
    let mut min_d = f64::INFINITY;
    let mut cruise_brake = 0.0;
    while w.now.as_secs_f64() < t0 + 60.0 {
        w.step();
        let now = w.now.as_secs_f64();
        let tr = &w.trucks[0];
        let p = w.perception.as_ref().expect("perception on");
        let on_lv = p.trucks[0]
            .tracker
            .confirmed()
            .any(|k| (k.x - pos[0]).hypot(k.y - pos[1]) < 4.0);
        if on_lv && detected.is_none() {
            detected = Some(now);
        }
        // Brake onset: the brake command rises above what it held the speed with before
        // (the road runs downhill here: the truck was braking lightly all along).
        if detected.is_none() {
            cruise_brake = tr.act.brake;
        } else if brake_on.is_none() && tr.act.brake > cruise_brake + 0.05 {
            brake_on = Some(now);
        }
        min_d = min_d.min(w.physics.truck_manned_distance(0, body));
        let speed = w.physics.state(tr.body).speed;
        if brake_on.is_some() && stopped.is_none() && speed.abs() < 0.05 {
            stopped = Some(now);
        }
    }
    let detected = detected.expect("the light vehicle was detected and tracked");
    let brake_on = brake_on.expect("the truck braked after detecting it");
    let stopped = stopped.expect("the truck came to a stop");
    let reaction = brake_on - detected;
    println!(
        "light vehicle 90 m ahead at {speed0:.1} m/s: detected (confirmed track) {:.2} s after \
         it appeared, brake onset {reaction:.2} s after detection ({:.2} s after it appeared), \
         stopped {:.1} s after it appeared, minimum distance {min_d:.2} m",
        detected - t0,
        brake_on - t0,
        stopped - t0
    );
    assert_eq!(
        w.safety.manned.contacts, 0,
        "the truck touched the light vehicle"
    );
    assert!(min_d > 2.0 && min_d < 40.0, "stopped {min_d:.1} m short");
    assert!((0.0..1.5).contains(&reaction), "reaction {reaction:.2} s");
    assert!(
        brake_on - t0 < 5.0,
        "braking began {:.1} s after",
        brake_on - t0
    );

    // The light vehicle drives off ahead along the truck's road (its track moves off, the
    // truck forgets it) and leaves the road 20 s later: the truck drives on.
    let progress = w.trucks[0].brain.progress();
    let route = w.trucks[0].brain.route_id();
    let path = w.trucks[0].brain.route().cloned().expect("a route");
    let (d, _) = path.project([pos[0], pos[1]], progress, progress + 60.0, &w.site.roads);
    w.traffic.drive_off(lv, path, d);
    run_until(&mut w, t0 + 80.0);
    w.traffic.remove(&mut w.physics, lv);
    run_until(&mut w, t0 + 120.0);
    let tr = &w.trucks[0];
    let moved = tr.brain.progress() - progress;
    assert!(
        moved > 60.0 || tr.brain.route_id() != route,
        "the truck did not resume: moved {moved:.1} m"
    );
    assert_eq!(w.safety.manned.contacts, 0);
    assert_eq!(w.safety.collisions + w.safety.obstacle_collisions, 0);
}
