//! The safety layer over the "black channel" (IEC 61784-3 approach): radio and QUIC are
//! untrusted, so every message carries its own sender identity, sequence number, issue
//! and expiry time and an HMAC-SHA256 over all of them with a per-truck key.
//!
//! A receiver rejects — and counts — frames that do not decode, fail the MAC (altered or
//! forged), name another truck (misaddressed), were seen before (replayed: a sliding window
//! of sequence numbers, so reordering between streams and datagrams is tolerated) or have
//! expired.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Direction label mixed into the MAC, so a frame cannot be reflected back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Up,
    Down,
}

/// A sealed frame as it travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    pub truck: u32,
    pub seq: u64,
    pub issued_us: u64,
    pub expires_us: u64,
    pub payload: Vec<u8>,
    pub mac: [u8; 32],
}

/// A per-truck key: HMAC(site master key, truck id).
#[derive(Clone)]
pub struct TruckKey([u8; 32]);

impl std::fmt::Debug for TruckKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TruckKey(..)")
    }
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // `new_from_slice` never fails for HMAC; keep a defined fallback instead of a panic.
    <HmacSha256 as Mac>::new(&Default::default())
}

impl TruckKey {
    pub fn derive(master: &[u8; 32], truck: u32) -> TruckKey {
        let mut m = hmac(master);
        m.update(b"minesim truck key");
        m.update(&truck.to_le_bytes());
        TruckKey(m.finalize().into_bytes().into())
    }

    fn mac(
        &self,
        way: Way,
        truck: u32,
        seq: u64,
        issued: u64,
        expires: u64,
        payload: &[u8],
    ) -> HmacSha256 {
        let mut m = hmac(&self.0);
        m.update(match way {
            Way::Up => b"U",
            Way::Down => b"D",
        });
        m.update(&truck.to_le_bytes());
        m.update(&seq.to_le_bytes());
        m.update(&issued.to_le_bytes());
        m.update(&expires.to_le_bytes());
        m.update(&(payload.len() as u64).to_le_bytes());
        m.update(payload);
        m
    }

    /// Seals `payload` and encodes the frame (an encoding failure surfaces; nothing empty is
    /// ever sealed in its place).
    pub fn seal(
        &self,
        way: Way,
        truck: u32,
        seq: u64,
        issued_us: u64,
        expires_us: u64,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, site::protocol::EncodeError> {
        let mac = self
            .mac(way, truck, seq, issued_us, expires_us, &payload)
            .finalize()
            .into_bytes()
            .into();
        site::protocol::encode(&Sealed {
            truck,
            seq,
            issued_us,
            expires_us,
            payload,
            mac,
        })
    }
}

/// The site master key of the safety layer for the run or PKI seed `seed`: four words of
/// [`Stream::SafetyKey`](site::seed::Stream::SafetyKey). Simulated QUIC derives it from the
/// run seed; in real mode the dispatcher and the trucks' process both derive it from
/// `--pki-seed`, so they hold the same key.
pub fn master_key(seed: u64) -> [u8; 32] {
    let mut m = [0u8; 32];
    for (k, c) in m.chunks_exact_mut(8).enumerate() {
        let v = site::seed::derive(seed, site::seed::Stream::SafetyKey, k as u64);
        c.copy_from_slice(&v.to_le_bytes());
    }
    m
}

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    Undecodable,
    BadMac,
    Misaddressed,
    Replayed,
    Expired,
}

/// Counters of refused frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SafetyCounters {
    pub accepted: u64,
    pub undecodable: u64,
    pub bad_mac: u64,
    pub misaddressed: u64,
    pub replayed: u64,
    pub expired: u64,
}

impl SafetyCounters {
    pub fn count(&mut self, r: Result<(), Reject>) {
        match r {
            Ok(()) => self.accepted += 1,
            Err(Reject::Undecodable) => self.undecodable += 1,
            Err(Reject::BadMac) => self.bad_mac += 1,
            Err(Reject::Misaddressed) => self.misaddressed += 1,
            Err(Reject::Replayed) => self.replayed += 1,
            Err(Reject::Expired) => self.expired += 1,
        }
    }
    pub fn rejected(&self) -> u64 {
        self.undecodable + self.bad_mac + self.misaddressed + self.replayed + self.expired
    }
    pub fn add(&mut self, o: &SafetyCounters) {
        self.accepted += o.accepted;
        self.undecodable += o.undecodable;
        self.bad_mac += o.bad_mac;
        self.misaddressed += o.misaddressed;
        self.replayed += o.replayed;
        self.expired += o.expired;
    }
}

/// What a transport's safety layer refused at each end (field names as in the run report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SafetyReport {
    /// Frames the dispatcher's safety layer refused, by reason.
    pub safety_at_dispatcher: SafetyCounters,
    /// Frames the trucks' safety layers refused, by reason, summed.
    pub safety_at_trucks: SafetyCounters,
}

/// A transport whose frames pass the safety layer (simulated QUIC, real mode). A run holding
/// a `dyn Transport` reaches it through
/// [`Transport::safety_layer`](crate::transport::Transport::safety_layer).
pub trait SafetyLayer {
    /// The counters so far.
    fn safety(&self) -> SafetyReport;
}

/// Width of the replay window.
const WINDOW: u64 = 256;

/// The receiving end of one truck's channel in one direction.
#[derive(Clone, Debug)]
pub struct Verifier {
    key: TruckKey,
    way: Way,
    truck: u32,
    /// Highest sequence number accepted so far.
    highest: u64,
    /// Bit i set: `highest - i` accepted.
    seen: [u64; (WINDOW / 64) as usize],
}

impl Verifier {
    pub fn new(key: TruckKey, way: Way, truck: u32) -> Verifier {
        Verifier {
            key,
            way,
            truck,
            highest: 0,
            seen: [0; (WINDOW / 64) as usize],
        }
    }

    fn bit(&self, back: u64) -> bool {
        self.seen[(back / 64) as usize] & (1 << (back % 64)) != 0
    }
    fn set(&mut self, back: u64) {
        self.seen[(back / 64) as usize] |= 1 << (back % 64);
    }

    /// Checks a frame received at `now_us`; on success returns the sealed frame (payload and
    /// header) and records its sequence number.
    pub fn open(&mut self, now_us: u64, bytes: &[u8]) -> Result<Sealed, Reject> {
        let f: Sealed = site::protocol::decode(bytes).map_err(|_| Reject::Undecodable)?;
        let m = self.key.mac(
            self.way,
            f.truck,
            f.seq,
            f.issued_us,
            f.expires_us,
            &f.payload,
        );
        m.verify_slice(&f.mac).map_err(|_| Reject::BadMac)?;
        if f.truck != self.truck {
            return Err(Reject::Misaddressed);
        }
        if f.seq == 0 {
            return Err(Reject::Replayed);
        }
        if f.seq <= self.highest {
            let back = self.highest - f.seq;
            if back >= WINDOW || self.bit(back) {
                return Err(Reject::Replayed);
            }
        }
        if now_us > f.expires_us {
            return Err(Reject::Expired);
        }
        if f.seq > self.highest {
            let shift = f.seq - self.highest;
            if shift >= WINDOW {
                self.seen = [0; (WINDOW / 64) as usize];
            } else {
                // shift the bitmap by `shift` towards older positions
                let mut next = [0u64; (WINDOW / 64) as usize];
                for back in 0..WINDOW - shift {
                    if self.bit(back) {
                        let nb = back + shift;
                        next[(nb / 64) as usize] |= 1 << (nb % 64);
                    }
                }
                self.seen = next;
            }
            self.highest = f.seq;
            self.set(0);
        } else {
            self.set(self.highest - f.seq);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TruckKey, Verifier) {
        let k = TruckKey::derive(&[7; 32], 3);
        (k.clone(), Verifier::new(k, Way::Down, 3))
    }

    #[test]
    fn accepts_good_rejects_replay_alteration_misaddress_expiry() {
        let (k, mut v) = pair();
        let f1 = k.seal(Way::Down, 3, 1, 100, 1_000, b"go".to_vec()).unwrap();
        assert!(v.open(200, &f1).is_ok());
        assert_eq!(v.open(210, &f1), Err(Reject::Replayed));
        let mut bad = k.seal(Way::Down, 3, 2, 100, 1_000, b"go".to_vec()).unwrap();
        let n = bad.len();
        bad[n - 40] ^= 1; // inside the payload or MAC
        assert!(matches!(
            v.open(220, &bad),
            Err(Reject::BadMac) | Err(Reject::Undecodable)
        ));
        // a frame for truck 4 sealed with truck 4's key is refused by truck 3
        let k4 = TruckKey::derive(&[7; 32], 4);
        assert_eq!(
            v.open(230, &k4.seal(Way::Down, 4, 3, 100, 1_000, vec![]).unwrap()),
            Err(Reject::BadMac)
        );
        // truck 3's key but addressed to truck 4
        assert_eq!(
            v.open(230, &k.seal(Way::Down, 4, 3, 100, 1_000, vec![]).unwrap()),
            Err(Reject::Misaddressed)
        );
        assert_eq!(
            v.open(2_000, &k.seal(Way::Down, 3, 4, 100, 1_000, vec![]).unwrap()),
            Err(Reject::Expired)
        );
        // reflected: an uplink frame presented as downlink
        assert_eq!(
            v.open(230, &k.seal(Way::Up, 3, 5, 100, 1_000, vec![]).unwrap()),
            Err(Reject::BadMac)
        );
        assert_eq!(v.open(230, b"garbage"), Err(Reject::Undecodable));
    }

    #[test]
    fn reordering_inside_the_window_is_fine_outside_is_replay() {
        let (k, mut v) = pair();
        for seq in [5u64, 3, 4, 1, 2, 300, 100, 44] {
            let r = v.open(0, &k.seal(Way::Down, 3, seq, 0, 10, vec![]).unwrap());
            if seq == 44 {
                assert_eq!(
                    r,
                    Err(Reject::Replayed),
                    "44 is outside the window below 300"
                );
            } else {
                assert!(r.is_ok(), "seq {seq}");
            }
        }
        assert_eq!(
            v.open(0, &k.seal(Way::Down, 3, 100, 0, 10, vec![]).unwrap()),
            Err(Reject::Replayed)
        );
        assert_eq!(
            v.open(0, &k.seal(Way::Down, 3, 5, 0, 10, vec![]).unwrap()),
            Err(Reject::Replayed)
        );
    }
}
