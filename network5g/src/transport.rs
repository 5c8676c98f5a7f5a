//! How messages get between trucks and the dispatcher.
//!
//! [`Transport`] is the seam the QUIC transport plugs into (sim-world drives whichever
//! implementation a run uses); [`InMemoryTransport`] delivers every
//! message after a fixed latency, through the real wire encoding, in send order.

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
}

/// What a transport carried.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkStats {
    pub up_msgs: u64,
    pub down_msgs: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
    pub undecodable: u64,
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
        let bytes = encode(msg);
        self.stats.up_msgs += 1;
        self.stats.up_bytes += bytes.len() as u64;
        self.up.push_back((now + self.latency, bytes));
    }
    fn send_down(&mut self, now: SimTime, msg: &DownMsg) {
        let bytes = encode(msg);
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
