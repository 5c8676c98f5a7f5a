//! The ray-cast roof lidar: every ray of a [`LidarConfig`] sweep cast through the rapier
//! world (terrain, other trucks, loaders, obstacles), with the shared error model of
//! [`perception::lidar`] (dropout and dust extinction, range noise, dust back-scatter).
//!
//! Geometry: the sensor sits `mount_forward_m` ahead of the truck's centre along its
//! heading and `mount_height_m` above the ground point under the centre
//! ([`crate::physics::BodyState::pos`]). Beam elevations and azimuths are taken relative to
//! the *horizon* and the truck's heading: the body's pitch and roll are ignored (a
//! levelled sensor, and a simplification on grades). Returns are given in the truck frame
//! (`x` forward, `y` left from the centre's ground point along the heading) with `h` the
//! return's height above the mapped terrain ([`site::terrain`]) at its own `(x, y)`; a
//! return from the terrain itself reads its vertical range error (the map is the surface).
//!
//! Rays skip the scanning truck's own body and every wheel sphere. The query structure is
//! built by [`Physics::step`]: before a world's first step every ray misses (the scan has
//! its rays but no returns). Obstacles added with [`Physics::add_obstacle`] are visible at
//! once.
//!
//! Random draws, per ray in order: dust clutter (only when its probability is positive), then,
//! for a surface hit, survival and the range noise (Box–Muller). The scan is a pure function of
//! the world and the rng's state.

use crate::physics::{to_physics, Physics};
use perception::lidar::DUST_CLUTTER_RANGE_M;
use perception::{LidarConfig, LidarPoint, Scan};
use rand::RngExt;
use rapier3d::prelude::*;
use site::Site;

/// What a return came from, one per point of the scan, in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hit {
    /// The terrain.
    Ground,
    /// Another truck's body (its index).
    Truck(usize),
    /// A loader.
    Loader,
    /// An obstacle (its id: the index in [`crate::obstacles::ObstacleSet`]).
    Obstacle(usize),
    /// Dust back-scatter.
    Clutter,
    /// A manned vehicle (its index in [`Physics::manned`]).
    Manned(usize),
}

/// One sweep of `truck`'s lidar at dust level `dust` (0–1), stamped `t_us`. A truck index
/// that is not in `physics` gives an empty scan (no rays).
pub fn cast_scan(
    physics: &Physics,
    site: &Site,
    truck: usize,
    cfg: &LidarConfig,
    dust: f64,
    rng: &mut impl rand::Rng,
    t_us: u64,
) -> (Scan, Vec<Hit>) {
    let Some(&(body, _)) = physics.trucks.get(truck) else {
        return (
            Scan {
                t_us,
                ..Scan::default()
            },
            Vec::new(),
        );
    };
    let st = physics.state(truck);
    let (ch, sh) = (st.heading.cos(), st.heading.sin());
    let origin = [
        st.pos[0] + cfg.mount_forward_m * ch,
        st.pos[1] + cfg.mount_forward_m * sh,
        st.pos[2] + cfg.mount_height_m,
    ];
    let origin_p = to_physics(origin);
    let filter = QueryFilter::new()
        .groups(Physics::lidar_groups())
        .exclude_rigid_body(body);
    let query = physics.world.query_pipeline_with_filter(filter);
    let p_clutter = cfg.clutter_probability(dust);
    let sigma = cfg.range_sigma(dust);
    let max_range = cfg.range_m.max(0.0);
    let (c_lo, c_hi) = DUST_CLUTTER_RANGE_M;

    let rays = cfg.rays_per_sweep();
    let mut points = Vec::new();
    let mut hits = Vec::new();
    // A point `r` along site-frame direction `d` from the sensor, in the truck frame.
    let to_truck = |d: [f64; 3], r: f64| {
        let p = [
            origin[0] + d[0] * r,
            origin[1] + d[1] * r,
            origin[2] + d[2] * r,
        ];
        let (dx, dy) = (p[0] - st.pos[0], p[1] - st.pos[1]);
        LidarPoint {
            x: (dx * ch + dy * sh) as f32,
            y: (-dx * sh + dy * ch) as f32,
            h: (p[2] - site.terrain.height_at(p[0], p[1])) as f32,
        }
    };
    for i in 0..cfg.beams {
        let el = cfg.elevation(i);
        let (ce, se) = (el.cos(), el.sin());
        for j in 0..cfg.azimuth_steps {
            let az = st.heading + cfg.azimuth(j);
            let d = [ce * az.cos(), ce * az.sin(), se];
            let clutter = if p_clutter > 0.0 && rng.random::<f64>() < p_clutter {
                Some(c_lo + (c_hi - c_lo) * rng.random::<f64>())
            } else {
                None
            };
            let ray = Ray::new(origin_p, to_physics(d));
            let hit = query.cast_ray(&ray, max_range as f32, true);
            match (clutter, hit) {
                // Back-scatter in front of the surface (or in the open) comes back first.
                (Some(r), h) if h.is_none_or(|(_, toi)| r < f64::from(toi)) => {
                    points.push(to_truck(d, r));
                    hits.push(Hit::Clutter);
                }
                (_, Some((handle, toi))) => {
                    let r = f64::from(toi);
                    if rng.random::<f64>() >= cfg.return_probability(r, dust) {
                        continue;
                    }
                    let noisy = (r + sigma * gaussian(rng)).max(0.0);
                    let mut p = to_truck(d, noisy);
                    let what = classify(physics, handle);
                    if what == Hit::Ground {
                        // The surveyed surface is the surface the ray hit: a ground return
                        // reads only its range error (the collider's triangles and the
                        // map's bilinear surface differ by up to a metre on bench faces,
                        // which is an artefact of two interpolations, not terrain).
                        p.h = ((noisy - r) * se) as f32;
                    }
                    points.push(p);
                    hits.push(what);
                }
                _ => {}
            }
        }
    }
    (Scan { t_us, points, rays }, hits)
}

fn classify(physics: &Physics, c: ColliderHandle) -> Hit {
    if let Some(&t) = physics.truck_of_collider.get(&c) {
        Hit::Truck(t)
    } else if let Some(&o) = physics.obstacle_of_collider.get(&c) {
        Hit::Obstacle(o)
    } else if let Some(&m) = physics.manned_of_collider.get(&c) {
        Hit::Manned(m)
    } else if physics.is_loader(c) {
        Hit::Loader
    } else {
        Hit::Ground
    }
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut impl rand::Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obstacles::ObstacleSet;
    use perception::{ObstacleClass, ObstacleSpec};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use vehicle::TruckParams;

    fn site() -> Site {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
        site::file::load(&path).expect("default site loads")
    }

    fn truck_world(site: &Site, ahead: f64) -> (Physics, usize, [f64; 2]) {
        let slot = site.fleet_start(1, 1).expect("one slot")[0];
        let pt = site.roads.lane(slot.lane).point_at(slot.s);
        let mut ph = Physics::new(site, TruckParams::default(), 50.0);
        let t = ph.add_truck(pt.pos, pt.heading);
        ph.step();
        let (c, s) = (pt.heading.cos(), pt.heading.sin());
        (ph, t, [pt.pos[0] + ahead * c, pt.pos[1] + ahead * s])
    }

    fn rock(at: [f64; 2], appear_at_us: u64) -> ObstacleSpec {
        ObstacleSpec {
            length: 2.0,
            width: 2.0,
            height: 2.0,
            appear_at_us,
            ..ObstacleSpec::typical(ObstacleClass::Rock, at[0], at[1], 0.0)
        }
    }

    fn scan(ph: &Physics, site: &Site, dust: f64, seed: u64) -> (Scan, Vec<Hit>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        cast_scan(ph, site, 0, &LidarConfig::default(), dust, &mut rng, 7)
    }

    fn on_rock(s: &Scan, hits: &[Hit]) -> usize {
        s.points
            .iter()
            .zip(hits)
            .filter(|(p, h)| {
                **h == Hit::Obstacle(0)
                    && (0.3..=2.3).contains(&p.h)
                    && (29.0..=32.0).contains(&p.x)
            })
            .count()
    }

    #[test]
    fn a_rock_ahead_is_seen_and_the_ground_lies_at_zero() {
        let site = site();
        let (mut ph, t, p) = truck_world(&site, 30.0);
        assert_eq!(t, 0);
        ph.add_obstacle(&site, &rock(p, 0));
        let (s, hits) = scan(&ph, &site, 0.0, 3);
        assert_eq!(s.rays, 32 * 1024);
        assert_eq!(s.t_us, 7);
        assert_eq!(s.points.len(), hits.len());
        let n = on_rock(&s, &hits);
        let all = hits.iter().filter(|h| **h == Hit::Obstacle(0)).count();
        eprintln!("{n} of {all} rock returns at x 29–32 m, h 0.3–2.3 m");
        assert!(n >= 10, "{n} rock returns");
        let ground: Vec<f32> = s
            .points
            .iter()
            .zip(&hits)
            .filter(|(_, h)| **h == Hit::Ground)
            .map(|(p, _)| p.h)
            .collect();
        let flat = ground.iter().filter(|h| h.abs() < 0.3).count();
        eprintln!("{flat} of {} ground returns within 0.3 m", ground.len());
        assert!(ground.len() > 1000);
        assert!(flat as f64 >= 0.95 * ground.len() as f64);
        assert!(!hits.contains(&Hit::Truck(0)), "sees itself");
        assert!(!hits.contains(&Hit::Clutter));
        // deterministic given the rng
        assert_eq!(scan(&ph, &site, 0.0, 3).0, s);
        // and still seen after steps (the broad phase keeps it)
        for _ in 0..3 {
            ph.step();
        }
        let (s2, h2) = scan(&ph, &site, 0.0, 3);
        assert!(on_rock(&s2, &h2) >= 10);
    }

    #[test]
    fn dust_takes_returns_away_and_adds_clutter() {
        let site = site();
        let (ph, _, _) = truck_world(&site, 30.0);
        let (clear, _) = scan(&ph, &site, 0.0, 5);
        let (dusty, hits) = scan(&ph, &site, 1.0, 5);
        eprintln!(
            "returns: {} clear, {} in dust",
            clear.points.len(),
            dusty.points.len()
        );
        assert!(dusty.points.len() < clear.points.len());
        let clutter: Vec<_> = dusty
            .points
            .iter()
            .zip(&hits)
            .filter(|(_, h)| **h == Hit::Clutter)
            .collect();
        assert!(!clutter.is_empty());
    }

    #[test]
    fn an_obstacle_is_not_seen_before_it_appears() {
        let site = site();
        let (mut ph, _, p) = truck_world(&site, 30.0);
        let mut set = ObstacleSet::new(vec![rock(p, 2_000_000)]).unwrap();
        set.update(&mut ph, &site, 1_999_999);
        ph.step();
        let (s, hits) = scan(&ph, &site, 0.0, 9);
        assert!(!hits.contains(&Hit::Obstacle(0)));
        assert_eq!(s.points.len(), hits.len());
        set.update(&mut ph, &site, 2_000_000);
        let (s, hits) = scan(&ph, &site, 0.0, 9);
        assert!(on_rock(&s, &hits) >= 10);
    }

    #[test]
    fn other_trucks_are_tagged_and_a_fresh_world_sees_nothing() {
        let site = site();
        let slot = site.fleet_start(1, 1).expect("one slot")[0];
        let pt = site.roads.lane(slot.lane).point_at(slot.s);
        let mut ph = Physics::new(&site, TruckParams::default(), 50.0);
        ph.add_truck(pt.pos, pt.heading);
        let ahead = [
            pt.pos[0] + 35.0 * pt.heading.cos(),
            pt.pos[1] + 35.0 * pt.heading.sin(),
        ];
        let z = site.terrain.height_at(ahead[0], ahead[1]);
        ph.add_truck([ahead[0], ahead[1], z], pt.heading);
        let (s, _) = scan(&ph, &site, 0.0, 1);
        assert!(
            s.points.is_empty(),
            "no query structure before the first step"
        );
        ph.step();
        let (_, hits) = scan(&ph, &site, 0.0, 1);
        assert!(hits.iter().filter(|h| **h == Hit::Truck(1)).count() > 50);
        assert!(!hits.contains(&Hit::Truck(0)));
    }
}
