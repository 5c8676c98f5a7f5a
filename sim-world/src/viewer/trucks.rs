//! Trucks: a low-poly haul truck per `TruckTag` entity (chassis, wheels, cab, tray, and the
//! load as a heap whose height follows the payload), placed from its `TruckPose`.

use super::{to_bevy, ViewerSystems};
use crate::app::{TruckPose, TruckTag, World as SimRes};
use bevy::prelude::*;

/// The truck paint: the colour the screenshot test looks for.
pub const TRUCK_YELLOW: Color = Color::srgb(1.0, 0.78, 0.0);

/// Truck body dimensions (m): length, width.
pub const TRUCK_LEN: f32 = 15.5;
pub const TRUCK_WID: f32 = 9.5;

/// The load heap of a truck.
#[derive(Component)]
pub struct Load;

/// Truck entities without a model yet.
type Bare = (With<TruckTag>, Without<Mesh3d>, Without<Transform>);
/// Load heaps (children of trucks).
type Loads<'w, 's> = Query<
    'w,
    's,
    (&'static mut Transform, &'static mut Visibility),
    (With<Load>, Without<TruckTag>),
>;

/// Materials shared by the trucks.
#[derive(Resource)]
pub struct TruckLook {
    pub paint: Handle<StandardMaterial>,
}

fn spawn_models(
    mut commands: Commands,
    q: Query<Entity, Bare>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let paint = materials.add(StandardMaterial {
        base_color: TRUCK_YELLOW,
        emissive: LinearRgba::rgb(0.35, 0.25, 0.0),
        perceptual_roughness: 0.6,
        ..default()
    });
    let black = materials.add(Color::srgb(0.08, 0.08, 0.08));
    let grey = materials.add(Color::srgb(0.35, 0.35, 0.35));
    let ore = materials.add(Color::srgb(0.45, 0.30, 0.22));
    let chassis = meshes.add(Cuboid::new(TRUCK_LEN - 1.0, 1.6, 5.0));
    let wheel = meshes.add(Cylinder::new(1.9, 1.8));
    let cab = meshes.add(Cuboid::new(3.0, 2.4, 3.4));
    let deck = meshes.add(Cuboid::new(4.0, 1.0, TRUCK_WID - 0.5));
    let tray_floor = meshes.add(Cuboid::new(10.0, 0.6, TRUCK_WID));
    let tray_side = meshes.add(Cuboid::new(10.0, 2.6, 0.5));
    let tray_front = meshes.add(Cuboid::new(0.6, 3.8, TRUCK_WID));
    let heap = meshes.add(Cuboid::new(9.0, 1.0, TRUCK_WID - 1.2));
    let wheel_rot = Quat::from_rotation_x(std::f32::consts::FRAC_PI_2);
    for e in &q {
        commands
            .entity(e)
            .insert((Transform::default(), Visibility::default()))
            .with_children(|p| {
                p.spawn((
                    Mesh3d(chassis.clone()),
                    MeshMaterial3d(grey.clone()),
                    Transform::from_xyz(0.0, 2.6, 0.0),
                ));
                for (x, z) in [(5.0, 3.6), (5.0, -3.6), (-4.0, 3.6), (-4.0, -3.6)] {
                    p.spawn((
                        Mesh3d(wheel.clone()),
                        MeshMaterial3d(black.clone()),
                        Transform::from_xyz(x, 1.9, z).with_rotation(wheel_rot),
                    ));
                }
                // Front deck and cab (front = +X, cab on the left = −Z... site left is north).
                p.spawn((
                    Mesh3d(deck.clone()),
                    MeshMaterial3d(paint.clone()),
                    Transform::from_xyz(5.6, 3.9, 0.0),
                ));
                p.spawn((
                    Mesh3d(cab.clone()),
                    MeshMaterial3d(paint.clone()),
                    Transform::from_xyz(5.6, 5.6, -2.4),
                ));
                // Tray: floor, sides, front wall (the canopy).
                p.spawn((
                    Mesh3d(tray_floor.clone()),
                    MeshMaterial3d(paint.clone()),
                    Transform::from_xyz(-2.2, 3.8, 0.0),
                ));
                for z in [TRUCK_WID / 2.0 - 0.25, -(TRUCK_WID / 2.0 - 0.25)] {
                    p.spawn((
                        Mesh3d(tray_side.clone()),
                        MeshMaterial3d(paint.clone()),
                        Transform::from_xyz(-2.2, 5.4, z),
                    ));
                }
                p.spawn((
                    Mesh3d(tray_front.clone()),
                    MeshMaterial3d(paint.clone()),
                    Transform::from_xyz(3.0, 6.0, 0.0),
                ));
                p.spawn((
                    Load,
                    Mesh3d(heap.clone()),
                    MeshMaterial3d(ore.clone()),
                    Transform::from_xyz(-2.2, 4.1, 0.0),
                    Visibility::Hidden,
                ));
            });
    }
    commands.insert_resource(TruckLook { paint });
}

/// Places every truck on the terrain from its pose; pitch from the ground under its axles.
fn place(
    sim: Res<SimRes>,
    mut trucks: Query<(&TruckTag, &TruckPose, &mut Transform, &Children)>,
    mut loads: Loads,
) {
    let hf = &sim.0.site.terrain;
    let cap = sim.0.cfg.truck.capacity_t.max(1.0);
    for (tag, pose, mut tf, children) in &mut trucks {
        // Before the first step the pose is not synced yet: read the body.
        let pose = if *pose == TruckPose::default() {
            match sim.0.trucks.get(tag.0 as usize) {
                Some(t) => {
                    let s = sim.0.physics.state(t.body);
                    TruckPose {
                        pos: s.pos,
                        heading: s.heading,
                        speed: s.speed,
                        payload_t: t.payload_t,
                    }
                }
                None => *pose,
            }
        } else {
            *pose
        };
        let (x, y, h) = (pose.pos[0], pose.pos[1], pose.heading);
        let half = 5.0;
        let (cx, cy) = (h.cos() * half, h.sin() * half);
        let zf = hf.height_at(x + cx, y + cy);
        let zb = hf.height_at(x - cx, y - cy);
        let pitch = ((zf - zb) / (2.0 * half)).atan() as f32;
        let z = 0.5 * (zf + zb);
        tf.translation = to_bevy([x, y, z]);
        tf.rotation = Quat::from_rotation_y(h as f32) * Quat::from_rotation_z(pitch);
        for c in children.iter() {
            if let Ok((mut ltf, mut vis)) = loads.get_mut(c) {
                let fill = (pose.payload_t / cap).clamp(0.0, 1.2) as f32;
                *vis = if fill > 0.01 {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
                let height = 0.2 + 3.8 * fill;
                ltf.scale = Vec3::new(1.0, height, 1.0);
                ltf.translation.y = 4.1 + height / 2.0;
            }
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_models);
    app.add_systems(Update, place.in_set(ViewerSystems::Sync));
}
