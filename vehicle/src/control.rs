//! The truck's controller: lateral (a Stanley-type law — heading error plus
//! atan(k·e/(v + v_s)) — on the truck's centre, the point that does not slip, with curvature
//! feed-forward previewed by the steering lag, and a target offset from the route's
//! centreline) and
//! longitudinal (a speed PID whose acceleration goes through the force model: grade
//! (m·g·sin θ), rolling resistance and the mass with payload, into throttle and brake
//! fractions of [`TruckParams`]' traction and brake limits).
//!
//! Sans-IO and deterministic: every call takes what it needs; the speed PID keeps only its
//! integral.

use crate::dynamics::{sin_of_grade, TruckParams};
use site::road::{wrap_angle, RoadNetwork};
use site::route::RoutePath;
use site::units::G;

/// Lateral controller settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LateralConfig {
    /// Stanley gain on the cross-track error, 1/s.
    pub gain: f64,
    /// Softening speed of the cross-track term, m/s (keeps the gain finite at standstill).
    pub soft_speed_ms: f64,
    /// Curvature preview: the feed-forward reads the route this many seconds of travel ahead
    /// of the centre (the steering and yaw lag), s.
    pub preview_s: f64,
    /// Largest target offset from the centreline a planner may ask for, m.
    pub max_offset_m: f64,
    /// Gain on the heading error (1: Stanley's).
    pub heading_gain: f64,
    /// Half length of the chord the route's heading is taken over, m.
    pub heading_chord_m: f64,
    /// Side-slip time constant of the tyres, s: cornering at lateral acceleration a_y, the
    /// body slides outwards at about `slip_s · a_y`, so the truck points that much into the
    /// curve (the simulation's tyres relax side slip with 0.15 s).
    pub slip_s: f64,
}

impl Default for LateralConfig {
    fn default() -> Self {
        LateralConfig {
            gain: 3.5,
            soft_speed_ms: 2.0,
            preview_s: 0.3,
            max_offset_m: 3.0,
            heading_gain: 2.0,
            heading_chord_m: 1.5,
            slip_s: 0.2,
        }
    }
}

/// What the lateral controller computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LateralOutput {
    /// Front wheel angle, rad, positive left (within the steering limit).
    pub steer: f64,
    /// Signed distance of the truck's centre from the target line, m, positive left of it.
    pub cross_track_m: f64,
    /// Route heading minus truck heading at the centre's projection, rad.
    pub heading_err: f64,
}

/// Stanley-type steering on the route, on the truck's centre.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LateralController {
    pub cfg: LateralConfig,
}

impl LateralController {
    /// Steering for a truck whose centre is at `pos` (site frame, m) with `heading` (rad) and
    /// forward `speed` (m/s), `progress` metres along `route`, asked to run `offset_m` left of
    /// the centreline (negative: right; clamped to [`LateralConfig::max_offset_m`]).
    #[allow(clippy::too_many_arguments)]
    pub fn steer(
        &self,
        p: &TruckParams,
        route: &RoutePath,
        net: &RoadNetwork,
        progress: f64,
        pos: [f64; 2],
        heading: f64,
        speed: f64,
        offset_m: f64,
    ) -> LateralOutput {
        let c = &self.cfg;
        let offset = if offset_m.is_finite() {
            offset_m.clamp(-c.max_offset_m, c.max_offset_m)
        } else {
            0.0
        };
        // The reference point is the truck's centre: the point that does not slip sideways (the
        // physics turns the body about it), so its path is the one to keep on the line.
        let (d, _) = route.project(pos, progress - 5.0, progress + 30.0, net);
        let pt = route.point_at(d, net);
        let (sn, cs) = pt.heading.sin_cos();
        let lateral = (pos[0] - pt.pos[0]) * -sn + (pos[1] - pt.pos[1]) * cs;
        let e = lateral - offset;
        // The route's heading over a short chord: a polyline's segment headings jump at
        // every vertex.
        let h = c.heading_chord_m;
        let (a, b) = (route.point_at(d - h, net), route.point_at(d + h, net));
        let chord = (b.pos[1] - a.pos[1]).atan2(b.pos[0] - a.pos[0]);
        let path_heading = if (b.pos[0] - a.pos[0]).hypot(b.pos[1] - a.pos[1]) > 0.5 * h {
            chord
        } else {
            pt.heading
        };
        let heading_err = wrap_angle(path_heading - heading);
        let v = speed.max(0.0);
        // Feed-forward: the curvature the truck will be on once the steering has acted, of
        // the offset line (a line `offset` left of a left turn is tighter).
        let ahead = route.point_at(d + v * c.preview_s, net);
        let k = ahead.curvature;
        let k_line = k / (1.0 - k * offset).max(0.2);
        // The physics (and a real truck) turns about its centre: a yaw rate of v·κ needs
        // tan δ = wheelbase·κ.
        let ff = (p.wheelbase_m * k_line).atan();
        let fb = (-c.gain * e / (c.soft_speed_ms + v)).atan();
        // In a curve the body slips outwards by about slip_s·v·κ (rad): aim that far inside.
        let slip = (c.slip_s * v * k_line).atan();
        let steer = (ff + c.heading_gain * (heading_err + slip) + fb)
            .clamp(-p.max_steer_rad, p.max_steer_rad);
        LateralOutput {
            steer: if steer.is_finite() { steer } else { 0.0 },
            cross_track_m: e,
            heading_err,
        }
    }
}

/// Speed PID settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedConfig {
    /// Proportional gain, (m/s²)/(m/s).
    pub kp: f64,
    /// Integral gain, (m/s²)/m.
    pub ki: f64,
    /// Bound of the integral term, m/s².
    pub i_limit: f64,
    /// The integral runs only while the speed error is within this, m/s.
    pub i_band_ms: f64,
    /// Largest acceleration the controller asks for, m/s².
    pub max_accel: f64,
}

impl Default for SpeedConfig {
    fn default() -> Self {
        SpeedConfig {
            kp: 0.67,
            ki: 0.08,
            i_limit: 0.3,
            i_band_ms: 2.0,
            max_accel: 0.8,
        }
    }
}

/// Speed PID with grade and payload feed-forward (see [`pedals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SpeedController {
    pub cfg: SpeedConfig,
    /// Integral term, m/s² (bounded by [`SpeedConfig::i_limit`]).
    integral: f64,
}

impl SpeedController {
    /// Wanted acceleration to track `v_target` from `v` over a step of `dt` s, clamped to
    /// `[−max_decel, max_accel]`. The integral is frozen outside its band and while the
    /// output saturates (anti-windup), and cleared when the target is a stop.
    pub fn accel(&mut self, dt: f64, v_target: f64, v: f64, max_decel: f64) -> f64 {
        let c = self.cfg;
        let dt = if dt.is_finite() {
            dt.clamp(0.0, 0.2)
        } else {
            0.0
        };
        let err = v_target - v;
        if v_target <= 0.0 || !err.is_finite() {
            self.integral = 0.0;
        }
        let p_term = c.kp * err;
        let unclamped = p_term + self.integral;
        let out = unclamped.clamp(-max_decel, c.max_accel);
        let saturated = (unclamped - out).abs() > 1e-9;
        if v_target > 0.0 && err.abs() < c.i_band_ms && !saturated {
            self.integral = (self.integral + c.ki * err * dt).clamp(-c.i_limit, c.i_limit);
        }
        if out.is_finite() {
            out
        } else {
            -max_decel
        }
    }

    /// Clears the integral (standstill, e-stop).
    pub fn reset(&mut self) {
        self.integral = 0.0;
    }

    pub fn integral(&self) -> f64 {
        self.integral
    }
}

/// Throttle and brake fractions (each 0..1, one of them 0) that give acceleration `a_des`
/// (m/s², along the road) at speed `v` on `grade` with `payload_t` aboard: the force
/// m·a + m·g·sin θ + rolling resistance, over the traction available or the full brake.
pub fn pedals(p: &TruckParams, payload_t: f64, v: f64, grade: f64, a_des: f64) -> (f64, f64) {
    let mass = p.mass(payload_t);
    let gravity = mass * G * sin_of_grade(grade);
    let rolling = p.rolling_force(mass, grade);
    let needed = mass * a_des + gravity + rolling;
    if !needed.is_finite() {
        return (0.0, 1.0);
    }
    if needed >= 0.0 {
        (
            (needed / p.traction_available(mass, v)).clamp(0.0, 1.0),
            0.0,
        )
    } else {
        (0.0, (-needed / p.brake_force_max()).clamp(0.0, 1.0))
    }
}

/// Deceleration of the full brake at `payload_t` on `grade` (gravity and rolling resistance
/// included: a downgrade lowers it), m/s².
pub fn full_brake_decel(p: &TruckParams, payload_t: f64, grade: f64) -> f64 {
    let mass = p.mass(payload_t);
    (p.brake_force_max() + mass * G * sin_of_grade(grade) + p.rolling_force(mass, grade)) / mass
}

/// The whole controller.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Controller {
    pub lateral: LateralController,
    pub speed: SpeedController,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pedals_hold_speed_on_a_grade_with_feed_forward() {
        let p = TruckParams::default();
        for grade in [-0.1, 0.0, 0.1] {
            for payload in [0.0, p.capacity_t] {
                let (t, b) = pedals(&p, payload, 3.0, grade, 0.0);
                let a = p.longitudinal_accel(payload, 3.0, grade, t, b);
                assert!(a.abs() < 1e-9, "grade {grade} payload {payload}: a = {a}");
            }
        }
    }

    #[test]
    fn pedals_never_exceed_their_range() {
        let p = TruckParams::default();
        for a in [-100.0, -1.0, 0.0, 1.0, 100.0, f64::NAN] {
            let (t, b) = pedals(&p, 100.0, 10.0, 0.05, a);
            assert!((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&b));
            assert!(t == 0.0 || b == 0.0);
        }
    }

    #[test]
    fn the_integral_removes_a_steady_error_and_does_not_wind_up() {
        let mut s = SpeedController::default();
        // A steady drag the feed-forward does not know: 0.1 m/s².
        let mut v = 5.0;
        for _ in 0..5000 {
            let a = s.accel(0.02, 8.0, v, 1.5);
            v += (a - 0.1) * 0.02;
        }
        assert!((v - 8.0).abs() < 0.05, "v = {v}");
        // Saturated far from target: the integral stays bounded.
        let mut s = SpeedController::default();
        for _ in 0..5000 {
            s.accel(0.02, 20.0, 0.0, 1.5);
        }
        assert_eq!(s.integral(), 0.0);
    }
}
