//! Terrain interface and the line-of-sight ray test.
//!
//! The model sees the terrain only through [`TerrainProfile`]: a height (metres, z up) at a
//! horizontal position (metres, site frame: x east, y north), `None` outside the map.
//! The line-of-sight test samples the straight ray from the mast top to the UE antenna at a
//! fixed horizontal step and reports whether the terrain rises above it and the Fresnel–
//! Kirchhoff parameter ν of the dominant obstruction (ITU-R P.526 §4.1). Earth curvature is
//! ignored (under 0.4 m of bulge at 5 km with k = 4/3).

use std::sync::Arc;

/// Ground height lookup used for line-of-sight and antenna heights.
pub trait TerrainProfile {
    /// Terrain height at `(x, y)` in metres, or `None` outside the map.
    fn height_at(&self, x: f64, y: f64) -> Option<f64>;
}

impl<T: TerrainProfile + ?Sized> TerrainProfile for &T {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        (**self).height_at(x, y)
    }
}

impl<T: TerrainProfile + ?Sized> TerrainProfile for Arc<T> {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        (**self).height_at(x, y)
    }
}

impl<T: TerrainProfile + ?Sized> TerrainProfile for Box<T> {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        (**self).height_at(x, y)
    }
}

/// A horizontal plane at a fixed height, unbounded. Useful for tests and open-field studies.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FlatTerrain {
    /// Plane height, metres.
    pub z_m: f64,
}

impl TerrainProfile for FlatTerrain {
    fn height_at(&self, _x: f64, _y: f64) -> Option<f64> {
        Some(self.z_m)
    }
}

/// A point in the site frame, metres (x east, y north, z up).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Point3 {
    /// East, metres.
    pub x: f64,
    /// North, metres.
    pub y: f64,
    /// Up, metres.
    pub z: f64,
}

impl Point3 {
    /// A point from its coordinates.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    /// Horizontal distance to `other`.
    pub fn distance_2d(&self, other: &Point3) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// Straight-line distance to `other`.
    pub fn distance_3d(&self, other: &Point3) -> f64 {
        self.distance_2d(other).hypot(self.z - other.z)
    }
}

/// Result of the line-of-sight ray test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RayProfile {
    /// True when no terrain sample rises above the straight ray.
    pub line_of_sight: bool,
    /// ν of the dominant obstruction (largest ν along the path; negative when the ray
    /// clears the terrain). `f64::NEG_INFINITY` when there is no interior sample.
    pub max_nu: f64,
    /// Height of the dominant obstruction above the ray, metres (negative: clearance).
    pub obstruction_height_m: f64,
    /// Horizontal distance from the transmitter to the dominant obstruction, metres.
    pub obstruction_distance_m: f64,
}

/// Samples the terrain along the ray from `tx` to `rx` every `step_m` (horizontal) and
/// finds the dominant obstruction for a carrier of wavelength `wavelength_m`. Samples where
/// the terrain has no height do not obstruct. End points are not sampled.
pub fn ray_profile(
    terrain: &(impl TerrainProfile + ?Sized),
    tx: Point3,
    rx: Point3,
    step_m: f64,
    wavelength_m: f64,
) -> RayProfile {
    let d = tx.distance_2d(&rx);
    let mut out = RayProfile {
        line_of_sight: true,
        max_nu: f64::NEG_INFINITY,
        obstruction_height_m: f64::NEG_INFINITY,
        obstruction_distance_m: 0.0,
    };
    if d.is_nan() || d <= 0.0 || step_m.is_nan() || step_m <= 0.0 {
        return out;
    }
    let n = (d / step_m).ceil().max(1.0) as u64;
    for i in 1..n {
        let t = i as f64 / n as f64;
        let x = tx.x + t * (rx.x - tx.x);
        let y = tx.y + t * (rx.y - tx.y);
        let Some(ground) = terrain.height_at(x, y) else {
            continue;
        };
        let z_ray = tx.z + t * (rx.z - tx.z);
        let h = ground - z_ray;
        let d1 = t * d;
        let d2 = d - d1;
        let nu = h * (2.0 * d / (wavelength_m * d1 * d2)).sqrt();
        if h > 0.0 {
            out.line_of_sight = false;
        }
        if nu > out.max_nu {
            out.max_nu = nu;
            out.obstruction_height_m = h;
            out.obstruction_distance_m = d1;
        }
    }
    out
}
