//! The dispatcher server (real mode): the same sans-IO [`Dispatcher`] driven by tokio and
//! `quinn`, trucks connecting over UDP with mutual TLS (site CA, one certificate per truck)
//! through `network5g`'s real-mode transport and safety layer.
//!
//! **Clock.** The dispatcher's logic runs on a [`SimTime`] clock. In real mode it follows the
//! trucks' clock: every message carries its send time, and the server keeps the smallest
//! `arrival − sent` seen as the offset between its monotonic clock and theirs (the classic
//! minimum-delay filter). Grants' expiry times are therefore in the trucks' clock, late by at
//! most the smallest one-way delay seen. The dispatcher ticks every `tick` once a first
//! message has set the clock.
//!
//! **Roster.** Like the simulation, the server enters every truck of the fleet in its roster
//! where it starts ([`Site::fleet_start`] of the same site, fleet size and seed) before it
//! has heard from it, so no road is granted through a truck that has not spoken yet.

use crate::{Dispatcher, DispatcherConfig, FleetEventKind};
use network5g::quic::real::{master_key, serve_routed, server_endpoint, RealError, ServeStats};
use network5g::quic::SitePki;
use site::protocol::TruckInfo;
use site::{SimTime, Site, TruckId};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub site: Arc<Site>,
    pub listen: SocketAddr,
    /// Fleet size and seed: the roster (who starts where), as in the simulation.
    pub trucks: usize,
    pub seed: u64,
    /// Seed of the site PKI and safety-layer keys (shared with the trucks' side).
    pub pki_seed: u64,
    pub dispatcher: DispatcherConfig,
    /// Dispatcher tick period.
    pub tick: Duration,
    /// What the roster assumes of a truck before it announces itself (its Hello replaces it).
    pub truck_info: TruckInfo,
    /// Enter the fleet in the roster at its start slots before it speaks (as the simulation
    /// does). Without a roster, trucks join when they say Hello.
    pub roster: bool,
}

impl ServerConfig {
    /// Defaults for `site`: 100 trucks, seed 1, PKI seed 1, 100 ms tick, ultra-class trucks.
    pub fn new(site: Arc<Site>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            site,
            listen,
            trucks: 100,
            seed: 1,
            pki_seed: 1,
            dispatcher: DispatcherConfig::default(),
            tick: Duration::from_millis(100),
            truck_info: TruckInfo {
                length_m: 15.5,
                width_m: 9.5,
                capacity_t: 290.0,
            },
            roster: true,
        }
    }

    /// Checks what can be checked before binding: the roster fits the site.
    pub fn check(&self) -> Result<(), ServerError> {
        if self.roster && self.site.fleet_start(self.trucks, self.seed).is_none() {
            return Err(ServerError::TooManyTrucks {
                capacity: self.site.capacity(),
                asked: self.trucks,
            });
        }
        Ok(())
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the site has room to start {capacity} trucks, {asked} asked (--no-roster lets trucks join as they speak)")]
    TooManyTrucks { capacity: usize, asked: usize },
    #[error(transparent)]
    Real(#[from] RealError),
    #[error(transparent)]
    Pki(#[from] network5g::quic::pki::PkiError),
}

/// What the server did, for its exit summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ServerSummary {
    /// Dispatcher clock at the end, s (0 when no truck ever spoke).
    pub clock_s: f64,
    pub connections: u64,
    pub refused: u64,
    pub garbage_dropped: u64,
    pub frames_accepted: u64,
    pub frames_rejected: u64,
    /// The safety layer's verdicts by reason.
    pub safety: network5g::quic::SafetyCounters,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Messages for a truck that had no connection at the time.
    pub undeliverable: u64,
    pub trucks_heard: usize,
    pub assignments: u64,
    pub loads: u64,
    pub dumps: u64,
    pub lost: u64,
    /// Trucks re-armed by the re-arm policy.
    pub auto_rearms: u64,
    /// Tonnes loaded (as the trucks reported).
    pub tonnes_loaded: f64,
}

/// The server's clock: the trucks' clock, estimated from their send times.
struct Clock {
    origin: std::time::Instant,
    offset_us: Option<i128>,
}

impl Clock {
    #[allow(clippy::disallowed_methods)] // the real-mode server runs on the wall clock
    fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
            offset_us: None,
        }
    }
    fn local_us(&self) -> i128 {
        self.origin.elapsed().as_micros() as i128
    }
    fn observe(&mut self, sent: SimTime) {
        let off = self.local_us() - sent.0 as i128;
        self.offset_us = Some(self.offset_us.map_or(off, |o| o.min(off)));
    }
    fn now(&self) -> Option<SimTime> {
        let o = self.offset_us?;
        Some(SimTime((self.local_us() - o).max(0) as u64))
    }
}

/// Binds the server's UDP endpoint (loopback only).
pub fn bind(cfg: &ServerConfig) -> Result<quinn::Endpoint, ServerError> {
    let pki = SitePki::generate(cfg.pki_seed, "site CA", cfg.trucks as u32)?;
    Ok(server_endpoint(&pki, cfg.listen)?)
}

/// Runs the dispatcher on `endpoint` until `stop` completes; returns what it did.
pub async fn run(
    cfg: ServerConfig,
    endpoint: quinn::Endpoint,
    stop: impl Future<Output = ()>,
) -> Result<ServerSummary, ServerError> {
    cfg.check()?;
    let slots = if cfg.roster {
        cfg.site
            .fleet_start(cfg.trucks, cfg.seed)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let pki = Arc::new(SitePki::generate(
        cfg.pki_seed,
        "site CA",
        cfg.trucks as u32,
    )?);
    let mut dispatcher = Dispatcher::new(cfg.site.clone(), cfg.dispatcher.clone());
    for (i, slot) in slots.iter().enumerate() {
        let pt = cfg.site.roads.lane(slot.lane).point_at(slot.s);
        dispatcher.register(
            SimTime::ZERO,
            TruckId(i as u32),
            cfg.truck_info,
            [pt.pos[0], pt.pos[1]],
            pt.heading,
        );
    }
    let stats = Arc::new(Mutex::new(ServeStats::default()));
    let (accept, mut router) = serve_routed(
        endpoint.clone(),
        pki,
        master_key(cfg.pki_seed),
        stats.clone(),
    );
    let accept = tokio::spawn(accept);
    let mut clock = Clock::new();
    let mut summary = ServerSummary::default();
    let mut heard = std::collections::BTreeSet::new();
    let mut ticker = tokio::time::interval(cfg.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            m = router.inbound.recv() => {
                let Some((_, m)) = m else { break };
                clock.observe(m.sent);
                summary.messages_in += 1;
                heard.insert(m.truck);
                if let Some(now) = clock.now() {
                    dispatcher.handle(now, &m);
                }
            }
            _ = ticker.tick() => {
                let Some(now) = clock.now() else { continue };
                dispatcher.tick(now);
            }
        }
        for m in dispatcher.poll_outbox() {
            summary.messages_out += 1;
            if !router.send(m) {
                summary.undeliverable += 1;
            }
        }
        for e in dispatcher.drain_events() {
            match e.kind {
                FleetEventKind::Assigned(_) => summary.assignments += 1,
                FleetEventKind::Loaded { tonnes, .. } => {
                    summary.loads += 1;
                    summary.tonnes_loaded += tonnes;
                }
                FleetEventKind::Dumped { .. } => summary.dumps += 1,
                FleetEventKind::Lost => summary.lost += 1,
                FleetEventKind::AutoReArmed => summary.auto_rearms += 1,
                _ => {}
            }
        }
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"dispatcher stopping");
    accept.abort();
    summary.clock_s = clock.now().map_or(0.0, |t| t.as_secs_f64());
    summary.trucks_heard = heard.len();
    if let Ok(s) = stats.lock() {
        summary.connections = s.connections;
        summary.refused = s.refused;
        summary.garbage_dropped = s.garbage;
        summary.frames_rejected = s.safety.rejected();
        summary.frames_accepted = s.safety.accepted;
        summary.safety = s.safety;
    }
    Ok(summary)
}
