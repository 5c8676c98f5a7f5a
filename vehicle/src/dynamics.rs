//! The truck's physical parameters and its longitudinal force model. The simulation applies
//! these forces to a rigid body; the truck's own controller uses the same model to turn a
//! wanted acceleration into throttle and brake.

use site::units::{kmh, G};

/// An ultra-class haul truck (930E / 797F class, typical values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TruckParams {
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
    pub wheelbase_m: f64,
    pub empty_mass_kg: f64,
    pub capacity_t: f64,
    /// Engine power at the wheels before drive losses, W.
    pub power_w: f64,
    /// Diesel-electric drive efficiency, engine to wheel.
    pub drive_efficiency: f64,
    pub max_speed_ms: f64,
    /// Rolling resistance coefficient (2% typ. on a kept haul road).
    pub rolling_resistance: f64,
    /// Tractive effort limit as a fraction of weight (adhesion).
    pub traction_coeff: f64,
    /// Service brake force at full pedal, as a deceleration of the fully loaded truck, m/s².
    pub brake_decel_loaded: f64,
    /// Deceleration the speed planner assumes (leaves the rest of the brake in reserve), m/s².
    pub planning_decel: f64,
    /// Lateral acceleration allowed in curves, m/s².
    pub max_lateral_accel: f64,
    pub max_steer_rad: f64,
}

impl Default for TruckParams {
    fn default() -> Self {
        TruckParams {
            length_m: 15.5,
            width_m: 9.5,
            height_m: 7.5,
            wheelbase_m: 6.6,
            empty_mass_kg: 230_000.0,
            capacity_t: 290.0,
            power_w: 2.6e6,
            drive_efficiency: 0.85,
            max_speed_ms: kmh(60.0),
            rolling_resistance: 0.02,
            traction_coeff: 0.35,
            brake_decel_loaded: 0.25 * G,
            planning_decel: 0.15 * G,
            max_lateral_accel: 1.5,
            max_steer_rad: 0.6,
        }
    }
}

impl TruckParams {
    pub fn mass(&self, payload_t: f64) -> f64 {
        self.empty_mass_kg + payload_t.max(0.0) * 1000.0
    }

    /// Maximum tractive force at speed `v` (power-limited above a few km/h, adhesion below).
    pub fn traction_available(&self, mass: f64, v: f64) -> f64 {
        let power_limited = self.power_w * self.drive_efficiency / v.abs().max(0.5);
        power_limited.min(self.traction_coeff * mass * G)
    }

    /// Brake force at full pedal, N (the same for every load).
    pub fn brake_force_max(&self) -> f64 {
        self.mass(self.capacity_t) * self.brake_decel_loaded
    }

    /// Rolling resistance force magnitude on a grade, N.
    pub fn rolling_force(&self, mass: f64, grade: f64) -> f64 {
        self.rolling_resistance * mass * G * cos_of_grade(grade)
    }

    /// Steady speed the engine's power holds on a grade at full throttle.
    pub fn steady_speed_on_grade(&self, payload_t: f64, grade: f64) -> f64 {
        let m = self.mass(payload_t);
        let resist = m * G * (sin_of_grade(grade) + self.rolling_resistance * cos_of_grade(grade));
        if resist <= 0.0 {
            return self.max_speed_ms;
        }
        (self.power_w * self.drive_efficiency / resist).min(self.max_speed_ms)
    }

    /// Acceleration along the road of a 1-D truck (for models and tests).
    pub fn longitudinal_accel(
        &self,
        payload_t: f64,
        v: f64,
        grade: f64,
        throttle: f64,
        brake: f64,
    ) -> f64 {
        let m = self.mass(payload_t);
        let traction = throttle.clamp(0.0, 1.0) * self.traction_available(m, v);
        let gravity = -m * G * sin_of_grade(grade);
        let resist = self.rolling_force(m, grade) + brake.clamp(0.0, 1.0) * self.brake_force_max();
        let net = traction + gravity;
        // Rolling resistance and brakes oppose motion; at standstill they hold up to their size.
        if v.abs() < 1e-3 {
            if net.abs() <= resist {
                return 0.0;
            }
            return (net - resist * net.signum()) / m;
        }
        (net - resist * v.signum()) / m
    }
}

pub fn sin_of_grade(grade: f64) -> f64 {
    grade / (1.0 + grade * grade).sqrt()
}
pub fn cos_of_grade(grade: f64) -> f64 {
    1.0 / (1.0 + grade * grade).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_on_ten_percent_climbs_at_ten_to_fifteen_kmh() {
        let p = TruckParams::default();
        let v = p.steady_speed_on_grade(p.capacity_t, 0.10) * 3.6;
        assert!((10.0..=15.0).contains(&v), "{v} km/h");
        // the 1-D model settles there too
        let mut speed = 1.0;
        for _ in 0..20_000 {
            speed += p.longitudinal_accel(p.capacity_t, speed, 0.10, 1.0, 0.0) * 0.02;
        }
        assert!((speed * 3.6 - v).abs() < 0.05);
    }

    #[test]
    fn brakes_hold_a_loaded_truck_on_a_ramp() {
        let p = TruckParams::default();
        assert_eq!(
            p.longitudinal_accel(p.capacity_t, 0.0, -0.10, 0.0, 1.0),
            0.0
        );
        // released on a downgrade it rolls forward
        assert!(p.longitudinal_accel(p.capacity_t, 0.0, -0.10, 0.0, 0.0) > 0.0);
    }
}
