//! Coverage map: the downlink SINR of the best (highest-RSRP) cell on a grid, and a PNG
//! rendering with a colour scale.

use std::io::Write;

use crate::radio::network::{CellId, CellNetwork};
use crate::radio::terrain::TerrainProfile;

/// A rectangle of the site and the grid spacing.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoverageArea {
    /// West edge, metres.
    pub x_min: f64,
    /// South edge, metres.
    pub y_min: f64,
    /// East edge, metres.
    pub x_max: f64,
    /// North edge, metres.
    pub y_max: f64,
    /// Grid spacing, metres (> 0).
    pub spacing_m: f64,
}

/// Best-server SINR on a grid. Row 0 is the southern row; `sinr_db[row * nx + col]` is at
/// `(x_min + col·spacing, y_min + row·spacing)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageMap {
    /// The area sampled.
    pub area: CoverageArea,
    /// Columns.
    pub nx: usize,
    /// Rows.
    pub ny: usize,
    /// Downlink SINR of the best cell, dB.
    pub sinr_db: Vec<f32>,
    /// Best cell per point.
    pub best_cell: Vec<Option<CellId>>,
    /// Cell antenna positions (x, y), for drawing.
    pub sites: Vec<(f64, f64)>,
}

/// Colour scale of the PNG: SINR `min_db` is dark blue, `max_db` dark red.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourScale {
    /// SINR at the bottom of the scale, dB.
    pub min_db: f32,
    /// SINR at the top of the scale, dB.
    pub max_db: f32,
}

impl Default for ColourScale {
    /// −10 dB to +30 dB.
    fn default() -> Self {
        Self {
            min_db: -10.0,
            max_db: 30.0,
        }
    }
}

/// Errors writing the PNG.
#[derive(Debug, thiserror::Error)]
pub enum CoverageImageError {
    /// The encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    /// The map is empty.
    #[error("empty coverage map")]
    Empty,
}

const STOPS: [(f32, [u8; 3]); 6] = [
    (0.0, [20, 20, 120]),
    (0.2, [30, 110, 220]),
    (0.4, [40, 190, 190]),
    (0.6, [90, 200, 60]),
    (0.8, [240, 220, 40]),
    (1.0, [180, 20, 20]),
];

impl ColourScale {
    /// RGB colour of `sinr_db` (NaN: grey).
    pub fn colour(&self, sinr_db: f32) -> [u8; 3] {
        if sinr_db.is_nan() {
            return [128, 128, 128];
        }
        let span = (self.max_db - self.min_db).max(f32::EPSILON);
        let t = ((sinr_db - self.min_db) / span).clamp(0.0, 1.0);
        for w in STOPS.windows(2) {
            let (t0, c0) = w[0];
            let (t1, c1) = w[1];
            if t <= t1 {
                let f = (t - t0) / (t1 - t0);
                let mut c = [0u8; 3];
                for i in 0..3 {
                    c[i] = (f32::from(c0[i]) + f * (f32::from(c1[i]) - f32::from(c0[i]))).round()
                        as u8;
                }
                return c;
            }
        }
        STOPS[STOPS.len() - 1].1
    }
}

/// Height in pixels of the colour bar under the map.
const LEGEND_PX: usize = 12;

impl CoverageMap {
    /// Value at column `col`, row `row`.
    pub fn at(&self, col: usize, row: usize) -> Option<f32> {
        (col < self.nx && row < self.ny).then(|| self.sinr_db[row * self.nx + col])
    }

    /// Fraction of points whose SINR is at least `threshold_db`.
    pub fn fraction_at_least(&self, threshold_db: f32) -> f64 {
        if self.sinr_db.is_empty() {
            return 0.0;
        }
        let n = self.sinr_db.iter().filter(|s| **s >= threshold_db).count();
        n as f64 / self.sinr_db.len() as f64
    }

    /// Writes the map as an 8-bit RGB PNG: one pixel per grid point, north up, cell sites
    /// as white 3×3 squares, and below the map a colour bar running from `scale.min_db`
    /// (left) to `scale.max_db` (right).
    pub fn write_png<W: Write>(&self, w: W, scale: ColourScale) -> Result<(), CoverageImageError> {
        if self.nx == 0 || self.ny == 0 {
            return Err(CoverageImageError::Empty);
        }
        let width = self.nx;
        let height = self.ny + LEGEND_PX;
        let mut data = vec![0u8; width * height * 3];
        for row in 0..self.ny {
            let img_row = self.ny - 1 - row;
            for col in 0..self.nx {
                let c = scale.colour(self.sinr_db[row * self.nx + col]);
                let o = (img_row * width + col) * 3;
                data[o..o + 3].copy_from_slice(&c);
            }
        }
        let sp = self.area.spacing_m;
        for &(sx, sy) in &self.sites {
            let col = ((sx - self.area.x_min) / sp).round();
            let row = ((sy - self.area.y_min) / sp).round();
            for dr in -1i64..=1 {
                for dc in -1i64..=1 {
                    let c = col as i64 + dc;
                    let r = row as i64 + dr;
                    if c >= 0 && r >= 0 && (c as usize) < self.nx && (r as usize) < self.ny {
                        let img_row = self.ny - 1 - r as usize;
                        let o = (img_row * width + c as usize) * 3;
                        data[o..o + 3].copy_from_slice(&[255, 255, 255]);
                    }
                }
            }
        }
        for lr in 2..LEGEND_PX {
            for col in 0..width {
                let t = col as f32 / (width.max(2) - 1) as f32;
                let c = scale.colour(scale.min_db + t * (scale.max_db - scale.min_db));
                let o = ((self.ny + lr) * width + col) * 3;
                data[o..o + 3].copy_from_slice(&c);
            }
        }
        let mut enc = png::Encoder::new(w, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&data)?;
        writer.finish()?;
        Ok(())
    }
}

impl<T: TerrainProfile> CellNetwork<T> {
    /// Downlink SINR of the best (highest-RSRP) cell at every grid point of `area`, UE
    /// antenna at the configured height above the terrain, shadowing included.
    pub fn coverage_map(&self, area: CoverageArea) -> CoverageMap {
        let sp = if area.spacing_m > 0.0 {
            area.spacing_m
        } else {
            1.0
        };
        let count = |lo: f64, hi: f64| -> usize {
            if hi >= lo {
                ((hi - lo) / sp).floor() as usize + 1
            } else {
                0
            }
        };
        let nx = count(area.x_min, area.x_max);
        let ny = count(area.y_min, area.y_max);
        let mut sinr_db = Vec::with_capacity(nx * ny);
        let mut best_cell = Vec::with_capacity(nx * ny);
        let mut meas = Vec::new();
        for row in 0..ny {
            let y = area.y_min + row as f64 * sp;
            for col in 0..nx {
                let x = area.x_min + col as f64 * sp;
                self.measure_into(self.ue_antenna(x, y), &mut meas);
                let best = Self::best_cell(&meas);
                let s = best.map_or(f64::NAN, |c| self.dl_sinr_db(&meas, c));
                sinr_db.push(s as f32);
                best_cell.push(best);
            }
        }
        CoverageMap {
            area: CoverageArea {
                spacing_m: sp,
                ..area
            },
            nx,
            ny,
            sinr_db,
            best_cell,
            sites: self
                .cells()
                .iter()
                .map(|c| (c.antenna.x, c.antenna.y))
                .collect(),
        }
    }
}
