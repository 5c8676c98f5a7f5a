//! The static scene: terrain mesh from the heightfield (benches shaded by slope), haul roads
//! with lane markings, loaders, the crusher and the waste dump, gNB masts, sky and sun.

use super::to_bevy;
use crate::app::World as SimRes;
use bevy::asset::RenderAssetUsages;
use bevy::light::{CascadeShadowConfigBuilder, DirectionalLightShadowMap};
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use site::{DumpKind, Heightfield, Site};

/// Marks the terrain mesh.
#[derive(Component)]
pub struct Terrain;

/// Terrain vertex colour: bench floors light, faces darker, a faint band per bench height.
fn terrain_colour(slope: f32, z: f32, rim: f32) -> [f32; 4] {
    let steep = ((slope - 0.25) / 0.9).clamp(0.0, 1.0);
    let flat = [0.66, 0.60, 0.52];
    let face = [0.40, 0.33, 0.29];
    let band = if z < rim - 1.0 && (z / 15.0).rem_euclid(2.0) < 1.0 {
        0.95
    } else {
        1.0
    };
    let c = |i: usize| (flat[i] * (1.0 - steep) + face[i] * steep) * band;
    [c(0), c(1), c(2), 1.0]
}

/// A triangle mesh of the heightfield, every `stride` samples, with vertex colours.
pub fn terrain_mesh(hf: &Heightfield, stride: usize, rim: f64) -> Mesh {
    let stride = stride.max(1);
    let nx = (hf.nx - 1) / stride + 1;
    let ny = (hf.ny - 1) / stride + 1;
    let mut pos = Vec::with_capacity(nx * ny);
    let mut col = Vec::with_capacity(nx * ny);
    let step = hf.cell * stride as f64;
    for j in 0..ny {
        for i in 0..nx {
            let (ix, iy) = (i * stride, j * stride);
            let x = hf.origin[0] + ix as f64 * hf.cell;
            let y = hf.origin[1] + iy as f64 * hf.cell;
            let z = hf.at(ix, iy);
            let dzx = hf.at(ix + stride, iy) - hf.at(ix.saturating_sub(stride), iy);
            let dzy = hf.at(ix, iy + stride) - hf.at(ix, iy.saturating_sub(stride));
            let slope = (dzx.hypot(dzy) / (2.0 * step)) as f32;
            pos.push(to_bevy([x, y, z]).to_array());
            col.push(terrain_colour(slope, z as f32, rim as f32));
        }
    }
    let mut idx = Vec::with_capacity((nx - 1) * (ny - 1) * 6);
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let a = (j * nx + i) as u32;
            let b = a + 1;
            let c = a + nx as u32;
            let d = c + 1;
            // Site y grows north = Bevy −Z: keep the triangles facing up (+Y).
            idx.extend_from_slice(&[a, b, c, b, d, c]);
        }
    }
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, col)
    .with_inserted_indices(Indices::U32(idx))
    .with_computed_smooth_normals()
}

/// Ribbons along polylines: `(points, half width, lateral offset)`, lifted by `lift` metres.
pub fn ribbon_mesh(strips: &[(Vec<[f64; 3]>, f64, f64)], lift: f64) -> Mesh {
    let mut pos: Vec<[f32; 3]> = Vec::new();
    let mut idx: Vec<u32> = Vec::new();
    for (pts, half, off) in strips {
        if pts.len() < 2 {
            continue;
        }
        let base = pos.len() as u32;
        for k in 0..pts.len() {
            let (a, b) = (pts[k.saturating_sub(1)], pts[(k + 1).min(pts.len() - 1)]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let l = dx.hypot(dy).max(1e-9);
            let (lx, ly) = (-dy / l, dx / l); // left normal
            let p = pts[k];
            for side in [-1.0, 1.0] {
                let o = off + side * half;
                pos.push(to_bevy([p[0] + lx * o, p[1] + ly * o, p[2] + lift]).to_array());
            }
        }
        for k in 0..pts.len() as u32 - 1 {
            let (r0, l0, r1, l1) = (
                base + 2 * k,
                base + 2 * k + 1,
                base + 2 * k + 2,
                base + 2 * k + 3,
            );
            idx.extend_from_slice(&[r0, r1, l0, l0, r1, l1]);
        }
    }
    let n = pos.len();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 1.0, 0.0]; n])
    .with_inserted_indices(Indices::U32(idx))
}

/// Splits a lane's polyline into dashes of `on` metres every `period` metres.
fn dashes(points: &[[f64; 3]], on: f64, period: f64) -> Vec<Vec<[f64; 3]>> {
    let mut out = Vec::new();
    let mut cur: Vec<[f64; 3]> = Vec::new();
    let mut s = 0.0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let l = (b[0] - a[0]).hypot(b[1] - a[1]);
        let mut t = 0.0;
        while t < l {
            let phase = (s + t).rem_euclid(period);
            let (inside, left) = if phase < on {
                (true, on - phase)
            } else {
                (false, period - phase)
            };
            let t2 = (t + left).min(l);
            let lerp = |u: f64| {
                let f = u / l.max(1e-9);
                [
                    a[0] + (b[0] - a[0]) * f,
                    a[1] + (b[1] - a[1]) * f,
                    a[2] + (b[2] - a[2]) * f,
                ]
            };
            if inside {
                if cur.is_empty() {
                    cur.push(lerp(t));
                }
                cur.push(lerp(t2));
            } else if cur.len() >= 2 {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.clear();
            }
            t = t2 + 1e-6;
        }
        s += l;
    }
    if cur.len() >= 2 {
        out.push(cur);
    }
    out
}

fn ground(site: &Site, x: f64, y: f64) -> f64 {
    site.terrain.height_at(x, y)
}

#[allow(clippy::too_many_arguments)]
fn boxed(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    mat: &Handle<StandardMaterial>,
    size: Vec3,
    at: Vec3,
    rot: Quat,
) {
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(size.x, size.y, size.z))),
        MeshMaterial3d(mat.clone()),
        Transform::from_translation(at).with_rotation(rot),
    ));
}

fn setup(
    mut commands: Commands,
    sim: Res<SimRes>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let site = sim.0.site.clone();
    let rim = site.terrain_spec.rim_z;
    // Terrain.
    let terrain = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: 0.95,
        ..default()
    });
    commands.spawn((
        Terrain,
        Mesh3d(meshes.add(terrain_mesh(&site.terrain, 1, rim))),
        MeshMaterial3d(terrain),
    ));
    // Roads: one ribbon per lane, edge lines, dashed centre lines (connectors unmarked).
    let mut surface = Vec::new();
    let mut edges = Vec::new();
    let mut centre = Vec::new();
    for lane in &site.roads.lanes {
        let half = lane.width_m / 2.0;
        surface.push((lane.points.clone(), half, 0.0));
        if lane.intersection.is_none() {
            edges.push((lane.points.clone(), 0.15, half - 0.6));
            edges.push((lane.points.clone(), 0.15, -(half - 0.6)));
            for d in dashes(&lane.points, 6.0, 18.0) {
                centre.push((d, 0.2, 0.0));
            }
        }
    }
    let asphalt = materials.add(StandardMaterial {
        base_color: Color::srgb(0.30, 0.29, 0.28),
        perceptual_roughness: 1.0,
        ..default()
    });
    let paint = materials.add(StandardMaterial {
        base_color: Color::srgb(0.92, 0.92, 0.88),
        unlit: true,
        ..default()
    });
    commands.spawn((
        Mesh3d(meshes.add(ribbon_mesh(&surface, 0.25))),
        MeshMaterial3d(asphalt),
    ));
    commands.spawn((
        Mesh3d(meshes.add(ribbon_mesh(&edges, 0.35))),
        MeshMaterial3d(paint.clone()),
    ));
    commands.spawn((
        Mesh3d(meshes.add(ribbon_mesh(&centre, 0.4))),
        MeshMaterial3d(paint),
    ));
    // Loaders: tracks, house, boom towards the loading spot.
    let orange = materials.add(Color::srgb(0.85, 0.33, 0.10));
    let dark = materials.add(Color::srgb(0.12, 0.12, 0.12));
    for l in &site.loaders {
        let z = ground(&site, l.pos[0], l.pos[1]);
        let spot = site.roads.lane(l.lane).point_at(l.spot_s).pos;
        let yaw = (spot[1] - l.pos[1]).atan2(spot[0] - l.pos[0]) as f32;
        let rot = Quat::from_rotation_y(yaw);
        let base = to_bevy([l.pos[0], l.pos[1], z]);
        let fwd = rot * Vec3::X;
        boxed(
            &mut commands,
            &mut meshes,
            &dark,
            Vec3::new(9.0, 2.5, 8.0),
            base + Vec3::Y * 1.25,
            rot,
        );
        boxed(
            &mut commands,
            &mut meshes,
            &orange,
            Vec3::new(8.0, 6.0, 7.0),
            base + Vec3::Y * 5.5,
            rot,
        );
        let boom_rot = rot * Quat::from_rotation_z(0.5);
        boxed(
            &mut commands,
            &mut meshes,
            &orange,
            Vec3::new(14.0, 1.6, 1.6),
            base + fwd * 9.0 + Vec3::Y * 9.0,
            boom_rot,
        );
    }
    // Dumps: the crusher as a concrete block with a hopper beside the first spot; the waste
    // dump as a spoil heap beside its spots.
    let concrete = materials.add(Color::srgb(0.62, 0.62, 0.60));
    let spoil = materials.add(Color::srgb(0.52, 0.40, 0.30));
    for d in &site.dumps {
        let lane = site.roads.lane(d.lane);
        for (k, s) in d.spots_s.iter().enumerate() {
            let p = lane.point_at(*s);
            let (hx, hy) = (p.heading.cos(), p.heading.sin());
            // Right of the driving direction: where the truck tips.
            let side = [p.pos[0] + hy * 16.0, p.pos[1] - hx * 16.0];
            let z = ground(&site, side[0], side[1]);
            let rot = Quat::from_rotation_y(p.heading as f32);
            let at = to_bevy([side[0], side[1], z]);
            match d.kind {
                DumpKind::Crusher if k == 0 => {
                    boxed(
                        &mut commands,
                        &mut meshes,
                        &concrete,
                        Vec3::new(22.0, 14.0, 16.0),
                        at + Vec3::Y * 7.0,
                        rot,
                    );
                    boxed(
                        &mut commands,
                        &mut meshes,
                        &dark,
                        Vec3::new(14.0, 5.0, 10.0),
                        at + Vec3::Y * 16.5,
                        rot,
                    );
                }
                DumpKind::Crusher => {}
                _ => {
                    commands.spawn((
                        Mesh3d(meshes.add(Cone::new(14.0, 9.0))),
                        MeshMaterial3d(spoil.clone()),
                        Transform::from_translation(at + Vec3::Y * 4.0),
                    ));
                }
            }
        }
    }
    // gNB masts: a lattice mast as a thin box, a head with three panels, a red top light.
    let steel = materials.add(Color::srgb(0.85, 0.85, 0.88));
    let red = materials.add(StandardMaterial {
        base_color: Color::srgb(0.9, 0.1, 0.1),
        emissive: LinearRgba::rgb(2.0, 0.1, 0.1),
        ..default()
    });
    for g in &site.gnbs {
        let z = ground(&site, g.pos[0], g.pos[1]);
        let h = g.mast_height_m as f32;
        let base = to_bevy([g.pos[0], g.pos[1], z]);
        boxed(
            &mut commands,
            &mut meshes,
            &steel,
            Vec3::new(1.5, h, 1.5),
            base + Vec3::Y * h / 2.0,
            Quat::IDENTITY,
        );
        for k in 0..3 {
            let a = k as f32 * std::f32::consts::TAU / 3.0;
            let dir = Vec3::new(a.cos(), 0.0, a.sin());
            boxed(
                &mut commands,
                &mut meshes,
                &steel,
                Vec3::new(0.4, 3.0, 1.2),
                base + Vec3::Y * (h - 2.0) + dir * 1.2,
                Quat::from_rotation_y(-a),
            );
        }
        commands.spawn((
            Mesh3d(meshes.add(Sphere::new(1.2))),
            MeshMaterial3d(red.clone()),
            Transform::from_translation(base + Vec3::Y * (h + 1.0)),
        ));
    }
    // Sky, sun and shadows.
    let size = site.terrain.width().max(site.terrain.depth()) as f32;
    commands.insert_resource(ClearColor(Color::srgb(0.55, 0.72, 0.92)));
    commands.insert_resource(GlobalAmbientLight {
        color: Color::srgb(0.8, 0.85, 1.0),
        brightness: 150.0,
        ..default()
    });
    // Shadows for a pit kilometres wide seen from a few hundred metres: the top-down camera
    // (220 m up) and the chase camera see everything within the first cascade, at 4096² a
    // texel of about 0.15 m; the biases (in texels) are raised from Bevy's defaults because
    // the bench walls are steep heightfield triangles, which otherwise shadow themselves in
    // a saw-tooth along every bench.
    commands.insert_resource(DirectionalLightShadowMap { size: 4096 });
    commands.spawn((
        DirectionalLight {
            illuminance: 5000.0,
            shadow_maps_enabled: true,
            shadow_depth_bias: SHADOW_DEPTH_BIAS,
            shadow_normal_bias: SHADOW_NORMAL_BIAS,
            ..default()
        },
        Transform::from_xyz(600.0, 1000.0, 400.0).looking_at(Vec3::ZERO, Vec3::Y),
        CascadeShadowConfigBuilder {
            num_cascades: 4,
            first_cascade_far_bound: 400.0,
            maximum_distance: size * 1.5,
            overlap_proportion: 0.3,
            ..default()
        }
        .build(),
    ));
}

/// The sun's shadow biases (Bevy's defaults: 0.02 and 1.8).
const SHADOW_DEPTH_BIAS: f32 = 0.05;
const SHADOW_NORMAL_BIAS: f32 = 3.0;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, setup);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_cover_a_third_of_a_straight_line() {
        let pts = vec![[0.0, 0.0, 0.0], [90.0, 0.0, 0.0]];
        let d = dashes(&pts, 6.0, 18.0);
        assert_eq!(d.len(), 5);
        let total: f64 = d
            .iter()
            .map(|s| s.windows(2).map(|w| (w[1][0] - w[0][0]).abs()).sum::<f64>())
            .sum();
        assert!((total - 30.0).abs() < 1e-3, "{total}");
    }

    #[test]
    fn terrain_mesh_has_a_vertex_per_sample() {
        let hf = Heightfield {
            origin: [0.0, 0.0],
            cell: 10.0,
            nx: 5,
            ny: 4,
            heights: vec![0.0; 20],
        };
        let m = terrain_mesh(&hf, 1, 0.0);
        assert_eq!(m.count_vertices(), 20);
        assert_eq!(m.indices().map(|i| i.len()), Some(4 * 3 * 6));
    }
}
