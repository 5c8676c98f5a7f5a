//! Property tests of the model's invariants.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::{config_with_cells, Ridge};
use network5g::radio::phy::{harq_bler, residual_loss_probability, Direction, TddFrame};
use network5g::radio::shadowing::ShadowingField;
use network5g::{
    knife_edge_loss_db, CarrierConfig, CellNetwork, Delivery, LinkConfig, Point3, RadioSim,
    RmaParams,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn delivery_never_earlier_than_send_plus_core_delay(
        seed in any::<u64>(),
        x in -3000.0f64..3000.0,
        y in -3000.0f64..3000.0,
        t0 in 0u64..10_000_000,
        bytes in 1usize..200_000,
        uplink in any::<bool>(),
        packets in 1usize..20,
    ) {
        let cfg = config_with_cells(&[(0.0, 0.0), (1500.0, 800.0)]);
        let core = cfg.link.core_delay_us;
        let ridge = Ridge { x_m: 700.0, height_m: 50.0, half_width_m: 80.0 };
        let mut sim = RadioSim::new(cfg, ridge, seed).unwrap();
        let ue = sim.add_ue();
        sim.step(ue, t0, x, y);
        let dir = if uplink { Direction::Uplink } else { Direction::Downlink };
        for k in 0..packets as u64 {
            let t = t0 + k * 1_000;
            if let Delivery::Delivered { at_us, harq_tries } = sim.transmit(t, ue, dir, bytes) {
                prop_assert!(at_us >= t + core, "sent {} delivered {}", t, at_us);
                prop_assert!((1..=4).contains(&harq_tries));
            }
        }
    }

    #[test]
    fn loss_and_bler_probabilities_are_probabilities_and_monotone(
        s in -40.0f64..40.0,
        ds in 0.0f64..10.0,
        k in 1u32..8,
        slope in 0.05f64..3.0,
        target in 0.01f64..0.5,
    ) {
        let l = LinkConfig { bler_slope_per_db: slope, bler_target: target, ..LinkConfig::default() };
        let p = residual_loss_probability(s, &l);
        prop_assert!((0.0..=1.0).contains(&p));
        let b = harq_bler(s, k, &l);
        prop_assert!((0.0..=1.0).contains(&b));
        // More SINR never loses more; more tries never fail more often.
        prop_assert!(residual_loss_probability(s + ds, &l) <= p + 1e-12);
        prop_assert!(harq_bler(s, k + 1, &l) <= b + 1e-12);
        // Link adaptation: first try at the target BLER above the most robust MCS.
        if s >= l.lowest_mcs_sinr_db {
            prop_assert!((harq_bler(s, 1, &l) - target).abs() < 1e-9);
        }
    }

    #[test]
    fn rma_los_path_loss_increases_with_distance(
        d in 10.0f64..20_000.0,
        dd in 0.01f64..5_000.0,
        f_ghz in 0.5f64..7.0,
        h_bs in 10.0f64..150.0,
        h_ut in 1.0f64..10.0,
    ) {
        let rma = RmaParams::new(f_ghz * 1e9, h_bs, h_ut);
        prop_assert!(rma.los_db(d + dd) > rma.los_db(d));
        prop_assert!(rma.nlos_db(d) >= rma.los_db(d));
    }

    #[test]
    fn knife_edge_loss_is_non_negative_and_non_decreasing(nu in -5.0f64..50.0, dn in 0.0f64..5.0) {
        let j = knife_edge_loss_db(nu);
        prop_assert!(j >= 0.0);
        prop_assert!(knife_edge_loss_db(nu + dn) >= j - 1e-12);
    }

    #[test]
    fn interference_never_raises_sinr_above_snr(
        seed in any::<u64>(),
        x in -4000.0f64..4000.0,
        y in -4000.0f64..4000.0,
    ) {
        let cfg = config_with_cells(&[(0.0, 0.0), (2000.0, 0.0), (1000.0, 1700.0)]);
        let net = CellNetwork::new(cfg, network5g::FlatTerrain::default(), seed).unwrap();
        let meas = net.measure(net.ue_antenna(x, y));
        prop_assert_eq!(meas.len(), 3);
        for m in &meas {
            let sinr = net.dl_sinr_db(&meas, m.cell);
            let snr = m.dl_rx_power_dbm - net.dl_noise_dbm();
            prop_assert!(sinr <= snr + 1e-9);
            prop_assert!(sinr.is_finite());
            prop_assert!(m.path_loss_db > 0.0);
        }
        let best = CellNetwork::<network5g::FlatTerrain>::best_cell(&meas).unwrap();
        prop_assert!(meas.iter().all(|m| m.rsrp_dbm <= meas[best.index()].rsrp_dbm));
        prop_assert!(best.index() < 3);
    }

    #[test]
    fn shadowing_field_is_a_pure_function_of_seed_and_position(
        seed in any::<u64>(),
        x in -1e4f64..1e4,
        y in -1e4f64..1e4,
    ) {
        let a = ShadowingField::new(seed, 50.0);
        let b = ShadowingField::new(seed, 50.0);
        let v = a.value(x, y);
        prop_assert!(v.is_finite());
        prop_assert_eq!(v.to_bits(), b.value(x, y).to_bits());
        // Bounded by the sum of amplitudes √(2N).
        prop_assert!(v.abs() <= (2.0 * network5g::radio::shadowing::SHADOWING_COMPONENTS as f64).sqrt());
    }

    #[test]
    fn next_slot_is_the_first_usable_slot(t in 0u64..100_000_000, uplink in any::<bool>()) {
        let tdd = TddFrame::new(&CarrierConfig::default());
        let dir = if uplink { Direction::Uplink } else { Direction::Downlink };
        let s = tdd.next_slot_start(t, dir);
        prop_assert!(s >= t);
        prop_assert!(s - t < tdd.period_us());
        prop_assert_eq!(s % tdd.slot_us(), 0);
        let idx = (s / tdd.slot_us()) % 5;
        if uplink {
            prop_assert_eq!(idx, 4);
        } else {
            prop_assert!(idx <= 3);
        }
    }

    #[test]
    fn ray_over_flat_ground_is_always_line_of_sight(
        x in -5000.0f64..5000.0,
        y in -5000.0f64..5000.0,
        z_tx in 1.0f64..100.0,
        z_rx in 1.0f64..100.0,
    ) {
        let r = network5g::radio::terrain::ray_profile(
            &network5g::FlatTerrain::default(),
            Point3::new(0.0, 0.0, z_tx),
            Point3::new(x, y, z_rx),
            5.0,
            0.0857,
        );
        prop_assert!(r.line_of_sight);
    }

    #[test]
    fn extreme_times_and_sizes_do_not_panic(
        t in (u64::MAX - 10_000_000_000)..u64::MAX,
        bytes in 0usize..usize::MAX / 4,
        x in -1e7f64..1e7,
    ) {
        let mut cfg = config_with_cells(&[(0.0, 0.0)]);
        cfg.mobility.handover_interruption_us = u64::MAX;
        cfg.propagation.los_sample_step_m = 1000.0;
        let mut sim = RadioSim::new(cfg, network5g::FlatTerrain::default(), 1).unwrap();
        let ue = sim.add_ue();
        sim.step(ue, t, x, 0.0);
        sim.step(ue, t.saturating_add(1), x, 0.0);
        for dir in [Direction::Uplink, Direction::Downlink] {
            if let Delivery::Delivered { at_us, .. } = sim.transmit(t, ue, dir, bytes) {
                prop_assert!(at_us >= t);
            }
        }
    }
}
