//! Radio parameters from the site file: per-mast values in `[[gnbs]]`, everything else in a
//! `[radio]` table over the model's defaults; mistakes name the field.
#![allow(clippy::unwrap_used)] // integration-test crate

use network5g::quic::RadioChannel;
use network5g::radio::site::site_radio_config;
use network5g::RadioConfig;
use std::sync::Arc;

fn default_site_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/sites/default.toml"
    ))
    .unwrap()
}

fn site_with(extra: &str, gnb0: &str) -> Result<site::Site, String> {
    // per-mast keys go into the first [[gnbs]] entry
    let text =
        default_site_text().replacen("name = \"gNB0\"\n", &format!("name = \"gNB0\"\n{gnb0}"), 1);
    let text = format!("{text}\n{extra}");
    let f = site::file::parse("test.toml", &text).map_err(|e| e.to_string())?;
    site::file::build("test.toml", &f).map_err(|e| e.to_string())
}

#[test]
fn site_file_sets_carrier_and_mast_values() {
    let s = site_with(
        "[radio.carrier]\nfrequency_hz = 2.6e9\nbandwidth_hz = 40e6\n[radio.mobility]\nhysteresis_db = 4.5\n",
        "tx_power_dbm = 40.0\nantenna_gain_dbi = 15.0\nazimuth_deg = 120.0\n",
    )
    .unwrap();
    let cfg = site_radio_config(&s).unwrap();
    let d = RadioConfig::default();
    assert_eq!(cfg.carrier.frequency_hz, 2.6e9);
    assert_eq!(cfg.carrier.bandwidth_hz, 40e6);
    assert_eq!(cfg.mobility.hysteresis_db, 4.5);
    // untouched sections keep the defaults
    assert_eq!(cfg.ue, d.ue);
    assert_eq!(cfg.cells.len(), s.gnbs.len());
    assert_eq!(cfg.cells[0].tx_power_dbm, 40.0);
    assert_eq!(cfg.cells[0].antenna_gain_dbi, 15.0);
    assert_eq!(cfg.cells[0].azimuth_deg, Some(120.0));
    let plain = network5g::CellSiteConfig::at(0.0, 0.0);
    assert_eq!(cfg.cells[1].tx_power_dbm, plain.tx_power_dbm);
    // LOS sampling follows the heightfield unless the file says otherwise
    assert_eq!(cfg.propagation.los_sample_step_m, s.terrain.cell);
    // and the model takes it: a narrower carrier at a weaker mast gives less rate
    let wide = RadioChannel::for_site(Arc::new(site_with("", "").unwrap()), 1).unwrap();
    let narrow = RadioChannel::for_site(Arc::new(s), 1).unwrap();
    let (w, n) = (wide.radio.network(), narrow.radio.network());
    let full = |net: &network5g::CellNetwork<_>| {
        net.full_cell_rate_bps(20.0, network5g::Direction::Downlink)
    };
    assert!(full(n) < full(w) * 0.5, "{} vs {}", full(n), full(w));
}

#[test]
fn radio_mistakes_name_the_field() {
    let s = site_with("[radio.carrier]\nbandwith_hz = 40e6\n", "").unwrap();
    let e = site_radio_config(&s).unwrap_err().to_string();
    assert!(e.contains("[radio]") && e.contains("bandwith_hz"), "{e}");
    let s = site_with("[radio.carrier]\nbandwidth_hz = -1.0\n", "").unwrap();
    let e = RadioChannel::for_site(Arc::new(s), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bandwidth_hz"), "{e}");
    let e = site_with("[[radio.cells]]\nname = \"x\"\n", "").unwrap_err();
    assert!(e.contains("radio.cells"), "{e}");
    let e = site_with("", "tx_power_dbm = nan\n").unwrap_err();
    assert!(e.contains("gnbs[0].tx_power_dbm"), "{e}");
}
