//! `--screenshot`: the world was simulated headlessly up to `--at` before the window opened;
//! here the clock stays paused, the camera and overlays are set from the command line, a
//! number of frames render (pipelines compile, shadows settle; their mean frame time is
//! printed), then one PNG is saved with a JSON sidecar (`FILE.json`: where each truck projects
//! on the picture, the frame time, what the selected truck perceives) for the tests, and the
//! app exits.

use super::camera::{Selection, ViewCamera};
use super::trucks::TRUCK_YELLOW;
use super::{ShotOptions, ViewerSystems};
use crate::app::{TruckTag, World as SimRes};
use bevy::prelude::*;
use bevy::render::view::screenshot::{save_to_disk, Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;

/// Frames rendered before the frame-time window opens.
const WARMUP_FRAMES: u32 = 15;
/// The frame at which the picture is taken.
const CAPTURE_FRAME: u32 = 60;
/// Give up after this many frames without a saved picture.
const GIVE_UP_FRAME: u32 = 600;

/// The screenshot in progress.
#[derive(Resource, Debug)]
pub struct ShotPlan {
    pub opts: ShotOptions,
    frame: u32,
    frame_ms: Vec<f64>,
    saved: bool,
    saved_frame: u32,
}

impl ShotPlan {
    pub fn new(opts: ShotOptions) -> ShotPlan {
        ShotPlan {
            opts,
            frame: 0,
            frame_ms: Vec::new(),
            saved: false,
            saved_frame: 0,
        }
    }
}

/// The sidecar written next to the PNG.
#[derive(serde::Serialize)]
struct Sidecar {
    width: u32,
    height: u32,
    sim_time_s: f64,
    trucks: usize,
    frame_ms_mean: f64,
    frames_measured: usize,
    truck_rgb: [u8; 3],
    /// Truck centres (a few metres above the ground) that project inside the picture, px.
    projected: Vec<[f32; 2]>,
    selected: Option<u32>,
    overlays: Vec<&'static str>,
    /// The selected truck's perception at the picture, when perception is on.
    perception: Option<ShotPerception>,
    /// The selected truck's plan and supervisor at the picture, when planning is on.
    planning: Option<ShotPlanning>,
}

/// The selected truck's plan (the one it follows) and supervisor when the picture was taken.
#[derive(serde::Serialize)]
struct ShotPlanning {
    plans: u64,
    /// Age of the latest plan, s; `None` before the first.
    plan_age_s: Option<f64>,
    candidates: usize,
    lethal: usize,
    chosen_profile: Option<&'static str>,
    chosen_offset_m: Option<f64>,
    /// Cells of slice 0 of the cost volume the costs overlay draws.
    cost_cells: usize,
    speed_mps: f64,
    supervisor_level: String,
    supervisor_reason: Option<&'static str>,
}

fn shot_planning(w: &crate::SimWorld, sel: Option<u32>) -> Option<ShotPlanning> {
    let i = sel? as usize;
    let p = w.planning.as_ref()?.trucks.get(i)?;
    let t = w.trucks.get(i)?;
    let latest = p.latest.as_ref();
    let v = t.brain.verdict();
    Some(ShotPlanning {
        plans: p.stats.plans,
        plan_age_s: latest.map(|l| w.now.0.saturating_sub(l.time.0) as f64 / 1e6),
        candidates: latest.map_or(0, |l| l.candidates.len()),
        lethal: latest.map_or(0, |l| l.candidates.iter().filter(|c| c.lethal).count()),
        chosen_profile: latest.and_then(|l| l.chosen_candidate().map(|c| c.profile.name())),
        chosen_offset_m: latest.map(|l| l.target_offset_m),
        cost_cells: latest.map_or(0, |l| {
            l.cost_slice0
                .iter()
                .filter(|c| super::plan::cost_colour(**c).is_some())
                .count()
        }),
        speed_mps: w.physics.state(t.body).speed,
        supervisor_level: format!("{:?}", v.level).to_lowercase(),
        supervisor_reason: v.reason.map(|r| r.name()),
    })
}

/// What the selected truck perceived when the picture was taken.
#[derive(serde::Serialize)]
struct ShotPerception {
    watched: bool,
    points: usize,
    detections: usize,
    tracks: usize,
    confirmed_tracks: usize,
    obstacle_ahead_m: Option<f64>,
    obstacles_in_world: usize,
}

fn shot_perception(w: &crate::SimWorld, sel: Option<u32>) -> Option<ShotPerception> {
    let per = w.perception.as_ref()?;
    let i = sel? as usize;
    let p = per.trucks.get(i)?;
    Some(ShotPerception {
        watched: per.watch == Some(i),
        points: p.last_points.len(),
        detections: p.last_detections.len(),
        tracks: p.tracker.tracks().len(),
        confirmed_tracks: p.tracker.confirmed().count(),
        obstacle_ahead_m: p.obstacle_ahead_m,
        obstacles_in_world: w.obstacles.active().count(),
    })
}

#[allow(clippy::too_many_arguments)]
fn tick(
    mut commands: Commands,
    time: Res<Time>,
    sim: Res<SimRes>,
    sel: Res<Selection>,
    mut plan: ResMut<ShotPlan>,
    window: Single<&Window, With<PrimaryWindow>>,
    cam: Single<(&Camera, &GlobalTransform), With<ViewCamera>>,
    trucks: Query<&GlobalTransform, With<TruckTag>>,
    mut exit: MessageWriter<AppExit>,
) {
    plan.frame += 1;
    let f = plan.frame;
    if f > WARMUP_FRAMES && f <= CAPTURE_FRAME {
        plan.frame_ms.push(time.delta_secs_f64() * 1000.0);
    }
    if f == CAPTURE_FRAME {
        let mean = plan.frame_ms.iter().sum::<f64>() / plan.frame_ms.len().max(1) as f64;
        println!(
            "frame time: {:.1} ms mean over {} frames ({} trucks, {}x{}, clock paused)",
            mean,
            plan.frame_ms.len(),
            sim.0.trucks.len(),
            window.physical_width(),
            window.physical_height()
        );
        let (camera, ctf) = *cam;
        let (w, h) = (window.width(), window.height());
        let projected = trucks
            .iter()
            .filter_map(|tf| {
                camera
                    .world_to_viewport(ctf, tf.translation() + Vec3::Y * 4.0)
                    .ok()
            })
            .filter(|p| p.x >= 0.0 && p.y >= 0.0 && p.x < w && p.y < h)
            .map(|p| [p.x, p.y])
            .collect();
        let c = TRUCK_YELLOW.to_srgba();
        let side = Sidecar {
            width: window.physical_width(),
            height: window.physical_height(),
            sim_time_s: sim.0.now.as_secs_f64(),
            trucks: sim.0.trucks.len(),
            frame_ms_mean: mean,
            frames_measured: plan.frame_ms.len(),
            truck_rgb: [
                (c.red * 255.0) as u8,
                (c.green * 255.0) as u8,
                (c.blue * 255.0) as u8,
            ],
            projected,
            selected: sel.0,
            overlays: plan.opts.overlays.iter().map(|k| k.name()).collect(),
            perception: shot_perception(&sim.0, sel.0),
            planning: shot_planning(&sim.0, sel.0),
        };
        let json_path = plan.opts.path.with_extension("json");
        match serde_json::to_string_pretty(&side) {
            Ok(s) => {
                if let Err(e) = std::fs::write(&json_path, s) {
                    eprintln!("cannot write {}: {e}", json_path.display());
                }
            }
            Err(e) => eprintln!("cannot encode the sidecar: {e}"),
        }
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(plan.opts.path.clone()))
            .observe(|_: On<ScreenshotCaptured>, mut plan: ResMut<ShotPlan>| {
                plan.saved = true;
            });
    }
    if plan.saved && plan.saved_frame == 0 {
        plan.saved_frame = f;
    }
    if plan.saved && f >= plan.saved_frame + 2 {
        println!("screenshot saved to {}", plan.opts.path.display());
        exit.write(AppExit::Success);
    } else if f > GIVE_UP_FRAME {
        eprintln!("no screenshot after {f} frames");
        exit.write(AppExit::from_code(3));
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, tick.in_set(ViewerSystems::Ui));
}
