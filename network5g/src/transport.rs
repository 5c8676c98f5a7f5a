//! How messages get between trucks and the dispatcher.
//!
//! [`Transport`] is the seam the QUIC transport plugs into (sim-world drives whichever
//! implementation a run uses); [`InMemoryTransport`] delivers every
//! message after a fixed latency, through the real wire encoding, in send order.

use crate::quic::safety::SafetyLayer;
use site::protocol::{decode, encode, DownMsg, UpMsg};
use site::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Carries protocol messages in simulated time.
pub trait Transport {
    /// A truck sends a message to the dispatcher.
    fn send_up(&mut self, now: SimTime, msg: &UpMsg);
    /// The dispatcher sends a message to a truck.
    fn send_down(&mut self, now: SimTime, msg: &DownMsg);
    /// Messages for the dispatcher delivered by `now`, in order.
    fn recv_up(&mut self, now: SimTime) -> Vec<UpMsg>;
    /// Messages for the trucks delivered by `now`, in order.
    fn recv_down(&mut self, now: SimTime) -> Vec<DownMsg>;
    /// Counters for the report.
    fn stats(&self) -> LinkStats;
    /// Advances the link to `now` with every truck's plan position (`positions[i]` is truck
    /// `i`). Transports without a radio ignore it.
    fn step(&mut self, _now: SimTime, _positions: &[[f64; 2]]) {}
    /// Per-truck link figures for the report (empty when the transport has none).
    fn link_report(&self) -> Vec<TruckLinkReport> {
        Vec::new()
    }
    /// Network KPIs (`None` when the transport does not measure them).
    fn kpis(&self) -> Option<NetKpis> {
        None
    }
    /// Link up/down events since the last call, in time order.
    fn drain_link_events(&mut self) -> Vec<LinkUpDown> {
        Vec::new()
    }
    /// A short name for reports.
    fn name(&self) -> &'static str {
        "in-memory"
    }
    /// The transport's safety layer, for its counters (`None` when frames are not sealed).
    fn safety_layer(&self) -> Option<&dyn SafetyLayer> {
        None
    }
}

/// A truck's connection to the dispatcher came up or went down.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LinkUpDown {
    pub at: SimTime,
    pub truck: u32,
    pub up: bool,
    /// Why it went down (empty when up).
    pub reason: String,
}

/// One truck's link as the run report shows it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TruckLinkReport {
    pub truck: u32,
    pub serving_cell: Option<u32>,
    pub rsrp_dbm: Option<f64>,
    pub sinr_db: Option<f64>,
    pub dl_rate_mbps: Option<f64>,
    pub ul_rate_mbps: Option<f64>,
    /// QUIC's smoothed RTT at the truck, ms (`None` while not connected).
    pub rtt_ms: Option<f64>,
    /// Packets this truck's path carried (both ways) and lost.
    pub packets: u64,
    pub packets_lost: u64,
    pub loss_ratio: f64,
    pub handovers: u32,
    pub radio_link_failures: u32,
    /// Times the QUIC connection went down.
    pub link_downs: u32,
    pub connected: bool,
}

/// Network KPIs of a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct NetKpis {
    pub commands_sent: u64,
    pub commands_delivered: u64,
    /// Commands a truck received with a lower dispatcher sequence number than one before.
    pub commands_out_of_order: u64,
    pub command_latency_p50_ms: f64,
    pub command_latency_p99_ms: f64,
    pub command_latency_max_ms: f64,
    pub telemetry_sent: u64,
    pub telemetry_delivered: u64,
    pub telemetry_delivery_ratio: f64,
    pub heartbeats_down_sent: u64,
    pub heartbeats_down_delivered: u64,
    pub handovers: u64,
    pub radio_link_failures: u64,
    pub link_downs: u64,
    pub link_ups: u64,
    /// Garbage stream bytes or datagrams dropped (undecodable frames), both ends.
    pub garbage_dropped: u64,
    /// Hash of the transport's event trace (deliveries, link events), for determinism checks.
    pub trace_hash: u64,
}

/// What a transport carried.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkStats {
    pub up_msgs: u64,
    pub down_msgs: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
    pub undecodable: u64,
    /// Messages that could not be encoded and so were never sent.
    pub unencodable: u64,
}

/// Fixed-latency, lossless delivery through the wire encoding.
pub struct InMemoryTransport {
    latency: SimDuration,
    up: VecDeque<(SimTime, Vec<u8>)>,
    down: VecDeque<(SimTime, Vec<u8>)>,
    stats: LinkStats,
}

impl InMemoryTransport {
    pub fn new(latency: SimDuration) -> Self {
        InMemoryTransport {
            latency,
            up: VecDeque::new(),
            down: VecDeque::new(),
            stats: LinkStats::default(),
        }
    }
}

fn drain<T: serde::de::DeserializeOwned>(
    q: &mut VecDeque<(SimTime, Vec<u8>)>,
    now: SimTime,
    bad: &mut u64,
) -> Vec<T> {
    let mut out = Vec::new();
    while q.front().is_some_and(|(at, _)| *at <= now) {
        if let Some((_, bytes)) = q.pop_front() {
            match decode(&bytes) {
                Ok(m) => out.push(m),
                Err(_) => *bad += 1,
            }
        }
    }
    out
}

impl Transport for InMemoryTransport {
    fn send_up(&mut self, now: SimTime, msg: &UpMsg) {
        let Ok(bytes) = encode(msg) else {
            self.stats.unencodable += 1;
            return;
        };
        self.stats.up_msgs += 1;
        self.stats.up_bytes += bytes.len() as u64;
        self.up.push_back((now + self.latency, bytes));
    }
    fn send_down(&mut self, now: SimTime, msg: &DownMsg) {
        let Ok(bytes) = encode(msg) else {
            self.stats.unencodable += 1;
            return;
        };
        self.stats.down_msgs += 1;
        self.stats.down_bytes += bytes.len() as u64;
        self.down.push_back((now + self.latency, bytes));
    }
    fn recv_up(&mut self, now: SimTime) -> Vec<UpMsg> {
        drain(&mut self.up, now, &mut self.stats.undecodable)
    }
    fn recv_down(&mut self, now: SimTime) -> Vec<DownMsg> {
        drain(&mut self.down, now, &mut self.stats.undecodable)
    }
    fn stats(&self) -> LinkStats {
        self.stats
    }
}
