//! [`SimQuicTransport`]: real `quinn-proto` connections between every truck and the
//! dispatcher, driven in simulated time, every UDP datagram carried by a [`Channel`].
//!
//! Like quinn-proto's own test harness, two kinds of endpoint live in one process and
//! exchange datagrams over a virtual network: the dispatcher's server endpoint and one
//! client endpoint per truck. Everything happens in time order: packet arrivals (from a
//! queue ordered by arrival time, then send order), connection timers (a heap ordered by
//! time, then node) and e-stop repeats. `SimTime` becomes `Instant` only here, as a fixed
//! base plus the simulated offset, so the wall clock never influences what happens.
//!
//! Traffic classes:
//! * commands (assignment, permission, re-arm) and the truck's state reports: one reliable
//!   unidirectional stream per direction, length-prefixed sealed frames, in order;
//! * e-stop: a new high-priority stream plus the same command as datagrams repeated
//!   ([`SimQuicConfig::estop_repeats`] every [`SimQuicConfig::estop_repeat_us`]);
//! * telemetry and heartbeats: QUIC datagrams (RFC 9221), never retransmitted, latest wins.
//!
//! Every frame is sealed by the safety layer ([`crate::quic::safety`]). Nothing is sent
//! before the handshake completes and TLS resumption is off, so there is no 0-RTT data.
//! A truck whose connection fails reconnects with a fresh endpoint.

use super::channel::Channel;
use super::conn::{endpoint, to_us, Conn};
use super::framing::frame;
use super::kpi::{set_command_latency, trace};
use super::pki::{PkiError, SitePki, DISPATCHER_NAME};
use super::safety::{
    master_key, Reject, SafetyCounters, SafetyLayer, SafetyReport, TruckKey, Verifier, Way,
};
use super::sched::{Due, Node, Packet, Scheduler};
use crate::transport::{LinkStats, LinkUpDown, NetKpis, Transport, TruckLinkReport};
use bytes::{Bytes, BytesMut};
use quinn_proto::{
    ClientConfig, DatagramEvent, Dir, Endpoint, ServerConfig, TransportConfig,
    ValidationTokenConfig, VarInt,
};
use site::protocol::{decode, encode, DispatchMsg, DownMsg, TruckMsg, UpMsg};
use site::seed::{bytes32, Stream};
use site::{SimTime, TruckId};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the simulated QUIC transport.
#[derive(Clone, Debug)]
pub struct SimQuicConfig {
    pub seed: u64,
    /// Validity of a command after it is issued, µs.
    pub command_ttl_us: u64,
    /// Validity of a datagram (telemetry, heartbeat, e-stop repeat), µs.
    pub datagram_ttl_us: u64,
    /// QUIC idle timeout (also bounds a handshake), ms.
    pub idle_timeout_ms: u32,
    /// A handshake not done after this long is abandoned and retried, µs.
    pub handshake_retry_us: u64,
    /// Wait before reconnecting after a connection is lost, µs.
    pub reconnect_us: u64,
    /// E-stop datagram copies (besides the stream).
    pub estop_repeats: u32,
    pub estop_repeat_us: u64,
    /// A scripted outage shorter than this holds packets (radio buffering) and delivers them
    /// when it ends; a longer one is a radio-link failure: packets sent during it are lost.
    pub outage_hold_limit_us: u64,
    /// quinn's initial RTT estimate, ms.
    pub initial_rtt_ms: u64,
}

impl Default for SimQuicConfig {
    fn default() -> Self {
        SimQuicConfig {
            seed: 1,
            command_ttl_us: 3_000_000,
            datagram_ttl_us: 1_000_000,
            idle_timeout_ms: 5_000,
            handshake_retry_us: 2_000_000,
            reconnect_us: 500_000,
            estop_repeats: 5,
            estop_repeat_us: 10_000,
            outage_hold_limit_us: 1_000_000,
            initial_rtt_ms: 50,
        }
    }
}

/// Per-truck counters.
#[derive(Clone, Debug, Default)]
struct TruckCounters {
    packets: u64,
    packets_lost: u64,
    link_downs: u32,
}

struct TruckNode {
    endpoint: Endpoint,
    generation: u64,
    conn: Option<Conn>,
    connect_started: u64,
    next_connect: u64,
    key: TruckKey,
    /// Sequence numbers the truck seals with.
    up_seq: u64,
    /// Checks frames from the dispatcher.
    verify: Verifier,
    safety: SafetyCounters,
    /// Sealed stream frames waiting for a connection.
    pending: VecDeque<Vec<u8>>,
    inbox: Vec<(u64, DownMsg)>,
    last_cmd_seq: u64,
    last_estop_seq: u64,
    counters: TruckCounters,
}

struct ServerConn {
    c: Conn,
    truck: Option<usize>,
}

/// Dispatcher-side state of one truck.
struct TruckAtDispatcher {
    key: TruckKey,
    down_seq: u64,
    verify: Verifier,
    conn: Option<usize>,
    pending: VecDeque<Vec<u8>>,
    last_telemetry_seq: u64,
    delivered: u64,
}

/// Simulated QUIC between every truck and the dispatcher over a [`Channel`].
pub struct SimQuicTransport<C> {
    cfg: SimQuicConfig,
    base: Instant,
    now_us: u64,
    pub channel: C,
    pki: SitePki,
    transport: Arc<TransportConfig>,
    server: Endpoint,
    server_addr: SocketAddr,
    sconns: BTreeMap<usize, ServerConn>,
    trucks: Vec<TruckNode>,
    at_disp: Vec<TruckAtDispatcher>,
    addr_to_truck: BTreeMap<SocketAddr, usize>,
    sched: Scheduler,
    outages: Vec<(usize, u64, u64)>,
    up_inbox: Vec<(u64, UpMsg)>,
    events: Vec<LinkUpDown>,
    stats: LinkStats,
    kpi: NetKpis,
    latencies_us: super::kpi::Latencies,
    safety_disp: SafetyCounters,
    buf: Vec<u8>,
}

fn truck_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8)),
        40_000,
    )
}

/// The RNG seed of truck `truck`'s endpoint for its `generation`-th connection (1 the
/// first, [`Stream::QuicEndpoint`]; each reconnect after it, [`Stream::QuicReconnect`]).
fn truck_endpoint_seed(seed: u64, truck: usize, generation: u64) -> [u8; 32] {
    if generation <= 1 {
        bytes32(seed, Stream::QuicEndpoint, 1 + truck as u64)
    } else {
        bytes32(
            seed,
            Stream::QuicReconnect,
            (generation - 1) << 32 | truck as u64,
        )
    }
}

fn is_stream_msg_up(m: &TruckMsg) -> bool {
    !matches!(m, TruckMsg::Telemetry(_) | TruckMsg::Heartbeat)
}

impl<C: Channel> SimQuicTransport<C> {
    /// `trucks` trucks (ids 0..trucks) and the dispatcher; the trucks start connecting at
    /// time zero.
    pub fn new(trucks: usize, mut channel: C, cfg: SimQuicConfig) -> Result<Self, PkiError> {
        let pki = SitePki::generate(cfg.seed, "minesim site CA", trucks as u32)?;
        let mut tc = TransportConfig::default();
        tc.max_idle_timeout(Some(VarInt::from_u32(cfg.idle_timeout_ms).into()))
            .initial_rtt(Duration::from_millis(cfg.initial_rtt_ms))
            .mtu_discovery_config(None)
            .max_concurrent_uni_streams(VarInt::from_u32(1_000));
        let transport = Arc::new(tc);
        let mut sc = ServerConfig::with_crypto(pki.quic_server()?);
        sc.transport_config(transport.clone());
        let mut vt = ValidationTokenConfig::default();
        vt.sent(0);
        sc.validation_token_config(vt);
        let server = endpoint(
            bytes32(cfg.seed, Stream::QuicEndpoint, 0),
            Some(Arc::new(sc)),
        );
        let master = master_key(cfg.seed);
        let mut nodes = Vec::with_capacity(trucks);
        let mut at_disp = Vec::with_capacity(trucks);
        let mut addr_to_truck = BTreeMap::new();
        let mut sched = Scheduler::default();
        for i in 0..trucks {
            channel.add_truck();
            let key = TruckKey::derive(&master, i as u32);
            let addr = truck_addr(i);
            addr_to_truck.insert(addr, i);
            nodes.push(TruckNode {
                endpoint: endpoint(truck_endpoint_seed(cfg.seed, i, 1), None),
                generation: 0,
                conn: None,
                connect_started: 0,
                next_connect: 0,
                key: key.clone(),
                up_seq: 0,
                verify: Verifier::new(key.clone(), Way::Down, i as u32),
                safety: SafetyCounters::default(),
                pending: VecDeque::new(),
                inbox: Vec::new(),
                last_cmd_seq: 0,
                last_estop_seq: 0,
                counters: TruckCounters::default(),
            });
            sched.arm(0, Node::Truck(i));
            at_disp.push(TruckAtDispatcher {
                key: key.clone(),
                down_seq: 0,
                verify: Verifier::new(key, Way::Up, i as u32),
                conn: None,
                pending: VecDeque::new(),
                last_telemetry_seq: 0,
                delivered: 0,
            });
        }
        // The only wall-clock reading: an opaque origin for quinn's `Instant`s. Every time
        // handed to quinn is this origin plus simulated time, so only differences matter
        // and the run does not depend on when it happens.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Ok(SimQuicTransport {
            cfg,
            base,
            now_us: 0,
            channel,
            pki,
            transport,
            server,
            server_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 4433),
            sconns: BTreeMap::new(),
            trucks: nodes,
            at_disp,
            addr_to_truck,
            sched,
            outages: Vec::new(),
            up_inbox: Vec::new(),
            events: Vec::new(),
            stats: LinkStats::default(),
            kpi: NetKpis {
                trace_hash: site::hash::FNV_OFFSET,
                ..NetKpis::default()
            },
            latencies_us: Default::default(),
            safety_disp: SafetyCounters::default(),
            buf: Vec::new(),
        })
    }

    fn at(&self, t_us: u64) -> Instant {
        self.base + Duration::from_micros(t_us)
    }

    fn trace(&mut self, parts: &[u64]) {
        trace(&mut self.kpi.trace_hash, parts);
    }

    /// Scripts an outage of truck `truck`'s radio path from `from` until `until`.
    pub fn add_outage(&mut self, truck: usize, from: SimTime, until: SimTime) {
        self.outages.push((truck, from.0, until.0));
    }

    /// Whether truck `truck` has an established connection.
    pub fn is_connected(&self, truck: usize) -> bool {
        self.trucks
            .get(truck)
            .and_then(|t| t.conn.as_ref())
            .is_some_and(|c| c.connected && !c.lost)
    }

    /// Test hook: truck `truck`'s connection sends `bytes` as a QUIC datagram, unsealed.
    pub fn inject_datagram(&mut self, now: SimTime, truck: usize, bytes: Vec<u8>) -> bool {
        self.advance(now.0);
        let Some(c) = self.trucks.get_mut(truck).and_then(|t| t.conn.as_mut()) else {
            return false;
        };
        let ok = c.connected && c.conn.datagrams().send(Bytes::from(bytes), true).is_ok();
        self.schedule(now.0, Node::Truck(truck));
        ok
    }

    /// Test hook: truck `truck`'s connection writes `bytes` raw on its stream.
    pub fn inject_stream_bytes(&mut self, now: SimTime, truck: usize, bytes: Vec<u8>) -> bool {
        self.advance(now.0);
        let Some(c) = self.trucks.get_mut(truck).and_then(|t| t.conn.as_mut()) else {
            return false;
        };
        let Some(id) = c.tx else { return false };
        c.write(id, bytes);
        self.schedule(now.0, Node::Truck(truck));
        true
    }

    /// Test hook: a raw UDP datagram from truck `truck`'s address to the dispatcher.
    pub fn inject_udp(&mut self, now: SimTime, truck: usize, bytes: Vec<u8>) {
        self.advance(now.0);
        self.send_packet(now.0, true, truck, bytes);
    }

    /// Test hook: re-sends the last sealed frame truck `truck` received on a datagram, as a
    /// replay from the network (returns false when there is none).
    pub fn inject_down_datagram(&mut self, now: SimTime, truck: usize, sealed: Vec<u8>) -> bool {
        self.advance(now.0);
        let Some(sc) = self.at_disp.get(truck).and_then(|d| d.conn) else {
            return false;
        };
        let Some(c) = self.sconns.get_mut(&sc) else {
            return false;
        };
        let ok = c.c.conn.datagrams().send(Bytes::from(sealed), true).is_ok();
        self.schedule(now.0, Node::Server(sc));
        ok
    }

    /// A sealed down frame as the dispatcher would produce it (for replay and tamper tests);
    /// `None` for an unknown truck or a message that cannot be encoded.
    pub fn seal_down(
        &mut self,
        truck: usize,
        msg: &DownMsg,
        issued: u64,
        expires: u64,
    ) -> Option<Vec<u8>> {
        let d = self.at_disp.get_mut(truck)?;
        let payload = encode(msg).ok()?;
        d.down_seq += 1;
        d.key
            .seal(
                Way::Down,
                truck as u32,
                d.down_seq,
                issued,
                expires,
                payload,
            )
            .ok()
    }

    /// Arms `node`'s timer for `t` (earlier wins) when the node exists.
    fn schedule(&mut self, t: u64, node: Node) {
        let exists = match node {
            Node::Server(h) => self.sconns.contains_key(&h),
            Node::Truck(i) => i < self.trucks.len(),
        };
        if exists {
            self.sched.arm(t, node);
        }
    }

    fn carry(&mut self, t: u64, truck: usize, up: bool, bytes: usize) -> Option<u64> {
        let at = self.channel.carry(t, truck, up, bytes);
        let mut result = at;
        for &(tr, from, until) in &self.outages {
            if tr == truck && from <= t && t < until {
                result = if until - from < self.cfg.outage_hold_limit_us {
                    at.map(|a| a - t + until)
                } else {
                    None
                };
            }
        }
        if let Some(c) = self.trucks.get_mut(truck) {
            c.counters.packets += 1;
            if result.is_none() {
                c.counters.packets_lost += 1;
            }
        }
        result
    }

    fn send_packet(&mut self, t: u64, to_server: bool, truck: usize, data: Vec<u8>) {
        if let Some(at) = self.carry(t, truck, to_server, data.len() + 28) {
            self.sched.send(
                at.max(t),
                Packet {
                    to_server,
                    truck,
                    data,
                },
            );
        }
    }

    /// Runs everything due up to `now_us`, in time order.
    fn advance(&mut self, now_us: u64) {
        let now_us = now_us.max(self.now_us);
        while let Some((t, due)) = self.sched.pop_due(now_us) {
            self.now_us = t;
            match due {
                Due::Packet(p) => self.arrive(t, p),
                Due::Timer(Node::Server(h)) => self.drive_server(t, h),
                Due::Timer(Node::Truck(i)) => self.drive_truck(t, i),
                Due::Repeat { truck, sealed } => {
                    if let Some(h) = self.at_disp.get(truck).and_then(|d| d.conn) {
                        if let Some(c) = self.sconns.get_mut(&h) {
                            let _ = c.c.conn.datagrams().send(Bytes::from(sealed), true);
                        }
                        self.drive_server(t, h);
                    }
                }
                Due::Nothing => {}
            }
        }
        self.now_us = now_us;
    }

    fn arrive(&mut self, t: u64, p: Packet) {
        let now = self.at(t);
        let data = BytesMut::from(&p.data[..]);
        let mut buf = std::mem::take(&mut self.buf);
        if p.to_server {
            let remote = truck_addr(p.truck);
            match self.server.handle(now, remote, None, None, data, &mut buf) {
                Some(DatagramEvent::ConnectionEvent(ch, ev)) => {
                    if let Some(c) = self.sconns.get_mut(&ch.0) {
                        c.c.conn.handle_event(ev);
                        self.buf = buf;
                        self.drive_server(t, ch.0);
                        return;
                    }
                }
                Some(DatagramEvent::NewConnection(incoming)) => {
                    match self.server.accept(incoming, now, &mut buf, None) {
                        Ok((ch, conn)) => {
                            self.sconns.insert(
                                ch.0,
                                ServerConn {
                                    c: Conn::new(ch, conn),
                                    truck: None,
                                },
                            );
                            self.buf = buf;
                            self.drive_server(t, ch.0);
                            return;
                        }
                        Err(e) => {
                            if let Some(tx) = e.response {
                                let bytes = buf[..tx.size].to_vec();
                                self.send_packet(t, false, p.truck, bytes);
                            }
                        }
                    }
                }
                Some(DatagramEvent::Response(tx)) => {
                    let bytes = buf[..tx.size].to_vec();
                    self.send_packet(t, false, p.truck, bytes);
                }
                None => {}
            }
        } else if let Some(tn) = self.trucks.get_mut(p.truck) {
            if let Some(DatagramEvent::ConnectionEvent(ch, ev)) =
                tn.endpoint
                    .handle(now, self.server_addr, None, None, data, &mut buf)
            {
                if let Some(c) = tn.conn.as_mut() {
                    if c.handle == ch {
                        c.conn.handle_event(ev);
                    }
                }
            }
            self.buf = buf;
            self.drive_truck(t, p.truck);
            return;
        }
        self.buf = buf;
    }

    fn drive_truck(&mut self, t: u64, i: usize) {
        let now = self.at(t);
        let Some(tn) = self.trucks.get_mut(i) else {
            return;
        };
        // (Re)connect when due.
        if tn.conn.is_none() && t >= tn.next_connect {
            tn.generation += 1;
            tn.endpoint = endpoint(truck_endpoint_seed(self.cfg.seed, i, tn.generation), None);
            let mut cc = match self.pki.quic_client(i) {
                Ok(c) => ClientConfig::new(c),
                Err(_) => return,
            };
            cc.transport_config(self.transport.clone());
            if let Ok((ch, conn)) = tn
                .endpoint
                .connect(now, cc, self.server_addr, DISPATCHER_NAME)
            {
                tn.conn = Some(Conn::new(ch, conn));
                tn.connect_started = t;
            } else {
                tn.next_connect = t + self.cfg.reconnect_us;
            }
        }
        let mut p = None;
        let mut drop_conn = None;
        if let Some(c) = tn.conn.as_mut() {
            if !c.connected && !c.lost && t >= tn.connect_started + self.cfg.handshake_retry_us {
                drop_conn = Some("handshake timed out".to_string());
            }
            let pending = &mut tn.pending;
            let pumped = c.pump(now, &mut tn.endpoint, &mut self.buf, true, |c| {
                if let Some(id) = c.tx {
                    while let Some(f) = pending.pop_front() {
                        c.write(id, f);
                    }
                }
            });
            if pumped.lost.is_some() {
                drop_conn = pumped.lost.clone();
            }
            p = Some(pumped);
        }
        let p = p.unwrap_or_default();
        if drop_conn.is_some() {
            let was_up = tn.conn.as_ref().is_some_and(|c| c.connected);
            tn.conn = None;
            tn.next_connect = t + self.cfg.reconnect_us;
            if was_up {
                tn.counters.link_downs += 1;
                self.events.push(LinkUpDown {
                    at: SimTime(t),
                    truck: i as u32,
                    up: false,
                    reason: drop_conn.unwrap_or_default(),
                });
                self.kpi.link_downs += 1;
                self.trace(&[t, i as u64, 2]);
            }
        }
        if p.connected {
            self.events.push(LinkUpDown {
                at: SimTime(t),
                truck: i as u32,
                up: true,
                reason: String::new(),
            });
            self.kpi.link_ups += 1;
            self.trace(&[t, i as u64, 1]);
        }
        self.kpi.garbage_dropped += p.garbage;
        for (_, d) in p.transmits {
            self.send_packet(t, true, i, d);
        }
        for f in p.frames {
            self.truck_receive(t, i, &f, true);
        }
        for d in p.datagrams {
            self.truck_receive(t, i, &d, false);
        }
        let Some(tn) = self.trucks.get_mut(i) else {
            return;
        };
        let next = match tn.conn.as_mut() {
            Some(c) => {
                let mut n = c.conn.poll_timeout().map(|x| to_us(self.base, x));
                if !c.connected {
                    let retry = tn.connect_started + self.cfg.handshake_retry_us;
                    n = Some(n.map_or(retry, |x| x.min(retry)));
                }
                n
            }
            None => Some(tn.next_connect),
        };
        if let Some(n) = next {
            self.schedule(n.max(t + 1), Node::Truck(i));
        }
    }

    fn truck_receive(&mut self, t: u64, i: usize, bytes: &[u8], stream: bool) {
        let Some(tn) = self.trucks.get_mut(i) else {
            return;
        };
        let r = tn.verify.open(t, bytes).and_then(|f| {
            let m: DownMsg = decode(&f.payload).map_err(|_| Reject::Undecodable)?;
            if m.truck != TruckId(i as u32) {
                return Err(Reject::Misaddressed);
            }
            Ok(m)
        });
        let m = match r {
            Ok(m) => {
                tn.safety.count(Ok(()));
                m
            }
            Err(e) => {
                tn.safety.count(Err(e));
                if e == Reject::Undecodable {
                    self.kpi.garbage_dropped += 1;
                }
                return;
            }
        };
        match &m.body {
            DispatchMsg::Heartbeat => {
                self.kpi.heartbeats_down_delivered += 1;
            }
            DispatchMsg::EStop(_) => {
                if m.seq == tn.last_estop_seq {
                    return;
                }
                tn.last_estop_seq = m.seq;
            }
            _ => {
                if stream {
                    if m.seq < tn.last_cmd_seq {
                        self.kpi.commands_out_of_order += 1;
                    }
                    tn.last_cmd_seq = m.seq;
                    self.kpi.commands_delivered += 1;
                    self.latencies_us.record(t.saturating_sub(m.sent.0));
                }
            }
        }
        tn.inbox.push((t, m.clone()));
        self.trace(&[t, i as u64, 10, m.seq]);
    }

    fn drive_server(&mut self, t: u64, h: usize) {
        let now = self.at(t);
        let Some(sc) = self.sconns.get_mut(&h) else {
            return;
        };
        let pki = &self.pki;
        let at_disp = &mut self.at_disp;
        let mut identified = None;
        let p = sc.c.pump(now, &mut self.server, &mut self.buf, false, |c| {
            // The truck is the one its client certificate names; frames waiting for it go
            // on the new connection's stream.
            identified = c
                .conn
                .crypto_session()
                .peer_identity()
                .and_then(|id| {
                    id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                        .ok()
                })
                .and_then(|certs| certs.first().and_then(|c| pki.truck_of(c.as_ref())))
                .map(|x| x as usize);
            if let Some(d) = identified.and_then(|tr| at_disp.get_mut(tr)) {
                d.conn = Some(h);
                if let Some(id) = c.tx {
                    while let Some(f) = d.pending.pop_front() {
                        c.write(id, f);
                    }
                }
            }
        });
        if p.connected {
            sc.truck = identified;
        }
        let truck = sc.truck;
        let next = sc.c.conn.poll_timeout().map(|x| to_us(self.base, x));
        if p.drained {
            self.sconns.remove(&h);
            self.sched.disarm(Node::Server(h));
            if let Some(tr) = truck {
                if let Some(d) = self.at_disp.get_mut(tr) {
                    if d.conn == Some(h) {
                        d.conn = None;
                    }
                }
            }
        } else if let Some(n) = next {
            self.schedule(n.max(t + 1), Node::Server(h));
        }
        self.kpi.garbage_dropped += p.garbage;
        for (dest, d) in p.transmits {
            if let Some(&tr) = self.addr_to_truck.get(&dest) {
                self.send_packet(t, false, tr, d);
            }
        }
        if let Some(tr) = truck {
            for f in p.frames {
                self.dispatcher_receive(t, tr, &f);
            }
            for d in p.datagrams {
                self.dispatcher_receive(t, tr, &d);
            }
        } else if !p.frames.is_empty() || !p.datagrams.is_empty() {
            self.safety_disp.misaddressed += (p.frames.len() + p.datagrams.len()) as u64;
        }
    }

    fn dispatcher_receive(&mut self, t: u64, tr: usize, bytes: &[u8]) {
        let Some(d) = self.at_disp.get_mut(tr) else {
            return;
        };
        let r = d.verify.open(t, bytes).and_then(|f| {
            let m: UpMsg = decode(&f.payload).map_err(|_| Reject::Undecodable)?;
            if m.truck != TruckId(tr as u32) {
                return Err(Reject::Misaddressed);
            }
            Ok((f.seq, m))
        });
        let (seq, mut m) = match r {
            Ok(x) => {
                self.safety_disp.count(Ok(()));
                x
            }
            Err(e) => {
                self.safety_disp.count(Err(e));
                if e == Reject::Undecodable {
                    self.kpi.garbage_dropped += 1;
                }
                return;
            }
        };
        if let TruckMsg::Telemetry(_) = m.body {
            // Latest wins: an older telemetry datagram overtaken by a newer one is dropped.
            if seq < d.last_telemetry_seq {
                return;
            }
            d.last_telemetry_seq = seq;
            self.kpi.telemetry_delivered += 1;
        }
        // The safety layer has authenticated and de-duplicated the frame; the dispatcher sees
        // messages numbered in arrival order (streams and datagrams may legitimately overtake
        // each other, which its own stale-sequence check would otherwise count as replays).
        d.delivered += 1;
        m.seq = d.delivered;
        self.trace(&[t, tr as u64, 20, seq]);
        self.up_inbox.push((t, m));
    }

    fn truck_send(&mut self, now: u64, msg: &UpMsg) {
        let i = msg.truck.index();
        let Some(tn) = self.trucks.get_mut(i) else {
            return;
        };
        let stream = is_stream_msg_up(&msg.body);
        let ttl = if stream {
            self.cfg.command_ttl_us
        } else {
            self.cfg.datagram_ttl_us
        };
        let Ok(payload) = encode(msg) else {
            self.stats.unencodable += 1;
            return;
        };
        let bytes = payload.len() as u64;
        tn.up_seq += 1;
        let Ok(sealed) = tn
            .key
            .seal(Way::Up, i as u32, tn.up_seq, now, now + ttl, payload)
        else {
            self.stats.unencodable += 1;
            return;
        };
        self.stats.up_msgs += 1;
        self.stats.up_bytes += bytes;
        if let TruckMsg::Telemetry(_) = msg.body {
            self.kpi.telemetry_sent += 1;
        }
        let live = tn.conn.as_mut().filter(|c| c.connected && !c.lost);
        match (stream, live) {
            (true, Some(c)) => match c.tx {
                Some(id) => c.write(id, frame(sealed)),
                None => tn.pending.push_back(frame(sealed)),
            },
            (true, None) => tn.pending.push_back(frame(sealed)),
            (false, Some(c)) => {
                let _ = c.conn.datagrams().send(Bytes::from(sealed), true);
            }
            (false, None) => {}
        }
        self.schedule(now, Node::Truck(i));
    }

    fn dispatcher_send(&mut self, now: u64, msg: &DownMsg) {
        let i = msg.truck.index();
        let Some(d) = self.at_disp.get_mut(i) else {
            return;
        };
        let Ok(payload) = encode(msg) else {
            self.stats.unencodable += 1;
            return;
        };
        let bytes = payload.len() as u64;
        let conn = d.conn;
        let seal = |d: &mut TruckAtDispatcher, ttl: u64| {
            d.down_seq += 1;
            d.key
                .seal(
                    Way::Down,
                    i as u32,
                    d.down_seq,
                    now,
                    now + ttl,
                    payload.clone(),
                )
                .ok()
        };
        let sealed: Option<Vec<Vec<u8>>> = match &msg.body {
            DispatchMsg::Heartbeat => seal(d, self.cfg.datagram_ttl_us).map(|f| vec![f]),
            DispatchMsg::EStop(_) => std::iter::once(self.cfg.command_ttl_us)
                .chain((0..self.cfg.estop_repeats).map(|_| self.cfg.datagram_ttl_us))
                .map(|ttl| seal(d, ttl))
                .collect(),
            _ => seal(d, self.cfg.command_ttl_us).map(|f| vec![f]),
        };
        let Some(mut sealed) = sealed else {
            self.stats.unencodable += 1;
            return;
        };
        self.stats.down_msgs += 1;
        self.stats.down_bytes += bytes;
        match &msg.body {
            DispatchMsg::Heartbeat => {
                self.kpi.heartbeats_down_sent += 1;
                let sealed = sealed.remove(0);
                if let Some(c) = conn.and_then(|h| self.sconns.get_mut(&h)) {
                    let _ = c.c.conn.datagrams().send(Bytes::from(sealed), true);
                }
            }
            DispatchMsg::EStop(_) => {
                let copies = sealed.split_off(1);
                let on_stream = sealed.remove(0);
                if let Some(c) = conn.and_then(|h| self.sconns.get_mut(&h)) {
                    if let Some(id) = c.c.conn.streams().open(Dir::Uni) {
                        let _ = c.c.conn.send_stream(id).set_priority(100);
                        c.c.write(id, frame(on_stream));
                        let _ = c.c.conn.send_stream(id).finish();
                    }
                } else {
                    d.pending.push_front(frame(on_stream));
                }
                for (k, copy) in copies.into_iter().enumerate() {
                    let at = now + k as u64 * self.cfg.estop_repeat_us;
                    self.sched.repeat(at, i, copy);
                }
            }
            _ => {
                self.kpi.commands_sent += 1;
                let sealed = sealed.remove(0);
                match conn.and_then(|h| self.sconns.get_mut(&h)) {
                    Some(c) if c.c.tx.is_some() => {
                        if let Some(id) = c.c.tx {
                            c.c.write(id, frame(sealed));
                        }
                    }
                    _ => d.pending.push_back(frame(sealed)),
                }
            }
        }
        if let Some(h) = conn {
            self.schedule(now, Node::Server(h));
        }
    }

    /// Safety counters at the trucks, summed.
    pub fn truck_safety(&self) -> SafetyCounters {
        self.safety().safety_at_trucks
    }

    /// Safety counters at the dispatcher.
    pub fn dispatcher_safety(&self) -> SafetyCounters {
        self.safety_disp
    }
}

impl<C> SafetyLayer for SimQuicTransport<C> {
    fn safety(&self) -> SafetyReport {
        let mut at_trucks = SafetyCounters::default();
        for t in &self.trucks {
            at_trucks.add(&t.safety);
        }
        SafetyReport {
            safety_at_dispatcher: self.safety_disp,
            safety_at_trucks: at_trucks,
        }
    }
}

impl<C: Channel> Transport for SimQuicTransport<C> {
    fn send_up(&mut self, now: SimTime, msg: &UpMsg) {
        self.advance(now.0);
        self.truck_send(now.0, msg);
    }
    fn send_down(&mut self, now: SimTime, msg: &DownMsg) {
        self.advance(now.0);
        self.dispatcher_send(now.0, msg);
    }
    fn recv_up(&mut self, now: SimTime) -> Vec<UpMsg> {
        self.advance(now.0);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.up_inbox)
            .into_iter()
            .partition(|(t, _)| *t <= now.0);
        self.up_inbox = later;
        due.into_iter().map(|(_, m)| m).collect()
    }
    fn recv_down(&mut self, now: SimTime) -> Vec<DownMsg> {
        self.advance(now.0);
        let mut out = Vec::new();
        for t in &mut self.trucks {
            for (_, m) in t.inbox.drain(..) {
                out.push(m);
            }
        }
        out
    }
    fn stats(&self) -> LinkStats {
        let mut s = self.stats;
        s.undecodable = self.kpi.garbage_dropped;
        s
    }
    fn step(&mut self, now: SimTime, positions: &[[f64; 2]]) {
        self.advance(now.0);
        for (i, p) in positions.iter().enumerate().take(self.trucks.len()) {
            self.channel.step(now.0, i, p[0], p[1]);
        }
    }
    fn link_report(&self) -> Vec<TruckLinkReport> {
        self.trucks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let m = self.channel.metrics(i);
                let rtt = t
                    .conn
                    .as_ref()
                    .filter(|c| c.connected)
                    .map(|c| c.conn.rtt().as_secs_f64() * 1e3);
                TruckLinkReport {
                    truck: i as u32,
                    serving_cell: m.and_then(|m| m.serving_cell.map(|c| c.0)),
                    rsrp_dbm: m.map(|m| m.rsrp_dbm),
                    sinr_db: m.map(|m| m.sinr_db),
                    dl_rate_mbps: m.map(|m| m.dl_rate_bps / 1e6),
                    ul_rate_mbps: m.map(|m| m.ul_rate_bps / 1e6),
                    rtt_ms: rtt,
                    packets: t.counters.packets,
                    packets_lost: t.counters.packets_lost,
                    loss_ratio: if t.counters.packets == 0 {
                        0.0
                    } else {
                        t.counters.packets_lost as f64 / t.counters.packets as f64
                    },
                    handovers: m.map_or(0, |m| m.handovers),
                    radio_link_failures: m.map_or(0, |m| m.radio_link_failures),
                    link_downs: t.counters.link_downs,
                    connected: self.is_connected(i),
                }
            })
            .collect()
    }
    fn kpis(&self) -> Option<NetKpis> {
        let mut k = self.kpi.clone();
        set_command_latency(&mut k, &self.latencies_us);
        k.telemetry_delivery_ratio = if k.telemetry_sent == 0 {
            0.0
        } else {
            k.telemetry_delivered as f64 / k.telemetry_sent as f64
        };
        for i in 0..self.trucks.len() {
            if let Some(m) = self.channel.metrics(i) {
                k.handovers += u64::from(m.handovers);
                k.radio_link_failures += u64::from(m.radio_link_failures);
            }
        }
        Some(k)
    }
    fn drain_link_events(&mut self) -> Vec<LinkUpDown> {
        std::mem::take(&mut self.events)
    }
    fn name(&self) -> &'static str {
        "quic-sim"
    }
    fn safety_layer(&self) -> Option<&dyn SafetyLayer> {
        Some(self)
    }
}
