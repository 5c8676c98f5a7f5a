//! Mixed traffic on the default site: light vehicles and a water cart drive the roads among
//! the autonomous trucks, reporting through their fleet tablets and driving by the
//! dispatcher's grants. Checked by the independent safety monitor every step, from the
//! physics and from the permissions each side holds (not from the dispatcher's books):
//! no truck touches a manned vehicle, no truck and manned vehicle ever hold overlapping
//! road, no manned vehicle drives past its grant; the manned vehicles get somewhere, the
//! trucks keep working, and the same seed gives the same report.

use sim_world::config::TrafficConfig;
use sim_world::report::Report;
use sim_world::{NetworkChoice, SimConfig, SimWorld};
use site::{SimDuration, Site};
use std::sync::{Arc, OnceLock};

fn site() -> Arc<Site> {
    static SITE: OnceLock<Arc<Site>> = OnceLock::new();
    SITE.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
        Arc::new(site::file::load(&path).expect("default site loads"))
    })
    .clone()
}

fn config(secs: u64, seed: u64) -> SimConfig {
    SimConfig {
        trucks: 16,
        seed,
        duration: SimDuration::from_secs(secs),
        network: NetworkChoice::InMemory,
        traffic: TrafficConfig {
            light_vehicles: 4,
            water_carts: 1,
            ..TrafficConfig::default()
        },
        ..SimConfig::default()
    }
}

fn run(secs: u64, seed: u64) -> SimWorld {
    let mut w = SimWorld::new(site(), config(secs, seed)).expect("world");
    while w.now.as_secs_f64() < secs as f64 {
        w.step();
        let m = &w.safety.manned;
        assert_eq!(
            m.contacts, 0,
            "a truck touched a manned vehicle at {:?}",
            w.now
        );
        assert_eq!(
            m.claim_overlaps, 0,
            "a truck and a manned vehicle held the same road at {:?}",
            w.now
        );
    }
    w
}

#[test]
fn trucks_and_manned_vehicles_share_the_roads_without_contact_or_shared_road() {
    let w = run(400, 3);
    let r = Report::build(&w, 1.0);
    let t = r.traffic.as_ref().expect("a traffic section");
    println!("traffic: {}", serde_json::to_string(t).expect("json"));
    println!(
        "trucks: {} loads, {} t, collisions {}, violations {}",
        r.loads, r.tonnes, r.collisions, r.permission_violations
    );
    assert_eq!(t.truck_contacts, 0);
    assert_eq!(t.claim_overlaps, 0);
    assert_eq!(
        t.manned_past_grant_steps, 0,
        "a manned vehicle drove past its grant"
    );
    assert_eq!(r.collisions, 0);
    assert_eq!(r.permission_violations, 0);
    // They were among the trucks, not somewhere else.
    let closest = t.truck_closest_approach_m.expect("trucks came within 40 m");
    assert!(closest > 1.0, "closest approach {closest} m");
    // Every manned vehicle got somewhere, the slow water cart too.
    for v in &w.traffic.vehicles {
        assert!(
            v.distance_m > 300.0,
            "{:?} {:?} drove only {:.0} m",
            v.kind,
            v.id,
            v.distance_m
        );
    }
    assert_eq!(t.per_kind["light_vehicle"].count, 4);
    assert_eq!(t.per_kind["water_cart"].count, 1);
    assert!(t.routes >= 5 && t.tablet_reports >= 5 * 390, "{t:?}");
    // The trucks kept working around them.
    assert!(r.loads >= 4, "{} loads", r.loads);
}

#[test]
fn same_seed_same_mixed_traffic_report() {
    let report = |seed| {
        let mut r = Report::build(&run(120, seed), 1.0);
        r.wall_seconds = 0.0;
        r.real_time_factor = 0.0;
        serde_json::to_string(&r).expect("json")
    };
    let a = report(5);
    assert_eq!(a, report(5));
    assert_ne!(a, report(6));
}
