//! The private-5G radio model (see the crate docs for the model and its assumptions).
//!
//! * [`config`]: [`RadioConfig`](config::RadioConfig) (serde, every field defaulted).
//! * [`terrain`]: the [`TerrainProfile`](terrain::TerrainProfile) trait and the
//!   line-of-sight ray test.
//! * [`pathloss`]: TR 38.901 RMa LOS/NLOS, ITU-R P.526 knife edge, antenna pattern.
//! * [`shadowing`]: spatially correlated log-normal shadowing (one field per cell).
//! * [`network`]: [`CellNetwork`](network::CellNetwork) — measurements, SINR, cell rate.
//! * [`phy`]: noise, SINR → spectral efficiency, TDD slot timing, HARQ BLER.
//! * [`link`]: the per-UE state machine and per-packet delivery.
//! * [`sim`]: [`RadioSim`](sim::RadioSim) — all UEs sharing the cells' capacity.
//! * [`coverage`]: best-server SINR map and its PNG rendering.
//! * [`site`]: the radio of a [`Site`](::site::Site) (its terrain and gNBs).
//!
//! Random draws: cell `i`'s shadowing field from `site::seed::derive(seed,
//! Stream::RadioShadowing, i)`, UE `i`'s generator from `derive(seed, Stream::RadioUe, i)`.

pub mod config;
pub mod coverage;
pub mod link;
pub mod network;
pub mod pathloss;
pub mod phy;
pub mod shadowing;
pub mod sim;
pub mod site;
pub mod terrain;
