//! What carries QUIC packets between a truck and the dispatcher in simulated time: the
//! radio model over the site's terrain ([`RadioChannel`]) or a fixed delay with random loss
//! ([`FixedChannel`], for tests that want a plain network).

use crate::radio::config::{ConfigError, RadioConfig};
use crate::radio::link::{Delivery, LinkMetrics, UeId};
use crate::radio::phy::Direction;
use crate::radio::sim::RadioSim;
use crate::radio::site::{site_radio, SiteTerrain};
use crate::radio::terrain::TerrainProfile;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::seed::Stream;
use site::Site;
use std::sync::Arc;

/// A packet path per truck, driven in simulated time (µs).
pub trait Channel {
    /// Adds the next truck (index = number of trucks so far).
    fn add_truck(&mut self);
    /// Moves truck `truck` to `(x, y)` at `now_us`.
    fn step(&mut self, now_us: u64, truck: usize, x: f64, y: f64);
    /// Arrival time of a packet of `bytes` sent at `now_us`, or `None` when it is lost.
    fn carry(&mut self, now_us: u64, truck: usize, up: bool, bytes: usize) -> Option<u64>;
    /// Radio metrics of a truck, when the channel is a radio.
    fn metrics(&self, _truck: usize) -> Option<LinkMetrics> {
        None
    }
}

/// Fixed one-way delay and independent random loss (seeded).
#[derive(Clone, Debug)]
pub struct FixedChannel {
    pub one_way_us: u64,
    pub loss: f64,
    rng: ChaCha8Rng,
}

impl FixedChannel {
    pub fn new(one_way_us: u64, loss: f64, seed: u64) -> FixedChannel {
        FixedChannel {
            one_way_us,
            loss,
            rng: site::seed::rng(seed, Stream::FixedChannel, 0),
        }
    }
}

impl Channel for FixedChannel {
    fn add_truck(&mut self) {}
    fn step(&mut self, _now_us: u64, _truck: usize, _x: f64, _y: f64) {}
    fn carry(&mut self, now_us: u64, _truck: usize, _up: bool, _bytes: usize) -> Option<u64> {
        if self.loss > 0.0 && self.rng.random_range(0.0..1.0) < self.loss {
            None
        } else {
            Some(now_us + self.one_way_us)
        }
    }
}

/// The radio model: every truck a UE of [`RadioSim`].
#[derive(Clone, Debug)]
pub struct RadioChannel<T> {
    pub radio: RadioSim<T>,
    ues: Vec<UeId>,
}

impl<T: TerrainProfile> RadioChannel<T> {
    pub fn new(config: RadioConfig, terrain: T, seed: u64) -> Result<Self, ConfigError> {
        Ok(RadioChannel {
            radio: RadioSim::new(config, terrain, seed)?,
            ues: Vec::new(),
        })
    }
}

impl RadioChannel<SiteTerrain> {
    /// The radio of `site` (its gNBs over its terrain, [`site_radio`]).
    pub fn for_site(site: Arc<Site>, seed: u64) -> Result<Self, ConfigError> {
        Ok(RadioChannel {
            radio: site_radio(site, seed)?,
            ues: Vec::new(),
        })
    }
}

impl<T: TerrainProfile> Channel for RadioChannel<T> {
    fn add_truck(&mut self) {
        let ue = self.radio.add_ue();
        self.ues.push(ue);
    }
    fn step(&mut self, now_us: u64, truck: usize, x: f64, y: f64) {
        if let Some(ue) = self.ues.get(truck) {
            self.radio.step(*ue, now_us, x, y);
        }
    }
    fn carry(&mut self, now_us: u64, truck: usize, up: bool, bytes: usize) -> Option<u64> {
        let ue = *self.ues.get(truck)?;
        let dir = if up {
            Direction::Uplink
        } else {
            Direction::Downlink
        };
        match self.radio.transmit(now_us, ue, dir, bytes) {
            Delivery::Delivered { at_us, .. } => Some(at_us),
            Delivery::Lost { .. } => None,
        }
    }
    fn metrics(&self, truck: usize) -> Option<LinkMetrics> {
        self.radio.metrics(*self.ues.get(truck)?)
    }
}
