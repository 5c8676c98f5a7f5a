//! The bird's-eye-view grid the detector sees: returns around the truck binned into cells of
//! a fixed grid in the truck frame, a few channels per cell. The grid, the channels and their
//! scaling are defined here once: the ray-cast lidar, the fleet-scale sensor model, the
//! dataset writer and the detector all go through [`BevSpec`].
//!
//! Layout: `[C, H, W]`, row-major, `H` along `y` (left), `W` along `x` (forward); cell
//! `(iy, ix)` covers `x ∈ [x_min + ix·cell, x_min + (ix+1)·cell)`, same for `y`.
//!
//! Channels (all in 0–1, empty cells 0):
//! 0. highest return, `clamp(h, 0, H_SCALE) / H_SCALE`;
//! 1. mean return height, same scaling;
//! 2. return density, `ln(1 + n) / ln(1 + N_SCALE)` capped at 1;
//! 3. density of returns standing clear of the ground (`h > ABOVE_GROUND_M`), same scaling.

use crate::types::LidarPoint;
use serde::{Deserialize, Serialize};

/// Heights are scaled by this, m.
pub const H_SCALE: f32 = 5.0;
/// Counts are scaled by `ln(1 + N_SCALE)`.
pub const N_SCALE: f32 = 64.0;
/// A return this high above the mapped ground stands clear of it, m.
pub const ABOVE_GROUND_M: f32 = 0.3;
/// Channels per cell.
pub const CHANNELS: usize = 4;

/// The grid.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BevSpec {
    /// Rear edge, m (negative: behind the truck centre).
    pub x_min: f32,
    /// Right edge, m (negative).
    pub y_min: f32,
    /// Cell size, m.
    pub cell: f32,
    /// Cells along `x` (forward).
    pub w: usize,
    /// Cells along `y` (left).
    pub h: usize,
}

impl Default for BevSpec {
    /// 80 m × 64 m at 1 m: 8 m behind the truck centre to 72 m ahead, 32 m each side.
    fn default() -> Self {
        BevSpec {
            x_min: -8.0,
            y_min: -32.0,
            cell: 1.0,
            w: 80,
            h: 64,
        }
    }
}

impl BevSpec {
    /// Values in one grid, `C · H · W`.
    pub fn len(&self) -> usize {
        CHANNELS * self.h * self.w
    }

    /// Never empty (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tensor shape of one grid, `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        [CHANNELS, self.h, self.w]
    }

    /// Cell of a truck-frame position, `(iy, ix)`, or `None` outside the grid.
    pub fn cell_of(&self, x: f32, y: f32) -> Option<(usize, usize)> {
        let fx = (x - self.x_min) / self.cell;
        let fy = (y - self.y_min) / self.cell;
        if fx.is_nan() || fy.is_nan() || fx < 0.0 || fy < 0.0 {
            return None;
        }
        let (ix, iy) = (fx as usize, fy as usize);
        (ix < self.w && iy < self.h).then_some((iy, ix))
    }

    /// Centre of cell `(iy, ix)` in the truck frame.
    pub fn centre_of(&self, iy: usize, ix: usize) -> (f32, f32) {
        (
            self.x_min + (ix as f32 + 0.5) * self.cell,
            self.y_min + (iy as f32 + 0.5) * self.cell,
        )
    }

    /// Index of channel `c` of cell `(iy, ix)` in a grid.
    pub fn index(&self, c: usize, iy: usize, ix: usize) -> usize {
        (c * self.h + iy) * self.w + ix
    }
}

/// Per-cell accumulators; [`CellStats::finish`] turns them into the channels. Sensor models
/// that do not produce points (the fleet-scale model) fill these directly.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CellStats {
    pub count: u32,
    pub above: u32,
    pub h_max: f32,
    pub h_sum: f32,
}

impl CellStats {
    /// Adds one return of height `h`.
    pub fn add(&mut self, h: f32) {
        if self.count == 0 || h > self.h_max {
            self.h_max = h;
        }
        self.count += 1;
        self.h_sum += h;
        if h > ABOVE_GROUND_M {
            self.above += 1;
        }
    }

    /// The four channel values of the cell.
    pub fn finish(&self) -> [f32; CHANNELS] {
        if self.count == 0 {
            return [0.0; CHANNELS];
        }
        let hs = |h: f32| h.clamp(0.0, H_SCALE) / H_SCALE;
        let ns = |n: u32| ((1.0 + n as f32).ln() / (1.0 + N_SCALE).ln()).min(1.0);
        [
            hs(self.h_max),
            hs(self.h_sum / self.count as f32),
            ns(self.count),
            ns(self.above),
        ]
    }
}

/// A grid of accumulators.
#[derive(Clone, Debug)]
pub struct BevAccumulator {
    pub spec: BevSpec,
    pub cells: Vec<CellStats>,
}

impl BevAccumulator {
    pub fn new(spec: BevSpec) -> Self {
        BevAccumulator {
            spec,
            cells: vec![CellStats::default(); spec.h * spec.w],
        }
    }

    /// Adds a return; returns outside the grid are ignored.
    pub fn add(&mut self, p: &LidarPoint) {
        if let Some((iy, ix)) = self.spec.cell_of(p.x, p.y) {
            self.cells[iy * self.spec.w + ix].add(p.h);
        }
    }

    /// Writes the grid into `out` (length [`BevSpec::len`]).
    pub fn write(&self, out: &mut [f32]) {
        let s = self.spec;
        for iy in 0..s.h {
            for ix in 0..s.w {
                let v = self.cells[iy * s.w + ix].finish();
                for (c, x) in v.iter().enumerate() {
                    out[s.index(c, iy, ix)] = *x;
                }
            }
        }
    }
}

/// Rasterises returns into a `[C, H, W]` grid.
pub fn rasterise(spec: &BevSpec, points: &[LidarPoint]) -> Vec<f32> {
    let mut acc = BevAccumulator::new(*spec);
    for p in points {
        acc.add(p);
    }
    let mut out = vec![0.0; spec.len()];
    acc.write(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_lands_in_its_cell_with_its_height() {
        let s = BevSpec::default();
        let pts = [
            LidarPoint {
                x: 10.2,
                y: -3.7,
                h: 2.5,
            },
            LidarPoint {
                x: 10.9,
                y: -3.1,
                h: 0.0,
            },
        ];
        let g = rasterise(&s, &pts);
        let (iy, ix) = s.cell_of(10.5, -3.5).expect("inside");
        assert_eq!((iy, ix), (28, 18));
        assert!((g[s.index(0, iy, ix)] - 0.5).abs() < 1e-6);
        assert!((g[s.index(1, iy, ix)] - 0.25).abs() < 1e-6);
        let n2 = (3.0f32).ln() / 65.0f32.ln();
        assert!((g[s.index(2, iy, ix)] - n2).abs() < 1e-6);
        let n1 = (2.0f32).ln() / 65.0f32.ln();
        assert!((g[s.index(3, iy, ix)] - n1).abs() < 1e-6);
        let nonzero = g.iter().filter(|v| **v != 0.0).count();
        assert_eq!(nonzero, 4, "only the one cell is filled");
    }

    #[test]
    fn points_outside_the_grid_are_ignored() {
        let s = BevSpec::default();
        for (x, y) in [
            (-8.01, 0.0),
            (72.0, 0.0),
            (0.0, 32.0),
            (0.0, -32.5),
            (f32::NAN, 0.0),
        ] {
            assert_eq!(s.cell_of(x, y), None, "{x},{y}");
        }
        assert!(rasterise(
            &s,
            &[LidarPoint {
                x: 80.0,
                y: 0.0,
                h: 1.0
            }]
        )
        .iter()
        .all(|v| *v == 0.0));
    }
}
