//! Obstacles that appear on the road ahead of a loaded truck descending a 10 % grade, with
//! the truck's own perception (the committed detector on its NPU), the planning model and the
//! supervisor in the loop, in the rapier world.
//!
//! For each case the obstacle appears `d` metres ahead of the truck's front while it descends
//! at its cruising speed. Physics sets a floor: with full brakes (and no reaction time at all)
//! the truck needs `v² / 2a` metres, `a` from the brake force less gravity on the grade. Where
//! `d` leaves room for that plus a reaction allowance, the truck must stop short with no
//! contact; where it does not even leave the floor, the truck cannot stop and the case reports
//! its impact speed (it must still have braked: lower than its speed when the rock appeared).
//! Every case prints the minimum gap, the reaction time (appearance to brake onset: the brake
//! pedal above the same truck's in the same run without the rock), when the rock became a
//! confirmed stationary obstacle in the truck's memory, and the impact speed (against the
//! impact with full brakes from the onset). After the rock is cleared from the road the
//! truck drives on and tips its load: one that stopped short stops where its sensor still
//! sees the rock, and sees it go.

use perception::{ObstacleClass, ObstacleSpec};
use sim_world::config::{PerceptionSetup, PlanningSetup};
use sim_world::obstacles::ObstacleSet;
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use sim_world::planning::{default_planner_path, load_planner, PlanningConfig};
use sim_world::{SimConfig, SimWorld};
use site::units::G;
use std::sync::{Arc, OnceLock};
use vehicle::TruckParams;

const GRADE: f64 = 0.10;

fn config() -> SimConfig {
    static SETUP: OnceLock<(PerceptionSetup, PlanningSetup)> = OnceLock::new();
    let (perception, planning) = SETUP
        .get_or_init(|| {
            let cfg = PerceptionConfig::default();
            let detector = load_detector(&default_model_path(), npu::ir::Precision::Int8, &cfg)
                .expect("the committed detector compiles");
            let planning = PlanningSetup {
                cfg: PlanningConfig::default(),
                planner: load_planner(&default_planner_path(), npu::ir::Precision::Int8)
                    .expect("the committed planner compiles"),
            };
            (PerceptionSetup { cfg, detector }, planning)
        })
        .clone();
    SimConfig {
        trucks: 1,
        seed: 3,
        perception: Some(perception),
        planning: Some(planning),
        ..SimConfig::default()
    }
}

fn world() -> SimWorld {
    let site = Arc::new(site::testing::hillside(GRADE, 600.0));
    SimWorld::new(site, config()).expect("world")
}

fn speed(w: &SimWorld) -> f64 {
    w.physics.state(w.trucks[0].body).speed
}

/// Runs until the truck is loaded, on the descent's full grade and cruising; the time.
fn until_descending_loaded(w: &mut SimWorld) -> f64 {
    loop {
        w.step();
        let tr = &w.trucks[0];
        if let Some(r) = tr.brain.route() {
            let here = r.point_at(tr.brain.progress(), &w.site.roads);
            let cruising = speed(w) > 0.9 * w.site.roads.lanes[1].speed_limit_ms;
            if tr.payload_t > 200.0 && here.grade < -0.9 * GRADE && cruising {
                return w.now.as_secs_f64();
            }
        }
        assert!(
            w.now.as_secs_f64() < 900.0,
            "the truck never descended loaded"
        );
    }
}

/// Full-brake stopping distance on the grade with no reaction time: the physics floor.
fn physics_floor(v: f64, payload_t: f64) -> f64 {
    let p = TruckParams::default();
    let m = p.mass(payload_t);
    let th = GRADE.atan();
    // brake force and rolling resistance against gravity pulling down the slope
    let a = p.brake_force_max() / m + p.rolling_resistance * G * th.cos() - G * th.sin();
    v * v / (2.0 * a)
}

struct Case {
    ahead_m: f64,
    v0: f64,
    floor_m: f64,
    min_gap_m: f64,
    reaction_s: Option<f64>,
    detected_s: Option<f64>,
    impact_ms: Option<f64>,
    resumed: bool,
    dumped: bool,
    /// (time since the rock appeared, brake pedal) while it is there.
    brake: Vec<(f64, f64)>,
}

impl Case {
    /// Brake onset: the first step the brake pedal is 5 % above the same truck's at the
    /// same step without the rock.
    fn brake_onset(&mut self, base: &[(f64, f64)]) {
        self.reaction_s = self
            .brake
            .iter()
            .zip(base)
            .find(|((_, b), (_, b0))| *b > b0 + 0.05)
            .map(|((t, _), _)| *t);
    }

    /// The impact speed with the full brake from the brake onset on (0: it stops short).
    fn ideal_impact(&self) -> f64 {
        let a = self.v0 * self.v0 / (2.0 * self.floor_m);
        let d = self.ahead_m - self.v0 * self.reaction_s.unwrap_or(0.0);
        (self.v0 * self.v0 - 2.0 * a * d.max(0.0)).max(0.0).sqrt()
    }
}

/// The truck's speed and brake over the first 30 s after `t0` with no rock: what the cases
/// compare against for the brake onset.
fn baseline() -> (f64, Vec<(f64, f64)>) {
    let mut w = world();
    let t0 = until_descending_loaded(&mut w);
    let mut trace = Vec::new();
    while w.now.as_secs_f64() < t0 + 30.0 {
        w.step();
        trace.push((speed(&w), w.trucks[0].act.brake));
    }
    (t0, trace)
}

/// One case: a rock appears `ahead_m` beyond the truck's front on the descent, is cleared
/// 25 s later; the run goes on until the truck has tipped its load (or 200 s).
fn case(ahead_m: f64) -> Case {
    let mut w = world();
    let t0 = until_descending_loaded(&mut w);
    let tr = &w.trucks[0];
    let params = tr.brain.params;
    let r = tr.brain.route().expect("a route");
    let s = tr.brain.progress() + 0.5 * params.length_m + ahead_m + 1.0;
    let p = r.point_at(s, &w.site.roads);
    let rock = ObstacleSpec {
        length: 2.0,
        width: 2.5,
        height: 1.6,
        appear_at_us: w.now.0,
        remove_at_us: Some(w.now.0 + 25_000_000),
        ..ObstacleSpec::typical(ObstacleClass::Rock, p.pos[0], p.pos[1], p.heading)
    };
    w.obstacles = ObstacleSet::new(vec![rock]).expect("a valid rock");
    let v0 = speed(&w);
    let payload = w.trucks[0].payload_t;
    let dumps0 = w.trucks[0].metrics.dumps;
    let mut out = Case {
        ahead_m,
        v0,
        floor_m: physics_floor(v0, payload),
        min_gap_m: f64::INFINITY,
        reaction_s: None,
        detected_s: None,
        impact_ms: None,
        resumed: false,
        dumped: false,
        brake: Vec::new(),
    };
    let mut last_speed = v0;
    while w.now.as_secs_f64() < t0 + 200.0 {
        w.step();
        let t = w.now.as_secs_f64() - t0;
        let st = w.physics.state(w.trucks[0].body);
        let present = t < 25.0;
        if present {
            let centre = (st.pos[0] - rock.x).hypot(st.pos[1] - rock.y);
            out.min_gap_m = out
                .min_gap_m
                .min(centre - 0.5 * params.length_m - 0.5 * rock.length);
            if out.detected_s.is_none() {
                let pc = w.perception.as_ref().expect("perception");
                if pc.trucks[0].obstacle_ahead_m.is_some() {
                    out.detected_s = Some(t);
                }
            }
            out.brake.push((t, w.trucks[0].act.brake));
            if out.impact_ms.is_none() && w.safety.obstacle_collisions > 0 {
                // the contact is resolved within the step: the truck came in at the speed
                // it had before it
                out.impact_ms = Some(last_speed);
            }
        } else if st.speed > 3.0 {
            out.resumed = true;
        }
        last_speed = st.speed;
        if w.trucks[0].metrics.dumps > dumps0 {
            out.dumped = true;
            break;
        }
    }
    assert_eq!(w.trucks[0].metrics.violations, 0, "permission violations");
    assert!(w.perception_error.is_none() && w.planning_error.is_none());
    out
}

#[test]
fn loaded_trucks_on_a_downgrade_stop_short_of_rocks_where_physics_allows() {
    // the cases and the baseline, each its own world, in parallel
    let ((t0, base), mut cases) = std::thread::scope(|sc| {
        let base = sc.spawn(baseline);
        let runs: Vec<_> = [90.0, 55.0, 40.0, 12.0]
            .into_iter()
            .map(|d| sc.spawn(move || case(d)))
            .collect();
        let cases: Vec<Case> = runs
            .into_iter()
            .map(|h| h.join().expect("a case runs"))
            .collect();
        (base.join().expect("the baseline runs"), cases)
    });
    for c in &mut cases {
        c.brake_onset(&base);
    }
    println!("the truck descends loaded, cruising, from {t0:.1} s");
    for c in &cases {
        println!(
            "rock {:>4.0} m ahead at {:.1} m/s, 290 t: physics floor {:.1} m (ideal impact {:.1} m/s); brake onset {}, in memory {}, min gap {:.1} m, impact {}, resumed {}, tipped {}",
            c.ahead_m,
            c.v0,
            c.floor_m,
            c.ideal_impact(),
            c.reaction_s.map_or("never".into(), |t| format!("{t:.2} s")),
            c.detected_s.map_or("never".into(), |t| format!("{t:.2} s")),
            c.min_gap_m,
            c.impact_ms.map_or("none".into(), |v| format!("{v:.1} m/s")),
            c.resumed,
            c.dumped,
        );
    }
    for c in &cases {
        // room for the physics floor plus 1 s of reaction at the starting speed
        let stoppable = c.ahead_m > c.floor_m + c.v0;
        if stoppable {
            assert!(c.impact_ms.is_none(), "{} m: hit the rock", c.ahead_m);
            assert!(
                c.min_gap_m > 0.0,
                "{} m: min gap {}",
                c.ahead_m,
                c.min_gap_m
            );
            assert!(c.reaction_s.is_some(), "{} m: never braked", c.ahead_m);
            assert!(c.resumed && c.dumped, "{} m: traffic resumed", c.ahead_m);
        } else if c.ahead_m < c.floor_m {
            // physics does not allow a stop: it hits, having braked as hard as physics allows
            // from its brake onset on
            let v = c.impact_ms.expect("an impact is unavoidable");
            assert!(
                v < c.v0 - 0.5,
                "{} m: impact at {v} m/s unbraked",
                c.ahead_m
            );
            assert!(
                v < c.ideal_impact() + 1.0,
                "{} m: impact at {v:.1} m/s, {:.1} m/s with full brakes from the onset",
                c.ahead_m,
                c.ideal_impact()
            );
            assert!(c.resumed && c.dumped, "{} m: traffic resumed", c.ahead_m);
        }
    }
    assert!(
        cases
            .iter()
            .filter(|c| c.ahead_m > c.floor_m + c.v0)
            .count()
            >= 2,
        "at least two stoppable cases"
    );
    assert!(
        cases.iter().any(|c| c.ahead_m < c.floor_m),
        "one that is not"
    );
}
