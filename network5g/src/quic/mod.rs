//! QUIC between trucks and the dispatcher: the site PKI ([`pki`]), the safety layer over
//! the black channel ([`safety`]), what carries packets in simulated time ([`channel`]) and
//! the simulated-QUIC [`Transport`](crate::transport::Transport) ([`simulated`]).

pub mod channel;
mod conn;
pub mod framing;
mod kpi;
pub mod pki;
#[cfg(feature = "real")]
pub mod real;
#[cfg(feature = "real")]
pub mod real_fleet;
pub mod safety;
mod sched;
pub mod simulated;

pub use channel::{Channel, FixedChannel, RadioChannel};
pub use framing::{frame, split_frames, MAX_FRAME};
pub use pki::{SitePki, ALPN, DISPATCHER_NAME};
pub use safety::{Reject, SafetyCounters, Sealed, TruckKey, Verifier, Way};
pub use simulated::{SimQuicConfig, SimQuicTransport};
