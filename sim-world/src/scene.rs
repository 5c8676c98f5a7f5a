//! What the sensors can see, as boxes standing on the mapped ground: the trucks, the loaders,
//! the obstacles and the manned vehicles of the world, each with its perception class. The fleet-scale sensor
//! model casts against these boxes; the dataset labels come from them.

use crate::physics::{Physics, BODY_HEIGHT};
use perception::fleet_sensor::SceneBox;
use perception::{ObstacleClass, ObstacleSpec};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::Site;

/// Height of a truck as the lidar sees it (chassis box and its clearance), m.
pub const TRUCK_HEIGHT_M: f64 = BODY_HEIGHT + 0.35;
/// Footprint and height of a loader's body, m (the physics collider's size).
pub const LOADER_SIZE_M: (f64, f64, f64) = (12.0, 12.0, 8.0);

/// What a scene box is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Truck(usize),
    Loader(usize),
    Obstacle(usize),
    /// A manned vehicle ([`crate::traffic`]; its index in [`Physics::manned`]).
    Manned(usize),
}

/// The boxes of one moment.
#[derive(Clone, Debug, Default)]
pub struct Scene {
    pub boxes: Vec<SceneBox>,
    pub owners: Vec<Owner>,
    pub classes: Vec<ObstacleClass>,
}

impl Scene {
    /// Trucks (from the physics bodies), loaders and the given active obstacles.
    pub fn of_world<'a>(
        site: &Site,
        physics: &Physics,
        obstacles: impl IntoIterator<Item = (usize, &'a ObstacleSpec)>,
    ) -> Scene {
        let mut s = Scene::default();
        let p = physics.params;
        for t in 0..physics.trucks.len() {
            let st = physics.state(t);
            s.push(
                SceneBox {
                    x: st.pos[0],
                    y: st.pos[1],
                    yaw: st.heading,
                    length: p.length_m,
                    width: p.width_m,
                    height: TRUCK_HEIGHT_M,
                },
                Owner::Truck(t),
                ObstacleClass::Machine,
            );
        }
        for (i, l) in site.loaders.iter().enumerate() {
            s.push(
                SceneBox {
                    x: l.pos[0],
                    y: l.pos[1],
                    yaw: 0.0,
                    length: LOADER_SIZE_M.0,
                    width: LOADER_SIZE_M.1,
                    height: LOADER_SIZE_M.2,
                },
                Owner::Loader(i),
                ObstacleClass::Machine,
            );
        }
        for (i, o) in obstacles {
            s.push(SceneBox::from(o), Owner::Obstacle(i), o.class);
        }
        for (k, m) in physics.manned.iter().enumerate().filter(|(_, m)| m.enabled) {
            let b = SceneBox {
                x: m.pos[0],
                y: m.pos[1],
                yaw: m.heading,
                length: m.size[0],
                width: m.size[1],
                height: m.size[2],
            };
            s.push(b, Owner::Manned(k), m.class);
        }
        s
    }

    pub fn push(&mut self, b: SceneBox, owner: Owner, class: ObstacleClass) {
        self.boxes.push(b);
        self.owners.push(owner);
        self.classes.push(class);
    }

    /// The box a ray-cast return came from (loader returns go to the nearest loader's box).
    pub fn tag_of(
        &self,
        hit: crate::lidar::Hit,
        pose: &perception::fleet_sensor::SensorPose,
        p: &perception::LidarPoint,
    ) -> perception::fleet_sensor::HitTag {
        use crate::lidar::Hit;
        use perception::fleet_sensor::HitTag;
        let find = |o: Owner| {
            self.owners
                .iter()
                .position(|w| *w == o)
                .map_or(HitTag::Ground, |k| HitTag::Box(k as u32))
        };
        match hit {
            Hit::Ground => HitTag::Ground,
            Hit::Clutter => HitTag::Clutter,
            Hit::Truck(t) => find(Owner::Truck(t)),
            Hit::Obstacle(i) => find(Owner::Obstacle(i)),
            Hit::Manned(k) => find(Owner::Manned(k)),
            Hit::Loader => {
                let (c, s) = (pose.heading.cos(), pose.heading.sin());
                let (x, y) = (f64::from(p.x), f64::from(p.y));
                let (wx, wy) = (pose.x + x * c - y * s, pose.y + x * s + y * c);
                let best = (0..self.boxes.len())
                    .filter(|k| matches!(self.owners[*k], Owner::Loader(_)))
                    .min_by(|a, b| {
                        let da = (self.boxes[*a].x - wx).hypot(self.boxes[*a].y - wy);
                        let db = (self.boxes[*b].x - wx).hypot(self.boxes[*b].y - wy);
                        da.total_cmp(&db)
                    });
                best.map_or(HitTag::Ground, |k| HitTag::Box(k as u32))
            }
        }
    }

    /// The scene without one truck's own box (a sensor does not see its carrier).
    /// Index of the box of `owner`.
    pub fn index_of(&self, owner: Owner) -> Option<usize> {
        self.owners.iter().position(|o| *o == owner)
    }

    pub fn without_truck(&self, truck: usize) -> Scene {
        let mut s = Scene::default();
        for k in 0..self.boxes.len() {
            if self.owners[k] != Owner::Truck(truck) {
                s.push(self.boxes[k], self.owners[k], self.classes[k]);
            }
        }
        s
    }
}

/// Draws a random obstacle of a random class.
pub fn random_obstacle(rng: &mut ChaCha8Rng, x: f64, y: f64) -> ObstacleSpec {
    let class = ObstacleClass::ALL[rng.random_range(0..4usize)];
    let yaw = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
    let mut o = ObstacleSpec::typical(class, x, y, yaw);
    match class {
        ObstacleClass::Rock => {
            o.length = rng.random_range(0.5..3.0);
            o.width = (o.length * rng.random_range(0.6..1.0)).max(0.5);
            o.height = o.length * rng.random_range(0.4..0.8);
        }
        ObstacleClass::LightVehicle => {
            o.length = rng.random_range(5.0..6.0);
            o.width = rng.random_range(1.9..2.2);
            o.height = rng.random_range(1.8..2.0);
        }
        ObstacleClass::Person => {
            o.length = rng.random_range(0.5..0.7);
            o.width = rng.random_range(0.5..0.7);
            o.height = rng.random_range(1.6..1.9);
        }
        ObstacleClass::Machine => {}
    }
    o
}
