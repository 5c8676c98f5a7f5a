//! The fleet-scale sensor model: the same roof lidar as the ray-cast one in `sim-world`, cast
//! analytically against the boxes near the truck over the mapped ground instead of through
//! the rapier world.
//!
//! Heights of returns are above the mapped terrain (crate docs), so the ground is the plane
//! `h = 0` in the truck frame and every object is a box standing on it. A ray of beam `i`
//! (elevation `e`) and step `j` (azimuth `a`) leaves the sensor at `(mount_forward, 0,
//! mount_height)`; its footprint is a 2-D ray, and a box is hit where that ray's height lies
//! in `[0, box height]`: on the side face it enters, or on the top. The nearest of the box
//! hits and the ground hit wins: occlusion is exact for boxes. What the model leaves out:
//! terrain relief (a crest hides what lies behind it from the ray-cast lidar, not from this
//! model) and returns from the pit walls' shape. The error model (dropout, dust extinction,
//! dust clutter, range noise) is [`LidarConfig`]'s, drawn exactly as the ray-cast lidar draws
//! it.
//!
//! Cost: one 2-D slab test per azimuth step and nearby box, then a few operations per ray;
//! no ray walks a heightfield.

use crate::lidar::{LidarConfig, DUST_CLUTTER_RANGE_M};
use crate::types::{LidarPoint, Scan};
use rand::RngExt;

/// A box standing on the ground, in the site frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SceneBox {
    /// Centre of the footprint, m.
    pub x: f64,
    pub y: f64,
    /// Heading of the length axis, rad.
    pub yaw: f64,
    pub length: f64,
    pub width: f64,
    pub height: f64,
}

impl From<&crate::types::ObstacleSpec> for SceneBox {
    fn from(o: &crate::types::ObstacleSpec) -> SceneBox {
        SceneBox {
            x: o.x,
            y: o.y,
            yaw: o.yaw,
            length: o.length,
            width: o.width,
            height: o.height,
        }
    }
}

/// What a return came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitTag {
    Ground,
    /// Index into the boxes passed in.
    Box(u32),
    /// Dust scattered the ray back early.
    Clutter,
}

/// The sensor's pose: the ground point under the truck centre and its heading (site frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SensorPose {
    pub x: f64,
    pub y: f64,
    pub heading: f64,
}

/// Where a ray survives the error model: the measured range, or `None` when it is lost.
/// `Some((range, true))` marks a dust clutter return. Both sensor levels draw through this,
/// in this order: clutter, survival, noise.
pub fn draw_return(
    cfg: &LidarConfig,
    true_range: Option<f64>,
    dust: f64,
    rng: &mut impl rand::Rng,
) -> Option<(f64, bool)> {
    let pc = cfg.clutter_probability(dust);
    if pc > 0.0 && rng.random_range(0.0..1.0) < pc {
        let (lo, hi) = DUST_CLUTTER_RANGE_M;
        return Some((rng.random_range(lo..hi), true));
    }
    let r = true_range?;
    if rng.random_range(0.0..1.0) >= cfg.return_probability(r, dust) {
        return None;
    }
    Some(((r + cfg.range_sigma(dust) * normal(rng)).max(0.0), false))
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A box in the truck frame, ready for slab tests.
pub(crate) struct LocalBox {
    pub(crate) cx: f64,
    pub(crate) cy: f64,
    /// Unit length axis.
    pub(crate) ux: f64,
    pub(crate) uy: f64,
    pub(crate) hl: f64,
    pub(crate) hw: f64,
    pub(crate) height: f64,
    pub(crate) tag: u32,
}

/// Entry and exit distances of the 2-D ray `o + t·d` through a box footprint, if any.
pub(crate) fn slab(b: &LocalBox, ox: f64, oy: f64, dx: f64, dy: f64) -> Option<(f64, f64)> {
    let (rx, ry) = (ox - b.cx, oy - b.cy);
    // Ray in the box's axes.
    let (p0, d0) = (rx * b.ux + ry * b.uy, dx * b.ux + dy * b.uy);
    let (p1, d1) = (-rx * b.uy + ry * b.ux, -dx * b.uy + dy * b.ux);
    let mut t0 = f64::NEG_INFINITY;
    let mut t1 = f64::INFINITY;
    for (p, d, h) in [(p0, d0, b.hl), (p1, d1, b.hw)] {
        if d.abs() < 1e-12 {
            if p.abs() > h {
                return None;
            }
        } else {
            let (a, c) = ((-h - p) / d, (h - p) / d);
            let (a, c) = if a < c { (a, c) } else { (c, a) };
            t0 = t0.max(a);
            t1 = t1.min(c);
        }
    }
    (t1 >= t0.max(0.0)).then_some((t0.max(0.0), t1))
}

/// The boxes within the sensor's reach, in the truck frame; `tag` is the index into `boxes`.
pub(crate) fn local_boxes(
    cfg: &LidarConfig,
    pose: &SensorPose,
    boxes: &[SceneBox],
) -> Vec<LocalBox> {
    let (c, s) = (pose.heading.cos(), pose.heading.sin());
    let reach = cfg.range_m + cfg.mount_forward_m.abs();
    boxes
        .iter()
        .enumerate()
        .filter_map(|(k, b)| {
            let (dx, dy) = (b.x - pose.x, b.y - pose.y);
            let r = 0.5 * b.length.hypot(b.width);
            if dx.hypot(dy) > reach + r || !b.height.is_finite() || b.height <= 0.0 {
                return None;
            }
            let yaw = b.yaw - pose.heading;
            Some(LocalBox {
                cx: dx * c + dy * s,
                cy: -dx * s + dy * c,
                ux: yaw.cos(),
                uy: yaw.sin(),
                hl: 0.5 * b.length,
                hw: 0.5 * b.width,
                height: b.height,
                tag: k as u32,
            })
        })
        .collect()
}

/// Where an azimuth column's ray footprint crosses a box: entry and exit distances from
/// the sensor, the box height and its tag.
pub(crate) type Span = (f64, f64, f64, u32);

/// The crossings of the column with direction `(dx, dy)` through `boxes`, sorted by entry.
pub(crate) fn column_spans<'a>(
    cfg: &LidarConfig,
    boxes: impl Iterator<Item = &'a LocalBox>,
    dx: f64,
    dy: f64,
    spans: &mut Vec<Span>,
) {
    spans.clear();
    for b in boxes {
        if let Some((t0, t1)) = slab(b, cfg.mount_forward_m, 0.0, dx, dy) {
            spans.push((t0, t1, b.height, b.tag));
        }
    }
    spans.sort_by(|p, q| p.0.total_cmp(&q.0));
}

/// `(tan, cos)` of every beam's elevation.
pub(crate) fn beam_tans(cfg: &LidarConfig) -> Vec<(f64, f64)> {
    (0..cfg.beams)
        .map(|i| {
            let e = cfg.elevation(i);
            (e.tan(), e.cos())
        })
        .collect()
}

/// One ray of an azimuth column whose box footprint crossings are `spans` (sorted by entry):
/// the nearest of the box hits and the ground hit, through the error model. `None` when the
/// ray is lost.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cast_ray(
    cfg: &LidarConfig,
    spans: &[Span],
    tan_e: f64,
    cos_e: f64,
    dx: f64,
    dy: f64,
    dust: f64,
    rng: &mut impl rand::Rng,
) -> Option<(LidarPoint, HitTag)> {
    let (ox, oy, oh) = (cfg.mount_forward_m, 0.0, cfg.mount_height_m);
    // Horizontal distance of the first surface the ray meets.
    let mut hit: Option<(f64, HitTag)> = None;
    let t_ground = if tan_e < 0.0 {
        -oh / tan_e
    } else {
        f64::INFINITY
    };
    for &(t0, t1, h, tag) in spans {
        if t0 >= t_ground {
            break;
        }
        let z0 = oh + t0 * tan_e;
        let t = if (0.0..=h).contains(&z0) {
            Some(t0)
        } else if z0 > h && tan_e < 0.0 {
            let tt = (h - oh) / tan_e;
            (tt >= t0 && tt <= t1).then_some(tt)
        } else {
            None
        };
        if let Some(t) = t {
            hit = Some((t, HitTag::Box(tag)));
            break;
        }
    }
    let hit = hit.or((t_ground.is_finite()).then_some((t_ground, HitTag::Ground)));
    let true_range = hit.map(|(t, _)| t / cos_e).filter(|r| *r <= cfg.range_m);
    let (r, clutter) = draw_return(cfg, true_range, dust, rng)?;
    let t = r * cos_e;
    let h = oh + t * tan_e;
    let tag = if clutter {
        HitTag::Clutter
    } else {
        hit.map_or(HitTag::Ground, |(_, g)| g)
    };
    // Ground returns read the mapped ground: 0 plus the range noise's share.
    Some((
        LidarPoint {
            x: (ox + t * dx) as f32,
            y: (oy + t * dy) as f32,
            h: h as f32,
        },
        tag,
    ))
}

/// One sweep of the fleet-scale model. Returns the scan (truck frame) and a tag per point.
pub fn scan(
    cfg: &LidarConfig,
    pose: &SensorPose,
    boxes: &[SceneBox],
    dust: f64,
    rng: &mut impl rand::Rng,
    t_us: u64,
) -> (Scan, Vec<HitTag>) {
    let local = local_boxes(cfg, pose, boxes);
    let tans = beam_tans(cfg);
    let mut points = Vec::with_capacity(cfg.rays_per_sweep() as usize / 2);
    let mut tags = Vec::with_capacity(points.capacity());
    let mut spans: Vec<Span> = Vec::new();
    for j in 0..cfg.azimuth_steps {
        let a = cfg.azimuth(j);
        let (dx, dy) = (a.cos(), a.sin());
        column_spans(cfg, local.iter(), dx, dy, &mut spans);
        for &(tan_e, cos_e) in &tans {
            let Some((p, tag)) = cast_ray(cfg, &spans, tan_e, cos_e, dx, dy, dust, rng) else {
                continue;
            };
            points.push(p);
            tags.push(tag);
        }
    }
    (
        Scan {
            t_us,
            points,
            rays: cfg.rays_per_sweep(),
        },
        tags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn clean() -> LidarConfig {
        LidarConfig {
            dropout: 0.0,
            range_sigma_m: 0.0,
            ..Default::default()
        }
    }

    #[test]
    fn a_rock_ahead_is_hit_on_its_face_and_shadows_the_ground_behind() {
        let cfg = clean();
        let pose = SensorPose {
            x: 100.0,
            y: 50.0,
            heading: std::f64::consts::FRAC_PI_2,
        };
        // 30 m ahead of the truck (north), 2 m rock.
        let rock = SceneBox {
            x: 100.0,
            y: 80.0,
            yaw: 0.3,
            length: 2.0,
            width: 2.0,
            height: 2.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (scan, tags) = scan(&cfg, &pose, &[rock], 0.0, &mut rng, 7);
        assert_eq!(scan.t_us, 7);
        let on_rock: Vec<_> = scan
            .points
            .iter()
            .zip(&tags)
            .filter(|(_, t)| **t == HitTag::Box(0))
            .map(|(p, _)| *p)
            .collect();
        assert!(on_rock.len() >= 10, "{} returns on the rock", on_rock.len());
        for p in &on_rock {
            assert!(p.x > 28.5 && p.x < 31.5 && p.y.abs() < 1.5, "{p:?}");
            assert!(p.h >= -1e-4 && p.h <= 2.0 + 1e-4, "{p:?}");
        }
        // Nothing on the ground right behind the rock, on its line of sight.
        let shadow = scan
            .points
            .iter()
            .zip(&tags)
            .filter(|(p, t)| **t == HitTag::Ground && p.x > 32.0 && p.x < 45.0 && p.y.abs() < 0.3)
            .count();
        assert_eq!(shadow, 0);
        let ground = tags.iter().filter(|t| **t == HitTag::Ground).count();
        assert!(ground > 10_000);
        for (p, t) in scan.points.iter().zip(&tags) {
            if *t == HitTag::Ground {
                assert!(p.h.abs() < 1e-3);
            }
        }
    }

    #[test]
    fn a_near_box_hides_a_far_one() {
        let cfg = clean();
        let pose = SensorPose {
            x: 0.0,
            y: 0.0,
            heading: 0.0,
        };
        let near = SceneBox {
            x: 20.0,
            y: 0.0,
            yaw: 0.0,
            length: 2.0,
            width: 6.0,
            height: 4.0,
        };
        let far = SceneBox {
            x: 40.0,
            y: 0.0,
            yaw: 0.0,
            length: 1.0,
            width: 1.0,
            height: 1.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (_, tags) = scan(&cfg, &pose, &[near, far], 0.0, &mut rng, 0);
        assert!(tags.contains(&HitTag::Box(0)));
        assert!(!tags.contains(&HitTag::Box(1)), "the far box is occluded");
        let (_, tags) = scan(&cfg, &pose, &[far], 0.0, &mut rng, 0);
        assert!(tags.contains(&HitTag::Box(0)), "alone it is seen");
    }

    #[test]
    fn dust_thins_returns_and_adds_clutter_and_seeds_repeat() {
        let cfg = LidarConfig::default();
        let pose = SensorPose {
            x: 0.0,
            y: 0.0,
            heading: 0.0,
        };
        let run = |dust: f64, seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            scan(&cfg, &pose, &[], dust, &mut rng, 0)
        };
        let (a, ta) = run(0.0, 3);
        let (b, tb) = run(1.0, 3);
        assert!(b.points.len() < a.points.len());
        assert!(!ta.contains(&HitTag::Clutter));
        assert!(tb.contains(&HitTag::Clutter));
        assert_eq!(run(0.5, 9).0, run(0.5, 9).0);
    }
}
