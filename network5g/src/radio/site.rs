//! The radio model over a [`Site`]: its heightfield as the terrain ([`SiteTerrain`]), its
//! gNBs and `[radio]` table as the configuration ([`site_radio_config`]). The one place that
//! adapts a site to the radio model: the runs (`quic::RadioChannel::for_site`), the coverage
//! report and the viewer all build their radio here.

use super::config::{CellSiteConfig, ConfigError, RadioConfig};
use super::network::CellNetwork;
use super::sim::RadioSim;
use super::terrain::TerrainProfile;
use serde::Deserialize;
use site::{Heightfield, Site};
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
