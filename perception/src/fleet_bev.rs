//! The fleet-scale sensor model straight into the BEV grid: the same sweep as
//! [`fleet_sensor::scan`](crate::fleet_sensor::scan), rasterised without making points.
//!
//! Why it is cheap: over the mapped ground (the plane `h = 0` of the truck frame) the ground
//! return of beam `i` at azimuth step `j` lands at a fixed place of the truck frame, whatever
//! the truck's pose. [`GroundPattern`] computes, once per lidar and grid, which cell each of
//! those ground rays falls in. A sweep then
//! - finds the azimuth columns that can meet a box (each box's angular extent seen from the
//!   sensor) and casts every ray of those columns exactly as the point model does
//!   ([`fleet_sensor::cast_ray`](crate::fleet_sensor)): box faces, tops, occlusion, the error
//!   model, each return added to its cell;
//! - in every other column, draws each ground ray's survival (dropout and dust extinction at
//!   its range, one integer draw per ray) and adds the survivors to their precomputed cells;
//! - draws dust clutter over those columns' rays by geometric skipping (the gaps between
//!   cluttered rays of a Bernoulli sequence), each clutter return replacing its ray's return.
//!
//! What differs from the point model, by construction: in box-free columns the range noise
//! of ground returns is not drawn (it moves a ground return by at most σ·sin 20° ≈ 1 cm in
//! height and σ·cos along the ground, so a cell's heights read 0 instead of ±1 cm), and
//! returns outside the grid are counted by their expected number, not drawn. The detector
//! figures of both sensor models are measured on the same held-out scenes
//! (`assets/models/detector.metrics.md`).

use crate::bev::{BevAccumulator, BevSpec};
use crate::fleet_sensor::{beam_tans, cast_ray, column_spans, local_boxes, HitTag, SceneBox};
use crate::fleet_sensor::{SensorPose, Span};
use crate::lidar::{LidarConfig, DUST_CLUTTER_RANGE_M};
use rand::RngExt;
use rand_distr::StandardNormal;

/// Range noise beyond this many standard deviations is not drawn (probability < 6e-7).
const NOISE_REACH: f64 = 5.0;

/// Cell index of a ray that lands outside the grid (or nowhere within range).
const OUTSIDE: u32 = u32::MAX;

/// Where each ground ray of a lidar lands in a BEV grid, precomputed.
#[derive(Clone, Debug)]
pub struct GroundPattern {
    pub lidar: LidarConfig,
    pub spec: BevSpec,
    /// Per azimuth step, per beam: the cell (`iy · w + ix`) of the ray's ground return, or
    /// [`OUTSIDE`] when the ray meets no ground within range or lands outside the grid.
    cells: Vec<u32>,
    /// Per azimuth step, per beam: how far along the ground the ray's return may move
    /// before it crosses a cell edge (either way), m.
    edge: Vec<f32>,
    /// Per beam: the true range of its ground return when within the lidar's range.
    ground_range: Vec<Option<f64>>,
    /// Per beam: how many of its ground returns (over all azimuth steps) land outside the
    /// grid but within range.
    outside: Vec<u32>,
    tans: Vec<(f64, f64)>,
    /// Per azimuth step: direction `(cos, sin)` of its azimuth.
    dirs: Vec<(f64, f64)>,
}

impl GroundPattern {
    /// The pattern of `lidar` over `spec`.
    pub fn new(lidar: &LidarConfig, spec: &BevSpec) -> GroundPattern {
        let tans = beam_tans(lidar);
        let (ox, oh) = (lidar.mount_forward_m, lidar.mount_height_m);
        let ground_range: Vec<Option<f64>> = tans
            .iter()
            .map(|&(tan_e, cos_e)| {
                (tan_e < 0.0)
                    .then(|| -oh / tan_e / cos_e)
                    .filter(|r| *r <= lidar.range_m)
            })
            .collect();
        let beams = lidar.beams as usize;
        let dirs: Vec<(f64, f64)> = (0..lidar.azimuth_steps)
            .map(|j| {
                let a = lidar.azimuth(j);
                (a.cos(), a.sin())
            })
            .collect();
        let mut cells = vec![OUTSIDE; dirs.len() * beams];
        let mut edge = vec![0.0f32; dirs.len() * beams];
        let mut outside = vec![0u32; beams];
        for (j, &(dx, dy)) in dirs.iter().enumerate() {
            for (i, r) in ground_range.iter().enumerate() {
                let Some(r) = r else { continue };
                let t = r * tans[i].1;
                let (x, y) = (ox + t * dx, t * dy);
                match spec.cell_of(x as f32, y as f32) {
                    Some((iy, ix)) => {
                        cells[j * beams + i] = (iy * spec.w + ix) as u32;
                        edge[j * beams + i] = edge_distance(spec, x, y, dx, dy) as f32;
                    }
                    None => outside[i] += 1,
                }
            }
        }
        GroundPattern {
            lidar: *lidar,
            spec: *spec,
            cells,
            edge,
            ground_range,
            outside,
            tans,
            dirs,
        }
    }

    /// Ground rays that land in the grid, per sweep.
    pub fn rays_in_grid(&self) -> usize {
        self.cells.iter().filter(|c| **c != OUTSIDE).count()
    }
}

/// Distance along the direction `(dx, dy)`, either way, from `(x, y)` to the nearest cell
/// edge of the grid, m.
fn edge_distance(spec: &BevSpec, x: f64, y: f64, dx: f64, dy: f64) -> f64 {
    let cell = f64::from(spec.cell);
    let mut best = f64::INFINITY;
    for (p, d, lo) in [(x, dx, spec.x_min), (y, dy, spec.y_min)] {
        if d.abs() < 1e-12 {
            continue;
        }
        let f = (p - f64::from(lo)) / cell;
        let frac = f - f.floor();
        let to_edge = frac.min(1.0 - frac) * cell;
        best = best.min(to_edge / d.abs());
    }
    best
}

/// One sweep rasterised.
#[derive(Clone, Debug, PartialEq)]
pub struct BevSweep {
    /// The detector's input, `[C, H, W]` ([`BevSpec`]).
    pub grid: Vec<f32>,
    /// Returns of the sweep (in the grid drawn, outside it expected), rounded.
    pub points: u64,
    /// Returns on each of the boxes passed in (their labels' point counts).
    pub box_points: Vec<u32>,
    /// Azimuth steps that were cast exactly (they could meet a box).
    pub exact_columns: u32,
}

/// Marks the azimuth steps whose rays can meet `b` (a conservative angular extent: the
/// circle around the footprint, seen from the sensor).
fn mark_columns(cfg: &LidarConfig, b: &crate::fleet_sensor::LocalBox, marks: &mut [bool]) {
    let n = marks.len();
    let (sx, sy) = (b.cx - cfg.mount_forward_m, b.cy);
    let d = sx.hypot(sy);
    let radius = b.hl.hypot(b.hw);
    if d <= radius + 1e-6 {
        marks.iter_mut().for_each(|m| *m = true);
        return;
    }
    let half = (radius / d).asin();
    let centre = sy.atan2(sx);
    let fov = cfg.fov_deg.to_radians();
    let full = cfg.fov_deg >= 360.0;
    // Fractional step of an azimuth: a(j) = ((j + 0.5) / n - 0.5) · fov.
    let step_of = |a: f64| (a / fov + 0.5) * n as f64 - 0.5;
    let lo = step_of(centre - half).floor() as i64;
    let hi = step_of(centre + half).ceil() as i64;
    for k in lo..=hi {
        let j = if full {
            k.rem_euclid(n as i64)
        } else if (0..n as i64).contains(&k) {
            k
        } else {
            continue;
        };
        marks[j as usize] = true;
    }
}

/// One sweep of the fleet-scale model from `pose` over `boxes`, straight into the grid;
/// `skip` names a box to leave out (the truck's own).
pub fn sweep(
    pat: &GroundPattern,
    pose: &SensorPose,
    boxes: &[SceneBox],
    skip: Option<usize>,
    dust: f64,
    rng: &mut impl rand::Rng,
) -> BevSweep {
    let cfg = &pat.lidar;
    let beams = cfg.beams as usize;
    let mut local = local_boxes(cfg, pose, boxes);
    if let Some(k) = skip {
        local.retain(|b| b.tag as usize != k);
    }
    let mut marks = vec![false; pat.dirs.len()];
    for b in &local {
        mark_columns(cfg, b, &mut marks);
    }
    let mut acc = BevAccumulator::new(pat.spec);
    let mut box_points = vec![0u32; boxes.len()];
    let mut drawn: u64 = 0;
    let mut expected_outside = 0.0f64;
    // Survival of each beam's ground return as a threshold on a uniform u32.
    let keep: Vec<u64> = pat
        .ground_range
        .iter()
        .map(|r| r.map_or(0, |r| threshold(cfg.return_probability(r, dust))))
        .collect();
    let survive: Vec<f64> = pat
        .ground_range
        .iter()
        .map(|r| r.map_or(0.0, |r| cfg.return_probability(r, dust)))
        .collect();
    let pc = cfg.clutter_probability(dust);
    let sigma = cfg.range_sigma(dust);
    // Index, in the sequence of rays of box-free columns, of the next cluttered ray.
    let mut next_clutter = if pc > 0.0 {
        geometric(pc, rng)
    } else {
        u64::MAX
    };
    let mut seq: u64 = 0;
    let mut spans: Vec<Span> = Vec::new();
    let mut cluttered = vec![false; beams];
    let mut exact_columns = 0u32;
    for (j, &(dx, dy)) in pat.dirs.iter().enumerate() {
        if marks[j] {
            column_spans(cfg, local.iter(), dx, dy, &mut spans);
            if !spans.is_empty() {
                exact_columns += 1;
                for &(tan_e, cos_e) in &pat.tans {
                    let Some((p, tag)) = cast_ray(cfg, &spans, tan_e, cos_e, dx, dy, dust, rng)
                    else {
                        continue;
                    };
                    drawn += 1;
                    acc.add(&p);
                    if let HitTag::Box(k) = tag {
                        if let Some(c) = box_points.get_mut(k as usize) {
                            *c += 1;
                        }
                    }
                }
                continue;
            }
        }
        // A box-free column: clutter first, then the ground pattern.
        let end = seq + beams as u64;
        cluttered.iter_mut().for_each(|c| *c = false);
        while next_clutter < end {
            let i = (next_clutter - seq) as usize;
            cluttered[i] = true;
            let (lo, hi) = DUST_CLUTTER_RANGE_M;
            let r: f64 = rng.random_range(lo..hi);
            let (tan_e, cos_e) = pat.tans[i];
            let t = r * cos_e;
            drawn += 1;
            acc.add(&crate::types::LidarPoint {
                x: (cfg.mount_forward_m + t * dx) as f32,
                y: (t * dy) as f32,
                h: (cfg.mount_height_m + t * tan_e) as f32,
            });
            next_clutter = next_clutter.saturating_add(1 + geometric(pc, rng));
        }
        seq = end;
        let row = &pat.cells[j * beams..(j + 1) * beams];
        let edges = &pat.edge[j * beams..(j + 1) * beams];
        for (i, &cell) in row.iter().enumerate() {
            if cell == OUTSIDE || cluttered[i] || u64::from(rng.next_u32()) >= keep[i] {
                continue;
            }
            drawn += 1;
            let (tan_e, cos_e) = pat.tans[i];
            if f64::from(edges[i]) > NOISE_REACH * sigma * cos_e {
                // The range noise cannot move it out of its cell; its height is the noise's
                // share, ≤ σ·sin|e|, left out.
                acc.cells[cell as usize].add(0.0);
                continue;
            }
            // Close to a cell edge: draw the range noise as the point model does.
            let Some(r) = pat.ground_range[i] else {
                continue;
            };
            let n: f64 = rng.sample(StandardNormal);
            let t = (r + sigma * n).max(0.0) * cos_e;
            acc.add(&crate::types::LidarPoint {
                x: (cfg.mount_forward_m + t * dx) as f32,
                y: (t * dy) as f32,
                h: (cfg.mount_height_m + t * tan_e) as f32,
            });
        }
    }
    // Returns outside the grid: the expected number of the box-free columns' share.
    let free = pat.dirs.len() as f64 - f64::from(exact_columns);
    for (i, &n) in pat.outside.iter().enumerate() {
        let per_column = f64::from(n) / pat.dirs.len().max(1) as f64;
        expected_outside += per_column * free * survive[i] * (1.0 - pc);
    }
    let mut grid = vec![0.0; pat.spec.len()];
    acc.write(&mut grid);
    BevSweep {
        grid,
        points: drawn + expected_outside.round() as u64,
        box_points,
        exact_columns,
    }
}

/// `p` as a threshold on a uniform `u32` draw (`draw < threshold` with probability `p`).
fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64
}

/// Failures before the first success of Bernoulli trials with success probability `p`.
fn geometric(p: f64, rng: &mut impl rand::Rng) -> u64 {
    if p >= 1.0 {
        return 0;
    }
    if p <= 0.0 {
        return u64::MAX / 2;
    }
    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let k = (u.ln() / (1.0 - p).ln()).floor();
    if k.is_finite() && k < 1e15 {
        k as u64
    } else {
        u64::MAX / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bev::rasterise;
    use crate::fleet_sensor::scan;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn pose() -> SensorPose {
        SensorPose {
            x: 200.0,
            y: -40.0,
            heading: 0.7,
        }
    }

    /// A box `ahead` m in front of the pose and `left` m to its left.
    fn ahead(ahead: f64, left: f64, size: f64, height: f64) -> SceneBox {
        let p = pose();
        let (c, s) = (p.heading.cos(), p.heading.sin());
        SceneBox {
            x: p.x + ahead * c - left * s,
            y: p.y + ahead * s + left * c,
            yaw: 0.2,
            length: size,
            width: size,
            height,
        }
    }

    /// Mean of each channel over `runs` sweeps of the fast model, of the point model, and
    /// of the point model again on other seeds (the sampling noise floor); mean points.
    fn means(boxes: &[SceneBox], dust: f64, runs: u64) -> ([Vec<f64>; 3], f64, f64) {
        let lidar = LidarConfig::default();
        let spec = BevSpec::default();
        let pat = GroundPattern::new(&lidar, &spec);
        let mut m = [
            vec![0.0; spec.len()],
            vec![0.0; spec.len()],
            vec![0.0; spec.len()],
        ];
        let (mut pf, mut ps) = (0.0, 0.0);
        for seed in 0..runs {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let f = sweep(&pat, &pose(), boxes, None, dust, &mut rng);
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
            let (s, _) = scan(&lidar, &pose(), boxes, dust, &mut rng, 0);
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 2000);
            let (s2, _) = scan(&lidar, &pose(), boxes, dust, &mut rng, 0);
            let grids = [
                f.grid,
                rasterise(&spec, &s.points),
                rasterise(&spec, &s2.points),
            ];
            for (acc, g) in m.iter_mut().zip(&grids) {
                for (a, v) in acc.iter_mut().zip(g) {
                    *a += f64::from(*v) / runs as f64;
                }
            }
            pf += f.points as f64 / runs as f64;
            ps += s.points.len() as f64 / runs as f64;
        }
        (m, pf, ps)
    }

    /// Worst difference of channel `c` between two mean grids over blocks of `block` cells.
    fn worst(spec: &BevSpec, a: &[f64], b: &[f64], c: usize, block: usize) -> f64 {
        let mut worst = 0.0f64;
        for by in 0..spec.h / block {
            for bx in 0..spec.w / block {
                let (mut f, mut g) = (0.0, 0.0);
                for iy in by * block..(by + 1) * block {
                    for ix in bx * block..(bx + 1) * block {
                        let k = spec.index(c, iy, ix);
                        f += a[k];
                        g += b[k];
                    }
                }
                worst = worst.max((f - g).abs() / (block * block) as f64);
            }
        }
        worst
    }

    #[test]
    fn the_grid_matches_the_point_model_cell_by_cell() {
        let boxes = [
            ahead(25.0, 0.0, 2.0, 2.0),
            ahead(40.0, -8.0, 4.0, 1.5),
            ahead(12.0, 10.0, 1.0, 1.0),
        ];
        let spec = BevSpec::default();
        for dust in [0.0, 0.6] {
            let ([fast, slow, slow2], pf, ps) = means(&boxes, dust, 12);
            // Density (channel 2) and above-ground density (channel 3), per cell and over
            // blocks of 4 × 4 cells: the fast model differs from the point model by no more
            // than the point model differs from itself on other seeds.
            for c in [2usize, 3] {
                assert!(
                    slow.iter()
                        .skip(spec.index(c, 0, 0))
                        .take(spec.h * spec.w)
                        .sum::<f64>()
                        > 1.0
                );
                for block in [1, 4] {
                    let got = worst(&spec, &fast, &slow, c, block);
                    let floor = worst(&spec, &slow2, &slow, c, block);
                    assert!(
                        got <= 1.5 * floor + 0.02,
                        "dust {dust} channel {c} block {block}: worst {got:.3}, noise floor {floor:.3}"
                    );
                }
            }
            // Highest return over the boxes, in clear air (in dust, clutter returns a few
            // metres up make a cell's highest return a rare, noisy draw).
            for b in boxes.iter().filter(|_| dust == 0.0) {
                let p = pose();
                let (c, s) = (p.heading.cos(), p.heading.sin());
                let (dx, dy) = (b.x - p.x, b.y - p.y);
                let (x, y) = (dx * c + dy * s, -dx * s + dy * c);
                // The highest return within the footprint's cells.
                let top = |g: &[f64]| {
                    let r = 0.5 * b.length.hypot(b.width);
                    let mut m = 0.0f64;
                    for iy in 0..spec.h {
                        for ix in 0..spec.w {
                            let (cx, cy) = spec.centre_of(iy, ix);
                            if (f64::from(cx) - x).hypot(f64::from(cy) - y) <= r {
                                m = m.max(g[spec.index(0, iy, ix)]);
                            }
                        }
                    }
                    m
                };
                let (tf, ts, ts2) = (top(&fast), top(&slow), top(&slow2));
                assert!(ts > 0.1, "the box at {x:.0},{y:.0} is seen: {ts}");
                let floor = (ts2 - ts).abs();
                assert!(
                    (tf - ts).abs() <= 1.5 * floor + 0.05,
                    "dust {dust}, box at {x:.0},{y:.0}: highest {tf:.3} vs {ts:.3} (noise floor {floor:.3})"
                );
            }
            let rel = (pf - ps).abs() / ps;
            assert!(rel < 0.02, "points per sweep {pf:.0} vs {ps:.0}");
        }
    }

    #[test]
    fn without_noise_the_grid_is_the_point_models() {
        let lidar = LidarConfig {
            dropout: 0.0,
            range_sigma_m: 0.0,
            ..Default::default()
        };
        let spec = BevSpec::default();
        let pat = GroundPattern::new(&lidar, &spec);
        let boxes = [ahead(25.0, 0.0, 2.0, 2.0), ahead(40.0, -8.0, 4.0, 1.5)];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let f = sweep(&pat, &pose(), &boxes, None, 0.0, &mut rng);
        let (s, _) = scan(&lidar, &pose(), &boxes, 0.0, &mut rng, 0);
        let g = rasterise(&spec, &s.points);
        // Heights of ground returns differ by rounding (1e-16); counts must be equal.
        let diff: Vec<_> = (0..spec.len())
            .filter(|&k| (f.grid[k] - g[k]).abs() > 1e-5)
            .map(|k| {
                let c = k / (spec.h * spec.w);
                (c, (k / spec.w) % spec.h, k % spec.w, f.grid[k], g[k])
            })
            .collect();
        assert!(
            diff.is_empty(),
            "{} cells differ: {:?}",
            diff.len(),
            &diff[..diff.len().min(10)]
        );
    }

    #[test]
    fn boxes_get_their_returns_and_occlusion_holds() {
        let lidar = LidarConfig::default();
        let spec = BevSpec::default();
        let pat = GroundPattern::new(&lidar, &spec);
        assert!(pat.rays_in_grid() > 1000);
        let near = ahead(20.0, 0.0, 6.0, 4.0);
        let far = ahead(40.0, 0.0, 1.0, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let s = sweep(&pat, &pose(), &[near, far], None, 0.0, &mut rng);
        assert!(s.box_points[0] > 50, "{:?}", s.box_points);
        assert_eq!(s.box_points[1], 0, "the far box hides behind the near one");
        let s = sweep(&pat, &pose(), &[far, near], Some(1), 0.0, &mut rng);
        assert!(
            s.box_points[0] > 0,
            "without the near box (skipped) it is seen"
        );
        assert_eq!(s.box_points[1], 0);
        assert!(
            s.exact_columns > 0 && s.exact_columns < 40,
            "{}",
            s.exact_columns
        );
    }

    #[test]
    fn a_box_straddling_the_rear_azimuth_seam_is_cast() {
        // Directly behind the sensor: the azimuth wraps at ±180° there.
        let lidar = LidarConfig::default();
        let spec = BevSpec::default();
        let pat = GroundPattern::new(&lidar, &spec);
        let b = ahead(-10.0, 0.0, 2.0, 3.0);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let s = sweep(&pat, &pose(), &[b], None, 0.0, &mut rng);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (_, tags) = scan(&lidar, &pose(), &[b], 0.0, &mut rng, 0);
        let exact = tags.iter().filter(|t| **t == HitTag::Box(0)).count() as f64;
        assert!(exact > 20.0);
        let got = f64::from(s.box_points[0]);
        assert!((got - exact).abs() / exact < 0.1, "{got} vs {exact}");
    }

    #[test]
    fn same_seed_same_grid_and_dust_thins_it() {
        let lidar = LidarConfig::default();
        let spec = BevSpec::default();
        let pat = GroundPattern::new(&lidar, &spec);
        let run = |dust: f64, seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            sweep(
                &pat,
                &pose(),
                &[ahead(30.0, 2.0, 2.0, 2.0)],
                None,
                dust,
                &mut rng,
            )
        };
        assert_eq!(run(0.3, 4), run(0.3, 4));
        assert!(run(1.0, 4).points < run(0.0, 4).points);
        // Clutter stands above the ground close to the sensor.
        let spec = BevSpec::default();
        let above_near = |s: &BevSweep| {
            (0..spec.h)
                .flat_map(|iy| (0..20).map(move |ix| (iy, ix)))
                .filter(|&(iy, ix)| s.grid[spec.index(3, iy, ix)] > 0.0)
                .count()
        };
        assert_eq!(above_near(&run(0.0, 4)), 0);
        assert!(above_near(&run(1.0, 4)) > 20);
    }
}
