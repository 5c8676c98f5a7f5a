//! The roof lidar's configuration and its error model, shared by the ray-cast lidar (in
//! `sim-world`, which owns the rapier world) and the fleet-scale sensor model: both draw
//! returns, noise, dropout and dust with the same functions, so they differ only in how they
//! find what a ray hits.
//!
//! Dust: a level `d` in 0–1 (0 clear air, 1 a thick haul-road plume) gives an extinction
//! coefficient `α = d · DUST_EXTINCTION_PER_M`; a return from range `r` survives the two-way
//! path with probability `exp(−2αr)`. Dust also scatters some rays back early
//! ([`LidarConfig::clutter_probability`]) and widens the range noise.

use serde::{Deserialize, Serialize};

/// Extinction coefficient at dust level 1, 1/m (two-way transmission to 50 m: e⁻³ ≈ 5 %).
pub const DUST_EXTINCTION_PER_M: f64 = 0.03;
/// Probability that a ray is scattered back by dust at level 1.
pub const DUST_CLUTTER_AT_1: f64 = 0.02;
/// Range of dust back-scatter returns, m.
pub const DUST_CLUTTER_RANGE_M: (f64, f64) = (2.0, 15.0);

/// A spinning roof lidar. In a TOML file (`minesim run --lidar FILE`) every field is
/// optional: those left out keep [`LidarConfig::default`]'s value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LidarConfig {
    /// Beams (rows), spaced evenly from `elev_min_deg` to `elev_max_deg`.
    pub beams: u32,
    pub elev_min_deg: f64,
    pub elev_max_deg: f64,
    /// Azimuth steps per sweep over `fov_deg`, centred on the truck's heading.
    pub azimuth_steps: u32,
    pub fov_deg: f64,
    /// Sweeps per second.
    pub rate_hz: f64,
    /// Maximum range, m.
    pub range_m: f64,
    /// Height of the sensor above the ground under the truck, m.
    pub mount_height_m: f64,
    /// Forward offset of the sensor from the truck centre, m.
    pub mount_forward_m: f64,
    /// Range noise in clear air (standard deviation), m.
    pub range_sigma_m: f64,
    /// Fraction of rays lost whatever the air (dirty window, specular surfaces).
    pub dropout: f64,
}

impl Default for LidarConfig {
    /// 32 beams from −20° to +4°, 1024 azimuth steps over 360°, 10 Hz, 150 m, on the canopy
    /// 5 m up and 5 m ahead of the centre, 3 cm noise, 2 % dropout.
    fn default() -> Self {
        LidarConfig {
            beams: 32,
            elev_min_deg: -20.0,
            elev_max_deg: 4.0,
            azimuth_steps: 1024,
            fov_deg: 360.0,
            rate_hz: 10.0,
            range_m: 150.0,
            mount_height_m: 5.0,
            mount_forward_m: 5.0,
            range_sigma_m: 0.03,
            dropout: 0.02,
        }
    }
}

impl LidarConfig {
    /// Rays per sweep.
    pub fn rays_per_sweep(&self) -> u32 {
        self.beams * self.azimuth_steps
    }

    /// Elevation of beam `i`, rad.
    pub fn elevation(&self, i: u32) -> f64 {
        let f = if self.beams > 1 {
            f64::from(i) / f64::from(self.beams - 1)
        } else {
            0.5
        };
        (self.elev_min_deg + f * (self.elev_max_deg - self.elev_min_deg)).to_radians()
    }

    /// Azimuth of step `j` relative to the truck's heading, rad (left positive).
    pub fn azimuth(&self, j: u32) -> f64 {
        let n = f64::from(self.azimuth_steps.max(1));
        let f = (f64::from(j) + 0.5) / n - 0.5;
        (f * self.fov_deg).to_radians()
    }

    /// Sweep period, µs.
    pub fn period_us(&self) -> u64 {
        (1e6 / self.rate_hz.max(1e-3)).round() as u64
    }

    /// Probability that a ray reaching a surface at `range_m` comes back, at dust level
    /// `dust`.
    pub fn return_probability(&self, range_m: f64, dust: f64) -> f64 {
        let alpha = dust.clamp(0.0, 1.0) * DUST_EXTINCTION_PER_M;
        (1.0 - self.dropout.clamp(0.0, 1.0)) * (-2.0 * alpha * range_m.max(0.0)).exp()
    }

    /// Probability that a ray is scattered back early by dust.
    pub fn clutter_probability(&self, dust: f64) -> f64 {
        dust.clamp(0.0, 1.0) * DUST_CLUTTER_AT_1
    }

    /// Range noise (standard deviation) at dust level `dust`, m.
    pub fn range_sigma(&self, dust: f64) -> f64 {
        self.range_sigma_m * (1.0 + 2.0 * dust.clamp(0.0, 1.0))
    }

    /// Checks the fields; the error names the field and the reason.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |v: f64, name: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name}: must be a positive number, got {v}"))
            }
        };
        if self.beams == 0 {
            return Err("beams: must be at least 1".into());
        }
        if self.azimuth_steps == 0 {
            return Err("azimuth_steps: must be at least 1".into());
        }
        pos(self.fov_deg, "fov_deg")?;
        if self.fov_deg > 360.0 {
            return Err(format!("fov_deg: at most 360, got {}", self.fov_deg));
        }
        pos(self.rate_hz, "rate_hz")?;
        pos(self.range_m, "range_m")?;
        pos(self.mount_height_m, "mount_height_m")?;
        if self.elev_min_deg.is_nan()
            || self.elev_max_deg.is_nan()
            || self.elev_min_deg >= self.elev_max_deg
            || self.elev_min_deg < -90.0
            || self.elev_max_deg > 90.0
        {
            return Err(format!(
                "elev_min_deg/elev_max_deg: need −90 ≤ min < max ≤ 90, got {} and {}",
                self.elev_min_deg, self.elev_max_deg
            ));
        }
        if !(0.0..=1.0).contains(&self.dropout) {
            return Err(format!("dropout: must be in 0–1, got {}", self.dropout));
        }
        if self.range_sigma_m.is_nan() || self.range_sigma_m < 0.0 {
            return Err(format!(
                "range_sigma_m: must be ≥ 0, got {}",
                self.range_sigma_m
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beams_and_azimuths_span_the_configured_field() {
        let c = LidarConfig::default();
        assert!((c.elevation(0).to_degrees() + 20.0).abs() < 1e-9);
        assert!((c.elevation(31).to_degrees() - 4.0).abs() < 1e-9);
        let a0 = c.azimuth(0).to_degrees();
        let a1 = c.azimuth(1023).to_degrees();
        assert!(a0 > -180.0 && a0 < -179.8 && a1 < 180.0 && a1 > 179.8);
        assert_eq!(c.rays_per_sweep(), 32_768);
        assert_eq!(c.period_us(), 100_000);
        c.validate().expect("default is valid");
    }

    #[test]
    fn dust_lowers_returns_with_range_and_adds_clutter() {
        let c = LidarConfig::default();
        assert!((c.return_probability(60.0, 0.0) - 0.98).abs() < 1e-12);
        let p30 = c.return_probability(30.0, 0.5);
        let p60 = c.return_probability(60.0, 0.5);
        assert!(p60 < p30 && p30 < 0.98);
        assert!((p60 / 0.98 - (-2.0 * 0.015 * 60.0f64).exp()).abs() < 1e-12);
        assert_eq!(c.clutter_probability(0.0), 0.0);
        assert!(c.range_sigma(1.0) > c.range_sigma(0.0));
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = LidarConfig {
            beams: 0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().starts_with("beams"));
        c.beams = 8;
        c.rate_hz = 0.0;
        assert!(c.validate().unwrap_err().starts_with("rate_hz"));
        c.rate_hz = 10.0;
        c.elev_max_deg = -30.0;
        assert!(c.validate().unwrap_err().starts_with("elev_min_deg"));
    }
}
