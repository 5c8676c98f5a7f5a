//! Real mode, truck side: every simulated truck of a `minesim` process holds its own `quinn`
//! connection (its own certificate, its own UDP socket) to a dispatcher server in another
//! process, behind a per-truck UDP relay that applies the radio model to every packet.
//!
//! [`RealFleet`] implements [`Transport`] for the simulation loop, which runs paced to the
//! wall clock. The relay of truck `i` forwards each UDP datagram after the delay the
//! [`Channel`] computes for a packet of that size at the truck's position, or drops it when
//! the channel loses it; QUIC sees real loss and delay and recovers from it as it would on
//! air (retransmission, congestion control, idle timeout). The channel runs on the wall
//! clock (µs since the fleet connected): a task steps it every 10 ms with the positions the
//! simulation last reported, and the relays ask it at the instant each packet passes.
//!
//! A truck whose connection closes reconnects every second; its link-down and link-up
//! events reach the report. The dispatcher side is [`super::real::serve_routed`].

use super::channel::Channel;
use super::kpi::set_command_latency;
use super::pki::SitePki;
use super::real::{RealError, TruckLink};
use super::safety::{SafetyCounters, SafetyLayer, SafetyReport};
use crate::transport::{LinkStats, LinkUpDown, NetKpis, Transport};
use site::protocol::{DispatchMsg, DownMsg, UpMsg};
use site::SimTime;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// IP + UDP header bytes added to each datagram on air.
const IP_UDP_OVERHEAD: usize = 28;

/// How to reach the dispatcher.
#[derive(Clone, Debug)]
pub struct RealFleetConfig {
    /// The dispatcher server (loopback).
    pub server: SocketAddr,
    /// The site PKI seed (the same as the server's).
    pub pki_seed: u64,
    /// How long to wait for every truck's first connection.
    pub connect_timeout: Duration,
}

/// The radio model on the wall clock.
struct Radio {
    channel: Box<dyn Channel + Send>,
    origin: std::time::Instant,
}

impl Radio {
    fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }
}

type SharedChannel = Arc<Mutex<Radio>>;

enum Event {
    Down(DownMsg),
    /// A message of the truck's could not be encoded and was not sent.
    Unencodable,
    Link {
        truck: u32,
        up: bool,
        reason: String,
    },
}

/// The trucks' side of real mode as a [`Transport`].
pub struct RealFleet {
    rt: tokio::runtime::Runtime,
    up: Vec<mpsc::UnboundedSender<UpMsg>>,
    events: Mutex<std::sync::mpsc::Receiver<Event>>,
    positions: Arc<Mutex<Vec<[f64; 2]>>>,
    channel: Option<SharedChannel>,
    safety: Vec<Arc<Mutex<SafetyCounters>>>,
    stats: LinkStats,
    kpi: NetKpis,
    latencies_us: super::kpi::Latencies,
    link_events: Vec<LinkUpDown>,
    last_cmd_seq: Vec<u64>,
    connected: Vec<bool>,
}

/// One truck's relay: the truck's QUIC endpoint talks to `front`; `back` talks to the
/// server. Returns the address the truck must connect to.
async fn relay(
    truck: usize,
    server: SocketAddr,
    channel: SharedChannel,
) -> Result<SocketAddr, RealError> {
    let front = Arc::new(UdpSocket::bind(SocketAddr::new(server.ip(), 0)).await?);
    let back = Arc::new(UdpSocket::bind(SocketAddr::new(server.ip(), 0)).await?);
    back.connect(server).await?;
    let addr = front.local_addr()?;
    let peer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    // a packet's delay through the radio, or None when the radio loses it
    let delay = {
        let channel = channel.clone();
        move |up: bool, len: usize| -> Option<Duration> {
            let mut radio = channel.lock().ok()?;
            let now = radio.now_us();
            let at = radio.channel.carry(now, truck, up, len + IP_UDP_OVERHEAD)?;
            Some(Duration::from_micros(at.saturating_sub(now)))
        }
    };
    let delay = Arc::new(delay);
    {
        let (front, back, peer, delay) = (front.clone(), back.clone(), peer.clone(), delay.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                if let Ok(mut p) = peer.lock() {
                    *p = Some(from);
                }
                let Some(d) = delay(true, n) else { continue };
                let pkt = buf[..n].to_vec();
                let back = back.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    let _ = back.send(&pkt).await;
                });
            }
        });
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = back.recv(&mut buf).await {
            let Some(to) = peer.lock().ok().and_then(|p| *p) else {
                continue;
            };
            let Some(d) = delay(false, n) else { continue };
            let pkt = buf[..n].to_vec();
            let front = front.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let _ = front.send_to(&pkt, to).await;
            });
        }
    });
    Ok(addr)
}

/// Keeps truck `truck` connected: sends what the simulation gives it, delivers what the
/// dispatcher sends, reconnects after a loss.
/// What one truck's connection task holds.
struct TruckTask {
    pki: Arc<SitePki>,
    truck: u32,
    master: [u8; 32],
    addr: SocketAddr,
    first: Option<TruckLink>,
    events: std::sync::mpsc::Sender<Event>,
    safety: Arc<Mutex<SafetyCounters>>,
}

async fn truck_task(task: TruckTask, mut up: mpsc::UnboundedReceiver<UpMsg>) {
    let TruckTask {
        pki,
        truck,
        master,
        addr,
        mut first,
        events,
        safety,
    } = task;
    loop {
        let link = match first.take() {
            Some(l) => Ok(l),
            None => TruckLink::connect_counted(&pki, truck, master, addr, safety.clone()).await,
        };
        let mut link = match link {
            Ok(l) => l,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = events.send(Event::Link {
            truck,
            up: true,
            reason: String::new(),
        });
        let reason = loop {
            tokio::select! {
                m = up.recv() => {
                    let Some(m) = m else { return };
                    match link.send(&m).await {
                        Ok(()) => {}
                        Err(RealError::Encode(_)) => {
                            let _ = events.send(Event::Unencodable);
                        }
                        Err(e) => break e.to_string(),
                    }
                }
                m = link.recv() => {
                    let Some(m) = m else { break "connection closed".to_string() };
                    if events.send(Event::Down(m)).is_err() {
                        return;
                    }
                }
            }
        };
        let _ = events.send(Event::Link {
            truck,
            up: false,
            reason,
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl RealFleet {
    /// Connects `trucks` trucks to the dispatcher, each through a relay that applies
    /// `channel` (or directly when `None`). Fails when a truck cannot connect in time.
    ///
    /// `start` holds every truck's position before the run (the radio attaches them there).
    #[allow(clippy::disallowed_methods)] // real mode: the radio runs on the wall clock
    pub fn connect(
        cfg: &RealFleetConfig,
        start: &[[f64; 2]],
        channel: Option<Box<dyn Channel + Send>>,
    ) -> Result<RealFleet, RealError> {
        // the dispatcher's own address is refused here, before any socket names another
        super::real::loopback(cfg.server)?;
        let trucks = start.len();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let pki = Arc::new(SitePki::generate(cfg.pki_seed, "site CA", trucks as u32)?);
        let master = super::real::master_key(cfg.pki_seed);
        let positions = Arc::new(Mutex::new(start.to_vec()));
        let channel: Option<SharedChannel> = channel.map(|mut c| {
            for (i, p) in start.iter().enumerate() {
                c.add_truck();
                c.step(0, i, p[0], p[1]);
            }
            Arc::new(Mutex::new(Radio {
                channel: c,
                origin: std::time::Instant::now(),
            }))
        });
        if let Some(ch) = &channel {
            // the radio follows the trucks every 10 ms of wall-clock time
            let (ch, positions) = (ch.clone(), positions.clone());
            rt.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                loop {
                    tick.tick().await;
                    let Ok(pos) = positions.lock().map(|p| p.clone()) else {
                        return;
                    };
                    let Ok(mut radio) = ch.lock() else { return };
                    let now = radio.now_us();
                    for (i, p) in pos.iter().enumerate() {
                        radio.channel.step(now, i, p[0], p[1]);
                    }
                }
            });
        }
        let (ev_tx, events) = std::sync::mpsc::channel();
        let mut up = Vec::with_capacity(trucks);
        let mut safety = Vec::with_capacity(trucks);
        let server = cfg.server;
        let links = rt.block_on(async {
            let connect_all = async {
                let mut pending = Vec::with_capacity(trucks);
                for i in 0..trucks {
                    let addr = match &channel {
                        Some(ch) => relay(i, server, ch.clone()).await?,
                        None => server,
                    };
                    let pki = pki.clone();
                    let counters = Arc::new(Mutex::new(SafetyCounters::default()));
                    safety.push(counters.clone());
                    pending.push(tokio::spawn(async move {
                        let link =
                            TruckLink::connect_counted(&pki, i as u32, master, addr, counters)
                                .await;
                        (addr, link)
                    }));
                }
                let mut out = Vec::with_capacity(trucks);
                for p in pending {
                    let (addr, link) = p
                        .await
                        .map_err(|e| RealError::Io(std::io::Error::other(e.to_string())))?;
                    out.push((addr, link?));
                }
                Ok::<_, RealError>(out)
            };
            tokio::time::timeout(cfg.connect_timeout, connect_all)
                .await
                .map_err(|_| {
                    RealError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "no dispatcher answered at {server} within {:.0} s",
                            cfg.connect_timeout.as_secs_f64()
                        ),
                    ))
                })?
        })?;
        for (i, (addr, link)) in links.into_iter().enumerate() {
            let (tx, rx) = mpsc::unbounded_channel();
            up.push(tx);
            rt.spawn(truck_task(
                TruckTask {
                    pki: pki.clone(),
                    truck: i as u32,
                    master,
                    addr,
                    first: Some(link),
                    events: ev_tx.clone(),
                    safety: safety[i].clone(),
                },
                rx,
            ));
        }
        Ok(RealFleet {
            rt,
            up,
            events: Mutex::new(events),
            positions,
            channel,
            safety,
            stats: LinkStats::default(),
            kpi: NetKpis::default(),
            latencies_us: Default::default(),
            link_events: Vec::new(),
            last_cmd_seq: vec![0; trucks],
            connected: vec![false; trucks],
        })
    }

    fn pump(&mut self, now: SimTime) -> Vec<DownMsg> {
        let mut out = Vec::new();
        let got: Vec<Event> = match self.events.lock() {
            Ok(rx) => rx.try_iter().collect(),
            Err(_) => Vec::new(),
        };
        for e in got {
            match e {
                Event::Down(m) => {
                    self.stats.down_msgs += 1;
                    match m.body {
                        DispatchMsg::Heartbeat => self.kpi.heartbeats_down_delivered += 1,
                        DispatchMsg::EStop(_) => {}
                        _ => {
                            let i = m.truck.index();
                            if let Some(last) = self.last_cmd_seq.get_mut(i) {
                                if m.seq < *last {
                                    self.kpi.commands_out_of_order += 1;
                                }
                                *last = m.seq;
                            }
                            self.kpi.commands_delivered += 1;
                            // the dispatcher's clock follows the trucks' (it estimates
                            // the offset from their send times), so this is the latency
                            // in the simulation's clock
                            self.latencies_us.record(now.0.saturating_sub(m.sent.0));
                        }
                    }
                    out.push(m);
                }
                Event::Unencodable => self.stats.unencodable += 1,
                Event::Link { truck, up, reason } => {
                    if let Some(c) = self.connected.get_mut(truck as usize) {
                        if *c == up {
                            continue;
                        }
                        *c = up;
                    }
                    if up {
                        self.kpi.link_ups += 1;
                    } else {
                        self.kpi.link_downs += 1;
                    }
                    self.link_events.push(LinkUpDown {
                        at: now,
                        truck,
                        up,
                        reason,
                    });
                }
            }
        }
        out
    }
}

impl Transport for RealFleet {
    fn send_up(&mut self, _now: SimTime, msg: &UpMsg) {
        self.stats.up_msgs += 1;
        if matches!(msg.body, site::protocol::TruckMsg::Telemetry(_)) {
            self.kpi.telemetry_sent += 1;
        }
        if let Some(tx) = self.up.get(msg.truck.index()) {
            let _ = tx.send(msg.clone());
        }
    }
    /// The dispatcher is another process: nothing is sent down from here.
    fn send_down(&mut self, _now: SimTime, _msg: &DownMsg) {}
    fn recv_up(&mut self, _now: SimTime) -> Vec<UpMsg> {
        Vec::new()
    }
    fn recv_down(&mut self, now: SimTime) -> Vec<DownMsg> {
        self.pump(now)
    }
    fn stats(&self) -> LinkStats {
        self.stats
    }
    fn step(&mut self, _now: SimTime, positions: &[[f64; 2]]) {
        if let Ok(mut p) = self.positions.lock() {
            p.clear();
            p.extend_from_slice(positions);
        }
    }
    fn link_report(&self) -> Vec<crate::transport::TruckLinkReport> {
        let Some(ch) = &self.channel else {
            return Vec::new();
        };
        let Ok(radio) = ch.lock() else {
            return Vec::new();
        };
        let c = &radio.channel;
        (0..self.up.len())
            .map(|i| {
                let m = c.metrics(i);
                crate::transport::TruckLinkReport {
                    truck: i as u32,
                    serving_cell: m.and_then(|m| m.serving_cell.map(|c| c.0)),
                    rsrp_dbm: m.map(|m| m.rsrp_dbm),
                    sinr_db: m.map(|m| m.sinr_db),
                    dl_rate_mbps: m.map(|m| m.dl_rate_bps / 1e6),
                    ul_rate_mbps: m.map(|m| m.ul_rate_bps / 1e6),
                    handovers: m.map_or(0, |m| m.handovers),
                    radio_link_failures: m.map_or(0, |m| m.radio_link_failures),
                    connected: self.connected.get(i).copied().unwrap_or(false),
                    ..Default::default()
                }
            })
            .collect()
    }
    fn kpis(&self) -> Option<NetKpis> {
        let mut k = self.kpi.clone();
        set_command_latency(&mut k, &self.latencies_us);
        Some(k)
    }
    fn safety_layer(&self) -> Option<&dyn SafetyLayer> {
        Some(self)
    }
    fn drain_link_events(&mut self) -> Vec<LinkUpDown> {
        std::mem::take(&mut self.link_events)
    }
    fn name(&self) -> &'static str {
        "real QUIC (quinn over loopback UDP)"
    }
}

/// The trucks' safety layers (the dispatcher's is in its own process: zero here).
impl SafetyLayer for RealFleet {
    fn safety(&self) -> SafetyReport {
        let mut at_trucks = SafetyCounters::default();
        for s in &self.safety {
            if let Ok(s) = s.lock() {
                at_trucks.add(&s);
            }
        }
        SafetyReport {
            safety_at_dispatcher: SafetyCounters::default(),
            safety_at_trucks: at_trucks,
        }
    }
}

impl Drop for RealFleet {
    fn drop(&mut self) {
        // the connection tasks see their senders close and end; give them a moment
        self.up.clear();
        self.rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
    }
}
