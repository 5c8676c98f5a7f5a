//! [`RadioSim`]: the cells plus every UE's link, with cell capacity shared among the UEs
//! each cell serves.

use crate::radio::config::{ConfigError, RadioConfig};
use crate::radio::coverage::{CoverageArea, CoverageMap};
use crate::radio::link::{Delivery, LinkEvent, LinkMetrics, LinkState, UeId, UeLink};
use crate::radio::network::{CellId, CellNetwork};
use crate::radio::phy::Direction;
use crate::radio::terrain::TerrainProfile;
use site::seed::{derive, Stream};

/// The radio model of a whole site: cells over a terrain and the links of all UEs.
/// Deterministic: the same configuration, terrain, seed and sequence of calls give
/// bit-identical results.
#[derive(Debug, Clone)]
pub struct RadioSim<T> {
    net: CellNetwork<T>,
    ues: Vec<UeLink>,
    seed: u64,
}

impl<T: TerrainProfile> RadioSim<T> {
    /// Validates `config` and builds the cells; `seed` seeds the shadowing fields and every
    /// UE's generator.
    pub fn new(config: RadioConfig, terrain: T, seed: u64) -> Result<Self, ConfigError> {
        Ok(Self {
            net: CellNetwork::new(config, terrain, seed)?,
            ues: Vec::new(),
            seed,
        })
    }

    /// The cells and propagation model.
    pub fn network(&self) -> &CellNetwork<T> {
        &self.net
    }

    /// Adds a detached UE; its generator is derived from the seed and its index, so UEs
    /// added in the same order get the same draws.
    pub fn add_ue(&mut self) -> UeId {
        let id = UeId(self.ues.len() as u32);
        self.ues.push(UeLink::new(
            id,
            derive(self.seed, Stream::RadioUe, u64::from(id.0)),
        ));
        id
    }

    /// Number of UEs.
    pub fn ue_count(&self) -> usize {
        self.ues.len()
    }

    /// A UE's link.
    pub fn ue(&self, ue: UeId) -> Option<&UeLink> {
        self.ues.get(ue.0 as usize)
    }

    /// Advances `ue` to `now_us` at position `(x, y)`; `None` for an unknown UE.
    pub fn step(&mut self, ue: UeId, now_us: u64, x: f64, y: f64) -> Option<LinkState> {
        let link = self.ues.get_mut(ue.0 as usize)?;
        Some(link.step(&self.net, now_us, x, y))
    }

    /// Number of UEs whose data currently goes through `cell`.
    pub fn attached_count(&self, cell: CellId) -> usize {
        self.ues
            .iter()
            .filter(|u| u.state().data_cell() == Some(cell))
            .count()
    }

    /// Sends a packet of `bytes` from/to `ue` at `now_us`; the cell's capacity is shared
    /// equally by the UEs it serves (round robin, every UE taken as active).
    /// An unknown UE loses the packet.
    pub fn transmit(&mut self, now_us: u64, ue: UeId, dir: Direction, bytes: usize) -> Delivery {
        let sharing = match self
            .ues
            .get(ue.0 as usize)
            .and_then(|u| u.state().data_cell())
        {
            Some(cell) => self.attached_count(cell).max(1),
            None => 1,
        };
        match self.ues.get_mut(ue.0 as usize) {
            Some(link) => link.transmit(&self.net, now_us, dir, bytes, sharing),
            None => Delivery::Lost {
                reason: crate::radio::link::LossReason::NoLink,
            },
        }
    }

    /// Per-UE rate share in `dir` now, bit/s (0 without a link).
    pub fn rate_bps(&self, ue: UeId, dir: Direction) -> f64 {
        let Some(link) = self.ues.get(ue.0 as usize) else {
            return 0.0;
        };
        let (Some(cell), Some(sinr)) =
            (link.state().data_cell(), link.data_sinr_db(&self.net, dir))
        else {
            return 0.0;
        };
        let (sinr, fraction) = crate::radio::link::allocation(&self.net, sinr, dir);
        crate::radio::link::shared_fraction(fraction, self.attached_count(cell))
            * self.net.full_cell_rate_bps(sinr, dir)
    }

    /// Metrics of `ue` with the current rate shares filled in.
    pub fn metrics(&self, ue: UeId) -> Option<LinkMetrics> {
        let link = self.ues.get(ue.0 as usize)?;
        let mut m = *link.metrics();
        m.dl_rate_bps = self.rate_bps(ue, Direction::Downlink);
        m.ul_rate_bps = self.rate_bps(ue, Direction::Uplink);
        Some(m)
    }

    /// Removes and returns the events of `ue` since the last call.
    pub fn take_events(&mut self, ue: UeId) -> Vec<LinkEvent> {
        self.ues
            .get_mut(ue.0 as usize)
            .map(UeLink::take_events)
            .unwrap_or_default()
    }

    /// Removes and returns every UE's events, ordered by time then UE.
    pub fn drain_events(&mut self) -> Vec<LinkEvent> {
        let mut all: Vec<LinkEvent> = self.ues.iter_mut().flat_map(UeLink::take_events).collect();
        all.sort_by_key(|e| (e.at_us, e.ue));
        all
    }

    /// Best downlink SINR over `area` (see [`CellNetwork::coverage_map`]).
    pub fn coverage_map(&self, area: CoverageArea) -> CoverageMap {
        self.net.coverage_map(area)
    }
}
