//! Real mode: `quinn` over UDP with the same PKI (mutual TLS, site CA), the same stream
//! framing and the same safety layer as the simulated transport. Wall-clock time is read
//! only here, for the safety layer's issue and expiry times.
//!
//! * [`serve`]: the dispatcher side — accepts trucks, identifies each by its certificate,
//!   checks every frame, hands messages to a handler and sends its replies back sealed.
//! * [`TruckLink`]: one truck's connection — sends messages (streams or datagrams by class)
//!   and receives checked dispatcher messages.

use super::framing::{frame, split_frames};
use super::pki::{PkiError, SitePki, DISPATCHER_NAME};
pub use super::safety::master_key;
use super::safety::{Reject, SafetyCounters, TruckKey, Verifier, Way};
use bytes::Bytes;
use site::protocol::{decode, encode, DispatchMsg, DownMsg, TruckMsg, UpMsg};
use site::TruckId;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Validity of a command / datagram after issue, µs.
const COMMAND_TTL_US: u64 = 3_000_000;
const DATAGRAM_TTL_US: u64 = 1_000_000;

/// Why real mode failed.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("only loopback addresses are allowed, not {0}")]
    NotLoopback(SocketAddr),
    #[error("stream: {0}")]
    Write(#[from] quinn::WriteError),
    #[error(transparent)]
    Encode(#[from] site::protocol::EncodeError),
}

/// Wall-clock microseconds since the Unix epoch (the safety layer's clock in real mode).
#[allow(clippy::disallowed_methods)] // real mode runs on the wall clock by definition
pub fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Reads one QUIC stream to its end, handing each complete frame to `on_frame`; `false` when
/// the stream carried garbage (a length over the frame limit) and was abandoned.
async fn read_frames(mut recv: quinn::RecvStream, mut on_frame: impl FnMut(Vec<u8>)) -> bool {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = recv.read_chunk(64 * 1024, true).await {
        buf.extend_from_slice(&chunk.bytes);
        let (frames, ok) = split_frames(&mut buf);
        for f in frames {
            on_frame(f);
        }
        if !ok {
            let _ = recv.stop(quinn::VarInt::from_u32(1));
            return false;
        }
    }
    true
}

pub(crate) fn loopback(addr: SocketAddr) -> Result<SocketAddr, RealError> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(RealError::NotLoopback(addr))
    }
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut tc = quinn::TransportConfig::default();
    tc.max_idle_timeout(Some(quinn::VarInt::from_u32(5_000).into()))
        .keep_alive_interval(Some(std::time::Duration::from_millis(500)));
    Arc::new(tc)
}

/// The dispatcher's UDP endpoint on `addr` (loopback only).
pub fn server_endpoint(pki: &SitePki, addr: SocketAddr) -> Result<quinn::Endpoint, RealError> {
    let mut sc = quinn::ServerConfig::with_crypto(pki.quic_server()?);
    sc.transport_config(transport());
    Ok(quinn::Endpoint::server(sc, loopback(addr)?)?)
}

/// What the dispatcher side counted.
#[derive(Clone, Debug, Default)]
pub struct ServeStats {
    pub connections: u64,
    pub refused: u64,
    pub safety: SafetyCounters,
    pub garbage: u64,
    /// Replies that could not be encoded and so were never sent.
    pub unencodable: u64,
}

/// Where the dispatcher side of real mode delivers what trucks send, and how it answers.
///
/// Every checked message arrives on [`Router::inbound`] with the truck it came from (the
/// truck named by its certificate); [`Router::send`] seals a message and sends it on the
/// connection of the truck it is addressed to: heartbeats as datagrams, everything else on
/// the command stream, an e-stop on the stream and repeated as datagrams.
pub struct Router {
    pub inbound: mpsc::UnboundedReceiver<(u32, UpMsg)>,
    outboxes: Outboxes,
}

type Outboxes =
    Arc<Mutex<std::collections::BTreeMap<u32, (usize, mpsc::UnboundedSender<DownMsg>)>>>;

impl Router {
    /// Queues `msg` for its truck; `false` when that truck has no connection now.
    pub fn send(&self, msg: DownMsg) -> bool {
        let Ok(map) = self.outboxes.lock() else {
            return false;
        };
        match map.get(&msg.truck.0) {
            Some((_, tx)) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// Trucks connected now.
    pub fn connected(&self) -> Vec<u32> {
        self.outboxes
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Serves trucks until the endpoint is closed: the accept loop (run it as a task) and the
/// [`Router`] through which the dispatcher reads and answers.
pub fn serve_routed(
    endpoint: quinn::Endpoint,
    pki: Arc<SitePki>,
    master: [u8; 32],
    stats: Arc<Mutex<ServeStats>>,
) -> (impl std::future::Future<Output = ()> + Send, Router) {
    let (in_tx, inbound) = mpsc::unbounded_channel();
    let outboxes: Outboxes = Arc::default();
    let router = Router {
        inbound,
        outboxes: outboxes.clone(),
    };
    let accept = async move {
        while let Some(incoming) = endpoint.accept().await {
            let pki = pki.clone();
            let stats = stats.clone();
            let in_tx = in_tx.clone();
            let outboxes = outboxes.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else {
                    if let Ok(mut s) = stats.lock() {
                        s.refused += 1;
                    }
                    return;
                };
                let truck = conn
                    .peer_identity()
                    .and_then(|id| {
                        id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                            .ok()
                    })
                    .and_then(|c| c.first().and_then(|c| pki.truck_of(c.as_ref())));
                let Some(truck) = truck else {
                    if let Ok(mut s) = stats.lock() {
                        s.refused += 1;
                    }
                    conn.close(quinn::VarInt::from_u32(2), b"unknown truck");
                    return;
                };
                if let Ok(mut s) = stats.lock() {
                    s.connections += 1;
                }
                let id = conn.stable_id();
                let (tx, rx) = mpsc::unbounded_channel();
                if let Ok(mut m) = outboxes.lock() {
                    // a reconnecting truck replaces its old connection
                    m.insert(truck, (id, tx));
                }
                let _ = handle_truck(conn, truck, master, in_tx, rx, stats).await;
                if let Ok(mut m) = outboxes.lock() {
                    if m.get(&truck).is_some_and(|(cid, _)| *cid == id) {
                        m.remove(&truck);
                    }
                }
            });
        }
    };
    (accept, router)
}

/// Serves trucks until the endpoint is closed. `handler` gets every checked message and
/// returns the replies (each sent to the truck it is addressed to).
pub async fn serve<F>(
    endpoint: quinn::Endpoint,
    pki: Arc<SitePki>,
    master: [u8; 32],
    handler: F,
    stats: Arc<Mutex<ServeStats>>,
) where
    F: Fn(UpMsg) -> Vec<DownMsg> + Send + Sync + 'static,
{
    let (accept, mut router) = serve_routed(endpoint, pki, master, stats);
    let accept = tokio::spawn(accept);
    while let Some((_, m)) = router.inbound.recv().await {
        for reply in handler(m) {
            router.send(reply);
        }
    }
    accept.abort();
}

async fn handle_truck(
    conn: quinn::Connection,
    truck: u32,
    master: [u8; 32],
    deliver: mpsc::UnboundedSender<(u32, UpMsg)>,
    mut outbox: mpsc::UnboundedReceiver<DownMsg>,
    stats: Arc<Mutex<ServeStats>>,
) -> Result<(), RealError> {
    let key = TruckKey::derive(&master, truck);
    let verify = Arc::new(Mutex::new(Verifier::new(key.clone(), Way::Up, truck)));
    let mut down = conn.open_uni().await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    // datagrams
    {
        let conn = conn.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(d) = conn.read_datagram().await {
                if tx.send(d.to_vec()).is_err() {
                    break;
                }
            }
        });
    }
    // the truck's stream(s)
    {
        let conn = conn.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            while let Ok(recv) = conn.accept_uni().await {
                let tx = tx.clone();
                let stats = stats.clone();
                tokio::spawn(async move {
                    let clean = read_frames(recv, |f| {
                        let _ = tx.send(f);
                    })
                    .await;
                    if !clean {
                        if let Ok(mut s) = stats.lock() {
                            s.garbage += 1;
                        }
                    }
                });
            }
        });
    }
    let mut seq = 0u64;
    loop {
        tokio::select! {
            bytes = rx.recv() => {
                let Some(bytes) = bytes else { break };
                let now = wall_us();
                let r = verify
                    .lock()
                    .map_err(|_| Reject::Undecodable)
                    .and_then(|mut v| v.open(now, &bytes))
                    .and_then(|f| {
                        let m: UpMsg = decode(&f.payload).map_err(|_| Reject::Undecodable)?;
                        if m.truck != TruckId(truck) {
                            return Err(Reject::Misaddressed);
                        }
                        Ok(m)
                    });
                if let Ok(mut s) = stats.lock() {
                    s.safety.count(r.as_ref().map(|_| ()).map_err(|e| *e));
                }
                if let Ok(m) = r {
                    if deliver.send((truck, m)).is_err() {
                        break;
                    }
                }
            }
            reply = outbox.recv() => {
                let Some(reply) = reply else { break };
                if reply.truck != TruckId(truck) {
                    continue;
                }
                let Ok(payload) = encode(&reply) else {
                    if let Ok(mut s) = stats.lock() {
                        s.unencodable += 1;
                    }
                    continue;
                };
                let as_datagram = matches!(reply.body, DispatchMsg::Heartbeat);
                let estop = matches!(reply.body, DispatchMsg::EStop(_));
                if as_datagram || estop {
                    // an e-stop also goes as repeated datagrams: whichever arrives first
                    // stops the truck (the truck acts on its sequence number once)
                    for _ in 0..if estop { 3 } else { 1 } {
                        seq += 1;
                        let now = wall_us();
                        match key.seal(Way::Down, truck, seq, now, now + DATAGRAM_TTL_US, payload.clone()) {
                            Ok(sealed) => {
                                let _ = conn.send_datagram(Bytes::from(sealed));
                            }
                            Err(_) => {
                                if let Ok(mut s) = stats.lock() {
                                    s.unencodable += 1;
                                }
                            }
                        }
                    }
                }
                if !as_datagram {
                    seq += 1;
                    let now = wall_us();
                    match key.seal(Way::Down, truck, seq, now, now + COMMAND_TTL_US, payload) {
                        Ok(sealed) => down.write_all(&frame(sealed)).await?,
                        Err(_) => {
                            if let Ok(mut s) = stats.lock() {
                                s.unencodable += 1;
                            }
                        }
                    }
                }
            }
            _ = conn.closed() => break,
        }
    }
    Ok(())
}

/// One truck's real connection to the dispatcher.
pub struct TruckLink {
    pub truck: u32,
    pub conn: quinn::Connection,
    endpoint: quinn::Endpoint,
    up: quinn::SendStream,
    key: TruckKey,
    seq: u64,
    inbox: mpsc::UnboundedReceiver<DownMsg>,
    pub safety: Arc<Mutex<SafetyCounters>>,
}

impl TruckLink {
    /// Connects truck `truck` with certificate `cert_of` (normally the same PKI as the
    /// server's) to `server` on loopback.
    pub async fn connect(
        pki: &SitePki,
        truck: u32,
        master: [u8; 32],
        server: SocketAddr,
    ) -> Result<TruckLink, RealError> {
        Self::connect_counted(
            pki,
            truck,
            master,
            server,
            Arc::new(Mutex::new(SafetyCounters::default())),
        )
        .await
    }

    /// [`TruckLink::connect`], counting the safety layer's verdicts into `safety`.
    pub async fn connect_counted(
        pki: &SitePki,
        truck: u32,
        master: [u8; 32],
        server: SocketAddr,
        safety: Arc<Mutex<SafetyCounters>>,
    ) -> Result<TruckLink, RealError> {
        let server = loopback(server)?;
        let mut endpoint = quinn::Endpoint::client(SocketAddr::new(server.ip(), 0))?;
        let mut cc = quinn::ClientConfig::new(pki.quic_client(truck as usize)?);
        cc.transport_config(transport());
        endpoint.set_default_client_config(cc);
        let conn = endpoint.connect(server, DISPATCHER_NAME)?.await?;
        let up = conn.open_uni().await?;
        let key = TruckKey::derive(&master, truck);
        let (tx, inbox) = mpsc::unbounded_channel();
        let verify = Arc::new(Mutex::new(Verifier::new(key.clone(), Way::Down, truck)));
        let last_estop = Arc::new(Mutex::new(None::<u64>));
        let check = {
            let safety = safety.clone();
            move |bytes: &[u8]| -> Option<DownMsg> {
                let r = verify
                    .lock()
                    .map_err(|_| Reject::Undecodable)
                    .and_then(|mut v| v.open(wall_us(), bytes))
                    .and_then(|f| {
                        let m: DownMsg = decode(&f.payload).map_err(|_| Reject::Undecodable)?;
                        if m.truck != TruckId(truck) {
                            return Err(Reject::Misaddressed);
                        }
                        Ok(m)
                    });
                if let Ok(mut s) = safety.lock() {
                    s.count(r.as_ref().map(|_| ()).map_err(|e| *e));
                }
                let m = r.ok()?;
                if matches!(m.body, DispatchMsg::EStop(_)) {
                    // the same e-stop comes on the stream and as datagrams: act on it once
                    let mut last = last_estop.lock().ok()?;
                    if *last == Some(m.seq) {
                        return None;
                    }
                    *last = Some(m.seq);
                }
                Some(m)
            }
        };
        let check = Arc::new(check);
        {
            let conn = conn.clone();
            let tx = tx.clone();
            let check = check.clone();
            tokio::spawn(async move {
                while let Ok(d) = conn.read_datagram().await {
                    if let Some(m) = check(&d) {
                        let _ = tx.send(m);
                    }
                }
            });
        }
        {
            let conn = conn.clone();
            tokio::spawn(async move {
                while let Ok(recv) = conn.accept_uni().await {
                    let tx = tx.clone();
                    let check = check.clone();
                    tokio::spawn(read_frames(recv, move |f| {
                        if let Some(m) = check(&f) {
                            let _ = tx.send(m);
                        }
                    }));
                }
            });
        }
        Ok(TruckLink {
            truck,
            conn,
            endpoint,
            up,
            key,
            seq: 0,
            inbox,
            safety,
        })
    }

    /// Sends a message: telemetry and heartbeats as datagrams, the rest on the stream.
    pub async fn send(&mut self, msg: &UpMsg) -> Result<(), RealError> {
        self.seq += 1;
        let now = wall_us();
        let payload = encode(msg)?;
        if matches!(msg.body, TruckMsg::Telemetry(_) | TruckMsg::Heartbeat) {
            let sealed = self.key.seal(
                Way::Up,
                self.truck,
                self.seq,
                now,
                now + DATAGRAM_TTL_US,
                payload,
            )?;
            let _ = self.conn.send_datagram(Bytes::from(sealed));
        } else {
            let sealed = self.key.seal(
                Way::Up,
                self.truck,
                self.seq,
                now,
                now + COMMAND_TTL_US,
                payload,
            )?;
            self.up.write_all(&frame(sealed)).await?;
        }
        Ok(())
    }

    /// The next checked message from the dispatcher (`None` when the connection is gone).
    pub async fn recv(&mut self) -> Option<DownMsg> {
        self.inbox.recv().await
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.conn.close(quinn::VarInt::from_u32(0), b"bye");
        self.endpoint.wait_idle().await;
    }
}
