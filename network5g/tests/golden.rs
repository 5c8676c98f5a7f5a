//! Golden figures: RMa path loss, knife edge, shadowing autocorrelation, noise, TDD.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use network5g::radio::phy::{noise_power_dbm, spectral_efficiency, Direction, TddFrame};
use network5g::radio::shadowing::ShadowingField;
use network5g::{knife_edge_loss_db, CarrierConfig, FlatTerrain, LinkConfig, Point3, RmaParams};

#[test]
fn rma_los_at_1km_3_5ghz_is_105_5_db() {
    let rma = RmaParams::new(3.5e9, 35.0, 5.0);
    let pl = rma.los_db(1000.0);
    eprintln!("RMa LOS at 1 km: {pl:.3} dB");
    assert!((pl - 105.5).abs() <= 0.1, "RMa LOS at 1 km = {pl:.3} dB");
}

#[test]
fn rma_los_breakpoint_is_continuous_and_40db_per_decade_beyond() {
    let rma = RmaParams::new(3.5e9, 35.0, 5.0);
    let d_bp = rma.breakpoint_m();
    // 2π·35·5·3.5e9 / c ≈ 12.84 km
    assert!((d_bp - 12_837.0).abs() < 5.0, "d_BP = {d_bp}");
    let below = rma.los_db(d_bp * (1.0 - 1e-9));
    let above = rma.los_db(d_bp * (1.0 + 1e-9));
    assert!((below - above).abs() < 1e-3);
    let slope = rma.los_db(d_bp * 10.0) - rma.los_db(d_bp);
    assert!((slope - 40.0).abs() < 0.1, "slope {slope}");
}

#[test]
fn rma_nlos_at_1km_matches_hand_computation_and_exceeds_los() {
    let rma = RmaParams::new(3.5e9, 35.0, 5.0);
    // Hand evaluation of TR 38.901 PL'_RMa-NLOS at d3D = 1000.45 m, h = 5, W = 20,
    // h_BS = 35, h_UT = 5, fc = 3.5 GHz: 125.37 dB.
    let pl = rma.nlos_db(1000.0);
    eprintln!("RMa NLOS at 1 km: {pl:.3} dB");
    assert!((pl - 125.37).abs() < 0.1, "RMa NLOS at 1 km = {pl:.3} dB");
    assert!(pl > rma.los_db(1000.0) + 15.0);
}

#[test]
fn knife_edge_at_nu_zero_is_6_db() {
    let j0 = knife_edge_loss_db(0.0);
    eprintln!(
        "J(0) = {j0:.3} dB, J(10) = {:.2} dB",
        knife_edge_loss_db(10.0)
    );
    assert!((j0 - 6.0).abs() < 0.1, "J(0) = {j0}");
    assert_eq!(knife_edge_loss_db(-1.0), 0.0);
    // Deep shadow: J(ν) ≈ 13 + 20·log10(ν) for large ν (P.526).
    let j10 = knife_edge_loss_db(10.0);
    assert!((j10 - 33.0).abs() < 0.5, "J(10) = {j10}");
}

/// Ensemble estimate of the field's autocorrelation at lag `lag_m`: many independent
/// fields (seeds), many random point pairs each.
fn autocorrelation(lag_m: f64, d_corr: f64) -> f64 {
    use rand::{RngExt, SeedableRng};
    let mut pick = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut sum = 0.0;
    let mut n = 0.0;
    for seed in 0..400u64 {
        let field = ShadowingField::new(seed, d_corr);
        for _ in 0..100 {
            let x = pick.random::<f64>() * 5000.0;
            let y = pick.random::<f64>() * 5000.0;
            let th = pick.random::<f64>() * std::f64::consts::TAU;
            let a = field.value(x, y);
            let b = field.value(x + lag_m * th.cos(), y + lag_m * th.sin());
            sum += a * b;
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn shadowing_autocorrelation_at_correlation_distance_is_1_over_e() {
    let d = 50.0;
    let r0 = autocorrelation(0.0, d);
    let r1 = autocorrelation(d, d);
    let r3 = autocorrelation(3.0 * d, d);
    eprintln!("field: ρ(0) = {r0:.4}, ρ(d_corr) = {r1:.4}, ρ(3·d_corr) = {r3:.4}");
    assert!((r0 - 1.0).abs() < 0.05, "variance {r0}");
    assert!((r1 - (-1.0f64).exp()).abs() < 0.05, "ρ(d_corr) = {r1}");
    assert!((r3 - (-3.0f64).exp()).abs() < 0.05, "ρ(3·d_corr) = {r3}");
}

#[test]
fn shadowing_autocorrelation_along_a_ue_track_through_the_model() {
    // Through the whole model: a UE track on flat terrain, shadowing read from the
    // measurements of many independently seeded networks.
    let d_corr = 80.0;
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    let mut n = 0.0;
    for seed in 0..200u64 {
        let mut cfg = common::config_with_cells(&[(0.0, 0.0)]);
        cfg.propagation.correlation_distance_m = d_corr;
        let net = network5g::CellNetwork::new(cfg, FlatTerrain::default(), seed).unwrap();
        for k in 0..20 {
            let x0 = 300.0 + 200.0 * f64::from(k);
            let a = net.measure(Point3::new(x0, 500.0, 5.0))[0].shadowing_db;
            let b = net.measure(Point3::new(x0, 500.0 + d_corr, 5.0))[0].shadowing_db;
            sum += a * b;
            sum_sq += a * a;
            n += 1.0;
        }
    }
    let sigma2 = sum_sq / n;
    let rho = sum / n / sigma2;
    eprintln!(
        "model track: σ = {:.3} dB, ρ(d_corr) = {rho:.4}",
        sigma2.sqrt()
    );
    assert!((sigma2.sqrt() - 4.0).abs() < 0.3, "σ = {}", sigma2.sqrt());
    assert!((rho - (-1.0f64).exp()).abs() < 0.05, "ρ = {rho}");
}

#[test]
fn thermal_noise_over_100_mhz_with_7_db_nf_is_minus_87_dbm() {
    let n = noise_power_dbm(100e6, 7.0);
    assert!((n + 87.0).abs() < 1e-9, "{n}");
}

#[test]
fn dddsu_frame_fractions_and_slot_timing() {
    let tdd = TddFrame::new(&CarrierConfig::default());
    assert_eq!(tdd.slot_us(), 500);
    assert_eq!(tdd.period_us(), 2500);
    assert!((tdd.fraction(Direction::Downlink) - (3.0 + 10.0 / 14.0) / 5.0).abs() < 1e-12);
    assert!((tdd.fraction(Direction::Uplink) - (1.0 + 2.0 / 14.0) / 5.0).abs() < 1e-12);
    // U is slot 4 (2000–2500 µs of each period).
    assert_eq!(tdd.next_slot_start(0, Direction::Uplink), 2000);
    assert_eq!(tdd.next_slot_start(2001, Direction::Uplink), 4500);
    assert_eq!(tdd.next_slot_start(2001, Direction::Downlink), 2500);
    assert_eq!(tdd.next_slot_start(1200, Direction::Downlink), 1500);
}

#[test]
fn attenuated_shannon_values() {
    let l = LinkConfig::default();
    assert!((spectral_efficiency(20.0, &l) - 0.6 * 101f64.log2()).abs() < 1e-9);
    assert_eq!(spectral_efficiency(-10.5, &l), 0.0);
    assert!((spectral_efficiency(60.0, &l) - 7.4063).abs() < 1e-9);
}
