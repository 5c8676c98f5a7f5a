//! Which transport carries a run's messages, built from the site and the run config.

use crate::config::{NetworkChoice, SimConfig};
use crate::error::SimError;
use network5g::quic::{FixedChannel, RadioChannel, SimQuicConfig, SimQuicTransport};
use network5g::transport::{InMemoryTransport, Transport};
use site::Site;
use std::sync::Arc;

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
                network5g::quic::real_fleet::RealFleet::connect(&rcfg, &start, channel).map_err(
                    |e| match e {
                        network5g::quic::real::RealError::NotLoopback(_) => {
                            err(format!("--dispatcher {server}: {e}"))
                        }
                        _ => err(format!(
                            "dispatcher at {server}: {e}; is a dispatcher running there? Start one first, e.g. `dispatcher --listen {server} --trucks {} --seed {} --pki-seed {pki_seed}`",
                            cfg.trucks, cfg.seed
                        )),
                    },
                )?,
            )
        }
    })
}

/// The site's best-server downlink SINR map over its heightfield, every `step_m` metres, with
/// the shadowing of a run with seed `seed`.
pub fn coverage_map(
    site: &Arc<Site>,
    step_m: f64,
    seed: u64,
) -> Result<(network5g::CoverageArea, network5g::CoverageMap), SimError> {
    let ch =
        RadioChannel::for_site(site.clone(), seed).map_err(|e| SimError::Network(e.to_string()))?;
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

/// The radio along one point of a road.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoadPoint {
    pub lane: site::LaneId,
    pub s: f64,
    pub pos: [f64; 2],
    /// Best-server downlink SINR and RSRP.
    pub sinr_db: f64,
    pub rsrp_dbm: f64,
}

/// The site's radio along its roads (shadowing of a run with seed `seed`): every lane
/// sampled every `step_m` metres, worst first.
pub fn road_coverage(site: &Arc<Site>, step_m: f64, seed: u64) -> Result<Vec<RoadPoint>, SimError> {
    let ch =
        RadioChannel::for_site(site.clone(), seed).map_err(|e| SimError::Network(e.to_string()))?;
    let net = ch.radio.network();
    let mut out = Vec::new();
    let step = step_m.max(1.0);
    for lane in &site.roads.lanes {
        let n = (lane.length() / step).ceil().max(1.0) as usize;
        for k in 0..=n {
            let s = lane.length() * k as f64 / n as f64;
            let p = lane.point_at(s).pos;
            let meas = net.measure(net.ue_antenna(p[0], p[1]));
            let Some(best) =
                network5g::CellNetwork::<network5g::radio::site::SiteTerrain>::best_cell(&meas)
            else {
                continue;
            };
            let rsrp = meas
                .iter()
                .find(|m| m.cell == best)
                .map_or(f64::NEG_INFINITY, |m| m.rsrp_dbm);
            out.push(RoadPoint {
                lane: lane.id,
                s,
                pos: [p[0], p[1]],
                sinr_db: net.dl_sinr_db(&meas, best),
                rsrp_dbm: rsrp,
            });
        }
    }
    out.sort_by(|a, b| a.sinr_db.total_cmp(&b.sinr_db));
    Ok(out)
}
