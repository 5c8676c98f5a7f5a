//! The radio model over a [`Site`]: its heightfield as the terrain ([`SiteTerrain`]), its
//! gNBs and `[radio]` table as the configuration ([`site_radio_config`]). The one place that
//! adapts a site to the radio model: the runs (`quic::RadioChannel::for_site`), the coverage
//! report and the viewer all build their radio here.
//!
//! [`load_site`] is the one validation of a site file: the site crate's checks and the
//! `[radio]` table's, every error located at its line and column.

use super::config::{CellSiteConfig, ConfigError, RadioConfig};
use super::network::CellNetwork;
use super::sim::RadioSim;
use super::terrain::TerrainProfile;
use serde::Deserialize;
use site::{Heightfield, Site, SiteError};
use std::path::Path;
use std::sync::Arc;

/// The site's heightfield seen by the radio model.
#[derive(Clone, Debug)]
pub struct SiteTerrain(pub Arc<Site>);

impl TerrainProfile for SiteTerrain {
    fn height_at(&self, x: f64, y: f64) -> Option<f64> {
        heightfield_height(&self.0.terrain, x, y)
    }
}

fn heightfield_height(h: &Heightfield, x: f64, y: f64) -> Option<f64> {
    let x1 = h.origin[0] + h.cell * (h.nx.saturating_sub(1)) as f64;
    let y1 = h.origin[1] + h.cell * (h.ny.saturating_sub(1)) as f64;
    if x < h.origin[0] || y < h.origin[1] || x > x1 || y > y1 {
        return None;
    }
    Some(h.height_at(x, y))
}

/// The radio configuration of a site: the site file's `[radio]` table over the model's
/// defaults, one cell per gNB with the site's mast heights and any per-mast values, LOS
/// sampled at the heightfield resolution unless `[radio.propagation]` says otherwise.
pub fn site_radio_config(site: &Site) -> Result<RadioConfig, ConfigError> {
    let mut cfg = match &site.radio {
        Some(table) => RadioConfig::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| ConfigError::SiteFile(format!("[radio]: {}", e.message())))?,
        None => RadioConfig::default(),
    };
    let step_given = site
        .radio
        .as_ref()
        .and_then(|t| t.get("propagation"))
        .and_then(|p| p.get("los_sample_step_m"))
        .is_some();
    if !step_given {
        cfg.propagation.los_sample_step_m = site.terrain.cell.max(1.0);
    }
    cfg.cells = site
        .gnbs
        .iter()
        .map(|g| {
            let d = CellSiteConfig::at(g.pos[0], g.pos[1]);
            CellSiteConfig {
                name: g.name.clone(),
                mast_height_m: g.mast_height_m,
                tx_power_dbm: g.tx_power_dbm.unwrap_or(d.tx_power_dbm),
                antenna_gain_dbi: g.antenna_gain_dbi.unwrap_or(d.antenna_gain_dbi),
                downtilt_deg: g.downtilt_deg.unwrap_or(d.downtilt_deg),
                azimuth_deg: g.azimuth_deg.or(d.azimuth_deg),
                ..d
            }
        })
        .collect();
    Ok(cfg)
}

/// The radio model of `site` seeded with `seed`: [`site_radio_config`] over [`SiteTerrain`].
pub fn site_radio(site: Arc<Site>, seed: u64) -> Result<RadioSim<SiteTerrain>, ConfigError> {
    let cfg = site_radio_config(&site)?;
    RadioSim::new(cfg, SiteTerrain(site), seed)
}

/// The cells of `site` (without UEs) seeded with `seed`, as the viewer and coverage maps use.
pub fn site_cells(site: Arc<Site>, seed: u64) -> Result<CellNetwork<SiteTerrain>, ConfigError> {
    let cfg = site_radio_config(&site)?;
    CellNetwork::new(cfg, SiteTerrain(site), seed)
}

/// Reads, compiles and validates the site file at `path`, the `[radio]` table included:
/// everything a run checks before it starts. The one validation of a site file, for every
/// command that takes one.
///
/// Syntax, type and semantic errors alike come as a [`SiteError`] with the file, line and
/// column, field and reason (`pit.toml:1150:1: radio.carrier.bandwith_hz: unknown field
/// ...`). The radio table is checked as a run builds it ([`site_radio_config`] and
/// [`RadioConfig::validate`]); its errors name `radio.<key path>`, or `gnbs[i].<key>` for a
/// mast's value. A site without gNBs passes (its other radio settings are still checked):
/// only a run over the radio refuses it.
pub fn load_site(path: &Path) -> Result<Site, SiteError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SiteError::new(&name, "(file)", e.to_string()))?;
    load_site_str(&name, &text)
}

/// [`load_site`] of the text of site file `file` (a name for the errors).
pub fn load_site_str(file: &str, text: &str) -> Result<Site, SiteError> {
    let site = site::file::load_str(file, text)?;
    check_radio(file, text, &site)?;
    Ok(site)
}

/// Just the `[radio]` table of a site file, deserialised from the whole text so that its
/// errors keep their spans (the other tables are the site crate's and are skipped here).
#[derive(Deserialize)]
struct RadioOnly {
    #[serde(default)]
    #[allow(dead_code)] // only its errors are wanted
    radio: Option<RadioConfig>,
}

fn check_radio(file: &str, text: &str, site: &Site) -> Result<(), SiteError> {
    if site.radio.is_some() {
        if let Err(e) = toml::from_str::<RadioOnly>(text) {
            let mut err = site::file::toml_error(file, text, &e);
            if !err.field.starts_with("radio") {
                err.field = "radio".to_string();
            }
            return Err(err);
        }
    }
    let mut cfg = site_radio_config(site)
        .map_err(|e| SiteError::new(file, "radio", e.to_string()).located(text))?;
    if cfg.cells.is_empty() {
        // No gNBs: check the rest as if there were one default mast.
        cfg.cells.push(CellSiteConfig::default());
    }
    cfg.validate()
        .map_err(|e| config_error(file, &cfg, &e).located(text))
}

/// A [`RadioConfig::validate`] error as a site-file error: `radio.<field>`, or
/// `gnbs[i].<field>` for the cell of mast `i`.
fn config_error(file: &str, cfg: &RadioConfig, e: &ConfigError) -> SiteError {
    match e {
        ConfigError::OutOfRange {
            field,
            value,
            reason,
        } => {
            let why = format!("must be {reason}, got {value}");
            if let Some(key) = field.strip_prefix("cells.") {
                let mast = (0..cfg.cells.len()).find(|&i| {
                    let one = RadioConfig {
                        cells: vec![cfg.cells[i].clone()],
                        ..cfg.clone()
                    };
                    matches!(one.validate(), Err(ConfigError::OutOfRange { field: f, .. }) if f == *field)
                });
                let key = match key {
                    "x_m" => "pos[0]",
                    "y_m" => "pos[1]",
                    k => k,
                };
                return match mast {
                    Some(i) => SiteError::new(file, format!("gnbs[{i}].{key}"), why),
                    None => SiteError::new(file, format!("gnbs.{key}"), why),
                };
            }
            if field.starts_with("carrier.special_slot") {
                let c = &cfg.carrier;
                return SiteError::new(
                    file,
                    "radio.carrier",
                    format!(
                        "special_slot_dl_symbols + special_slot_ul_symbols = {} + {} must be <= 14",
                        c.special_slot_dl_symbols, c.special_slot_ul_symbols
                    ),
                );
            }
            SiteError::new(file, format!("radio.{field}"), why)
        }
        ConfigError::TddPattern(_) => {
            SiteError::new(file, "radio.carrier.tdd_pattern", e.to_string())
        }
        ConfigError::NoCells => SiteError::new(file, "gnbs", e.to_string()),
        ConfigError::SiteFile(reason) => SiteError::new(file, "radio", reason.clone()),
    }
}
