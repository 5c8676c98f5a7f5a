//! Which transport carries a run's messages, built from the site and the run config.

use crate::world::{SimConfig, SimError};
use network5g::quic::{FixedChannel, RadioChannel, SimQuicConfig, SimQuicTransport};
use network5g::transport::{InMemoryTransport, Transport};
use site::Site;
use std::sync::Arc;

/// The transport of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkChoice {
    /// Fixed latency, lossless ([`SimConfig::link_latency`]).
    InMemory,
    /// Simulated QUIC over the radio model of the site (its gNBs over its terrain).
    QuicRadio,
    /// Simulated QUIC over a fixed one-way delay with independent random loss.
    QuicFixed { one_way_ms: f64, loss: f64 },
}

/// Builds the transport `cfg.network` asks for.
pub fn make_transport(
    site: &Arc<Site>,
    cfg: &SimConfig,
) -> Result<Box<dyn Transport + Send + Sync>, SimError> {
    let qcfg = SimQuicConfig {
        seed: cfg.seed,
        ..SimQuicConfig::default()
    };
    let err = |e: String| SimError::Network(e);
    Ok(match &cfg.network {
        NetworkChoice::InMemory => Box::new(InMemoryTransport::new(cfg.link_latency)),
        NetworkChoice::QuicRadio => {
            let ch =
                RadioChannel::for_site(site.clone(), cfg.seed).map_err(|e| err(e.to_string()))?;
            Box::new(SimQuicTransport::new(cfg.trucks, ch, qcfg).map_err(|e| err(e.to_string()))?)
        }
        NetworkChoice::QuicFixed { one_way_ms, loss } => {
            let ch = FixedChannel::new((one_way_ms * 1000.0).round() as u64, *loss, cfg.seed);
            Box::new(SimQuicTransport::new(cfg.trucks, ch, qcfg).map_err(|e| err(e.to_string()))?)
        }
    })
}

/// The site's best-server downlink SINR map over its heightfield, every `step_m` metres.
pub fn coverage_map(
    site: &Arc<Site>,
    step_m: f64,
) -> Result<(network5g::CoverageArea, network5g::CoverageMap), SimError> {
    let ch =
        RadioChannel::for_site(site.clone(), 1).map_err(|e| SimError::Network(e.to_string()))?;
    let h = &site.terrain;
    let area = network5g::CoverageArea {
        x_min: h.origin[0],
        y_min: h.origin[1],
        x_max: h.origin[0] + h.cell * h.nx.saturating_sub(1) as f64,
        y_max: h.origin[1] + h.cell * h.ny.saturating_sub(1) as f64,
        spacing_m: step_m.max(1.0),
    };
    let map = ch.radio.coverage_map(area);
    Ok((area, map))
}
