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
    /// Real mode: `quinn` over loopback UDP to a dispatcher server in another process,
    /// each truck's packets through a relay that applies the site's radio model (`radio`)
    /// or none. The run is paced to the wall clock and the in-process dispatcher is idle.
    Real {
        server: std::net::SocketAddr,
        pki_seed: u64,
        radio: bool,
    },
}

impl NetworkChoice {
    /// The dispatcher runs in another process.
    pub fn remote_dispatcher(&self) -> bool {
        matches!(self, NetworkChoice::Real { .. })
    }
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
        NetworkChoice::Real {
            server,
            pki_seed,
            radio,
        } => {
            let channel: Option<Box<dyn network5g::quic::Channel + Send>> = if *radio {
                let ch = RadioChannel::for_site(site.clone(), cfg.seed)
                    .map_err(|e| err(e.to_string()))?;
                Some(Box::new(ch))
            } else {
                None
            };
            let rcfg = network5g::quic::real_fleet::RealFleetConfig {
                server: *server,
                pki_seed: *pki_seed,
                connect_timeout: std::time::Duration::from_secs(15),
            };
            let start: Vec<[f64; 2]> = site
                .fleet_start(cfg.trucks, cfg.seed)
                .unwrap_or_default()
                .iter()
                .map(|slot| {
                    let p = site.roads.lane(slot.lane).point_at(slot.s).pos;
                    [p[0], p[1]]
                })
                .collect();
            Box::new(
                network5g::quic::real_fleet::RealFleet::connect(&rcfg, &start, channel)
                    .map_err(|e| err(format!("dispatcher at {server}: {e}")))?,
            )
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
