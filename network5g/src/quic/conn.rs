//! One end of a `quinn-proto` connection driven in simulated time, and the one event pump
//! both ends (a truck and the dispatcher) run it through.

use super::framing::split_frames;
use quinn_proto::{
    ConnectionHandle, Dir, Endpoint, EndpointConfig, Event, ServerConfig, StreamEvent, StreamId,
    VarInt,
};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Received bytes of one stream.
#[derive(Default)]
struct RxStream {
    buf: Vec<u8>,
    poisoned: bool,
}

/// One side of a live connection.
pub(super) struct Conn {
    pub handle: ConnectionHandle,
    pub conn: quinn_proto::Connection,
    pub connected: bool,
    /// Our send stream for ordinary frames.
    pub tx: Option<StreamId>,
    /// Bytes waiting for stream credit, per stream, in order.
    backlog: VecDeque<(StreamId, Vec<u8>)>,
    rx: BTreeMap<StreamId, RxStream>,
    pub lost: bool,
}

impl Conn {
    pub fn new(handle: ConnectionHandle, conn: quinn_proto::Connection) -> Conn {
        Conn {
            handle,
            conn,
            connected: false,
            tx: None,
            backlog: VecDeque::new(),
            rx: BTreeMap::new(),
            lost: false,
        }
    }

    pub fn write(&mut self, id: StreamId, bytes: Vec<u8>) {
        self.backlog.push_back((id, bytes));
        self.flush();
    }

    pub fn flush(&mut self) {
        while let Some((id, bytes)) = self.backlog.front_mut() {
            match self.conn.send_stream(*id).write(bytes) {
                Ok(n) if n == bytes.len() => {
                    self.backlog.pop_front();
                }
                Ok(n) => {
                    bytes.drain(..n);
                    return;
                }
                Err(quinn_proto::WriteError::Blocked) => return,
                Err(_) => {
                    self.backlog.pop_front();
                }
            }
        }
    }

    /// Reads whatever `id` has; returns complete frames and counts garbage.
    fn read(&mut self, id: StreamId, garbage: &mut u64) -> Vec<Vec<u8>> {
        let rx = self.rx.entry(id).or_default();
        let mut out = Vec::new();
        let mut recv = self.conn.recv_stream(id);
        if let Ok(mut chunks) = recv.read(true) {
            while let Ok(Some(c)) = chunks.next(usize::MAX) {
                if !rx.poisoned {
                    rx.buf.extend_from_slice(&c.bytes);
                }
            }
            let _ = chunks.finalize();
        }
        if !rx.poisoned {
            let (frames, ok) = split_frames(&mut rx.buf);
            out = frames;
            if !ok {
                *garbage += 1;
                rx.poisoned = true;
                rx.buf = Vec::new();
                let _ = self.conn.recv_stream(id).stop(VarInt::from_u32(1));
            }
        }
        out
    }

    /// Drives the connection at `now`: a due timeout, then (with `endpoint_first`) the
    /// endpoint's events, then every connection event (on `Connected` it opens our stream
    /// and calls `on_connected`; readable streams and datagrams are collected; a writable
    /// stream flushes the backlog), then what is to be sent and the endpoint's events again.
    ///
    /// `endpoint_first`: the truck end hands the endpoint the connection's events before
    /// polling it, the dispatcher end only after transmitting. Both orders are valid; they
    /// give different packet traces, and each end keeps the order it always had.
    pub fn pump(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        buf: &mut Vec<u8>,
        endpoint_first: bool,
        mut on_connected: impl FnMut(&mut Conn),
    ) -> Pumped {
        let mut p = Pumped::default();
        if self.conn.poll_timeout().is_some_and(|x| x <= now) {
            self.conn.handle_timeout(now);
        }
        if endpoint_first {
            self.endpoint_events(endpoint, &mut p);
        }
        while let Some(ev) = self.conn.poll() {
            match ev {
                Event::Connected => {
                    self.connected = true;
                    self.tx = self.conn.streams().open(Dir::Uni);
                    p.connected = true;
                    on_connected(self);
                }
                Event::ConnectionLost { reason } => {
                    self.lost = true;
                    p.lost = Some(reason.to_string());
                }
                Event::Stream(StreamEvent::Opened { dir: Dir::Uni }) => {
                    while let Some(id) = self.conn.streams().accept(Dir::Uni) {
                        p.frames.extend(self.read(id, &mut p.garbage));
                    }
                }
                Event::Stream(StreamEvent::Readable { id }) => {
                    p.frames.extend(self.read(id, &mut p.garbage));
                }
                Event::Stream(StreamEvent::Writable { .. }) => self.flush(),
                Event::DatagramReceived => {
                    while let Some(d) = self.conn.datagrams().recv() {
                        p.datagrams.push(d.to_vec());
                    }
                }
                _ => {}
            }
        }
        self.flush();
        while let Some(tx) = self.conn.poll_transmit(now, 1, buf) {
            p.transmits.push((tx.destination, buf[..tx.size].to_vec()));
            buf.clear();
        }
        self.endpoint_events(endpoint, &mut p);
        p
    }

    fn endpoint_events(&mut self, endpoint: &mut Endpoint, p: &mut Pumped) {
        while let Some(ev) = self.conn.poll_endpoint_events() {
            p.drained |= ev.is_drained();
            if let Some(cev) = endpoint.handle_event(self.handle, ev) {
                self.conn.handle_event(cev);
            }
        }
    }
}

/// What one [`Conn::pump`] collected.
#[derive(Default)]
pub(super) struct Pumped {
    /// The handshake completed in this pass.
    pub connected: bool,
    /// The connection was lost, and why.
    pub lost: Option<String>,
    /// Complete frames read from the peer's streams.
    pub frames: Vec<Vec<u8>>,
    /// Datagrams received.
    pub datagrams: Vec<Vec<u8>>,
    /// Streams abandoned as garbage.
    pub garbage: u64,
    /// UDP datagrams to send, with their destination.
    pub transmits: Vec<(SocketAddr, Vec<u8>)>,
    /// The endpoint is done with the connection: it can be forgotten.
    pub drained: bool,
}

/// A `quinn-proto` endpoint whose RNG is seeded with `seed`.
pub(super) fn endpoint(seed: [u8; 32], server: Option<Arc<ServerConfig>>) -> Endpoint {
    let mut ec = EndpointConfig::default();
    ec.rng_seed(Some(seed));
    Endpoint::new(Arc::new(ec), server, false, None)
}

/// Microseconds from `base` to `i`, rounded up.
pub(super) fn to_us(base: Instant, i: Instant) -> u64 {
    let ns = i.saturating_duration_since(base).as_nanos();
    ns.div_ceil(1000) as u64
}
