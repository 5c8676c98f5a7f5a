//! Path loss formulas: 3GPP TR 38.901 (v17) §7.4.1 Rural Macro (RMa), ITU-R P.526 single
//! knife-edge diffraction, and the TR 38.901 Table 7.3-1 style antenna pattern.
//!
//! Distances are metres, frequencies hertz, losses dB (positive = attenuation).

use crate::radio::config::SPEED_OF_LIGHT_M_S;

/// Geometry and environment of an RMa path-loss evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmaParams {
    /// Carrier frequency, Hz.
    pub frequency_hz: f64,
    /// BS antenna height above ground, metres (h_BS; TR 38.901 range 10–150 m).
    pub h_bs_m: f64,
    /// UT antenna height above ground, metres (h_UT; TR 38.901 range 1–10 m).
    pub h_ut_m: f64,
    /// Average building height h, metres (TR 38.901 default 5 m).
    pub avg_building_height_m: f64,
    /// Average street width W, metres (TR 38.901 default 20 m).
    pub street_width_m: f64,
}

impl RmaParams {
    /// Defaults of TR 38.901 RMa (h = 5 m, W = 20 m) for the given frequency and heights.
    pub fn new(frequency_hz: f64, h_bs_m: f64, h_ut_m: f64) -> Self {
        Self {
            frequency_hz,
            h_bs_m,
            h_ut_m,
            avg_building_height_m: 5.0,
            street_width_m: 20.0,
        }
    }

    /// Breakpoint distance d_BP = 2π·h_BS·h_UT·f_c / c, metres (TR 38.901 Table 7.4.1-1
    /// note 5).
    pub fn breakpoint_m(&self) -> f64 {
        2.0 * std::f64::consts::PI * self.h_bs_m * self.h_ut_m * self.frequency_hz
            / SPEED_OF_LIGHT_M_S
    }

    fn d3d(&self, d2d: f64) -> f64 {
        d2d.hypot(self.h_bs_m - self.h_ut_m)
    }

    fn pl1(&self, d3d: f64) -> f64 {
        let fc_ghz = self.frequency_hz / 1e9;
        let h = self.avg_building_height_m;
        let h172 = h.powf(1.72);
        20.0 * (40.0 * std::f64::consts::PI * d3d * fc_ghz / 3.0).log10()
            + (0.03 * h172).min(10.0) * d3d.log10()
            - (0.044 * h172).min(14.77)
            + 0.002 * h.log10() * d3d
    }

    /// RMa LOS path loss at horizontal distance `d2d_m` (clamped to ≥ 10 m; the formula is
    /// specified up to 10 km and extrapolated beyond).
    pub fn los_db(&self, d2d_m: f64) -> f64 {
        let d2d = d2d_m.max(10.0);
        let d_bp = self.breakpoint_m();
        if d2d <= d_bp {
            self.pl1(self.d3d(d2d))
        } else {
            self.pl1(self.d3d(d_bp)) + 40.0 * (self.d3d(d2d) / self.d3d(d_bp)).log10()
        }
    }

    /// RMa NLOS path loss: max(PL_LOS, PL'_NLOS) at horizontal distance `d2d_m` (clamped to
    /// ≥ 10 m; specified up to 5 km and extrapolated beyond).
    pub fn nlos_db(&self, d2d_m: f64) -> f64 {
        let d2d = d2d_m.max(10.0);
        let d3d = self.d3d(d2d);
        let fc_ghz = self.frequency_hz / 1e9;
        let h = self.avg_building_height_m;
        let w = self.street_width_m;
        let hbs = self.h_bs_m;
        let hut = self.h_ut_m;
        let pl_nlos = 161.04 - 7.1 * w.log10() + 7.5 * h.log10()
            - (24.37 - 3.7 * (h / hbs).powi(2)) * hbs.log10()
            + (43.42 - 3.1 * hbs.log10()) * (d3d.log10() - 3.0)
            + 20.0 * fc_ghz.log10()
            - (3.2 * (11.75 * hut).log10().powi(2) - 4.97);
        pl_nlos.max(self.los_db(d2d))
    }
}

/// ITU-R P.526 single knife-edge diffraction loss J(ν), dB, by the approximation of
/// P.526 eq. (31): 6.9 + 20·log10(√((ν−0.1)² + 1) + ν − 0.1) for ν > −0.78, else 0.
/// J(0) ≈ 6.03 dB.
pub fn knife_edge_loss_db(nu: f64) -> f64 {
    if nu.is_nan() || nu <= -0.78 {
        return 0.0;
    }
    let a = nu - 0.1;
    6.9 + 20.0 * ((a * a + 1.0).sqrt() + a).log10()
}

/// Fresnel–Kirchhoff parameter ν = h·√(2(d1 + d2) / (λ·d1·d2)) of an edge `h_m` above the
/// direct path, `d1_m` and `d2_m` from the two ends.
pub fn fresnel_nu(h_m: f64, d1_m: f64, d2_m: f64, wavelength_m: f64) -> f64 {
    h_m * (2.0 * (d1_m + d2_m) / (wavelength_m * d1_m * d2_m)).sqrt()
}

/// Antenna pattern attenuation, dB (≥ 0), in the TR 38.901 Table 7.3-1 form:
/// A_V = min(12·((θ − tilt)/θ_3dB)², A_max) with θ the depression angle of the UE below the
/// horizon, A_H = min(12·(φ/φ_3dB)², A_max) with φ the azimuth off boresight (0 when the
/// cell is omni), total min(A_V + A_H, A_max).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AntennaPattern {
    /// Downtilt, degrees below horizon.
    pub downtilt_deg: f64,
    /// Vertical half-power beamwidth, degrees.
    pub vertical_beamwidth_deg: f64,
    /// Whether the vertical pattern is applied.
    pub vertical: bool,
    /// Boresight azimuth, degrees clockwise from north; `None` = omni.
    pub azimuth_deg: Option<f64>,
    /// Horizontal half-power beamwidth, degrees.
    pub horizontal_beamwidth_deg: f64,
    /// Maximum attenuation, dB.
    pub max_attenuation_db: f64,
}

impl AntennaPattern {
    /// Attenuation towards a UE at horizontal offset `(dx, dy)` (UE minus mast) and height
    /// difference `dz` (UE minus mast top).
    pub fn attenuation_db(&self, dx: f64, dy: f64, dz: f64) -> f64 {
        let d2d = dx.hypot(dy);
        let a_v = if self.vertical {
            let depression = (-dz).atan2(d2d).to_degrees();
            (12.0 * ((depression - self.downtilt_deg) / self.vertical_beamwidth_deg).powi(2))
                .min(self.max_attenuation_db)
        } else {
            0.0
        };
        let a_h = match self.azimuth_deg {
            Some(az) => {
                let bearing = dx.atan2(dy).to_degrees();
                let off = (bearing - az + 540.0).rem_euclid(360.0) - 180.0;
                (12.0 * (off / self.horizontal_beamwidth_deg).powi(2)).min(self.max_attenuation_db)
            }
            None => 0.0,
        };
        (a_v + a_h).min(self.max_attenuation_db)
    }
}
