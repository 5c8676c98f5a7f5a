//! Same seed ⇒ bit-identical link states and deliveries; different seed ⇒ different.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::{config_with_cells, Ridge};
use network5g::{Delivery, Direction, RadioSim};

/// Runs 6 UEs on circles through three cells and a ridge for 20 s, sending packets both
/// ways, and records everything observable, formatted exactly (Debug of f64 round-trips).
fn run(seed: u64) -> Vec<String> {
    let cfg = config_with_cells(&[(0.0, 0.0), (1800.0, 300.0), (900.0, 1600.0)]);
    let ridge = Ridge {
        x_m: 1200.0,
        height_m: 70.0,
        half_width_m: 150.0,
    };
    let mut sim = RadioSim::new(cfg, ridge, seed).unwrap();
    let ues: Vec<_> = (0..6).map(|_| sim.add_ue()).collect();
    let mut log = Vec::new();
    let mut t = 0u64;
    while t < 20_000_000 {
        for (i, &ue) in ues.iter().enumerate() {
            let phase = t as f64 * 1e-6 * 0.05 + i as f64;
            let r = 500.0 + 100.0 * i as f64;
            let state = sim.step(ue, t, 900.0 + r * phase.cos(), 600.0 + r * phase.sin());
            log.push(format!("{t} {i} {state:?}"));
            for dir in [Direction::Uplink, Direction::Downlink] {
                let d: Delivery = sim.transmit(t, ue, dir, 300 + 100 * i);
                log.push(format!("{t} {i} {dir:?} {d:?}"));
            }
        }
        for e in sim.drain_events() {
            log.push(format!("{e:?}"));
        }
        t += 20_000;
    }
    for &ue in &ues {
        log.push(format!("{:?}", sim.metrics(ue).unwrap()));
    }
    log
}

#[test]
fn same_seed_gives_identical_sequences() {
    let a = run(7);
    let b = run(7);
    assert_eq!(a.len(), b.len());
    assert!(a == b, "runs with the same seed differ");
}

#[test]
fn different_seed_gives_different_sequences() {
    let a = run(7);
    let b = run(8);
    assert!(a != b);
    // The difference is in the draws, not only in a detail: many lines differ.
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(differing > a.len() / 10, "{differing} of {}", a.len());
}

#[test]
fn ue_draws_do_not_depend_on_other_ues_traffic() {
    // UE 0's deliveries are the same whether or not UE 1 exists and sends (on a different
    // cell, so the capacity share is unchanged): each UE owns its generator.
    let cfg = config_with_cells(&[(0.0, 0.0), (5000.0, 0.0)]);
    let mut alone = RadioSim::new(cfg.clone(), network5g::FlatTerrain::default(), 3).unwrap();
    let mut crowd = RadioSim::new(cfg, network5g::FlatTerrain::default(), 3).unwrap();
    let a0 = alone.add_ue();
    let c0 = crowd.add_ue();
    let c1 = crowd.add_ue();
    for k in 0..500u64 {
        let t = k * 10_000;
        alone.step(a0, t, 800.0, 0.0);
        crowd.step(c0, t, 800.0, 0.0);
        crowd.step(c1, t, 4200.0, 0.0);
        let _ = crowd.transmit(t, c1, Direction::Uplink, 900);
        assert_eq!(
            alone.transmit(t, a0, Direction::Uplink, 500),
            crowd.transmit(t, c0, Direction::Uplink, 500)
        );
    }
}
