//! Coverage map and PNG; configuration from TOML.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::{config_no_shadowing, config_with_cells, BoundedFlat, Ridge};
use network5g::{
    CellId, ColourScale, ConfigError, CoverageArea, FlatTerrain, NlosModel, RadioConfig, RadioSim,
};

fn area() -> CoverageArea {
    CoverageArea {
        x_min: -500.0,
        y_min: -500.0,
        x_max: 2500.0,
        y_max: 500.0,
        spacing_m: 50.0,
    }
}

#[test]
fn coverage_map_is_best_near_cells_and_worst_between_them() {
    let cfg = config_no_shadowing(&[(0.0, 0.0), (2000.0, 0.0)]);
    let sim = RadioSim::new(cfg, FlatTerrain::default(), 1).unwrap();
    let map = sim.coverage_map(area());
    assert_eq!((map.nx, map.ny), (61, 21));
    assert_eq!(map.sinr_db.len(), 61 * 21);
    let at = |x: f64, y: f64| {
        let col = ((x - map.area.x_min) / 50.0) as usize;
        let row = ((y - map.area.y_min) / 50.0) as usize;
        map.at(col, row).unwrap()
    };
    let near = at(200.0, 0.0);
    let mid = at(1000.0, 0.0);
    assert!(near > mid + 10.0, "near {near}, mid {mid}");
    // Midway both cells are equal: SINR ≈ 10·log10(1/0.5) = 3 dB (interference-limited).
    assert!((mid - 3.0).abs() < 0.5, "mid {mid}");
    assert_eq!(map.best_cell[10 * 61 + 4], Some(CellId(0)));
    assert_eq!(map.best_cell[10 * 61 + 56], Some(CellId(1)));
    assert!(map.fraction_at_least(0.0) > 0.99);
}

#[test]
fn ridge_shows_as_a_coverage_hole() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let ridge = Ridge {
        x_m: 1000.0,
        height_m: 120.0,
        half_width_m: 100.0,
    };
    let with = RadioSim::new(cfg.clone(), ridge, 1)
        .unwrap()
        .coverage_map(area());
    let without = RadioSim::new(cfg, FlatTerrain::default(), 1)
        .unwrap()
        .coverage_map(area());
    let col = ((1800.0 - area().x_min) / 50.0) as usize;
    let row = 10;
    assert!(with.at(col, row).unwrap() < without.at(col, row).unwrap() - 20.0);
    assert!(with.fraction_at_least(-6.0) < without.fraction_at_least(-6.0));
}

#[test]
fn coverage_png_has_map_and_colour_bar() {
    let cfg = config_with_cells(&[(0.0, 0.0), (2000.0, 0.0)]);
    let sim = RadioSim::new(cfg, FlatTerrain::default(), 4).unwrap();
    let map = sim.coverage_map(area());
    let mut bytes = Vec::new();
    map.write_png(&mut bytes, ColourScale::default()).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.width as usize, map.nx);
    assert!(info.height as usize > map.ny);
    let px = |x: usize, y: usize| {
        let o = (y * info.width as usize + x) * 3;
        [buf[o], buf[o + 1], buf[o + 2]]
    };
    // Colour bar: left end is the bottom of the scale, right end the top.
    let bar_y = info.height as usize - 2;
    let scale = ColourScale::default();
    assert_eq!(px(0, bar_y), scale.colour(scale.min_db));
    assert_eq!(px(map.nx - 1, bar_y), scale.colour(scale.max_db));
    // Cell site at (0, 0): white marker; image row 0 is the northern edge.
    let col = (500.0 / 50.0) as usize;
    let img_row = map.ny - 1 - 10;
    assert_eq!(px(col, img_row), [255, 255, 255]);
    // A map pixel away from the sites has the colour of its SINR.
    let (c, r) = (30, 3);
    assert_eq!(px(c, map.ny - 1 - r), scale.colour(map.at(c, r).unwrap()));
}

#[test]
fn points_outside_the_terrain_use_ground_zero() {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let sim = RadioSim::new(cfg, BoundedFlat { half_size_m: 100.0 }, 1).unwrap();
    let p = sim.network().ue_antenna(5000.0, 0.0);
    assert_eq!(p.z, 5.0);
}

#[test]
fn toml_scenario_fills_defaults_and_round_trips() {
    let text = r#"
        [carrier]
        bandwidth_hz = 40e6

        [mobility]
        hysteresis_db = 2.0

        [propagation]
        nlos_model = "rma_los_plus_knife_edge"

        [[cells]]
        name = "north rim"
        x_m = 100.0
        y_m = 2000.0

        [[cells]]
        x_m = -800.0
        y_m = 0.0
        azimuth_deg = 90.0
        mast_height_m = 25.0
    "#;
    let cfg: RadioConfig = toml::from_str(text).unwrap();
    assert_eq!(cfg.cells.len(), 2);
    assert_eq!(cfg.cells[0].name, "north rim");
    assert_eq!(cfg.cells[0].mast_height_m, 35.0);
    assert_eq!(cfg.cells[0].tx_power_dbm, 46.0);
    assert_eq!(cfg.cells[1].mast_height_m, 25.0);
    assert_eq!(cfg.cells[1].azimuth_deg, Some(90.0));
    assert_eq!(cfg.carrier.bandwidth_hz, 40e6);
    assert_eq!(cfg.carrier.frequency_hz, 3.5e9);
    assert_eq!(cfg.carrier.tdd_pattern, "DDDSU");
    assert_eq!(cfg.mobility.hysteresis_db, 2.0);
    assert_eq!(cfg.mobility.time_to_trigger_us, 160_000);
    assert_eq!(cfg.propagation.nlos_model, NlosModel::RmaLosPlusKnifeEdge);
    assert_eq!(cfg.propagation.correlation_distance_m, 50.0);
    assert_eq!(cfg.ue.antenna_height_m, 5.0);
    assert_eq!(cfg.link.harq_max_tries, 4);
    assert!(cfg.validate().is_ok());
    let back: RadioConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn invalid_configurations_are_rejected() {
    assert_eq!(RadioConfig::default().validate(), Err(ConfigError::NoCells));
    let mut c = config_with_cells(&[(0.0, 0.0)]);
    c.carrier.tdd_pattern = "DDDX".into();
    assert!(matches!(c.validate(), Err(ConfigError::TddPattern(_))));
    let mut c = config_with_cells(&[(0.0, 0.0)]);
    c.interference.neighbour_load = 1.5;
    assert!(matches!(c.validate(), Err(ConfigError::OutOfRange { .. })));
    let mut c = config_with_cells(&[(0.0, 0.0)]);
    c.carrier.bandwidth_hz = f64::NAN;
    assert!(RadioSim::new(c, FlatTerrain::default(), 0).is_err());
    assert!(toml::from_str::<RadioConfig>("[carrier]\nbandwith_hz = 1.0\n").is_err());
}

#[test]
fn sector_antenna_favours_its_boresight() {
    let mut cfg = config_no_shadowing(&[(0.0, 0.0)]);
    cfg.cells[0].azimuth_deg = Some(90.0); // facing east
    let sim = RadioSim::new(cfg, FlatTerrain::default(), 0).unwrap();
    let net = sim.network();
    let east = net.measure(net.ue_antenna(800.0, 0.0))[0];
    let west = net.measure(net.ue_antenna(-800.0, 0.0))[0];
    assert!(east.rsrp_dbm > west.rsrp_dbm + 20.0);
    assert_eq!(west.pattern_attenuation_db, 30.0);
}
