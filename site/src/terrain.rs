//! Terrain: a regular heightfield built from a parametric open-pit description, with the haul
//! roads carved into it. The same description always gives the same heights (pure function).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The terrain description in a site file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TerrainSpec {
    /// Extent of the map, metres, centred on the origin: `[width_x, width_y]`.
    pub size_m: [f64; 2],
    /// Grid spacing, metres.
    pub cell_m: f64,
    /// Elevation of the natural ground around the pit, metres.
    pub rim_z: f64,
    pub pit: PitSpec,
    /// How roads are cut and filled into the ground.
    #[serde(default)]
    pub carve: CarveSpec,
    /// Flat areas (junctions, loading and dumping loops, machine stands) levelled like roads.
    #[serde(default)]
    pub pads: Vec<Pad>,
}

/// A flat area: everything within `half_width_m` of the polyline takes its heights.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pad {
    pub points: Vec<[f64; 3]>,
    pub half_width_m: f64,
}

/// A roughly circular pit of benches.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PitSpec {
    pub center: [f64; 2],
    /// Radius of the flat pit floor, metres.
    pub floor_radius_m: f64,
    /// Radius of the pit crest, metres.
    pub top_radius_m: f64,
    /// Depth of the floor below the rim, metres.
    pub depth_m: f64,
    /// Bench height, metres.
    pub bench_height_m: f64,
    /// Angle of each bench face, degrees.
    pub face_angle_deg: f64,
    /// Irregularity of the pit outline: radius scale `1 + Σ a·sin(k·θ + φ)` for each `[a, k, φ]`.
    #[serde(default)]
    pub outline: Vec<[f64; 3]>,
}

/// Road cut-and-fill parameters.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CarveSpec {
    /// Flat shoulder beyond each lane's half width, metres.
    pub shoulder_m: f64,
    /// Width of the slope blending a road into the natural ground, metres.
    pub blend_m: f64,
}

impl Default for CarveSpec {
    fn default() -> Self {
        CarveSpec {
            shoulder_m: 4.0,
            blend_m: 24.0,
        }
    }
}

impl PitSpec {
    /// Outline radius scale at bearing `theta` (radians).
    pub fn outline_scale(&self, theta: f64) -> f64 {
        1.0 + self
            .outline
            .iter()
            .map(|[a, k, phi]| a * (k * theta + phi).sin())
            .sum::<f64>()
    }

    /// Natural (uncarved) surface height of the pit at `(x, y)`.
    pub fn surface(&self, rim_z: f64, x: f64, y: f64) -> f64 {
        let dx = x - self.center[0];
        let dy = y - self.center[1];
        let theta = dy.atan2(dx);
        let rho = (dx * dx + dy * dy).sqrt() / self.outline_scale(theta).max(0.2);
        let floor_z = rim_z - self.depth_m;
        if rho <= self.floor_radius_m {
            return floor_z;
        }
        if rho >= self.top_radius_m {
            return rim_z;
        }
        let n = (self.depth_m / self.bench_height_m).round().max(1.0);
        let h = self.depth_m / n;
        let w = (self.top_radius_m - self.floor_radius_m) / n;
        let face_run = (h / self.face_angle_deg.to_radians().tan()).min(w);
        let t = (rho - self.floor_radius_m) / w;
        let k = t.floor().min(n - 1.0);
        let within = (t - k) * w;
        let berm = w - face_run;
        let rise = if within <= berm {
            0.0
        } else {
            (within - berm) / face_run * h
        };
        floor_z + k * h + rise
    }
}

/// A regular grid of heights. `heights[iy * nx + ix]` is the height at
/// `(origin[0] + ix·cell, origin[1] + iy·cell)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Heightfield {
    pub origin: [f64; 2],
    pub cell: f64,
    pub nx: usize,
    pub ny: usize,
    pub heights: Vec<f32>,
}

impl Heightfield {
    /// Builds the grid of a terrain spec from the natural pit surface (no roads yet).
    pub fn natural(spec: &TerrainSpec) -> Heightfield {
        let nx = (spec.size_m[0] / spec.cell_m).round() as usize + 1;
        let ny = (spec.size_m[1] / spec.cell_m).round() as usize + 1;
        let origin = [-spec.size_m[0] / 2.0, -spec.size_m[1] / 2.0];
        let mut heights = Vec::with_capacity(nx * ny);
        for iy in 0..ny {
            for ix in 0..nx {
                let x = origin[0] + ix as f64 * spec.cell_m;
                let y = origin[1] + iy as f64 * spec.cell_m;
                heights.push(spec.pit.surface(spec.rim_z, x, y) as f32);
            }
        }
        Heightfield {
            origin,
            cell: spec.cell_m,
            nx,
            ny,
            heights,
        }
    }

    pub fn width(&self) -> f64 {
        (self.nx - 1) as f64 * self.cell
    }
    pub fn depth(&self) -> f64 {
        (self.ny - 1) as f64 * self.cell
    }

    /// True when `(x, y)` lies on the grid.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.origin[0]
            && y >= self.origin[1]
            && x <= self.origin[0] + self.width()
            && y <= self.origin[1] + self.depth()
    }

    pub fn at(&self, ix: usize, iy: usize) -> f64 {
        self.heights[iy.min(self.ny - 1) * self.nx + ix.min(self.nx - 1)] as f64
    }

    /// Height at `(x, y)`, bilinear, clamped to the grid's edge outside it.
    pub fn height_at(&self, x: f64, y: f64) -> f64 {
        let fx = ((x - self.origin[0]) / self.cell).clamp(0.0, (self.nx - 1) as f64);
        let fy = ((y - self.origin[1]) / self.cell).clamp(0.0, (self.ny - 1) as f64);
        let ix = (fx.floor() as usize).min(self.nx.saturating_sub(2));
        let iy = (fy.floor() as usize).min(self.ny.saturating_sub(2));
        let tx = fx - ix as f64;
        let ty = fy - iy as f64;
        let h00 = self.at(ix, iy);
        let h10 = self.at(ix + 1, iy);
        let h01 = self.at(ix, iy + 1);
        let h11 = self.at(ix + 1, iy + 1);
        let a = h00 + (h10 - h00) * tx;
        let b = h01 + (h11 - h01) * tx;
        a + (b - a) * ty
    }

    /// Cuts and fills roads into the grid. Each road is a polyline of `[x, y, z]` points with a
    /// half width; within `half + shoulder` of the nearest road the ground takes that road's
    /// height, then blends into the natural ground over `blend` metres.
    pub fn carve(&mut self, roads: &[(Vec<[f64; 3]>, f64)], carve: &CarveSpec) {
        let n = self.heights.len();
        let mut best_d = vec![f64::INFINITY; n];
        let mut best_z = vec![0.0f64; n];
        let mut best_core = vec![0.0f64; n];
        for (points, half) in roads {
            let core = half + carve.shoulder_m;
            let reach = core + carve.blend_m;
            for seg in points.windows(2) {
                let (p, q) = (seg[0], seg[1]);
                let x0 = p[0].min(q[0]) - reach;
                let x1 = p[0].max(q[0]) + reach;
                let y0 = p[1].min(q[1]) - reach;
                let y1 = p[1].max(q[1]) + reach;
                let ix0 = (((x0 - self.origin[0]) / self.cell).floor().max(0.0)) as usize;
                let iy0 = (((y0 - self.origin[1]) / self.cell).floor().max(0.0)) as usize;
                let ix1 = ((((x1 - self.origin[0]) / self.cell).ceil()).max(0.0) as usize)
                    .min(self.nx - 1);
                let iy1 = ((((y1 - self.origin[1]) / self.cell).ceil()).max(0.0) as usize)
                    .min(self.ny - 1);
                let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                let len2 = (dx * dx + dy * dy).max(1e-12);
                for iy in iy0..=iy1 {
                    for ix in ix0..=ix1 {
                        let x = self.origin[0] + ix as f64 * self.cell;
                        let y = self.origin[1] + iy as f64 * self.cell;
                        let t = (((x - p[0]) * dx + (y - p[1]) * dy) / len2).clamp(0.0, 1.0);
                        let cx = p[0] + t * dx;
                        let cy = p[1] + t * dy;
                        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
                        let k = iy * self.nx + ix;
                        if d < reach && d - core < best_d[k] - best_core[k] {
                            best_d[k] = d;
                            best_core[k] = core;
                            best_z[k] = p[2] + t * (q[2] - p[2]);
                        }
                    }
                }
            }
        }
        for k in 0..n {
            if !best_d[k].is_finite() {
                continue;
            }
            let natural = self.heights[k] as f64;
            let over = best_d[k] - best_core[k];
            let z = if over <= 0.0 {
                best_z[k]
            } else {
                let u = (over / carve.blend_m).clamp(0.0, 1.0);
                let s = u * u * (3.0 - 2.0 * u);
                best_z[k] + (natural - best_z[k]) * s
            };
            self.heights[k] = z as f32;
        }
    }

    /// Lowest and highest heights.
    pub fn range(&self) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for &h in &self.heights {
            lo = lo.min(h as f64);
            hi = hi.max(h as f64);
        }
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TerrainSpec {
        TerrainSpec {
            size_m: [2000.0, 2000.0],
            cell_m: 10.0,
            rim_z: 100.0,
            pit: PitSpec {
                center: [0.0, 0.0],
                floor_radius_m: 200.0,
                top_radius_m: 700.0,
                depth_m: 150.0,
                bench_height_m: 15.0,
                face_angle_deg: 65.0,
                outline: vec![],
            },
            carve: CarveSpec::default(),
            pads: vec![],
        }
    }

    #[test]
    fn pit_surface_has_floor_rim_and_benches() {
        let s = spec();
        assert_eq!(s.pit.surface(100.0, 0.0, 0.0), -50.0);
        assert_eq!(s.pit.surface(100.0, 900.0, 0.0), 100.0);
        // Monotonic non-decreasing outward, with flat berms.
        let mut last = f64::NEG_INFINITY;
        let mut flats = 0;
        for i in 0..1000 {
            let z = s.pit.surface(100.0, i as f64, 0.0);
            assert!(z >= last - 1e-9);
            if (z - last).abs() < 1e-12 {
                flats += 1;
            }
            last = z;
        }
        assert!(flats > 500);
    }

    #[test]
    fn carving_flattens_a_road_and_bilinear_matches_grid() {
        let s = spec();
        let mut hf = Heightfield::natural(&s);
        let road = vec![[-300.0, 0.0, -20.0], [300.0, 0.0, -20.0]];
        hf.carve(&[(road, 8.0)], &s.carve);
        assert!((hf.height_at(0.0, 0.0) - -20.0).abs() < 1e-4);
        assert!((hf.height_at(250.0, 5.0) - -20.0).abs() < 1e-4);
        assert_eq!(hf.height_at(-1000.0, -1000.0), hf.at(0, 0));
        // far from the road the natural ground stays
        assert_eq!(hf.height_at(900.0, 900.0), 100.0);
    }
}
