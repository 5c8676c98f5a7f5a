//! The planning model on the NPU: the committed model, the plans it makes on typical scenes,
//! INT8 against fp16, batching, bad files and the model's reproducibility.

use npu::builder::Rng;
use npu::ir::Precision;
use site::ids::{LaneId, RouteId};
use site::route::{Route, RoutePath};
use site::SimTime;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vehicle::planner::{
    model_onnx_bytes, route_samples, straight_route, PlanError, PlanInput, PlanTrack, Planner,
    SpeedProfile,
};
use vehicle::Plan;

const LIMIT: f64 = 13.9;
const HALF_LANE: f64 = 8.5;
const TRUCK_L: f64 = 15.5;
const TRUCK_W: f64 = 9.5;

fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models/planner.onnx")
}

fn planner(precision: Precision) -> &'static Planner {
    static FP16: OnceLock<Planner> = OnceLock::new();
    static INT8: OnceLock<Planner> = OnceLock::new();
    let cell = match precision {
        Precision::Int8 => &INT8,
        _ => &FP16,
    };
    cell.get_or_init(|| match Planner::load(&model_path(), precision) {
        Ok(p) => p,
        Err(e) => panic!("the committed planner model must load: {e}"),
    })
}

fn scene(speed: f64) -> PlanInput {
    PlanInput {
        time: SimTime(1_000_000),
        route: straight_route(600.0, HALF_LANE, LIMIT),
        progress_m: 50.0,
        offset_m: 0.0,
        speed_mps: speed,
        stop_m: f64::INFINITY,
        truck_length_m: TRUCK_L,
        truck_width_m: TRUCK_W,
        tracks: Vec::new(),
    }
}

fn rock(x: f64, y: f64) -> PlanTrack {
    PlanTrack {
        x,
        y,
        vx: 0.0,
        vy: 0.0,
        length_m: 1.5,
        width_m: 1.5,
    }
}

fn plan1(p: &PlanInput) -> Plan {
    match planner(Precision::Fp16).plan_batch(std::slice::from_ref(p)) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        other => panic!("one plan expected: {other:?}"),
    }
}

fn chosen(plan: &Plan) -> &vehicle::Candidate {
    match plan.chosen_candidate() {
        Some(c) => c,
        None => panic!("no chosen candidate"),
    }
}

/// Drives the plan closed-loop: every `dt` the truck takes the chosen trajectory's state at
/// `dt` (tracks move at their velocity); `check` sees the input and the plan.
fn drive(mut p: PlanInput, secs: f64, mut check: impl FnMut(&PlanInput, &Plan)) -> PlanInput {
    let dt = 0.5;
    for _ in 0..(secs / dt) as usize {
        let plan = plan1(&p);
        check(&p, &plan);
        let at = plan
            .points
            .iter()
            .find(|q| (q.t_s - dt).abs() < 1e-9)
            .copied();
        let Some(q) = at else {
            panic!("no plan point at {dt} s")
        };
        p.progress_m = q.s_m;
        p.offset_m = q.d_m;
        p.speed_mps = q.v_mps;
        p.time = SimTime(p.time.0 + (dt * 1e6) as u64);
        for t in &mut p.tracks {
            t.x += t.vx * dt;
            t.y += t.vy * dt;
        }
    }
    p
}

#[test]
fn the_committed_model_loads_and_compiles_at_fp16_and_int8() {
    for precision in [Precision::Fp16, Precision::Int8] {
        let p = planner(precision);
        assert_eq!(p.profile.name, "ascend310");
        assert!(
            p.latency_us() > 0 && p.latency_us() < 1_000,
            "{}",
            p.latency_us()
        );
        assert!(
            p.flops() > 1_000_000 && p.flops() < 10_000_000,
            "{}",
            p.flops()
        );
        println!(
            "{precision:?}: {} FLOPs, {} µs at batch 1",
            p.flops(),
            p.latency_us()
        );
    }
}

#[test]
fn the_example_reproduces_the_committed_model_byte_for_byte() {
    let committed = match std::fs::read(model_path()) {
        Ok(b) => b,
        Err(e) => panic!("{}: {e}", model_path().display()),
    };
    let made = model_onnx_bytes().expect("model bytes");
    assert!(
        made == committed,
        "assets/models/planner.onnx differs from `cargo run -p vehicle --example make_planner` \
         ({} vs {} bytes): re-run the command and commit the file",
        made.len(),
        committed.len()
    );
}

#[test]
fn free_road_keeps_the_centre_and_reaches_the_limit() {
    let mut p = scene(12.0);
    p.offset_m = 0.3;
    let plan = plan1(&p);
    let c = chosen(&plan);
    assert_eq!(c.profile, SpeedProfile::Limit);
    assert_eq!(plan.target_offset_m, 0.0);
    assert!(!c.lethal);
    let last = plan.points.last().expect("points");
    assert!((last.v_mps - LIMIT).abs() < 1e-9, "{last:?}");
    assert!(plan.points.iter().all(|q| q.v_mps <= LIMIT + 1e-9));
    assert!(plan.target_speed_mps > 12.0);
    assert_eq!(plan.time, p.time);
    assert_eq!(plan.cost_slice0.len(), 160 * 33);
}

/// The truck's and an obstacle's footprints overlap (route frame, straight road along x).
fn overlaps(p: &PlanInput, t: &PlanTrack, along_x: bool) -> bool {
    let (ex, ey) = if along_x {
        (t.length_m / 2.0, t.width_m / 2.0)
    } else {
        (t.width_m / 2.0, t.length_m / 2.0)
    };
    (p.progress_m - t.x).abs() < TRUCK_L / 2.0 + ex && (p.offset_m - t.y).abs() < TRUCK_W / 2.0 + ey
}

#[test]
fn a_rock_near_one_edge_is_passed_on_the_free_side() {
    // The rock 50 m ahead, 5.5 m left of the centre of a 17 m lane: keeping the centre would
    // touch it (4.75 m half width + 0.75 m half rock + margin), the right side is free.
    let mut p = scene(8.0);
    p.tracks = vec![rock(100.0, 5.5)];
    let plan = plan1(&p);
    let c = chosen(&plan);
    assert!(c.offset_m < 0.0, "{:?} {}", c.profile, c.offset_m);
    assert!(!c.profile.is_stop() && !c.lethal, "{:?}", c.profile);
    assert!(plan
        .candidates
        .iter()
        .filter(|k| k.offset_m >= 0.0 && !k.profile.is_stop())
        .all(|k| k.lethal || k.stop_s_m < 100.0));
    let mut passing_offset = f64::NEG_INFINITY;
    let end = drive(p, 20.0, |p, plan| {
        assert!(!chosen(plan).lethal);
        assert!(!overlaps(p, &p.tracks[0], true), "{p:?}");
        if (p.progress_m - 100.0).abs() < TRUCK_L / 2.0 {
            passing_offset = passing_offset.max(p.offset_m);
        }
    });
    assert!(passing_offset < -0.5, "{passing_offset}");
    assert!(end.progress_m > 140.0, "{}", end.progress_m);
}

#[test]
fn a_rock_in_the_middle_of_the_lane_stops_the_truck_before_it() {
    let mut p = scene(10.0);
    p.tracks = vec![rock(130.0, 0.0)];
    let plan = plan1(&p);
    assert!(chosen(&plan).stop_s_m < 130.0 - 0.75 - TRUCK_L / 2.0);
    let end = drive(p, 40.0, |p, plan| {
        assert!(!chosen(plan).lethal);
        assert!(!overlaps(p, &p.tracks[0], true), "{p:?}");
    });
    assert!(end.speed_mps < 1e-9, "{}", end.speed_mps);
    let nose = end.progress_m + TRUCK_L / 2.0;
    assert!(nose < 130.0 - 0.75, "nose at {nose}");
    assert!(
        nose > 130.0 - 0.75 - 15.0,
        "stopped too early: nose at {nose}"
    );
}

#[test]
fn a_stop_point_ahead_stops_the_truck_before_it() {
    let mut p = scene(10.0);
    p.stop_m = 120.0;
    let plan = plan1(&p);
    let c = chosen(&plan);
    assert!(
        c.stop_s_m <= 120.0,
        "{:?} stops at {}",
        c.profile,
        c.stop_s_m
    );
    let end = drive(p, 40.0, |p, plan| {
        assert!(p.progress_m <= 120.0);
        assert!(!chosen(plan).lethal);
    });
    assert!(end.speed_mps < 1e-9);
    assert!(
        end.progress_m <= 120.0 && end.progress_m > 110.0,
        "{}",
        end.progress_m
    );
}

/// A truck standing a few metres short of its stop point (it stopped behind a truck that has
/// since left its loading spot) closes the gap and stops within a metre and a half of the
/// point, never past it. Before the creeping profile, every candidate either passed the point
/// or held speed 0, and the truck stood there for ever.
#[test]
fn a_truck_at_rest_short_of_its_stop_point_creeps_up_to_it() {
    for gap in [1.6, 1.8, 2.0, 2.5, 4.0, 6.0, 12.0] {
        let mut p = scene(0.0);
        p.stop_m = p.progress_m + gap;
        let stop = p.stop_m;
        let plan = plan1(&p);
        let c = chosen(&plan);
        assert!(!c.lethal, "gap {gap}: {:?} is lethal", c.profile);
        assert!(
            plan.points.iter().any(|q| q.v_mps > 0.1),
            "gap {gap}: the plan stands still ({:?})",
            c.profile
        );
        let end = drive(p, 40.0, |p, plan| {
            assert!(p.progress_m <= stop, "gap {gap}: past the stop point");
            assert!(!chosen(plan).lethal, "gap {gap}");
        });
        assert!(end.speed_mps < 0.05, "gap {gap}: {} m/s", end.speed_mps);
        let short = stop - end.progress_m;
        assert!(
            (0.0..=1.5).contains(&short),
            "gap {gap}: stops {short:.2} m short of the point"
        );
    }
}

#[test]
fn a_vehicle_crossing_ahead_is_yielded_to() {
    let crossing = PlanTrack {
        x: 100.0,
        y: -20.0,
        vx: 0.0,
        vy: 5.0,
        length_m: 5.0,
        width_m: 2.5,
    };
    let mut p = scene(10.0);
    let free = chosen(&plan1(&p)).profile;
    assert_eq!(free, SpeedProfile::Limit);
    p.tracks = vec![crossing];
    let plan = plan1(&p);
    let c = chosen(&plan);
    assert!(!c.lethal);
    assert!(
        !matches!(c.profile, SpeedProfile::Limit | SpeedProfile::Hold),
        "{:?}",
        c.profile
    );
    // The candidates that keep going are exactly the ones entering the crossing's cells.
    for k in plan.candidates.iter() {
        if k.profile == SpeedProfile::Limit {
            assert!(k.lethal, "{k:?}");
        }
    }
    let mut min_speed = f64::INFINITY;
    let end = drive(p, 20.0, |p, plan| {
        assert!(!chosen(plan).lethal);
        assert!(!overlaps(p, &p.tracks[0], false), "{p:?}");
        min_speed = min_speed.min(p.speed_mps);
    });
    assert!(min_speed < 8.0, "{min_speed}");
    assert!(end.progress_m > 120.0, "it goes on once the way is clear");
}

/// Seeded random scenes: speeds, offsets, rocks, moving vehicles, stop points.
fn random_scenes(seed: u64, n: usize) -> Vec<PlanInput> {
    let mut rng = Rng::new(seed);
    let mut u = |a: f64, b: f64| a + (b - a) * f64::from(rng.uniform());
    (0..n)
        .map(|_| {
            let mut p = scene(u(0.0, LIMIT));
            p.offset_m = u(-1.0, 1.0);
            if u(0.0, 1.0) < 0.4 {
                p.stop_m = p.progress_m + u(5.0, 150.0);
            }
            let rocks = (u(0.0, 4.0)) as usize;
            for _ in 0..rocks {
                p.tracks
                    .push(rock(p.progress_m + u(10.0, 150.0), u(-8.0, 8.0)));
            }
            if u(0.0, 1.0) < 0.5 {
                p.tracks.push(PlanTrack {
                    x: p.progress_m + u(20.0, 140.0),
                    y: u(-30.0, 30.0),
                    vx: u(-8.0, 8.0),
                    vy: u(-6.0, 6.0),
                    length_m: u(4.0, 16.0),
                    width_m: u(2.0, 9.5),
                });
            }
            p
        })
        .collect()
}

#[test]
fn int8_and_fp16_choose_the_same_candidate_on_random_scenes() {
    let scenes = random_scenes(7, 100);
    let a = planner(Precision::Fp16).plan_batch(&scenes).expect("fp16");
    let b = planner(Precision::Int8).plan_batch(&scenes).expect("int8");
    let same = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.chosen == y.chosen)
        .count();
    let same_lethal = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| {
            x.candidates
                .iter()
                .zip(&y.candidates)
                .all(|(p, q)| p.lethal == q.lethal)
        })
        .count();
    println!(
        "INT8 vs fp16: same candidate in {same}/100 scenes, same lethal set in {same_lethal}/100"
    );
    assert!(same >= 95, "{same}/100");
    assert_eq!(same_lethal, 100);
}

#[test]
fn a_lethal_candidate_never_wins_over_a_stopping_one() {
    for plan in planner(Precision::Fp16)
        .plan_batch(&random_scenes(11, 100))
        .expect("plans")
    {
        let c = chosen(&plan);
        if c.lethal {
            assert!(c.profile.is_stop(), "{:?}", c.profile);
            assert!(plan
                .candidates
                .iter()
                .filter(|k| k.profile.is_stop())
                .all(|k| k.lethal));
        }
        for k in &plan.candidates {
            if k.lethal && !k.profile.is_stop() {
                assert!(plan
                    .candidates
                    .iter()
                    .any(|o| !o.lethal || o.profile.is_stop()));
            }
        }
    }
}

#[test]
fn a_batch_of_64_equals_64_single_calls() {
    let scenes = random_scenes(3, 64);
    let pl = planner(Precision::Fp16);
    let batch = pl.plan_batch(&scenes).expect("batch");
    assert_eq!(batch.len(), 64);
    for (s, b) in scenes.iter().zip(&batch) {
        let one = pl.plan_batch(std::slice::from_ref(s)).expect("single");
        assert_eq!(one.len(), 1);
        assert!(&one[0] == b, "batched and single plans differ");
    }
}

#[test]
fn a_bad_model_file_fails_naming_the_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bytes = model_onnx_bytes().expect("bytes");
    let cut = dir.join("planner-truncated.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let e = Planner::load(&cut, Precision::Fp16).expect_err("truncated");
    assert!(matches!(e, PlanError::Import { .. }), "{e}");
    assert!(e.to_string().contains("planner-truncated.onnx"), "{e}");

    let missing = dir.join("no-such-planner.onnx");
    let e = Planner::load(&missing, Precision::Fp16).expect_err("missing");
    assert!(matches!(e, PlanError::Read { .. }), "{e}");
    assert!(e.to_string().contains("no-such-planner.onnx"), "{e}");

    // A real model of another shape: the detector.
    let det = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models/detector.onnx");
    let e = Planner::load(&det, Precision::Fp16).expect_err("wrong shape");
    assert!(matches!(e, PlanError::Shape { .. }), "{e}");
    assert!(e.to_string().contains("detector.onnx"), "{e}");
}

#[test]
fn bad_inputs_name_the_input() {
    let mut bad = scene(5.0);
    bad.progress_m = f64::NAN;
    let e = planner(Precision::Fp16)
        .plan_batch(&[scene(5.0), bad])
        .expect_err("NaN progress");
    assert!(e.to_string().starts_with("plan input 1: progress_m"), "{e}");
}

#[test]
fn routes_from_the_site_plan_like_the_straight_test_road() {
    let site = site::testing::slope(0.0, 3000.0);
    let lane = site.roads.lane(LaneId(0));
    let route = Route {
        id: RouteId(1),
        lanes: vec![LaneId(0)],
        start_s: 0.0,
        end_s: lane.length(),
    };
    let path = RoutePath::new(route, &site.roads).expect("route");
    let mut p = scene(8.0);
    p.progress_m = 5.0;
    p.route = route_samples(&path, &site.roads, p.progress_m);
    assert!(!p.route.is_empty());
    assert!((p.route[0].half_width_m - lane.width_m / 2.0).abs() < 1e-9);
    let plan = plan1(&p);
    let c = chosen(&plan);
    assert!(!c.lethal && !c.profile.is_stop(), "{:?}", c.profile);
}

#[test]
fn lethal_cells_stay_far_above_the_threshold_at_both_precisions() {
    let mut p = scene(5.0);
    p.stop_m = 100.0;
    p.tracks = vec![rock(80.0, 0.0)];
    for precision in [Precision::Fp16, Precision::Int8] {
        let plan = match planner(precision).plan_batch(std::slice::from_ref(&p)) {
            Ok(mut v) => v.remove(0),
            Err(e) => panic!("{e}"),
        };
        let at = |s: f64, d: f64| {
            let i = ((s - plan.grid_origin_m) / 1.0).floor() as usize;
            let j = ((d + 8.0) / 0.5).round() as usize;
            plan.cost_slice0[i * 33 + j]
        };
        let (rock_cell, beyond_stop, free) = (at(80.0, 0.0), at(110.0, 0.0), at(60.0, 0.0));
        println!("{precision:?}: rock {rock_cell}, beyond the stop {beyond_stop}, free {free}");
        assert!(rock_cell >= 100.0, "{rock_cell}");
        assert!(beyond_stop > 90.0, "{beyond_stop}");
        assert!(free.abs() < 1e-3, "{free}");
    }
}
