//! Labelled detector samples from the simulator (`minesim dataset`).
//!
//! For each seed a world runs with a fleet on the site; after a warm-up that spreads the
//! trucks over the roads, at fixed intervals some trucks (drawn from [`Stream::Dataset`]) take
//! a sweep. Around each chosen truck a few obstacles are placed for that sweep only (rocks
//! 0.5–3 m, light vehicles, people, stalled trucks; most on the truck's road ahead, the rest
//! anywhere in its grid); the other trucks and the loaders are in the scene as they stand.
//! The sweep is taken at a dust level from the given list (in turn) and at each requested
//! sensing level, rasterised into the BEV grid, and labelled with every object whose centre
//! lies in the grid (with the returns that fell on it).
//!
//! Output: `bev.npy` (`f32 [N, C, H, W]`) and `labels.jsonl` (one [`Sample`] per line, in the
//! same order).

use crate::config::SimConfig;
use crate::error::SimError;
use crate::scene::Scene;
use crate::world::SimWorld;
use perception::fleet_bev::GroundPattern;
use perception::fleet_sensor::{HitTag, SensorPose};
use perception::{BevSpec, GroundTruth, LidarConfig, ObstacleSpec};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use site::seed::Stream;
use site::{SimDuration, Site};
use std::sync::Arc;

pub use crate::config::Sensing;

/// What to generate.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub seeds: Vec<u64>,
    pub trucks: usize,
    pub samples_per_seed: usize,
    pub warmup: SimDuration,
    pub interval: SimDuration,
    pub trucks_per_moment: usize,
    pub dust_levels: Vec<f64>,
    pub sensing: Vec<Sensing>,
    pub lidar: LidarConfig,
    pub bev: BevSpec,
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec {
            seeds: (1..=40).collect(),
            trucks: 20,
            samples_per_seed: 40,
            warmup: SimDuration::from_secs(40),
            interval: SimDuration::from_secs(3),
            trucks_per_moment: 4,
            dust_levels: vec![0.0, 0.0, 0.25, 0.5, 0.8],
            sensing: vec![Sensing::Fleet],
            lidar: LidarConfig::default(),
            bev: BevSpec::default(),
        }
    }
}

/// One labelled sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub seed: u64,
    pub truck: u32,
    pub t_us: u64,
    pub sensing: Sensing,
    pub dust: f64,
    pub objects: Vec<GroundTruth>,
}

pub use crate::scene::random_obstacle;

/// Returns on each box of a point sweep, from its hit tags.
pub fn box_counts(boxes: usize, tags: &[HitTag]) -> Vec<u32> {
    let mut counts = vec![0u32; boxes];
    for t in tags {
        if let HitTag::Box(k) = t {
            if let Some(c) = counts.get_mut(*k as usize) {
                *c += 1;
            }
        }
    }
    counts
}

/// Labels of a sweep: every box of `scene` whose centre lies in the grid, in the truck frame,
/// with the returns it got (`counts`, per box).
pub fn labels(scene: &Scene, pose: &SensorPose, bev: &BevSpec, counts: &[u32]) -> Vec<GroundTruth> {
    let (c, s) = (pose.heading.cos(), pose.heading.sin());
    scene
        .boxes
        .iter()
        .enumerate()
        .filter_map(|(k, b)| {
            let (dx, dy) = (b.x - pose.x, b.y - pose.y);
            let (x, y) = (dx * c + dy * s, -dx * s + dy * c);
            bev.cell_of(x as f32, y as f32)?;
            Some(GroundTruth {
                class: scene.classes[k],
                x: x as f32,
                y: y as f32,
                length: b.length as f32,
                width: b.width as f32,
                height: b.height as f32,
                yaw: site::road::wrap_angle(b.yaw - pose.heading) as f32,
                points: counts.get(k).copied().unwrap_or(0),
            })
        })
        .collect()
}

/// A sweep of one truck at one sensing level, over the scene without the truck itself: the
/// pose, the BEV grid and the returns on each box of `scene`. The fleet level is what the
/// trucks run ([`perception::fleet_bev`]); the ray-cast level goes through rapier.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    world: &SimWorld,
    truck: usize,
    scene: &Scene,
    sensing: Sensing,
    lidar: &LidarConfig,
    pattern: &GroundPattern,
    dust: f64,
    rng: &mut ChaCha8Rng,
) -> (SensorPose, Vec<f32>, Vec<u32>) {
    let st = world.physics.state(world.trucks[truck].body);
    let pose = SensorPose {
        x: st.pos[0],
        y: st.pos[1],
        heading: st.heading,
    };
    let t_us = world.now.0;
    match sensing {
        Sensing::Fleet => {
            let s = perception::fleet_bev::sweep(pattern, &pose, &scene.boxes, None, dust, rng);
            (pose, s.grid, s.box_points)
        }
        Sensing::Raycast => {
            let body = world.trucks[truck].body;
            let (scan, hits) =
                crate::lidar::cast_scan(&world.physics, &world.site, body, lidar, dust, rng, t_us);
            let tags: Vec<HitTag> = hits
                .iter()
                .zip(&scan.points)
                .map(|(h, p)| scene.tag_of(*h, &pose, p))
                .collect();
            let grid = perception::bev::rasterise(&pattern.spec, &scan.points);
            (pose, grid, box_counts(scene.boxes.len(), &tags))
        }
    }
}

/// Totals of a generated set.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DatasetSummary {
    pub samples: usize,
    pub objects: usize,
    pub visible_objects: usize,
    pub by_class: [usize; 4],
}

/// Generates the set; `out` receives each sample's grid and labels in order.
pub fn generate(
    site: Arc<Site>,
    spec: &DatasetSpec,
    mut out: impl FnMut(&[f32], &Sample) -> Result<(), SimError>,
) -> Result<DatasetSummary, SimError> {
    spec.lidar.validate().map_err(SimError::Config)?;
    let mut sum = DatasetSummary::default();
    let pattern = GroundPattern::new(&spec.lidar, &spec.bev);
    for &seed in &spec.seeds {
        let cfg = SimConfig {
            trucks: spec.trucks,
            seed,
            ..Default::default()
        };
        let mut world = SimWorld::new(site.clone(), cfg)?;
        let mut rng = site::seed::rng(seed, Stream::Dataset, 0);
        let warm = world.now + spec.warmup;
        while world.now < warm {
            world.step();
        }
        let mut taken = 0usize;
        let mut k = 0usize;
        while taken < spec.samples_per_seed {
            let next = world.now + spec.interval;
            while world.now < next {
                world.step();
            }
            // The moment's scene: the fleet as it stands, plus obstacles around each chosen
            // truck (every chosen truck sees all of them).
            let mut scene = Scene::of_world(&site, &world.physics, std::iter::empty());
            let n = spec
                .trucks_per_moment
                .min(spec.trucks)
                .min(spec.samples_per_seed - taken);
            let mut chosen = Vec::with_capacity(n);
            let mut obstacles = Vec::new();
            for _ in 0..n {
                let truck = rng.random_range(0..spec.trucks);
                if chosen.contains(&truck) {
                    continue;
                }
                chosen.push(truck);
                place_obstacles(&world, truck, &mut scene, &mut obstacles, &mut rng);
            }
            let raycast = spec.sensing.contains(&Sensing::Raycast);
            let mut handles = Vec::new();
            if raycast {
                for (id, o) in obstacles.iter().enumerate() {
                    handles.push(world.physics.add_obstacle_with_id(&site, o, id));
                }
            }
            for &truck in &chosen {
                let own = scene.without_truck(truck);
                let dust = spec
                    .dust_levels
                    .get(k % spec.dust_levels.len().max(1))
                    .copied();
                let dust = dust.unwrap_or(0.0);
                k += 1;
                for &sensing in &spec.sensing {
                    let (pose, grid, counts) = sweep(
                        &world,
                        truck,
                        &own,
                        sensing,
                        &spec.lidar,
                        &pattern,
                        dust,
                        &mut rng,
                    );
                    let objects = labels(&own, &pose, &spec.bev, &counts);
                    sum.samples += 1;
                    sum.objects += objects.len();
                    for o in &objects {
                        if o.points >= 2 {
                            sum.visible_objects += 1;
                        }
                        sum.by_class[o.class.index()] += 1;
                    }
                    let sample = Sample {
                        seed,
                        truck: truck as u32,
                        t_us: world.now.0,
                        sensing,
                        dust,
                        objects,
                    };
                    out(&grid, &sample)?;
                }
                taken += 1;
            }
            // The obstacles were there for the sweeps only; gone before the next step.
            for h in handles {
                world.physics.remove_obstacle(h);
            }
        }
    }
    Ok(sum)
}

/// Puts 0–5 obstacles around `truck`: most on its road ahead (within ±6 m of the driving
/// line, 6–70 m on), the rest anywhere 5–60 m away; none overlapping another box.
fn place_obstacles(
    world: &SimWorld,
    truck: usize,
    scene: &mut Scene,
    obstacles: &mut Vec<ObstacleSpec>,
    rng: &mut ChaCha8Rng,
) {
    let t = &world.trucks[truck];
    let st = world.physics.state(t.body);
    let n = rng.random_range(0..=5usize);
    let mut placed = 0;
    for _ in 0..n * 4 {
        if placed == n {
            break;
        }
        let on_road = rng.random_range(0.0..1.0) < 0.65;
        let (x, y) = match (on_road, t.brain.route()) {
            (true, Some(r)) => {
                let d = t.brain.progress() + rng.random_range(6.0..70.0);
                let p = r.point_at(d, &world.site.roads);
                let off = rng.random_range(-6.0..6.0);
                let (s, c) = p.heading.sin_cos();
                (p.pos[0] - s * off, p.pos[1] + c * off)
            }
            _ => {
                let a = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
                let r = rng.random_range(5.0..60.0);
                (
                    st.pos[0] + r * (st.heading + a).cos(),
                    st.pos[1] + r * (st.heading + a).sin(),
                )
            }
        };
        let o = random_obstacle(rng, x, y);
        let r_new = 0.5 * o.length.hypot(o.width);
        let me = ((x - st.pos[0]).hypot(y - st.pos[1])) < r_new + 10.0;
        let clash = scene
            .boxes
            .iter()
            .any(|b| (b.x - x).hypot(b.y - y) < r_new + 0.5 * b.length.hypot(b.width) + 0.5);
        if me || clash {
            continue;
        }
        scene.push(
            perception::fleet_sensor::SceneBox::from(&o),
            crate::scene::Owner::Obstacle(obstacles.len()),
            o.class,
        );
        obstacles.push(o);
        placed += 1;
    }
}

/// Detector figures on a labelled set, per sensing level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelFigures {
    pub sensing: Sensing,
    pub frames: u64,
    /// Clear air (dust 0): the acceptance figure.
    pub clear: perception::eval::BinFigures,
    /// Every dust level.
    pub all: perception::eval::BinFigures,
    /// Clear air, by the object's range.
    pub clear_by_range: Vec<perception::eval::BinFigures>,
    /// Every frame, by the dust level.
    pub by_dust: Vec<perception::eval::BinFigures>,
}

/// Runs `detector` over `grids` (one per sample) and scores it against the labels.
pub fn evaluate(
    detector: &perception::detector::Detector,
    grids: &[&[f32]],
    samples: &[Sample],
) -> Result<Vec<LevelFigures>, perception::detector::DetectorError> {
    use perception::eval::EvalSet;
    let dets = detector.infer(grids)?;
    let mut out = Vec::new();
    for level in [Sensing::Fleet, Sensing::Raycast] {
        let mut all = EvalSet::default();
        let mut clear = EvalSet::default();
        for (d, s) in dets.iter().zip(samples) {
            if s.sensing != level {
                continue;
            }
            all.add_frame(d, &s.objects, s.dust);
            if s.dust == 0.0 {
                clear.add_frame(d, &s.objects, s.dust);
            }
        }
        if all.frames() == 0 {
            continue;
        }
        out.push(LevelFigures {
            sensing: level,
            frames: all.frames(),
            clear: clear.overall(),
            all: all.overall(),
            clear_by_range: clear.by_range(),
            by_dust: all.by_dust(),
        });
    }
    Ok(out)
}

/// Reads a set written by `minesim dataset`; errors name the file and the reason.
pub fn read_set(dir: &std::path::Path) -> Result<(Vec<f32>, Vec<Sample>, BevSpec), SimError> {
    let bev = BevSpec::default();
    let npy = dir.join("bev.npy");
    let bytes = std::fs::read(&npy)
        .map_err(|e| SimError::Config(format!("{}: cannot read: {e}", npy.display())))?;
    let t = npu::npy::read_npy(&bytes)
        .map_err(|e| SimError::Config(format!("{}: {e}", npy.display())))?;
    let shape = t.shape().to_vec();
    if shape.len() != 4 || shape[1..] != bev.shape() {
        return Err(SimError::Config(format!(
            "{}: grids must be [N, {:?}], found {shape:?}",
            npy.display(),
            bev.shape()
        )));
    }
    let grids: Vec<f32> = t
        .as_f32("bev")
        .map_err(|e| SimError::Config(format!("{}: {e}", npy.display())))?
        .iter()
        .copied()
        .collect();
    let lp = dir.join("labels.jsonl");
    let text = std::fs::read_to_string(&lp)
        .map_err(|e| SimError::Config(format!("{}: cannot read: {e}", lp.display())))?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let s: Sample = serde_json::from_str(line)
            .map_err(|e| SimError::Config(format!("{}:{}: {e}", lp.display(), i + 1)))?;
        samples.push(s);
    }
    if samples.len() != shape[0] {
        return Err(SimError::Config(format!(
            "{}: {} labels for {} grids in bev.npy",
            lp.display(),
            samples.len(),
            shape[0]
        )));
    }
    Ok((grids, samples, bev))
}

/// A markdown table of [`LevelFigures`] (one block per level).
pub fn figures_table(levels: &[LevelFigures]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let pct = |v: f64| {
        if v.is_nan() {
            "–".to_string()
        } else {
            format!("{:.3}", v)
        }
    };
    for l in levels {
        let _ = writeln!(
            s,
            "{} sensing, {} frames: clear air recall {} precision {} (all dust: {} / {})\n",
            l.sensing.name(),
            l.frames,
            pct(l.clear.recall),
            pct(l.clear.precision),
            pct(l.all.recall),
            pct(l.all.precision)
        );
        let _ = writeln!(
            s,
            "| bin | objects | hits | false alarms | recall | precision |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        let rows = l
            .clear_by_range
            .iter()
            .filter(|b| b.tp + b.fn_ + b.fp > 0)
            .map(|b| (format!("clear air, {}", b.label), b))
            .chain(l.by_dust.iter().map(|b| (format!("dust {}", b.label), b)));
        for (label, b) in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                label,
                b.tp + b.fn_,
                b.tp,
                b.fp,
                pct(b.recall),
                pct(b.precision)
            );
        }
        let _ = writeln!(s);
    }
    s
}
