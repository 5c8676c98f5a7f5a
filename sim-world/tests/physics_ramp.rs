//! A loaded truck on a 10% ramp settles at the speed its power allows: the speed emerges from
//! rapier's rigid body, gravity on the real slope, and the drive forces.

use sim_world::physics::Physics;
use vehicle::{Actuation, TruckParams};

fn settle(grade: f64, payload_t: f64) -> f64 {
    let site = site::testing::slope(grade, 900.0);
    let p = TruckParams::default();
    let mut ph = Physics::new(&site, p, 50.0);
    let x0 = 50.0;
    let t = ph.add_truck([x0, 0.0, site.terrain.height_at(x0, 0.0)], 0.0);
    ph.set_payload(t, payload_t);
    ph.step();
    let full = Actuation {
        throttle: 1.0,
        brake: 0.0,
        steer: 0.0,
        tip: false,
    };
    let mut speeds = Vec::new();
    for k in 0..(50 * 60) {
        ph.drive(t, &full, payload_t);
        ph.step();
        if k >= 50 * 50 {
            speeds.push(ph.state(t).speed);
        }
    }
    let st = ph.state(t);
    assert!(
        st.lateral_speed.abs() < 0.05,
        "slides sideways at {}",
        st.lateral_speed
    );
    speeds.iter().sum::<f64>() / speeds.len() as f64
}

#[test]
fn loaded_truck_on_a_ten_percent_ramp_settles_at_its_power_limited_speed() {
    let p = TruckParams::default();
    // Expected: P·η = m·g·(sin θ + C_rr·cos θ)·v
    let m = p.mass(p.capacity_t);
    let theta = 0.10f64.atan();
    let expected = p.power_w * p.drive_efficiency
        / (m * 9.81 * (theta.sin() + p.rolling_resistance * theta.cos()));
    let got = settle(0.10, p.capacity_t);
    eprintln!(
        "loaded on 10%: expected {:.2} m/s ({:.1} km/h), got {:.2} m/s",
        expected,
        expected * 3.6,
        got
    );
    assert!(
        (got - expected).abs() <= 0.10 * expected,
        "got {got:.3} m/s, expected {expected:.3} ± 10%"
    );
    // and an empty truck climbs faster
    let empty = settle(0.10, 0.0);
    assert!(empty > got * 1.5, "empty {empty:.2} vs loaded {got:.2}");
}
