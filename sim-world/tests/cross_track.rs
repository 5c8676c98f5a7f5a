//! Cross-track error: a truck steering with the controller (`vehicle::control`) along
//! the default site's routes (the spiral ramp's curves, junction connectors, balloon loops)
//! keeps its body close to the lane centreline at speed (over 5 m/s): max under 0.5 m. The
//! truck steers on its EKF estimate (`vehicle::localise`); the error is measured on the true
//! body (the physics pose against the route), so it includes the localisation error. Under
//! the pit walls the estimate can be half a metre off with sigma at 0.5 m: the supervisor
//! then caps the speed at 15 km/h, under "at speed". Measured: max 0.489 m, p99 0.315 m
//! (main without localisation: max 0.786 m, p99 0.344 m).

use sim_world::{SimConfig, SimWorld};
use std::sync::Arc;

/// Distance of each truck body from its route's centreline at every step it drives faster
/// than `min_speed`, with the curvature there.
fn run(trucks: usize, secs: f64, min_speed: f64) -> Vec<(f64, f64)> {
    let site = Arc::new(site::default_site::load().expect("default site"));
    let cfg = SimConfig {
        trucks,
        seed: 3,
        ..SimConfig::default()
    };
    let mut w = SimWorld::new(site, cfg).expect("world");
    let mut out = Vec::new();
    while w.now.as_secs_f64() < secs {
        w.step();
        for t in &w.trucks {
            let st = w.physics.state(t.body);
            let Some(route) = t.brain.route() else {
                continue;
            };
            let p = t.brain.progress();
            // Skip the route's first metres: a new route starts where the truck stands.
            if st.speed < min_speed || p < 30.0 {
                continue;
            }
            let (d, d2) = route.project([st.pos[0], st.pos[1]], p - 10.0, p + 10.0, &w.site.roads);
            let k = route.point_at(d, &w.site.roads).curvature;
            out.push((d2.sqrt(), k));
        }
    }
    out
}

fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.99) as usize).min(v.len() - 1)]
}

#[test]
fn cross_track_error_at_speed_under_half_a_metre_on_the_default_site() {
    let samples = run(3, 900.0, 5.0);
    assert!(
        samples.len() > 10_000,
        "too little driving at speed: {}",
        samples.len()
    );
    let all: Vec<f64> = samples.iter().map(|s| s.0).collect();
    let curves: Vec<f64> = samples
        .iter()
        .filter(|s| s.1.abs() > 1.0 / 300.0)
        .map(|s| s.0)
        .collect();
    assert!(
        curves.len() > 1000,
        "too little driving in curves: {}",
        curves.len()
    );
    let max = all.iter().copied().fold(0.0, f64::max);
    let cmax = curves.iter().copied().fold(0.0, f64::max);
    let (p_all, p_curves) = (p99(all.clone()), p99(curves.clone()));
    eprintln!(
        "cross-track at > 5 m/s: {} samples, max {max:.3} m, p99 {p_all:.3} m; in curves (radius < 300 m): {} samples, max {cmax:.3} m, p99 {p_curves:.3} m",
        all.len(),
        curves.len()
    );
    assert!(p_all < 0.5, "p99 cross-track error {p_all:.3} m");
    assert!(
        p_curves < 0.5,
        "p99 cross-track error in curves {p_curves:.3} m"
    );
    assert!(max < 0.5, "max cross-track error {max:.3} m");
}
