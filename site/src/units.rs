//! Units and physical constants. All quantities are SI (metres, seconds, kilograms, newtons,
//! watts) in `f64` unless a name says otherwise (`_t` tonnes, `_kmh` km/h, `_deg` degrees).

/// Standard gravity, m/s².
pub const G: f64 = 9.81;

/// km/h → m/s.
pub fn kmh(v_kmh: f64) -> f64 {
    v_kmh / 3.6
}

/// m/s → km/h.
pub fn to_kmh(v_ms: f64) -> f64 {
    v_ms * 3.6
}

/// Tonnes → kilograms.
pub fn tonnes(t: f64) -> f64 {
    t * 1000.0
}
