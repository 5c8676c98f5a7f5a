//! QUIC between trucks and the dispatcher: the site PKI ([`pki`]), the safety layer over
//! the black channel ([`safety`]), what carries packets in simulated time ([`channel`]) and
//! the simulated-QUIC [`Transport`](crate::transport::Transport) ([`sim`]).

pub mod channel;
pub mod pki;
pub mod real;
pub mod real_fleet;
pub mod safety;
pub mod sim;

pub use channel::{Channel, FixedChannel, RadioChannel};
pub use pki::{SitePki, ALPN, DISPATCHER_NAME};
pub use safety::{Reject, SafetyCounters, Sealed, TruckKey, Verifier, Way};
pub use sim::{frame, split_frames, SimQuicConfig, SimQuicTransport, MAX_FRAME};
