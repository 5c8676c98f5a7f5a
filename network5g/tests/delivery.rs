//! Packet delay, HARQ and capacity sharing.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::config_no_shadowing;
use network5g::radio::phy::residual_loss_probability;
use network5g::{Delivery, Direction, FlatTerrain, LinkConfig, LossReason, RadioSim};

#[test]
fn two_ues_on_one_cell_share_its_capacity() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 1).unwrap();
    let a = sim.add_ue();
    sim.step(a, 0, 400.0, 0.0);
    let alone = sim.rate_bps(a, Direction::Downlink);
    let b = sim.add_ue();
    sim.step(b, 0, 0.0, 400.0); // same distance, omni cell, no shadowing: same SINR
    let shared = sim.rate_bps(a, Direction::Downlink);
    assert!(alone > 100e6, "single-UE DL rate {alone}");
    assert!((shared - alone / 2.0).abs() < 1e-6 * alone);
    assert!(
        (sim.rate_bps(b, Direction::Downlink) - shared).abs() < 1e-6 * alone,
        "equal shares"
    );
    assert!(sim.rate_bps(a, Direction::Uplink) < sim.rate_bps(a, Direction::Downlink));
}

#[test]
fn uplink_delay_near_the_cell_is_a_few_milliseconds() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 2).unwrap();
    let ue = sim.add_ue();
    let mut delays = Vec::new();
    let mut tries = [0usize; 5];
    let mut t = 0;
    for _ in 0..4000 {
        sim.step(ue, t, 300.0, 0.0);
        if let Delivery::Delivered { at_us, harq_tries } =
            sim.transmit(t, ue, Direction::Uplink, 200)
        {
            delays.push(at_us - t);
            tries[harq_tries as usize] += 1;
        }
        t += 7_300; // not a multiple of the TDD period
    }
    assert_eq!(delays.len(), 4000, "no loss at high SINR");
    let min = *delays.iter().min().unwrap();
    let max = *delays.iter().max().unwrap();
    // core 2 ms + SR wait ≥ 0 + grant ≥ 1 ms + ≥ 1 slot
    assert!(min >= 2_000 + 1_000 + 500, "min {min}");
    // + SR wait ≤ 2.5 ms, to the next U slot ≤ 2.5 ms, 3 retransmissions 7.5 ms
    assert!(
        max <= 2_000 + 2_500 + 2_500 + 500 + 7_500 + 100,
        "max {max}"
    );
    // First-try success ≈ 90 % (link adaptation target 10 % BLER).
    let first = tries[1] as f64 / 4000.0;
    assert!((first - 0.9).abs() < 0.02, "first-try success {first}");
    assert!(tries[2] > 0);
}

#[test]
fn large_packets_take_longer_and_queue() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 2).unwrap();
    let ue = sim.add_ue();
    sim.step(ue, 0, 1500.0, 0.0);
    let rate = sim.rate_bps(ue, Direction::Uplink);
    let big = 1_000_000usize; // 8 Mbit
    let Delivery::Delivered { at_us: a1, .. } = sim.transmit(0, ue, Direction::Uplink, big) else {
        panic!("lost")
    };
    let air = (big as f64 * 8.0 / rate * 1e6) as u64;
    assert!(a1 >= air, "delivery {a1} vs air time {air}");
    // A second big packet sent at the same time waits for the first.
    let Delivery::Delivered { at_us: a2, .. } = sim.transmit(0, ue, Direction::Uplink, big) else {
        panic!("lost")
    };
    assert!(
        a2 >= a1 + air - 10_000,
        "second {a2}, first {a1}, air {air}"
    );
}

#[test]
fn residual_loss_is_negligible_at_high_sinr_and_grows_at_low_sinr() {
    let l = LinkConfig::default();
    assert!(residual_loss_probability(10.0, &l) < 1e-5);
    let p9 = residual_loss_probability(-9.0, &l);
    let p12 = residual_loss_probability(-12.0, &l);
    let p15 = residual_loss_probability(-15.0, &l);
    assert!(p9 < p12 && p12 < p15, "{p9} {p12} {p15}");
    assert!(p15 > 0.1);
}

#[test]
fn harq_losses_match_the_residual_loss_probability() {
    // Data allowed down to -20 dB so that HARQ losses are frequent at -14 dB; RLF disabled
    // in effect.
    let mut cfg = config_no_shadowing(&[(0.0, 0.0)]);
    cfg.link.min_sinr_db = -20.0;
    cfg.mobility.rlf_timer_us = u64::MAX / 4;
    let link = cfg.link.clone();
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 9).unwrap();
    // Find the distance where the downlink SINR is -14 dB (bisection).
    let net = sim.network();
    let sinr_at = |x: f64| {
        let m = net.measure(net.ue_antenna(x, 0.0));
        net.dl_sinr_db(&m, network5g::CellId(0))
    };
    let (mut lo, mut hi) = (100.0, 500_000.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if sinr_at(mid) > -14.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let x = 0.5 * (lo + hi);
    let ue = sim.add_ue();
    sim.step(ue, 0, 200.0, 0.0);
    sim.step(ue, 10_000, x, 0.0);
    let sinr = sim.metrics(ue).unwrap().sinr_db;
    assert!((sinr + 14.0).abs() < 0.01, "SINR {sinr}");
    let n = 20_000;
    let mut harq_lost = 0;
    for k in 0..n {
        match sim.transmit(10_000 + k, ue, Direction::Downlink, 50) {
            Delivery::Lost {
                reason: LossReason::HarqExhausted,
            } => harq_lost += 1,
            Delivery::Lost { reason } => panic!("unexpected loss {reason:?}"),
            Delivery::Delivered { .. } => {}
        }
    }
    let p = residual_loss_probability(sinr, &link);
    let observed = f64::from(harq_lost) / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    assert!(p > 0.01, "p = {p}");
    assert!(
        (observed - p).abs() < 4.0 * sd,
        "observed {observed}, expected {p} ± {sd}"
    );
}

#[test]
fn a_power_limited_uplink_is_not_slowed_by_neighbours_on_other_resource_blocks() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 3).unwrap();
    let far = sim.add_ue();
    sim.step(far, 0, 12000.0, 0.0);
    let alone = sim.rate_bps(far, Direction::Uplink);
    let probe = sim.add_ue();
    sim.step(probe, 0, 200.0, 0.0);
    let near_share = sim.rate_bps(probe, Direction::Uplink);
    // precondition: the far UE is power-limited, on a small part of the carrier
    assert!(
        alone > 0.0 && alone < near_share / 20.0,
        "far {alone}, near {near_share}"
    );
    for k in 0..8 {
        let u = sim.add_ue();
        sim.step(u, 0, 150.0 + 10.0 * f64::from(k), 50.0);
    }
    let crowded = sim.rate_bps(far, Direction::Uplink);
    assert!(
        (crowded - alone).abs() <= 1e-9 * alone,
        "a power-limited UE keeps its few blocks: alone {alone}, with 9 neighbours {crowded}"
    );
    // a UE that could use the whole carrier gets an equal share: 1/10 now, 1/2 before
    let near_crowded = sim.rate_bps(probe, Direction::Uplink);
    assert!(
        (near_crowded - near_share * 2.0 / 10.0).abs() < 1e-6 * near_share,
        "{near_crowded} vs {near_share}"
    );
}
