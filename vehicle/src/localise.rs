//! Localisation, sans-IO: an extended Kalman filter fusing GNSS fixes, an IMU and wheel
//! odometry into the truck's horizontal pose.
//!
//! State `x = [x, y, ψ, v, b_g, k]`: position (m, site frame), heading (rad, from east,
//! counter-clockwise), forward speed along the ground (m/s), the gyro's yaw-rate bias (rad/s)
//! and the odometry's scale (wheel speed = `k·v`; tyre wear and pressure make it differ
//! from 1 by about a percent).
//!
//! - [`Localiser::predict`] at the control rate (50 Hz) with an [`ImuSample`]: yaw rate (with
//!   bias and noise), longitudinal acceleration (gravity removed with the IMU's attitude) and
//!   pitch (the horizontal share of the ground speed is `v·cos(pitch)`);
//! - [`Localiser::update_odometry`] at the control rate with the wheel speed;
//! - [`Localiser::update_gnss`] at the GNSS rate (10 Hz) with a [`GnssFix`]: the position
//!   with the receiver's reported 1-sigma and, from a dual-antenna receiver, the heading. Each
//!   part passes an innovation gate first (χ², 99%: 9.21 for the position's two degrees of
//!   freedom, 6.63 for the heading, on the receiver's reported sigma): a multipath jump is
//!   refused. After [`LocaliserConfig::max_consecutive_rejects`] refused positions in a row
//!   the filter trusts the receiver again: it restarts its position at the fix
//!   ([`FixOutcome::Reset`]), so a filter that went wrong cannot lock itself out for good.
//!
//! # Keeping the covariance honest
//!
//! - A receiver's errors are not white at 10 Hz: under the walls, multipath offsets small
//!   enough to pass any gate last up to a second, DGPS and float errors wander. A fix is
//!   fused with its variance inflated by `1 + 2τ/Δt` ([`LocaliserConfig::gnss_correlation_s`]
//!   τ, Δt the time since the last fix): ten fixes a second count as about one per τ, so
//!   averaging them cannot shrink the sigma below the error they share. The gate uses the
//!   reported variance (a tighter gate).
//! - A refused fix means the fix or the filter is wrong: each refusal adds
//!   [`LocaliserConfig::reject_inflation`] times the fix's variance to the position
//!   covariance, so a run of refusals widens the sigma (and, if the filter was the one in
//!   error, the gate) instead of leaving the filter sure of itself.
//! - Cornering, the body slides outwards at `τ_s·v·ω` ([`LocaliserConfig::slip_tau_s`], the
//!   tyres' side-slip relaxation): the prediction moves the position that way, so dead
//!   reckoning through an outage in a curve does not drift inwards.
//!
//! [`Localiser::pos_sigma_m`] is the 1-sigma horizontal uncertainty: the semi-major axis of
//! the position covariance's 1-sigma ellipse (the conservative figure for speed rules).
//!
//! No input is trusted: a non-finite sample or fix, a non-positive time step or sigma is
//! ignored and counted ([`LocaliserStats::ignored_inputs`]).

use site::road::wrap_angle;

/// Number of states.
pub const N: usize = 6;
const PX: usize = 0;
const PY: usize = 1;
const PSI: usize = 2;
const V: usize = 3;
const BG: usize = 4;
const K: usize = 5;

/// χ² quantile at 99.9% for two degrees of freedom.
pub const CHI2_2DOF_999: f64 = 13.816;
/// χ² quantile at 99.9% for one degree of freedom.
pub const CHI2_1DOF_999: f64 = 10.828;
/// χ² quantile at 99% for two degrees of freedom.
pub const CHI2_2DOF_99: f64 = 9.210;
/// χ² quantile at 99% for one degree of freedom.
pub const CHI2_1DOF_99: f64 = 6.635;

/// The filter's noise model and gates. The defaults fit an industrial MEMS IMU and wheel
/// odometry sampled at 50 Hz (typ. values, not a product's specification).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocaliserConfig {
    /// Yaw-rate white noise, 1-sigma per sample at the control rate, rad/s.
    pub gyro_noise_rad_s: f64,
    /// Random walk of the gyro bias, rad/s per √s.
    pub gyro_bias_walk: f64,
    /// Longitudinal acceleration white noise, 1-sigma per sample, m/s².
    pub accel_noise_m_s2: f64,
    /// Wheel-speed white noise, 1-sigma per sample, m/s.
    pub odo_noise_m_s: f64,
    /// Random walk of the odometry scale, per √s.
    pub odo_scale_walk: f64,
    /// Unmodelled horizontal motion at rest (body roll at the antenna), m per √s.
    pub pos_walk_m: f64,
    /// Unmodelled horizontal motion while driving (tyre side slip in turns, about 1–2% of
    /// the speed), as a fraction of the speed: m per √s per m/s.
    pub slip_walk_frac: f64,
    /// Initial 1-sigma of heading (rad), speed (m/s), gyro bias (rad/s) and odometry scale.
    pub init_heading_sigma_rad: f64,
    pub init_speed_sigma_m_s: f64,
    pub init_gyro_bias_sigma: f64,
    pub init_odo_scale_sigma: f64,
    /// Gate on the position innovation's NIS (χ², two degrees of freedom).
    pub gate_pos_chi2: f64,
    /// Gate on the heading innovation's NIS (χ², one degree of freedom).
    pub gate_heading_chi2: f64,
    /// Refused positions in a row after which the filter restarts its position at the fix.
    pub max_consecutive_rejects: u32,
    /// Smallest GNSS sigma the filter believes, m (a receiver reporting less is floored).
    pub min_gnss_sigma_m: f64,
    /// Correlation time of the receiver's errors, s: each fix is fused with its variance times
    /// `1 + 2τ/Δt` (Δt: time since the previous fix, at least one predict step). 0: white.
    pub gnss_correlation_s: f64,
    /// Added to the position variance per refused fix, as a fraction of the fix's variance.
    pub reject_inflation: f64,
    /// Side-slip relaxation time of the tyres, s: the body's lateral speed is `−τ_s·v·ω`
    /// (outwards in a turn). 0: the body moves along its heading.
    pub slip_tau_s: f64,
}

impl Default for LocaliserConfig {
    fn default() -> Self {
        LocaliserConfig {
            gyro_noise_rad_s: 0.005,
            gyro_bias_walk: 2e-5,
            accel_noise_m_s2: 0.05,
            odo_noise_m_s: 0.05,
            odo_scale_walk: 2e-4,
            pos_walk_m: 0.02,
            slip_walk_frac: 0.02,
            init_heading_sigma_rad: 0.5_f64.to_radians(),
            init_speed_sigma_m_s: 0.2,
            init_gyro_bias_sigma: 0.1_f64.to_radians(),
            init_odo_scale_sigma: 0.02,
            gate_pos_chi2: CHI2_2DOF_99,
            gate_heading_chi2: CHI2_1DOF_99,
            max_consecutive_rejects: 30,
            min_gnss_sigma_m: 0.005,
            gnss_correlation_s: 0.5,
            reject_inflation: 0.05,
            slip_tau_s: 0.15,
        }
    }
}

/// One IMU sample over the last control step.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ImuSample {
    /// Measured yaw rate, rad/s (counter-clockwise positive), bias and noise included.
    pub yaw_rate: f64,
    /// Longitudinal acceleration, m/s², gravity removed using the IMU's attitude.
    pub accel: f64,
    /// Pitch from the IMU's attitude, rad (nose up positive).
    pub pitch: f64,
}

/// One GNSS fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GnssFix {
    /// Horizontal position, m, site frame.
    pub pos: [f64; 2],
    /// The receiver's reported 1-sigma horizontal error per axis, m.
    pub sigma_m: f64,
    /// Heading from a dual-antenna receiver, rad, with its 1-sigma; `None` without one.
    pub heading: Option<(f64, f64)>,
}

/// What became of a fix's position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FixOutcome {
    /// Fused; `nis` is its normalised innovation squared.
    Accepted { nis: f64 },
    /// Refused by the innovation gate (an outlier: multipath).
    Rejected { nis: f64 },
    /// Refused too many times in a row: the position restarted at this fix.
    Reset,
    /// Not a usable fix (non-finite, non-positive sigma).
    Ignored,
}

/// Counters of a filter's life.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LocaliserStats {
    pub fixes_accepted: u64,
    pub fixes_rejected: u64,
    pub headings_accepted: u64,
    pub headings_rejected: u64,
    pub resets: u64,
    pub ignored_inputs: u64,
}

/// The estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub pos: [f64; 2],
    pub heading: f64,
    pub speed: f64,
    pub gyro_bias: f64,
    pub odo_scale: f64,
}

type Mat = [[f64; N]; N];

/// The EKF over `[x, y, ψ, v, b_g, k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Localiser {
    cfg: LocaliserConfig,
    x: [f64; N],
    p: Mat,
    rejects_in_row: u32,
    heading_rejects_in_row: u32,
    /// Time since the last GNSS fix, s (predict steps summed).
    since_fix_s: f64,
    stats: LocaliserStats,
}

fn finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

impl Localiser {
    /// A filter standing at `pos` with `heading`, at rest, its position known to
    /// `pos_sigma_m` (1-sigma per axis); the other states start from the config's sigmas.
    pub fn new(cfg: LocaliserConfig, pos: [f64; 2], heading: f64, pos_sigma_m: f64) -> Localiser {
        let mut p = [[0.0; N]; N];
        let ps = if pos_sigma_m.is_finite() && pos_sigma_m > 0.0 {
            pos_sigma_m
        } else {
            1.0
        };
        p[PX][PX] = ps * ps;
        p[PY][PY] = ps * ps;
        p[PSI][PSI] = cfg.init_heading_sigma_rad.powi(2);
        p[V][V] = cfg.init_speed_sigma_m_s.powi(2);
        p[BG][BG] = cfg.init_gyro_bias_sigma.powi(2);
        p[K][K] = cfg.init_odo_scale_sigma.powi(2);
        let (pos, heading) = if finite(&[pos[0], pos[1], heading]) {
            (pos, wrap_angle(heading))
        } else {
            ([0.0, 0.0], 0.0)
        };
        Localiser {
            cfg,
            x: [pos[0], pos[1], heading, 0.0, 0.0, 1.0],
            p,
            rejects_in_row: 0,
            heading_rejects_in_row: 0,
            since_fix_s: f64::INFINITY,
            stats: LocaliserStats::default(),
        }
    }

    pub fn config(&self) -> &LocaliserConfig {
        &self.cfg
    }

    /// The current estimate.
    pub fn estimate(&self) -> Estimate {
        Estimate {
            pos: [self.x[PX], self.x[PY]],
            heading: self.x[PSI],
            speed: self.x[V],
            gyro_bias: self.x[BG],
            odo_scale: self.x[K],
        }
    }

    /// The state vector `[x, y, ψ, v, b_g, k]`.
    pub fn state(&self) -> [f64; N] {
        self.x
    }

    /// The state covariance, in the order of [`Localiser::state`].
    pub fn covariance(&self) -> &[[f64; N]; N] {
        &self.p
    }

    /// 1-sigma horizontal position uncertainty, m: the semi-major axis of the 1-sigma ellipse.
    pub fn pos_sigma_m(&self) -> f64 {
        let (a, b, c) = (self.p[PX][PX], self.p[PX][PY], self.p[PY][PY]);
        let l = 0.5 * (a + c) + (0.25 * (a - c) * (a - c) + b * b).sqrt();
        l.max(0.0).sqrt()
    }

    pub fn stats(&self) -> LocaliserStats {
        self.stats
    }

    /// Propagates the state over `dt` seconds with an IMU sample.
    pub fn predict(&mut self, dt: f64, imu: ImuSample) {
        if !(dt.is_finite() && dt > 0.0 && finite(&[imu.yaw_rate, imu.accel, imu.pitch])) {
            self.stats.ignored_inputs += 1;
            return;
        }
        let c = self.cfg;
        let x = self.x;
        let w = imu.yaw_rate - x[BG];
        let ch = imu.pitch.cos();
        let psi_m = x[PSI] + 0.5 * w * dt;
        let v_m = x[V] + 0.5 * imu.accel * dt;
        let (s, co) = psi_m.sin_cos();
        // side slip: lateral speed −τ_s·v·ω (left of the heading positive)
        let ts = c.slip_tau_s;
        let v_lat = -ts * v_m * w;
        self.x[PX] += (v_m * co - v_lat * s) * ch * dt;
        self.x[PY] += (v_m * s + v_lat * co) * ch * dt;
        self.x[PSI] = wrap_angle(x[PSI] + w * dt);
        self.x[V] += imu.accel * dt;
        // Jacobian (∂v_lat/∂v = −τ_s·ω, ∂v_lat/∂b_g = τ_s·v)
        let mut f = identity();
        let (dlat_dv, dlat_db) = (-ts * w, ts * v_m);
        f[PX][PSI] = -(v_m * s + v_lat * co) * ch * dt;
        f[PX][V] = (co - dlat_dv * s) * ch * dt;
        f[PX][BG] = (v_m * s * dt * 0.5 - dlat_db * s) * ch * dt;
        f[PY][PSI] = (v_m * co - v_lat * s) * ch * dt;
        f[PY][V] = (s + dlat_dv * co) * ch * dt;
        f[PY][BG] = (-v_m * co * dt * 0.5 + dlat_db * co) * ch * dt;
        f[PSI][BG] = -dt;
        let mut p = mul_abt(&mul(&f, &self.p), &f);
        let qp = (c.pos_walk_m.powi(2) + (c.slip_walk_frac * x[V]).powi(2)) * dt;
        p[PX][PX] += qp;
        p[PY][PY] += qp;
        p[PSI][PSI] += (c.gyro_noise_rad_s * dt).powi(2);
        p[V][V] += (c.accel_noise_m_s2 * dt).powi(2);
        p[BG][BG] += c.gyro_bias_walk.powi(2) * dt;
        p[K][K] += c.odo_scale_walk.powi(2) * dt;
        self.p = symmetrise(p);
        self.since_fix_s += dt;
    }

    /// Fuses a wheel-speed measurement, m/s.
    pub fn update_odometry(&mut self, wheel_speed: f64) {
        if !wheel_speed.is_finite() {
            self.stats.ignored_inputs += 1;
            return;
        }
        let mut h = [0.0; N];
        h[V] = self.x[K];
        h[K] = self.x[V];
        let y = wheel_speed - self.x[K] * self.x[V];
        self.scalar_update(&h, y, self.cfg.odo_noise_m_s.powi(2));
    }

    /// Fuses a GNSS fix: its position through the gate, then its heading (if any) through
    /// its own gate. Returns what became of the position.
    pub fn update_gnss(&mut self, fix: &GnssFix) -> FixOutcome {
        if !finite(&[fix.pos[0], fix.pos[1], fix.sigma_m]) || fix.sigma_m <= 0.0 {
            self.stats.ignored_inputs += 1;
            return FixOutcome::Ignored;
        }
        let sigma = fix.sigma_m.max(self.cfg.min_gnss_sigma_m);
        // gate on the reported variance, fuse with the correlated one
        let r = sigma * sigma;
        let inflation = self.fix_inflation();
        self.since_fix_s = 0.0;
        let r_fused = r * inflation;
        let y = [fix.pos[0] - self.x[PX], fix.pos[1] - self.x[PY]];
        let (a, b, c) = (self.p[PX][PX] + r, self.p[PX][PY], self.p[PY][PY] + r);
        let det = a * c - b * b;
        let nis = if det > 0.0 {
            (c * y[0] * y[0] - 2.0 * b * y[0] * y[1] + a * y[1] * y[1]) / det
        } else {
            f64::INFINITY
        };
        let outcome = if nis <= self.cfg.gate_pos_chi2 {
            self.rejects_in_row = 0;
            self.stats.fixes_accepted += 1;
            let mut hx = [0.0; N];
            hx[PX] = 1.0;
            self.scalar_update(&hx, y[0], r_fused);
            let mut hy = [0.0; N];
            hy[PY] = 1.0;
            let y1 = fix.pos[1] - self.x[PY];
            self.scalar_update(&hy, y1, r_fused);
            FixOutcome::Accepted { nis }
        } else {
            self.rejects_in_row += 1;
            self.stats.fixes_rejected += 1;
            // the fix or the filter is wrong: be less sure of the position
            let grow = self.cfg.reject_inflation.max(0.0) * r;
            self.p[PX][PX] += grow;
            self.p[PY][PY] += grow;
            if self.rejects_in_row >= self.cfg.max_consecutive_rejects {
                self.rejects_in_row = 0;
                self.stats.resets += 1;
                self.x[PX] = fix.pos[0];
                self.x[PY] = fix.pos[1];
                for i in 0..N {
                    for j in [PX, PY] {
                        self.p[i][j] = 0.0;
                        self.p[j][i] = 0.0;
                    }
                }
                self.p[PX][PX] = r_fused;
                self.p[PY][PY] = r_fused;
                // The heading may be wrong too: open it up again.
                self.p[PSI][PSI] = self.p[PSI][PSI].max(self.cfg.init_heading_sigma_rad.powi(2));
                FixOutcome::Reset
            } else {
                FixOutcome::Rejected { nis }
            }
        };
        if let Some((hdg, hs)) = fix.heading {
            if finite(&[hdg, hs]) && hs > 0.0 {
                let y = wrap_angle(hdg - self.x[PSI]);
                let s = self.p[PSI][PSI] + hs * hs;
                if y * y / s <= self.cfg.gate_heading_chi2 {
                    self.heading_rejects_in_row = 0;
                    self.stats.headings_accepted += 1;
                    let mut h = [0.0; N];
                    h[PSI] = 1.0;
                    self.scalar_update(&h, y, hs * hs * inflation);
                } else {
                    self.heading_rejects_in_row += 1;
                    self.stats.headings_rejected += 1;
                    if self.heading_rejects_in_row >= self.cfg.max_consecutive_rejects {
                        self.heading_rejects_in_row = 0;
                        self.stats.resets += 1;
                        self.x[PSI] = wrap_angle(hdg);
                        for i in 0..N {
                            self.p[i][PSI] = 0.0;
                            self.p[PSI][i] = 0.0;
                        }
                        self.p[PSI][PSI] = hs * hs;
                    }
                }
            } else {
                self.stats.ignored_inputs += 1;
            }
        }
        outcome
    }

    /// The factor on a fix's variance for the receiver's correlated errors: `1 + 2τ/Δt`.
    fn fix_inflation(&self) -> f64 {
        let tau = self.cfg.gnss_correlation_s;
        if !(tau.is_finite() && tau > 0.0) {
            return 1.0;
        }
        // Δt at least 10 ms (one fix per predict step at most counts that much)
        1.0 + 2.0 * tau / self.since_fix_s.max(0.01)
    }

    /// One scalar measurement with row `h`, innovation `y` and variance `r`, Joseph form.
    fn scalar_update(&mut self, h: &[f64; N], y: f64, r: f64) {
        let ph: [f64; N] = std::array::from_fn(|i| (0..N).map(|j| self.p[i][j] * h[j]).sum());
        let s = (0..N).map(|i| h[i] * ph[i]).sum::<f64>() + r;
        if !(s.is_finite() && s > 0.0) {
            return;
        }
        let k: [f64; N] = std::array::from_fn(|i| ph[i] / s);
        for (x, k) in self.x.iter_mut().zip(k) {
            *x += k * y;
        }
        self.x[PSI] = wrap_angle(self.x[PSI]);
        // (I − K H) P (I − K H)ᵀ + K r Kᵀ
        let a: Mat = std::array::from_fn(|i| {
            std::array::from_fn(|j| f64::from(u8::from(i == j)) - k[i] * h[j])
        });
        let kp = mul_abt(&mul(&a, &self.p), &a);
        let p: Mat = std::array::from_fn(|i| std::array::from_fn(|j| kp[i][j] + k[i] * r * k[j]));
        self.p = symmetrise(p);
    }
}

fn identity() -> Mat {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn mul(a: &Mat, b: &Mat) -> Mat {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..N).map(|k| a[i][k] * b[k][j]).sum()))
}

/// `a · bᵀ`.
fn mul_abt(a: &Mat, b: &Mat) -> Mat {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..N).map(|k| a[i][k] * b[j][k]).sum()))
}

fn symmetrise(p: Mat) -> Mat {
    std::array::from_fn(|i| std::array::from_fn(|j| 0.5 * (p[i][j] + p[j][i])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_is_the_semi_major_axis() {
        let mut l = Localiser::new(LocaliserConfig::default(), [0.0, 0.0], 0.0, 0.1);
        assert!((l.pos_sigma_m() - 0.1).abs() < 1e-12);
        l.p[PX][PX] = 0.04;
        assert!((l.pos_sigma_m() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_ignored() {
        let mut l = Localiser::new(LocaliserConfig::default(), [1.0, 2.0], 0.3, 0.1);
        let before = l.clone();
        l.predict(f64::NAN, ImuSample::default());
        l.predict(-0.02, ImuSample::default());
        l.update_odometry(f64::INFINITY);
        let fix = GnssFix {
            pos: [f64::NAN, 0.0],
            sigma_m: 0.02,
            heading: None,
        };
        assert_eq!(l.update_gnss(&fix), FixOutcome::Ignored);
        let fix = GnssFix {
            pos: [0.0, 0.0],
            sigma_m: 0.0,
            heading: None,
        };
        assert_eq!(l.update_gnss(&fix), FixOutcome::Ignored);
        assert_eq!(l.state(), before.state());
        assert_eq!(l.stats().ignored_inputs, 5);
    }
}
