//! Cameras: orbit (left drag), pan (right drag), zoom (wheel) over the pit; follow the
//! selected truck from behind (chase, `F`) or from above (top-down, `T`); `O` back to orbit.
//! A left click (without dragging) on a truck selects it.

use super::{to_bevy, ViewerSystems};
use crate::app::{TruckPose, TruckTag, World as SimRes};
use bevy::camera::{PerspectiveProjection, Projection};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

/// The viewer's camera.
#[derive(Component)]
pub struct ViewCamera;

/// How the camera moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraMode {
    Orbit,
    Chase,
    TopDown,
}

/// Where the camera looks from.
#[derive(Resource, Clone, Debug)]
pub struct CameraRig {
    pub mode: CameraMode,
    /// Orbit centre, Bevy frame.
    pub focus: Vec3,
    /// Radians about +Y.
    pub yaw: f32,
    /// Radians above the horizon.
    pub pitch: f32,
    pub distance: f32,
    drag_px: f32,
}

impl Default for CameraRig {
    fn default() -> Self {
        CameraRig {
            mode: CameraMode::Orbit,
            focus: Vec3::new(0.0, 0.0, 0.0),
            yaw: -0.6,
            pitch: 0.62,
            distance: 2100.0,
            drag_px: 0.0,
        }
    }
}

/// The selected truck.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Selection(pub Option<u32>);

/// A camera named on the command line: `overview` or `follow:TRUCK` (chase) or
/// `top:TRUCK` (top-down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraChoice {
    Overview,
    Follow(u32),
    Top(u32),
}

impl std::str::FromStr for CameraChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}': expected overview, follow:TRUCK or top:TRUCK");
        if s == "overview" {
            return Ok(CameraChoice::Overview);
        }
        let (kind, n) = s.split_once(':').ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        match kind {
            "follow" => Ok(CameraChoice::Follow(n)),
            "top" => Ok(CameraChoice::Top(n)),
            _ => Err(bad()),
        }
    }
}

impl CameraChoice {
    /// Sets the rig and the selection for this choice.
    pub fn apply(self, rig: &mut CameraRig, sel: &mut Selection) {
        match self {
            CameraChoice::Overview => *rig = CameraRig::default(),
            CameraChoice::Follow(n) => {
                sel.0 = Some(n);
                rig.mode = CameraMode::Chase;
            }
            CameraChoice::Top(n) => {
                sel.0 = Some(n);
                rig.mode = CameraMode::TopDown;
            }
        }
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn((
        ViewCamera,
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: 0.8,
            near: 0.5,
            far: 20_000.0,
            ..default()
        }),
        Transform::from_xyz(0.0, 1500.0, 1500.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

#[allow(clippy::too_many_arguments)]
fn controls(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    window: Single<&Window, With<PrimaryWindow>>,
    cam: Single<(&Camera, &GlobalTransform), With<ViewCamera>>,
    trucks: Query<(&TruckTag, &GlobalTransform)>,
    mut rig: ResMut<CameraRig>,
    mut sel: ResMut<Selection>,
) {
    if keys.just_pressed(KeyCode::KeyF) && sel.0.is_some() {
        rig.mode = CameraMode::Chase;
    }
    if keys.just_pressed(KeyCode::KeyT) && sel.0.is_some() {
        rig.mode = CameraMode::TopDown;
    }
    if keys.just_pressed(KeyCode::KeyO) {
        rig.mode = CameraMode::Orbit;
    }
    if keys.just_pressed(KeyCode::Escape) {
        sel.0 = None;
        rig.mode = CameraMode::Orbit;
    }
    let d = motion.delta;
    if buttons.pressed(MouseButton::Left) {
        rig.yaw -= d.x * 0.005;
        rig.pitch = (rig.pitch + d.y * 0.005).clamp(0.05, 1.5);
        rig.drag_px += d.length();
    }
    if buttons.pressed(MouseButton::Right) && rig.mode == CameraMode::Orbit {
        let k = rig.distance * 0.0015;
        let (s, c) = rig.yaw.sin_cos();
        let right = Vec3::new(c, 0.0, -s);
        let fwd = Vec3::new(-s, 0.0, -c);
        rig.focus += (-right * d.x + fwd * d.y) * k;
    }
    if scroll.delta.y != 0.0 {
        rig.distance =
            (rig.distance * (1.0 - 0.1 * scroll.delta.y.clamp(-5.0, 5.0))).clamp(20.0, 8000.0);
    }
    if buttons.just_pressed(MouseButton::Left) {
        rig.drag_px = 0.0;
    }
    if buttons.just_released(MouseButton::Left) && rig.drag_px < 4.0 {
        let (camera, ctf) = *cam;
        if let Some(ray) = window
            .cursor_position()
            .and_then(|p| camera.viewport_to_world(ctf, p).ok())
        {
            let mut best: Option<(f32, u32)> = None;
            for (tag, tf) in &trucks {
                let p = tf.translation() + Vec3::Y * 4.0;
                let t = (p - ray.origin).dot(*ray.direction);
                if t <= 0.0 {
                    continue;
                }
                let off = (ray.origin + *ray.direction * t - p).length();
                if off < 12.0 && best.is_none_or(|(b, _)| off < b) {
                    best = Some((off, tag.0));
                }
            }
            if let Some((_, id)) = best {
                sel.0 = Some(id);
            }
        }
    }
}

/// Puts the camera where the rig says.
fn place_camera(
    rig: Res<CameraRig>,
    sel: Res<Selection>,
    sim: Res<SimRes>,
    trucks: Query<(&TruckTag, &TruckPose)>,
    mut cam: Single<&mut Transform, With<ViewCamera>>,
) {
    let followed = sel.0.and_then(|id| {
        trucks.iter().find(|(t, _)| t.0 == id).map(|(_, p)| {
            let g = sim.0.site.terrain.height_at(p.pos[0], p.pos[1]);
            (to_bevy([p.pos[0], p.pos[1], g]), p.heading as f32)
        })
    });
    let orbit = |focus: Vec3| {
        let (s, c) = rig.yaw.sin_cos();
        let off = Vec3::new(s * rig.pitch.cos(), rig.pitch.sin(), c * rig.pitch.cos());
        Transform::from_translation(focus + off * rig.distance).looking_at(focus, Vec3::Y)
    };
    **cam = match (rig.mode, followed) {
        (CameraMode::Chase, Some((p, h))) => {
            let back = Vec3::new(h.cos(), 0.0, -h.sin());
            let eye = p - back * 55.0 + Vec3::Y * 28.0;
            Transform::from_translation(eye).looking_at(p + back * 20.0 + Vec3::Y * 4.0, Vec3::Y)
        }
        (CameraMode::TopDown, Some((p, h))) => {
            let fwd = Vec3::new(h.cos(), 0.0, -h.sin());
            Transform::from_translation(p + Vec3::Y * 220.0).looking_at(p, fwd)
        }
        _ => orbit(rig.focus),
    };
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<CameraRig>();
    app.init_resource::<Selection>();
    app.add_systems(Startup, spawn_camera);
    app.add_systems(Update, controls.in_set(ViewerSystems::Input));
    app.add_systems(Update, place_camera.in_set(ViewerSystems::Camera));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_choices_parse() {
        assert_eq!("overview".parse(), Ok(CameraChoice::Overview));
        assert_eq!("follow:7".parse(), Ok(CameraChoice::Follow(7)));
        assert_eq!("top:3".parse(), Ok(CameraChoice::Top(3)));
        assert!("follow:x".parse::<CameraChoice>().is_err());
        assert!("side".parse::<CameraChoice>().is_err());
    }
}
