//! Private-5G radio link model and QUIC transport between trucks and the dispatcher.
//!
//! This crate will hold the radio channel model (TR 38.901 RMa path loss against the terrain,
//! shadowing, SINR, cells and handover) and the transport: `quinn-proto` driven in simulated
//! time, and `quinn` over UDP in real time. Until then the simulation uses the in-memory
//! transport of `site::transport`. (Work tracked by the 5G/QUIC issue.)
