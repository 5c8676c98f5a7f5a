//! Terrain line of sight: a ridge between mast and UE makes the link NLOS with more loss.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::{config_no_shadowing, Ridge};
use network5g::radio::terrain::ray_profile;
use network5g::{CellId, CellNetwork, FlatTerrain, NlosModel, Point3};

#[test]
fn ridge_between_mast_and_ue_makes_link_nlos_with_higher_loss() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let flat = CellNetwork::new(cfg.clone(), FlatTerrain::default(), 1).unwrap();
    let ridge = Ridge {
        x_m: 1000.0,
        height_m: 60.0,
        half_width_m: 100.0,
    };
    let hilly = CellNetwork::new(cfg, ridge, 1).unwrap();
    let ue_flat = flat.ue_antenna(2000.0, 0.0);
    let ue_hilly = hilly.ue_antenna(2000.0, 0.0);
    assert_eq!(ue_flat, ue_hilly, "UE stands on flat ground in both");
    let m_flat = flat.measure_cell(CellId(0), ue_flat).unwrap();
    let m_hilly = hilly.measure_cell(CellId(0), ue_hilly).unwrap();
    assert!(m_flat.line_of_sight);
    assert!(!m_hilly.line_of_sight);
    assert!(m_hilly.diffraction_loss_db > 6.0, "{m_hilly:?}");
    assert!(
        m_hilly.path_loss_db > m_flat.path_loss_db + 20.0,
        "NLOS {} vs LOS {}",
        m_hilly.path_loss_db,
        m_flat.path_loss_db
    );
    assert!(m_hilly.rsrp_dbm < m_flat.rsrp_dbm);
}

#[test]
fn low_ridge_under_the_ray_keeps_line_of_sight() {
    // Ray from 35 m to 5 m over 2 km is ~20 m high at 1 km; a 10 m ridge stays below it.
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let low = Ridge {
        x_m: 1000.0,
        height_m: 10.0,
        half_width_m: 100.0,
    };
    let net = CellNetwork::new(cfg, low, 1).unwrap();
    let m = net
        .measure_cell(CellId(0), net.ue_antenna(2000.0, 0.0))
        .unwrap();
    assert!(m.line_of_sight);
    assert_eq!(m.diffraction_loss_db, 0.0);
}

#[test]
fn ridge_behind_the_ue_does_not_obstruct() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let ridge = Ridge {
        x_m: 3000.0,
        height_m: 200.0,
        half_width_m: 100.0,
    };
    let net = CellNetwork::new(cfg, ridge, 1).unwrap();
    let m = net
        .measure_cell(CellId(0), net.ue_antenna(2000.0, 0.0))
        .unwrap();
    assert!(m.line_of_sight);
}

#[test]
fn higher_ridge_costs_more() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let loss = |h: f64| {
        let net = CellNetwork::new(
            cfg.clone(),
            Ridge {
                x_m: 1000.0,
                height_m: h,
                half_width_m: 50.0,
            },
            1,
        )
        .unwrap();
        net.measure_cell(CellId(0), net.ue_antenna(2000.0, 0.0))
            .unwrap()
            .path_loss_db
    };
    let (l40, l80, l160) = (loss(40.0), loss(80.0), loss(160.0));
    assert!(l40 < l80 && l80 < l160, "{l40} {l80} {l160}");
}

#[test]
fn grazing_obstruction_gives_about_6_db_with_los_plus_knife_edge_model() {
    // Knife edge exactly on the ray: ν ≈ 0, so RMa LOS + J(0) ≈ LOS + 6 dB.
    let mut cfg = config_no_shadowing(&[(0.0, 0.0)]);
    cfg.propagation.nlos_model = NlosModel::RmaLosPlusKnifeEdge;
    cfg.propagation.los_sample_step_m = 1.0;
    // Ray from z = 35 at x = 0 to z = 5 at x = 2000 passes z = 20 at x = 1000.
    let edge = Ridge {
        x_m: 1000.0,
        height_m: 20.0,
        half_width_m: 1.0,
    };
    let net = CellNetwork::new(cfg.clone(), edge, 1).unwrap();
    let flat = CellNetwork::new(cfg, FlatTerrain::default(), 1).unwrap();
    let ue = Point3::new(2000.0, 0.0, 5.0);
    let d = net.measure_cell(CellId(0), ue).unwrap().path_loss_db
        - flat.measure_cell(CellId(0), ue).unwrap().path_loss_db;
    assert!((d - 6.0).abs() < 0.3, "excess {d}");
    let ray = ray_profile(&edge, Point3::new(0.0, 0.0, 35.0), ue, 1.0, 0.0857);
    assert!(ray.max_nu.abs() < 0.05, "ν = {}", ray.max_nu);
}

/// A conical pit: floor radius 200 m at −100 m, walls up to the rim at 500 m.
struct Pit;

impl network5g::TerrainProfile for Pit {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        let r = x.hypot(y);
        Some(if r < 200.0 {
            -100.0
        } else if r < 500.0 {
            -100.0 * (500.0 - r) / 300.0
        } else {
            0.0
        })
    }
}

#[test]
fn pit_rim_hides_the_near_floor_but_not_the_far_floor() {
    // Mast 200 m back from the rim: the rim blocks the floor right below it, while the far
    // side of the floor is in view.
    let cfg = config_no_shadowing(&[(700.0, 0.0)]);
    let net = CellNetwork::new(cfg, Pit, 1).unwrap();
    let near = net
        .measure_cell(CellId(0), net.ue_antenna(150.0, 0.0))
        .unwrap();
    let far = net
        .measure_cell(CellId(0), net.ue_antenna(-150.0, 0.0))
        .unwrap();
    assert_eq!(net.ue_antenna(150.0, 0.0).z, -95.0);
    assert!(!near.line_of_sight);
    assert!(far.line_of_sight);
    assert!(near.distance_2d_m < far.distance_2d_m);
    assert!(
        near.path_loss_db > far.path_loss_db + 10.0,
        "{near:?} {far:?}"
    );
}

#[test]
fn antenna_pattern_peaks_at_the_downtilt() {
    use network5g::radio::pathloss::AntennaPattern;
    let p = AntennaPattern {
        downtilt_deg: 10.0,
        vertical_beamwidth_deg: 65.0,
        vertical: true,
        azimuth_deg: None,
        horizontal_beamwidth_deg: 65.0,
        max_attenuation_db: 30.0,
    };
    // 10° below the horizon: dz/d = −tan(10°).
    let d = 1000.0;
    let dz = -d * 10f64.to_radians().tan();
    assert!(p.attenuation_db(d, 0.0, dz).abs() < 1e-9);
    // Horizon: 12·(10/65)² = 0.284 dB; half-power angle 32.5° off tilt: 3 dB.
    assert!((p.attenuation_db(0.0, d, 0.0) - 12.0 * (10.0f64 / 65.0).powi(2)).abs() < 1e-9);
    let dz3 = -d * 42.5f64.to_radians().tan();
    assert!((p.attenuation_db(d, 0.0, dz3) - 3.0).abs() < 1e-9);
    // Straight down: 80° off the tilt, 12·(80/65)² = 18.2 dB.
    let down = p.attenuation_db(1.0, 0.0, -1e6);
    assert!(
        (down - 12.0 * (80.0f64 / 65.0).powi(2)).abs() < 0.01,
        "{down}"
    );
    // Sector facing east: the back (west) is capped at the 30 dB maximum.
    let sector = AntennaPattern {
        azimuth_deg: Some(90.0),
        ..p
    };
    assert_eq!(sector.attenuation_db(-d, 0.0, dz), 30.0);
    assert!(sector.attenuation_db(d, 0.0, dz).abs() < 1e-9);
}
