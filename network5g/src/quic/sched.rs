//! The discrete-event scheduler of the simulated QUIC network: packets in flight (ordered by
//! arrival time, then send order), connection timers (by time, then node; one armed time per
//! node, earlier wins) and e-stop datagram repeats (by time, then issue order).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Whose timer: a dispatcher connection (by handle) or a truck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Node {
    Server(usize),
    Truck(usize),
}

/// A UDP datagram in flight between a truck and the dispatcher.
pub(super) struct Packet {
    pub to_server: bool,
    pub truck: usize,
    pub data: Vec<u8>,
}

/// What is due next.
pub(super) enum Due {
    /// A packet arrives.
    Packet(Packet),
    /// A node's armed timer fires (it is disarmed).
    Timer(Node),
    /// An e-stop copy for `truck` is due to be sent.
    Repeat { truck: usize, sealed: Vec<u8> },
    /// A stale entry (a packet or timer that no longer applies): nothing to do.
    Nothing,
}

#[derive(Default)]
pub(super) struct Scheduler {
    wire: BinaryHeap<Reverse<(u64, u64)>>,
    packets: BTreeMap<u64, Packet>,
    next_packet: u64,
    timers: BinaryHeap<Reverse<(u64, Node)>>,
    armed: BTreeMap<Node, u64>,
    repeats: BTreeMap<(u64, u64), (usize, Vec<u8>)>,
    next_repeat: u64,
}

impl Scheduler {
    /// A packet arriving at `at`.
    pub fn send(&mut self, at: u64, packet: Packet) {
        let id = self.next_packet;
        self.next_packet += 1;
        self.packets.insert(id, packet);
        self.wire.push(Reverse((at, id)));
    }

    /// Arms `node`'s timer for `t` unless it is already armed earlier.
    pub fn arm(&mut self, t: u64, node: Node) {
        if self.armed.get(&node).is_none_or(|cur| t < *cur) {
            self.armed.insert(node, t);
            self.timers.push(Reverse((t, node)));
        }
    }

    /// Forgets `node`'s armed timer (the node is gone).
    pub fn disarm(&mut self, node: Node) {
        self.armed.remove(&node);
    }

    /// An e-stop copy for `truck` to send at `at`.
    pub fn repeat(&mut self, at: u64, truck: usize, sealed: Vec<u8>) {
        self.next_repeat += 1;
        self.repeats.insert((at, self.next_repeat), (truck, sealed));
    }

    /// Takes the earliest event due at or before `until` with its time (packets before
    /// timers before repeats at the same time); `None` when nothing is due.
    pub fn pop_due(&mut self, until: u64) -> Option<(u64, Due)> {
        let w = self.wire.peek().map(|Reverse((t, _))| *t);
        let tm = self.timers.peek().map(|Reverse((t, _))| *t);
        let r = self.repeats.keys().next().map(|(t, _)| *t);
        let t = [w, tm, r].into_iter().flatten().min()?;
        if t > until {
            return None;
        }
        let due = if w == Some(t) {
            self.wire
                .pop()
                .and_then(|Reverse((_, id))| self.packets.remove(&id))
                .map_or(Due::Nothing, Due::Packet)
        } else if tm == Some(t) {
            match self.timers.pop() {
                Some(Reverse((_, node))) if self.armed.get(&node) == Some(&t) => {
                    self.armed.remove(&node);
                    Due::Timer(node)
                }
                _ => Due::Nothing,
            }
        } else {
            self.repeats
                .pop_first()
                .map_or(Due::Nothing, |(_, (truck, sealed))| Due::Repeat {
                    truck,
                    sealed,
                })
        };
        Some((t, due))
    }
}
