//! Obstacles in the world: rocks, light vehicles, people, stalled machines placed on the
//! site ([`perception::ObstacleSpec`]) that appear at their time as fixed rapier boxes
//! ([`Physics::add_obstacle_with_id`]): truck chassis boxes make real contacts with them
//! ([`Physics::truck_obstacle_contacts`]) and the ray-cast lidar ([`crate::lidar`]) sees them.
//!
//! An obstacle with a `remove_at_us` is taken out of the world at that time (the road is
//! cleared): its collider leaves the physics world, so the lidar and the fleet sensor stop
//! seeing it.
//!
//! An obstacle's id in contacts and lidar hits is its index in the [`ObstacleSet`].

use crate::physics::Physics;
use perception::ObstacleSpec;
use rapier3d::prelude::ColliderHandle;
use site::Site;

/// Where an obstacle is in its life.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Life {
    /// Not in the world yet.
    Waiting,
    /// In the world, as this collider.
    Present(ColliderHandle),
    /// Taken away.
    Removed,
}

/// The run's obstacles and which of them are in the world now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObstacleSet {
    specs: Vec<ObstacleSpec>,
    life: Vec<Life>,
}

impl ObstacleSet {
    /// Checks every spec; the error names the obstacle's index and the field.
    pub fn new(specs: Vec<ObstacleSpec>) -> Result<Self, String> {
        for (i, s) in specs.iter().enumerate() {
            s.validate().map_err(|e| format!("obstacle {i}: {e}"))?;
        }
        let life = vec![Life::Waiting; specs.len()];
        Ok(ObstacleSet { specs, life })
    }

    /// Adds to `physics`, in index order, every obstacle not yet there whose `appear_at_us`
    /// has come (`<= now_us`), and takes out every present one whose `remove_at_us` has
    /// come. Lidar rays see the change at once; contacts follow with the next physics step.
    pub fn update(&mut self, physics: &mut Physics, site: &Site, now_us: u64) {
        for (i, (spec, life)) in self.specs.iter().zip(&mut self.life).enumerate() {
            let gone = spec.remove_at_us.is_some_and(|r| r <= now_us);
            match *life {
                Life::Waiting if gone => *life = Life::Removed,
                Life::Waiting if spec.appear_at_us <= now_us => {
                    *life = Life::Present(physics.add_obstacle_with_id(site, spec, i));
                }
                Life::Present(h) if gone => {
                    physics.remove_obstacle(h);
                    *life = Life::Removed;
                }
                _ => {}
            }
        }
    }

    /// The obstacles in the world now, with their ids (indices).
    pub fn active(&self) -> impl Iterator<Item = (usize, &ObstacleSpec)> {
        self.specs
            .iter()
            .zip(&self.life)
            .enumerate()
            .filter(|(_, (_, l))| matches!(l, Life::Present(_)))
            .map(|(i, (spec, _))| (i, spec))
    }

    /// Every obstacle, spawned or not, in index order.
    pub fn specs(&self) -> &[ObstacleSpec] {
        &self.specs
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perception::ObstacleClass;
    use vehicle::{Actuation, TruckParams};

    fn site() -> Site {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
        site::file::load(&path).expect("default site loads")
    }

    /// A physics world with one truck at the first fleet slot; returns it, the truck and
    /// the point `ahead` m in front of the truck's centre.
    fn truck_world(site: &Site, ahead: f64) -> (Physics, usize, [f64; 2]) {
        let slot = site.fleet_start(1, 1).expect("one slot")[0];
        let pt = site.roads.lane(slot.lane).point_at(slot.s);
        let mut ph = Physics::new(site, TruckParams::default(), 50.0);
        let t = ph.add_truck(pt.pos, pt.heading);
        ph.step();
        let (c, s) = (pt.heading.cos(), pt.heading.sin());
        (ph, t, [pt.pos[0] + ahead * c, pt.pos[1] + ahead * s])
    }

    fn rock(at: [f64; 2], size: f64) -> ObstacleSpec {
        ObstacleSpec {
            length: size,
            width: size,
            height: size,
            ..ObstacleSpec::typical(ObstacleClass::Rock, at[0], at[1], 0.3)
        }
    }

    #[test]
    fn bad_specs_are_named_by_index_and_field() {
        let good = rock([0.0, 0.0], 1.0);
        let bad = ObstacleSpec {
            height: -1.0,
            ..good
        };
        let e = ObstacleSet::new(vec![good, bad]).unwrap_err();
        assert!(e.starts_with("obstacle 1: height"), "{e}");
        assert_eq!(ObstacleSet::new(vec![good]).map(|s| s.len()), Ok(1));
    }

    #[test]
    fn obstacles_appear_at_their_time_in_index_order() {
        let site = site();
        let (mut ph, _, p) = truck_world(&site, 30.0);
        let later = ObstacleSpec {
            appear_at_us: 5_000_000,
            ..rock(p, 1.0)
        };
        let mut set = ObstacleSet::new(vec![later, rock([p[0] + 5.0, p[1]], 1.0)]).unwrap();
        set.update(&mut ph, &site, 0);
        assert_eq!(set.active().map(|(i, _)| i).collect::<Vec<_>>(), [1]);
        assert_eq!(ph.obstacle_of_collider.len(), 1);
        set.update(&mut ph, &site, 5_000_000);
        assert_eq!(set.active().map(|(i, _)| i).collect::<Vec<_>>(), [0, 1]);
        set.update(&mut ph, &site, 6_000_000);
        let mut ids: Vec<usize> = ph.obstacle_of_collider.values().copied().collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1], "each spawned once, id = index");
    }

    #[test]
    fn a_removed_obstacle_leaves_the_physics_world_and_the_active_set() {
        let site = site();
        let (mut ph, _, p) = truck_world(&site, 30.0);
        let cleared = ObstacleSpec {
            remove_at_us: Some(4_000_000),
            ..rock(p, 1.0)
        };
        let never_seen = ObstacleSpec {
            appear_at_us: 5_000_000,
            remove_at_us: Some(5_000_001),
            ..rock([p[0] + 5.0, p[1]], 1.0)
        };
        let mut set = ObstacleSet::new(vec![cleared, never_seen]).unwrap();
        set.update(&mut ph, &site, 0);
        assert_eq!(set.active().count(), 1);
        assert_eq!(ph.obstacle_of_collider.len(), 1);
        set.update(&mut ph, &site, 4_000_000);
        assert_eq!(set.active().count(), 0, "cleared at its time");
        assert!(ph.obstacle_of_collider.is_empty(), "its collider is gone");
        // a step that skips past both the appearance and the removal never adds it
        set.update(&mut ph, &site, 6_000_000);
        assert_eq!(set.active().count(), 0);
        assert!(ph.obstacle_of_collider.is_empty());
        let bad = ObstacleSpec {
            appear_at_us: 10,
            remove_at_us: Some(10),
            ..rock(p, 1.0)
        };
        let e = ObstacleSet::new(vec![bad]).unwrap_err();
        assert!(e.starts_with("obstacle 0: remove_at_us"), "{e}");
    }

    #[test]
    fn a_truck_driven_into_a_rock_touches_it() {
        let site = site();
        let (mut ph, t, p) = truck_world(&site, 20.0);
        let mut set = ObstacleSet::new(vec![rock(p, 3.0)]).unwrap();
        set.update(&mut ph, &site, 0);
        let full = Actuation {
            throttle: 1.0,
            brake: 0.0,
            steer: 0.0,
            tip: false,
        };
        let mut touched = None;
        for k in 0..(50 * 30) {
            ph.drive(t, &full, 0.0);
            ph.step();
            if ph.truck_obstacle_contacts().contains(&(t, 0)) {
                touched = Some(k);
                break;
            }
        }
        let st = ph.state(t);
        assert!(
            touched.is_some(),
            "no contact; truck at {:?}, rock at {p:?}",
            st.pos
        );
        // it stopped at the rock, not through it
        let d = ((st.pos[0] - p[0]).powi(2) + (st.pos[1] - p[1]).powi(2)).sqrt();
        assert!(d > 5.0, "centre {d:.1} m from the rock");
    }
}
