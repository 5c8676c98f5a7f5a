//! Perception in the viewer: the obstacles of the run as boxes (sized from their specs, a
//! colour per class) from the time they appear, and what the selected truck perceives.
//!
//! The selected truck is the watched one ([`crate::perceive::Perception::watch`]): a system
//! in the `SimStep` schedule, before the step's control phase, names it, so that its full
//! point cloud is kept from the next sweep on (also while `build_app` simulates up to the
//! start time). The overlays (systems gated by `overlay_on`, registered in `overlays`):
//! - points (`P`): its last sweep in the site frame, coloured by height above the mapped
//!   ground ([`height_colour`], [`RAMP_MIN_M`] to [`RAMP_MAX_M`]);
//! - detections (`D`): the last usable detections moved from the frame they were taken in
//!   ([`detection_to_world`]), a footprint per detection in its class colour with a
//!   confidence bar ([`CONFIDENCE_BAR_M`] tall at confidence 1);
//! - tracks (`K`): the tracker's tracks as boxes (tentative ones faint) with an arrow of
//!   [`ARROW_S`] of motion, and the obstacle-ahead point on the route as a red stop line.

use super::camera::Selection;
use super::to_bevy;
use super::ViewerSystems;
use crate::app::{SimStep, SimSystems, World as SimRes};
use bevy::prelude::*;
use perception::fleet_sensor::SensorPose;
use perception::{Detection, LidarPoint, ObstacleClass};

/// The height ramp of the point cloud: its ends, m above the mapped ground.
pub const RAMP_MIN_M: f32 = 0.0;
pub const RAMP_MAX_M: f32 = 4.0;
/// The ramp's stops, evenly spread from [`RAMP_MIN_M`] to [`RAMP_MAX_M`]: blue, cyan, green,
/// yellow, red (linear sRGB components).
pub const RAMP: [[f32; 3]; 5] = [
    [0.10, 0.25, 1.00],
    [0.00, 0.85, 1.00],
    [0.15, 0.95, 0.20],
    [1.00, 0.90, 0.00],
    [1.00, 0.10, 0.05],
];
/// Height of a detection's confidence bar at confidence 1, m.
pub const CONFIDENCE_BAR_M: f32 = 6.0;
/// Seconds of motion a track's velocity arrow shows.
pub const ARROW_S: f64 = 1.0;
/// Height of the wire boxes of tracks, m.
const TRACK_BOX_H: f32 = 2.5;
/// Length of a point's tick, m.
const POINT_TICK_M: f32 = 0.35;

/// The ramp colour of a point `h` m above the ground (clamped at the ends; a non-finite
/// height reads as the low end).
pub fn height_colour(h: f32) -> [f32; 3] {
    let t = if h.is_finite() {
        ((h - RAMP_MIN_M) / (RAMP_MAX_M - RAMP_MIN_M)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (RAMP.len() - 1) as f32;
    let i = (x.floor() as usize).min(RAMP.len() - 2);
    let f = x - i as f32;
    let (a, b) = (RAMP[i], RAMP[i + 1]);
    // exact at the stops (f = 0 or 1)
    let mix = |k: usize| a[k] * (1.0 - f) + b[k] * f;
    [mix(0), mix(1), mix(2)]
}

/// The colour of an obstacle class: meshes, detections, tracks and the key.
pub fn class_colour(c: ObstacleClass) -> [f32; 3] {
    match c {
        ObstacleClass::Rock => [0.85, 0.40, 0.20],
        ObstacleClass::LightVehicle => [0.95, 0.95, 0.95],
        ObstacleClass::Person => [1.00, 0.20, 0.75],
        ObstacleClass::Machine => [0.60, 0.45, 1.00],
    }
}

/// The key's word for a class.
pub fn class_label(c: ObstacleClass) -> &'static str {
    match c {
        ObstacleClass::Rock => "rock",
        ObstacleClass::LightVehicle => "light vehicle",
        ObstacleClass::Person => "person",
        ObstacleClass::Machine => "machine",
    }
}

fn colour(c: [f32; 3]) -> Color {
    Color::srgb(c[0], c[1], c[2])
}

/// A truck-frame point (`x` forward, `y` left, from the truck centre) in the site frame.
pub fn truck_to_site(pose: &SensorPose, x: f64, y: f64) -> [f64; 2] {
    let (s, c) = pose.heading.sin_cos();
    [pose.x + c * x - s * y, pose.y + s * x + c * y]
}

/// A detection's box in the site frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SiteBox {
    pub class: ObstacleClass,
    /// Centre, site frame, m.
    pub x: f64,
    pub y: f64,
    /// Heading of the length axis (the truck's at the frame), rad.
    pub yaw: f64,
    pub length: f64,
    pub width: f64,
    pub confidence: f32,
}

/// Moves a detection (truck frame, axis-aligned) into the site frame with the pose of the
/// frame it was taken in.
pub fn detection_to_world(d: &Detection, pose: &SensorPose) -> SiteBox {
    let [x, y] = truck_to_site(pose, f64::from(d.x), f64::from(d.y));
    SiteBox {
        class: d.class,
        x,
        y,
        yaw: pose.heading,
        length: f64::from(d.length),
        width: f64::from(d.width),
        confidence: d.confidence,
    }
}

/// A point of a sweep in the site frame (x, y, z), its height above ground the sensor's.
fn point_to_site(site: &site::Site, pose: &SensorPose, p: &LidarPoint) -> [f64; 3] {
    let [x, y] = truck_to_site(pose, f64::from(p.x), f64::from(p.y));
    [x, y, site.terrain.height_at(x, y) + f64::from(p.h)]
}

/// Names the selected truck as the watched one (before each step's perception).
fn watch_selected(sel: Option<Res<Selection>>, mut sim: ResMut<SimRes>) {
    let want = sel.and_then(|s| s.0).map(|i| i as usize);
    if let Some(p) = sim.bypass_change_detection().0.perception.as_mut() {
        if p.watch != want {
            p.watch = want;
        }
    }
}

/// Marks an obstacle's mesh.
#[derive(Component)]
pub struct ObstacleMesh(pub usize);

/// Spawns a box for every obstacle that is in the world and has none yet.
fn spawn_obstacles(
    mut commands: Commands,
    sim: Res<SimRes>,
    mut shown: Local<Vec<bool>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let w = &sim.0;
    if shown.len() != w.obstacles.len() {
        shown.resize(w.obstacles.len(), false);
    }
    for (i, o) in w.obstacles.active() {
        if shown[i] {
            continue;
        }
        shown[i] = true;
        let z = w.site.terrain.height_at(o.x, o.y);
        let c = class_colour(o.class);
        let mat = materials.add(StandardMaterial {
            base_color: colour(c),
            emissive: LinearRgba::rgb(c[0] * 0.15, c[1] * 0.15, c[2] * 0.15),
            perceptual_roughness: 0.9,
            ..default()
        });
        commands.spawn((
            ObstacleMesh(i),
            Mesh3d(meshes.add(Cuboid::new(
                o.length as f32,
                o.height as f32,
                o.width as f32,
            ))),
            MeshMaterial3d(mat),
            Transform::from_translation(to_bevy([o.x, o.y, z + o.height / 2.0]))
                .with_rotation(Quat::from_rotation_y(o.yaw as f32)),
        ));
    }
}

/// The selected truck's point cloud in the site frame, rebuilt once per sweep.
#[derive(Resource, Default)]
pub struct Cloud {
    key: Option<(usize, u64)>,
    pub points: Vec<(Vec3, Color)>,
}

/// The selected truck's perception, if it has one.
fn selected<'a>(
    sim: &'a crate::SimWorld,
    sel: &Selection,
) -> Option<(usize, &'a crate::perceive::TruckPerception)> {
    let i = sel.0? as usize;
    let p = sim.perception.as_ref()?.trucks.get(i)?;
    Some((i, p))
}

pub(super) fn draw_points(
    sim: Res<SimRes>,
    sel: Res<Selection>,
    mut cloud: ResMut<Cloud>,
    mut gizmos: Gizmos,
) {
    let Some((i, p)) = selected(&sim.0, &sel) else {
        return;
    };
    let Some(pose) = p.last_pose else {
        return;
    };
    let key = Some((i, p.stats.sweeps));
    if cloud.key != key {
        cloud.key = key;
        cloud.points = p
            .last_points
            .iter()
            .map(|pt| {
                let at = to_bevy(point_to_site(&sim.0.site, &pose, pt));
                (at, colour(height_colour(pt.h)))
            })
            .collect();
    }
    for (at, c) in &cloud.points {
        gizmos.line(*at, *at + Vec3::Y * POINT_TICK_M, *c);
    }
}

/// A wire box standing on the ground at a site-frame centre.
fn ground_box(
    gizmos: &mut Gizmos,
    site: &site::Site,
    (x, y, yaw): (f64, f64, f64),
    (length, width, height): (f32, f32, f32),
    c: Color,
) -> Vec3 {
    let g = site.terrain.height_at(x, y);
    let base = to_bevy([x, y, g]);
    gizmos.cube(
        Transform::from_translation(base + Vec3::Y * (height / 2.0))
            .with_rotation(Quat::from_rotation_y(yaw as f32))
            .with_scale(Vec3::new(length.max(0.1), height, width.max(0.1))),
        c,
    );
    base
}

pub(super) fn draw_detections(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let Some((_, p)) = selected(&sim.0, &sel) else {
        return;
    };
    let Some(pose) = p.detections_pose else {
        return;
    };
    let site = &sim.0.site;
    for d in &p.last_detections {
        let b = detection_to_world(d, &pose);
        let c = colour(class_colour(b.class));
        let base = ground_box(
            &mut gizmos,
            site,
            (b.x, b.y, b.yaw),
            (b.length as f32, b.width as f32, 0.3),
            c,
        );
        // The confidence bar at the box's front corner: a post of full height, filled to the
        // confidence.
        let conf = b.confidence.clamp(0.0, 1.0);
        let top = base + Vec3::Y * CONFIDENCE_BAR_M;
        gizmos.line(base, top, c.with_alpha(0.35));
        gizmos.line(base, base + Vec3::Y * (CONFIDENCE_BAR_M * conf), c);
        gizmos.line(top - Vec3::X * 0.5, top + Vec3::X * 0.5, c.with_alpha(0.35));
    }
}

pub(super) fn draw_tracks(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let w = &sim.0;
    let Some((i, p)) = selected(w, &sel) else {
        return;
    };
    let Some(t) = w.trucks.get(i) else {
        return;
    };
    let st = w.physics.state(t.body);
    for tr in p.tracker.tracks() {
        let c = colour(class_colour(tr.class));
        let c = if tr.confirmed { c } else { c.with_alpha(0.35) };
        let base = ground_box(
            &mut gizmos,
            &w.site,
            (tr.x, tr.y, st.heading),
            (tr.length as f32, tr.width as f32, TRACK_BOX_H),
            c,
        );
        let from = base + Vec3::Y * (TRACK_BOX_H + 0.5);
        let (vx, vy) = (tr.vx * ARROW_S, tr.vy * ARROW_S);
        if vx.is_finite() && vy.is_finite() && vx.hypot(vy) > 0.2 {
            let to = from + Vec3::new(vx as f32, 0.0, -vy as f32);
            gizmos.arrow(from, to, c);
        } else {
            gizmos.sphere(Isometry3d::from_translation(from), 0.3, c);
        }
    }
    // Where the planner stops for an obstacle: a red line across the lane.
    if let (Some(d), Some(route)) = (p.obstacle_ahead_m, t.brain.route()) {
        let pt = route.point_at(t.brain.progress() + d, &w.site.roads);
        let (s, c) = pt.heading.sin_cos();
        let half = 0.5 * t.brain.params.width_m + 1.0;
        let z = w.site.terrain.height_at(pt.pos[0], pt.pos[1]) + 0.4;
        let a = to_bevy([pt.pos[0] - s * half, pt.pos[1] + c * half, z]);
        let b = to_bevy([pt.pos[0] + s * half, pt.pos[1] - c * half, z]);
        let red = Color::srgb(1.0, 0.05, 0.05);
        gizmos.line(a, b, red);
        gizmos.line(a, a + Vec3::Y * 3.0, red);
        gizmos.line(b, b + Vec3::Y * 3.0, red);
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Cloud>();
    app.add_systems(SimStep, watch_selected.before(SimSystems::Control));
    app.add_systems(Update, spawn_obstacles.in_set(ViewerSystems::Sync));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn the_height_ramp_runs_blue_to_red_and_clamps() {
        assert_eq!(height_colour(RAMP_MIN_M), RAMP[0]);
        assert_eq!(height_colour(RAMP_MAX_M), RAMP[4]);
        assert_eq!(height_colour(-3.0), RAMP[0]);
        assert_eq!(height_colour(99.0), RAMP[4]);
        assert_eq!(height_colour(f32::NAN), RAMP[0]);
        // a stop in the middle, and halfway between two stops
        assert_eq!(height_colour(2.0), RAMP[2]);
        let mid = height_colour(0.5);
        for k in 0..3 {
            assert!((mid[k] - 0.5 * (RAMP[0][k] + RAMP[1][k])).abs() < 1e-6);
        }
        // blue dominates low, red high
        let (lo, hi) = (height_colour(0.1), height_colour(3.9));
        assert!(lo[2] > lo[0] && hi[0] > hi[2]);
    }

    #[test]
    fn a_detection_moves_from_the_sensor_frame_into_the_site_frame() {
        let pose = SensorPose {
            x: 100.0,
            y: 50.0,
            heading: FRAC_PI_2,
        };
        // 10 m ahead, 2 m left of a truck heading north: 2 m west, 10 m north
        let d = Detection {
            class: ObstacleClass::Rock,
            x: 10.0,
            y: 2.0,
            length: 3.0,
            width: 1.5,
            confidence: 0.8,
        };
        let b = detection_to_world(&d, &pose);
        assert!(
            (b.x - 98.0).abs() < 1e-9 && (b.y - 60.0).abs() < 1e-9,
            "{b:?}"
        );
        assert_eq!(b.yaw, FRAC_PI_2);
        assert_eq!((b.length, b.width), (3.0, 1.5));
        assert_eq!((b.class, b.confidence), (ObstacleClass::Rock, 0.8));
        // the same centre as the tracker's own transform
        let t = perception::track::to_world(&d, pose.x, pose.y, pose.heading);
        assert!((t.x - b.x).abs() < 1e-9 && (t.y - b.y).abs() < 1e-9);
    }

    #[test]
    fn class_colours_differ() {
        let cs: Vec<_> = ObstacleClass::ALL.map(class_colour).to_vec();
        for (i, a) in cs.iter().enumerate() {
            for b in &cs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
