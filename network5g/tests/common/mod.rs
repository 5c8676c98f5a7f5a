//! Test terrains and scenario helpers.
#![allow(dead_code)]

use network5g::{CellSiteConfig, RadioConfig, TerrainProfile};

/// A straight ridge along y at `x_m`, triangular cross-section of `height_m` and half-width
/// `half_width_m`, on a flat plane at 0 m.
#[derive(Debug, Clone, Copy)]
pub struct Ridge {
    pub x_m: f64,
    pub height_m: f64,
    pub half_width_m: f64,
}

impl TerrainProfile for Ridge {
    fn height_at(&self, x: f64, _y: f64) -> Option<f64> {
        Some(self.height_m * (1.0 - (x - self.x_m).abs() / self.half_width_m).max(0.0))
    }
}

/// A bounded flat map: heights only inside |x|, |y| <= `half_size_m`.
#[derive(Debug, Clone, Copy)]
pub struct BoundedFlat {
    pub half_size_m: f64,
}

impl TerrainProfile for BoundedFlat {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        (x.abs() <= self.half_size_m && y.abs() <= self.half_size_m).then_some(0.0)
    }
}

/// Default configuration with the given cell positions.
pub fn config_with_cells(cells: &[(f64, f64)]) -> RadioConfig {
    RadioConfig {
        cells: cells
            .iter()
            .map(|&(x, y)| CellSiteConfig::at(x, y))
            .collect(),
        ..RadioConfig::default()
    }
}

/// Same, without shadowing (deterministic geometry-only radio figures).
pub fn config_no_shadowing(cells: &[(f64, f64)]) -> RadioConfig {
    let mut c = config_with_cells(cells);
    c.propagation.shadowing_enabled = false;
    c
}
