//! rapier3d physics: the terrain heightfield, trucks as rigid bodies driven by forces, loaders
//! as fixed bodies.
//!
//! Frames: the site frame is `x` east, `y` north, `z` up; rapier's is `X, Y` up, `Z`, with
//! `X = x, Y = z, Z = −y` (a proper rotation).
//!
//! Tyres are modelled as forces on the chassis: traction up to the power and adhesion limit,
//! brakes and rolling resistance against motion (holding the truck at standstill up to their
//! size), a lateral tyre force that removes side slip, and a yaw torque that turns the body at
//! the rate its steering angle and wheelbase give. Gravity, the grade and the contact with
//! the ground come from rapier. The chassis collider itself has no friction.

use rapier3d::math::{Pose, Vector};
use rapier3d::parry::query;
use rapier3d::parry::utils::Array2;
use rapier3d::prelude::*;
use site::units::G;
use site::Site;
use vehicle::{Actuation, TruckParams};

/// Height of the chassis box used for physics, m.
pub const BODY_HEIGHT: f64 = 4.0;
/// Radius of the four wheel spheres that touch the ground, m.
const WHEEL_R: f64 = 1.0;
/// How far the wheels reach below the chassis box, m.
const CLEARANCE: f64 = 0.3;

/// Collision groups: the ground touches only wheels; chassis boxes touch each other and the
/// fixed machines (so truck–truck contacts are real), never the ground.
const GROUND: Group = Group::GROUP_1;
const CHASSIS: Group = Group::GROUP_2;
const WHEELS: Group = Group::GROUP_3;
const MACHINES: Group = Group::GROUP_4;
/// Obstacles (rocks, parked vehicles, people) are also members of [`MACHINES`], so chassis
/// boxes collide with them exactly as with loaders; this extra bit tells them apart.
const OBSTACLES: Group = Group::GROUP_5;
/// Lateral tyre grip as a fraction of weight.
const LATERAL_MU: f64 = 0.6;
/// Time constants of the lateral and yaw tyre responses, s.
const TAU_LATERAL: f64 = 0.15;
const TAU_YAW: f64 = 0.2;

pub fn to_physics(p: [f64; 3]) -> Vector {
    Vector::new(p[0] as f32, p[2] as f32, -p[1] as f32)
}
pub fn to_site(v: Vector) -> [f64; 3] {
    [v.x as f64, -(v.z as f64), v.y as f64]
}

/// The physical world.
pub struct Physics {
    pub world: PhysicsWorld,
    pub dt: f64,
    pub trucks: Vec<(RigidBodyHandle, ColliderHandle)>,
    pub truck_of_collider: std::collections::HashMap<ColliderHandle, usize>,
    pub params: TruckParams,
    /// Obstacle id (see [`Physics::add_obstacle`]) of each obstacle collider.
    pub obstacle_of_collider: std::collections::HashMap<ColliderHandle, usize>,
    /// Manned vehicles' kinematic bodies ([`Physics::add_manned`]), in vehicle order.
    pub manned: Vec<MannedBody>,
    pub manned_of_collider: std::collections::HashMap<ColliderHandle, usize>,
}

/// A manned vehicle's body: a kinematic box the trucks' chassis boxes touch and the lidar
/// sees, moved to where its driver puts it ([`Physics::place_manned`]).
#[derive(Clone, Copy, Debug)]
pub struct MannedBody {
    pub body: RigidBodyHandle,
    pub collider: ColliderHandle,
    /// Length, width, height, m.
    pub size: [f64; 3],
    pub class: perception::ObstacleClass,
    /// Ground point under its centre and its heading, as last placed.
    pub pos: [f64; 3],
    pub heading: f64,
    /// In the world ([`Physics::set_manned_enabled`]).
    pub enabled: bool,
}

/// A truck's pose and motion as the sensors see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyState {
    /// Ground point under the body centre (site frame).
    pub pos: [f64; 3],
    pub heading: f64,
    pub speed: f64,
    pub lateral_speed: f64,
    /// Unit forward and up vectors (site frame).
    pub forward: [f64; 3],
    pub up: [f64; 3],
}

impl Physics {
    pub fn new(site: &Site, params: TruckParams, hz: f64) -> Physics {
        let mut world = PhysicsWorld::new();
        world.integration_parameters.dt = (1.0 / hz) as f32;
        let hf = &site.terrain;
        let heights = Array2::from_fn(hf.ny, hf.nx, |i, j| hf.heights[(hf.ny - 1 - i) * hf.nx + j]);
        let scale = Vector::new(hf.width() as f32, 1.0, hf.depth() as f32);
        let centre = [
            hf.origin[0] + hf.width() / 2.0,
            hf.origin[1] + hf.depth() / 2.0,
            0.0,
        ];
        let ground = ColliderBuilder::heightfield_with_flags(
            heights,
            scale,
            HeightFieldFlags::FIX_INTERNAL_EDGES,
        )
        .translation(to_physics(centre))
        .friction(0.0)
        .build();
        world.insert_collider(ground, None);
        for l in &site.loaders {
            let z = hf.height_at(l.pos[0], l.pos[1]);
            let body =
                RigidBodyBuilder::fixed().translation(to_physics([l.pos[0], l.pos[1], z + 4.0]));
            let machine = ColliderBuilder::cuboid(6.0, 4.0, 6.0).collision_groups(
                InteractionGroups::new(MACHINES, CHASSIS, InteractionTestMode::And),
            );
            world.insert(body, machine);
        }
        Physics {
            world,
            dt: 1.0 / hz,
            trucks: Vec::new(),
            truck_of_collider: Default::default(),
            params,
            obstacle_of_collider: Default::default(),
            manned: Vec::new(),
            manned_of_collider: Default::default(),
        }
    }

    /// Adds a truck standing on the ground at `pos` (site frame) facing `heading`.
    pub fn add_truck(&mut self, pos: [f64; 3], heading: f64) -> usize {
        let p = self.params;
        let centre = [
            pos[0],
            pos[1],
            pos[2] + BODY_HEIGHT / 2.0 + CLEARANCE + 0.05,
        ];
        let rot = Vector::new(0.0, heading as f32, 0.0);
        let body = RigidBodyBuilder::dynamic()
            .translation(to_physics(centre))
            .rotation(rot)
            .can_sleep(false)
            .build();
        let collider = ColliderBuilder::cuboid(
            (p.length_m / 2.0) as f32,
            (BODY_HEIGHT / 2.0) as f32,
            (p.width_m / 2.0) as f32,
        )
        .mass(p.empty_mass_kg as f32)
        .friction(0.0)
        .restitution(0.0)
        .collision_groups(InteractionGroups::new(
            CHASSIS,
            CHASSIS | MACHINES,
            InteractionTestMode::And,
        ))
        .build();
        let (b, c) = self.world.insert(body, collider);
        let wx = (p.wheelbase_m / 2.0) as f32;
        let wy = (-BODY_HEIGHT / 2.0 + WHEEL_R - CLEARANCE) as f32;
        let wz = (p.width_m / 2.0 - WHEEL_R) as f32;
        for (x, z) in [(wx, wz), (wx, -wz), (-wx, wz), (-wx, -wz)] {
            let wheel = ColliderBuilder::ball(WHEEL_R as f32)
                .translation(Vector::new(x, wy, z))
                .density(0.0)
                .friction(0.0)
                .restitution(0.0)
                .collision_groups(InteractionGroups::new(
                    WHEELS,
                    GROUND,
                    InteractionTestMode::And,
                ))
                .build();
            self.world.insert_collider(wheel, Some(b));
        }
        self.trucks.push((b, c));
        self.truck_of_collider.insert(c, self.trucks.len() - 1);
        self.trucks.len() - 1
    }

    pub fn set_payload(&mut self, truck: usize, payload_t: f64) {
        let (b, _) = self.trucks[truck];
        if let Some(body) = self.world.bodies.get_mut(b) {
            body.set_additional_mass((payload_t.max(0.0) * 1000.0) as f32, true);
        }
    }

    pub fn state(&self, truck: usize) -> BodyState {
        let (b, _) = self.trucks[truck];
        let Some(body) = self.world.bodies.get(b) else {
            return BodyState {
                pos: [0.0; 3],
                heading: 0.0,
                speed: 0.0,
                lateral_speed: 0.0,
                forward: [1.0, 0.0, 0.0],
                up: [0.0, 0.0, 1.0],
            };
        };
        let rot = body.position().rotation;
        let fwd = rot * Vector::X;
        let up = rot * Vector::Y;
        let left = up.cross(fwd);
        let v = body.linvel();
        let c = to_site(body.translation());
        let up_s = to_site(up);
        let pos = [
            c[0] - up_s[0] * BODY_HEIGHT / 2.0,
            c[1] - up_s[1] * BODY_HEIGHT / 2.0,
            c[2] - up_s[2] * BODY_HEIGHT / 2.0,
        ];
        let f = to_site(fwd);
        BodyState {
            pos,
            heading: f[1].atan2(f[0]),
            speed: v.dot(fwd) as f64,
            lateral_speed: v.dot(left) as f64,
            forward: f,
            up: up_s,
        }
    }

    /// Applies one truck's actuation as forces for the next step.
    pub fn drive(&mut self, truck: usize, act: &Actuation, payload_t: f64) {
        let p = self.params;
        let dt = self.dt;
        let (b, _) = self.trucks[truck];
        let Some(body) = self.world.bodies.get_mut(b) else {
            return;
        };
        body.reset_forces(true);
        body.reset_torques(true);
        let mass = p.mass(payload_t);
        let rot = body.position().rotation;
        let fwd = rot * Vector::X;
        let up = rot * Vector::Y;
        let left = up.cross(fwd);
        let v = body.linvel();
        let v_long = v.dot(fwd) as f64;
        let v_lat = v.dot(left) as f64;
        let gravity = Vector::new(0.0, -G as f32, 0.0);
        let g_long = mass * gravity.dot(fwd) as f64;
        let g_lat = mass * gravity.dot(left) as f64;
        let normal = mass * G * (up.y as f64).max(0.0);
        // Longitudinal: traction against brakes + rolling resistance (static when stopped).
        let traction = act.throttle.clamp(0.0, 1.0) * p.traction_available(mass, v_long);
        let resist =
            act.brake.clamp(0.0, 1.0) * p.brake_force_max() + p.rolling_resistance * normal;
        let drive = traction + g_long;
        let f_long = if v_long.abs() < 0.1 {
            let hold = drive + mass * v_long / dt;
            traction - hold.clamp(-resist, resist)
        } else {
            traction - resist * v_long.signum()
        };
        // Lateral: tyres remove side slip and hold against side slope, up to their grip.
        let grip = LATERAL_MU * normal;
        let f_lat = (-mass * v_lat / TAU_LATERAL - g_lat).clamp(-grip, grip);
        let force = fwd * f_long as f32 + left * f_lat as f32;
        body.add_force(force, true);
        // Yaw: turn at the rate the steering angle gives (bicycle model).
        let yaw_rate = v_long * act.steer.tan() / p.wheelbase_m;
        let omega = body.angvel().dot(up) as f64;
        let inertia = mass * (p.length_m.powi(2) + p.width_m.powi(2)) / 12.0;
        let torque = inertia * (yaw_rate - omega) / TAU_YAW;
        body.add_torque(up * torque as f32, true);
    }

    pub fn step(&mut self) {
        self.world.step();
    }

    /// Closest distance between two truck bodies, m (negative never: touching is 0).
    pub fn body_distance(&self, a: usize, b: usize) -> f64 {
        let (Some(ca), Some(cb)) = (
            self.world.colliders.get(self.trucks[a].1),
            self.world.colliders.get(self.trucks[b].1),
        ) else {
            return f64::INFINITY;
        };
        let pa: &Pose = ca.position();
        let pb: &Pose = cb.position();
        query::distance(pa, ca.shape(), pb, cb.shape())
            .map(|d| d.distance as f64)
            .unwrap_or(f64::INFINITY)
    }

    /// Truck pairs whose bodies are in contact with each other now.
    pub fn truck_contacts(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for pair in self.world.narrow_phase.contact_pairs() {
            if !pair.has_any_active_contact() {
                continue;
            }
            let a = self.truck_of_collider.get(&pair.collider1);
            let b = self.truck_of_collider.get(&pair.collider2);
            if let (Some(&a), Some(&b)) = (a, b) {
                out.push((a.min(b), a.max(b)));
            }
        }
        out.sort_unstable();
        out
    }
}

/// Obstacles ([`crate::obstacles`]) and the lidar's view of the world ([`crate::lidar`]).
impl Physics {
    /// Adds `spec` as a fixed box (its centre at the terrain height under `(x, y)` plus half
    /// its height, turned by `yaw` about the vertical) and returns its id: the number of
    /// obstacles added before it. [`crate::obstacles::ObstacleSet`] numbers by spec index
    /// instead ([`Physics::add_obstacle_with_id`]); use one numbering per world.
    ///
    /// The box is in the machines' collision group, so truck chassis boxes make real
    /// contacts with it ([`Physics::truck_obstacle_contacts`], from the next step on), and
    /// lidar rays hit it at once (its bounds go into the query structure here).
    pub fn add_obstacle(&mut self, site: &Site, spec: &perception::ObstacleSpec) -> usize {
        let id = self.obstacle_of_collider.len();
        self.add_obstacle_with_id(site, spec, id);
        id
    }

    /// [`Physics::add_obstacle`] with the caller's id (reported by contacts and lidar hits).
    pub fn add_obstacle_with_id(
        &mut self,
        site: &Site,
        spec: &perception::ObstacleSpec,
        id: usize,
    ) -> ColliderHandle {
        let z = site.terrain.height_at(spec.x, spec.y);
        let collider = ColliderBuilder::cuboid(
            (spec.length / 2.0) as f32,
            (spec.height / 2.0) as f32,
            (spec.width / 2.0) as f32,
        )
        .translation(to_physics([spec.x, spec.y, z + spec.height / 2.0]))
        .rotation(Vector::new(0.0, spec.yaw as f32, 0.0))
        .friction(0.0)
        .restitution(0.0)
        .collision_groups(InteractionGroups::new(
            MACHINES | OBSTACLES,
            CHASSIS,
            InteractionTestMode::And,
        ))
        .build();
        let aabb = collider.compute_aabb();
        let handle = self.world.insert_collider(collider, None);
        // Into the broad phase's tree now, so that ray casts see it before the next step.
        self.world
            .broad_phase
            .set_aabb(&self.world.integration_parameters, handle, aabb);
        self.obstacle_of_collider.insert(handle, id);
        handle
    }

    /// Takes an obstacle out of the world (the dataset's per-sweep obstacles).
    pub fn remove_obstacle(&mut self, handle: ColliderHandle) {
        self.world.remove_collider(handle);
        self.obstacle_of_collider.remove(&handle);
    }

    /// (truck, obstacle id) pairs whose bodies are in contact now.
    pub fn truck_obstacle_contacts(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for pair in self.world.narrow_phase.contact_pairs() {
            if !pair.has_any_active_contact() {
                continue;
            }
            let (c1, c2) = (pair.collider1, pair.collider2);
            let hit = match (
                self.truck_of_collider.get(&c1),
                self.obstacle_of_collider.get(&c2),
            ) {
                (Some(&t), Some(&o)) => Some((t, o)),
                _ => match (
                    self.truck_of_collider.get(&c2),
                    self.obstacle_of_collider.get(&c1),
                ) {
                    (Some(&t), Some(&o)) => Some((t, o)),
                    _ => None,
                },
            };
            out.extend(hit);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The collision groups a lidar ray tests against: the ground, chassis boxes, loaders and
    /// obstacles, never wheel spheres.
    pub fn lidar_groups() -> InteractionGroups {
        InteractionGroups::new(
            CHASSIS,
            GROUND | CHASSIS | MACHINES,
            InteractionTestMode::And,
        )
    }

    /// Whether `collider` is a fixed machine (a loader), not an obstacle.
    pub fn is_loader(&self, collider: ColliderHandle) -> bool {
        self.world.colliders.get(collider).is_some_and(|c| {
            let m = c.collision_groups().memberships;
            m.contains(MACHINES) && !m.contains(OBSTACLES)
        })
    }
}

/// Manned vehicles ([`crate::traffic`]): kinematic boxes in the machines' group (chassis boxes
/// touch them, lidar rays hit them), placed by their drivers each step.
impl Physics {
    /// Adds a manned vehicle of `size` (length, width, height) on the ground at `pos` facing
    /// `heading`; returns its index.
    pub fn add_manned(
        &mut self,
        pos: [f64; 3],
        heading: f64,
        size: [f64; 3],
        class: perception::ObstacleClass,
    ) -> usize {
        let body = RigidBodyBuilder::kinematic_position_based()
            .translation(to_physics([pos[0], pos[1], pos[2] + size[2] / 2.0]))
            .rotation(Vector::new(0.0, heading as f32, 0.0))
            .build();
        let collider = ColliderBuilder::cuboid(
            (size[0] / 2.0) as f32,
            (size[2] / 2.0) as f32,
            (size[1] / 2.0) as f32,
        )
        .friction(0.0)
        .restitution(0.0)
        .collision_groups(InteractionGroups::new(
            MACHINES | OBSTACLES,
            CHASSIS,
            InteractionTestMode::And,
        ))
        .build();
        let (body, collider) = self.world.insert(body, collider);
        let k = self.manned.len();
        self.manned.push(MannedBody {
            body,
            collider,
            size,
            class,
            pos,
            heading,
            enabled: true,
        });
        self.manned_of_collider.insert(collider, k);
        k
    }

    /// Where manned vehicle `k` will be after the next step (ground point and heading).
    pub fn place_manned(&mut self, k: usize, pos: [f64; 3], heading: f64) {
        let Some(m) = self.manned.get_mut(k) else {
            return;
        };
        m.pos = pos;
        m.heading = heading;
        if let Some(b) = self.world.bodies.get_mut(m.body) {
            b.set_next_kinematic_translation(to_physics([
                pos[0],
                pos[1],
                pos[2] + m.size[2] / 2.0,
            ]));
            b.set_next_kinematic_rotation(rapier3d::math::Rotation::from_scaled_axis(Vector::new(
                0.0,
                heading as f32,
                0.0,
            )));
        }
    }

    /// Takes manned vehicle `k` out of contacts and sensing (or back in).
    pub fn set_manned_enabled(&mut self, k: usize, on: bool) {
        let Some(m) = self.manned.get_mut(k) else {
            return;
        };
        m.enabled = on;
        if let Some(c) = self.world.colliders.get_mut(m.collider) {
            c.set_enabled(on);
        }
    }

    /// Closest distance between truck `t`'s body and manned vehicle `k`'s, m.
    pub fn truck_manned_distance(&self, t: usize, k: usize) -> f64 {
        let (Some(ca), Some(cb)) = (
            self.trucks
                .get(t)
                .and_then(|x| self.world.colliders.get(x.1)),
            self.manned
                .get(k)
                .and_then(|m| self.world.colliders.get(m.collider)),
        ) else {
            return f64::INFINITY;
        };
        query::distance(ca.position(), ca.shape(), cb.position(), cb.shape())
            .map(|d| d.distance as f64)
            .unwrap_or(f64::INFINITY)
    }

    /// (truck, manned vehicle) pairs whose bodies are in contact now.
    pub fn truck_manned_contacts(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for pair in self.world.narrow_phase.contact_pairs() {
            if !pair.has_any_active_contact() {
                continue;
            }
            let (c1, c2) = (pair.collider1, pair.collider2);
            let hit = match (
                self.truck_of_collider.get(&c1),
                self.manned_of_collider.get(&c2),
            ) {
                (Some(&t), Some(&m)) => Some((t, m)),
                _ => match (
                    self.truck_of_collider.get(&c2),
                    self.manned_of_collider.get(&c1),
                ) {
                    (Some(&t), Some(&m)) => Some((t, m)),
                    _ => None,
                },
            };
            out.extend(hit);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
