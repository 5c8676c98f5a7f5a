//! Same scenario + same seed ⇒ identical report (but for the wall clock); another seed differs.

use sim_world::app::{make_app, step, world};
use sim_world::report::Report;
use sim_world::{SimConfig, SimWorld};
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

fn run(seed: u64) -> Report {
    let cfg = SimConfig {
        trucks: 12,
        seed,
        duration: SimDuration::from_secs(150),
        ..SimConfig::default()
    };
    let mut app = make_app(SimWorld::new(site(), cfg).expect("world"));
    while world(&app).now.as_secs_f64() < 150.0 {
        step(&mut app);
    }
    let mut r = Report::build(world(&app), 1.0);
    r.wall_seconds = 0.0;
    r.real_time_factor = 0.0;
    r
}

#[test]
fn same_seed_same_report_other_seed_other_report() {
    let a = run(7);
    let b = run(7);
    let c = run(8);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert!(
        a.dispatcher_events > 20,
        "too little happened: {} events",
        a.dispatcher_events
    );
    assert_ne!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&c).unwrap()
    );
}

#[test]
fn bevy_entities_follow_their_trucks() {
    use sim_world::app::TruckPose;
    let cfg = SimConfig {
        trucks: 3,
        seed: 1,
        ..SimConfig::default()
    };
    let mut app = make_app(SimWorld::new(site(), cfg).expect("world"));
    for _ in 0..100 {
        step(&mut app);
    }
    let mut q = app.world_mut().query::<&TruckPose>();
    let poses: Vec<TruckPose> = q.iter(app.world()).copied().collect();
    assert_eq!(poses.len(), 3);
    for p in poses {
        assert!(p.pos[0] != 0.0 || p.pos[1] != 0.0);
    }
}

/// Perception runs its sweeps and the detector's batches on the host's threads: the report
/// must not depend on how many there are.
#[test]
fn perception_does_not_depend_on_the_thread_count() {
    use sim_world::config::PerceptionSetup;
    use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| {
            let cfg = PerceptionConfig::default();
            let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
                .expect("the committed detector loads");
            let cfg = SimConfig {
                trucks: 4,
                seed: 5,
                obstacles: vec![perception::ObstacleSpec::typical(
                    perception::ObstacleClass::Rock,
                    0.0,
                    0.0,
                    0.0,
                )],
                perception: Some(PerceptionSetup { cfg, detector }),
                ..SimConfig::default()
            };
            let mut w = SimWorld::new(site(), cfg).expect("world");
            while w.now.as_secs_f64() < 6.0 {
                w.step();
            }
            let mut r = Report::build(&w, 1.0);
            r.wall_seconds = 0.0;
            r.real_time_factor = 0.0;
            serde_json::to_string(&r).expect("json")
        })
    };
    let (one, three) = (run(1), run(3));
    let r: serde_json::Value = serde_json::from_str(&one).expect("json");
    let inferences = r["perception"]["inferences"].as_u64().unwrap_or(0);
    assert!(inferences > 100, "{inferences} inferences");
    assert_eq!(one, three);
}
