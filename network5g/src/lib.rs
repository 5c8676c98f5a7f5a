//! Private-5G radio link model between haul trucks and the dispatcher.
//!
//! This crate holds the **radio channel model** ([`radio`]), the [`transport::Transport`]
//! seam with its in-memory implementation, and QUIC ([`quic`]): `quinn-proto` connections
//! driven in simulated time over the radio model ([`quic::SimQuicTransport`]), the site PKI,
//! the safety layer over the black channel, and — with the default feature `real` — real
//! mode (`quic::real`, `quic::real_fleet`: `quinn` on tokio over loopback UDP).
//!
//! # Design
//!
//! Sans-IO and deterministic: plain data and functions; simulated time is an integer number
//! of microseconds (`u64`); no wall clock; every random draw comes from a seeded generator
//! owned by what draws (per-cell shadowing fields, per-UE HARQ generator, QUIC endpoints,
//! the PKI), each derived from one simulation seed with the workspace's seed scheme
//! [`site::seed`] and a named stream. The same configuration, terrain, seed and call sequence
//! give bit-identical results. Without the `real` feature the crate has no I/O dependency
//! (no tokio, no quinn; `quinn-proto` is sans-IO).
//!
//! * [`radio`]: the radio model.
//!   * [`radio::config`]: [`RadioConfig`] (serde, every field defaulted) — cells, carrier,
//!     UE, propagation, interference, mobility, link layer.
//!   * [`radio::terrain`]: the [`TerrainProfile`] trait the model reads heights through, and
//!     the line-of-sight ray test.
//!   * [`radio::pathloss`]: TR 38.901 RMa LOS/NLOS, ITU-R P.526 knife edge, antenna pattern.
//!   * [`radio::shadowing`]: spatially correlated log-normal shadowing (one field per cell).
//!   * [`radio::network`]: [`CellNetwork`] — per-link measurements, SINR, cell rate.
//!   * [`radio::phy`]: noise, SINR → spectral efficiency, TDD slot timing, HARQ BLER.
//!   * [`radio::link`]: per-UE state machine [`UeLink`] (attach, handover, RLF,
//!     re-establishment) and per-packet [`Delivery`].
//!   * [`radio::sim`]: [`RadioSim`] — all UEs with cell capacity shared among attached UEs.
//!   * [`radio::coverage`]: best-server SINR map and its PNG rendering.
//!   * [`radio::site`]: the radio of a `site::Site` (its heightfield and gNBs).
//! * [`transport`]: the seam (only what every transport has) and [`transport::InMemoryTransport`].
//! * [`quic`]: [`quic::channel`] (radio or fixed-delay channel), [`quic::framing`],
//!   [`quic::pki`], [`quic::safety`], [`quic::simulated`] (over private modules for the
//!   connection wrapper and its event pump, the discrete-event scheduler and KPI accounting),
//!   real mode behind `real`.
//!
//! # Model and assumptions (defaults in brackets; all configurable)
//!
//! * **Path loss** — 3GPP TR 38.901 v17 §7.4.1, Table 7.4.1-1, Rural Macro (RMa). LOS:
//!   PL1 below the breakpoint d_BP = 2π·h_BS·h_UT·f_c/c, PL1(d_BP) + 40·log10(d/d_BP)
//!   above. NLOS: max(PL_LOS, PL'_NLOS). Average building height h [5 m] and street width W
//!   [20 m] are the TR 38.901 defaults. h_BS is the mast top height above the UE's ground
//!   (clamped to the RMa range 10–150 m), so a mast on the pit rim looks taller to a truck
//!   on a lower bench. Distances under 10 m are clamped to 10 m; beyond the validity range
//!   (10 km LOS, 5 km NLOS) the formulas are extrapolated. Carrier [3.5 GHz, n78],
//!   bandwidth [100 MHz], SCS [30 kHz → 0.5 ms slot], TDD [DDDSU, S = 10:2:2].
//! * **Line of sight** — a ray from the mast top [35 m above ground] to the UE antenna
//!   [5 m above ground] sampled every [5 m]; NLOS when any terrain sample is above the ray.
//!   Earth curvature ignored. NLOS loss = RMa NLOS + ITU-R P.526 single knife-edge loss
//!   J(ν) of the sample with the largest ν (eq. 31 approximation; J(0) ≈ 6 dB) — or, with
//!   [`NlosModel::RmaLosPlusKnifeEdge`], RMa LOS + J(ν) for every link.
//! * **Antennas** — gNB [46 dBm, 15 dBi, 10° downtilt], vertical pattern
//!   12·((θ − tilt)/65°)² capped at 30 dB (TR 38.901 Table 7.3-1 form), omni or sectorised
//!   horizontally. UE [23 dBm, 0 dBi, NF 7 dB]. gNB NF [5 dB].
//! * **Shadowing** — log-normal, σ [4 dB LOS, 8 dB NLOS] (TR 38.901 RMa), spatially
//!   correlated with the Gudmundson exponential autocorrelation e^(−Δd/d_corr), d_corr
//!   [50 m] (TR 38.901 Table 7.5-6: 37 m LOS, 120 m NLOS). One field per cell, a pure
//!   function of position, so co-located UEs agree and the coverage map matches the UEs.
//!   No fast fading (its effect is in the BLER / link-adaptation abstraction).
//! * **SINR** — downlink: serving power over the other cells' power weighted by their
//!   load [0.5] plus thermal noise −174 dBm/Hz + 10·log10(B) + NF. Uplink: UE at full
//!   power over the carrier against gNB noise plus an interference-over-thermal margin
//!   [3 dB].
//! * **Mobility** — initial attach and re-establishment to the best-RSRP cell if its SINR
//!   ≥ Q_in [−4 dB]; A3 handover when a neighbour's RSRP exceeds the serving one by the
//!   hysteresis [3 dB] for the time-to-trigger [160 ms] (a timer per neighbour, as in
//!   TS 38.331; the strongest neighbour whose timer ran out wins); interruption [40 ms] during which
//!   packets wait (lossless handover with forwarding); radio-link failure when the serving
//!   SINR stays below Q_out [−6 dB] for T310 [1 s] — packets are lost until
//!   re-establishment, attempted after [500 ms] and then every [500 ms].
//! * **Capacity** — attenuated Shannon SE = 0.6·log2(1 + SINR), 0 below −10 dB, capped at
//!   7.4063 bit/s/Hz (TR 36.942 A.2; 256QAM CQI 15), times bandwidth, (1 − overhead)
//!   [0.14 DL / 0.08 UL, TS 38.306], TDD fraction and layers [1 layer]. A cell's rate is shared
//!   equally (round robin) by the UEs it serves, all taken as active — pessimistic for
//!   light telemetry traffic.
//! * **Packets** — delay = core [2 ms] + wait for a slot of the right direction (uplink:
//!   scheduling request in the next U slot, grant [2 slots] later, data in the next U slot
//!   after that) + transmission (bits / rate share, at least one slot; a UE's packets in one
//!   direction are serialised) + one HARQ RTT [2.5 ms] per retransmission. First-try BLER
//!   is the link-adaptation target [10 %] above the most robust MCS [−7 dB] and rises below
//!   it (logistic, [1/dB]); retransmissions are chase-combined (+10·log10(k) dB). Up to
//!   [4 tries] in all; lost after the last failure. Packets are judged with the link state of the
//!   UE's last step: step UEs at least as often as the link changes (10–100 ms).
//!
//! "Typical" figures are typical, not measurements of a particular mine: configure them.
//!
//! # Example
//!
//! ```
//! use network5g::{CellSiteConfig, Delivery, Direction, FlatTerrain, RadioConfig, RadioSim};
//! let config = RadioConfig {
//!     cells: vec![CellSiteConfig::at(0.0, 0.0), CellSiteConfig::at(2000.0, 0.0)],
//!     ..RadioConfig::default()
//! };
//! let mut radio = RadioSim::new(config, FlatTerrain::default(), 42).expect("valid config");
//! let truck = radio.add_ue();
//! let state = radio.step(truck, 0, 300.0, 50.0).expect("known UE");
//! assert!(state.is_connected());
//! match radio.transmit(1_000, truck, Direction::Uplink, 1200) {
//!     Delivery::Delivered { at_us, .. } => assert!(at_us >= 1_000 + 2_000),
//!     Delivery::Lost { reason } => println!("lost: {reason:?}"),
//! }
//! let m = radio.metrics(truck).expect("known UE");
//! assert_eq!(m.serving_cell.map(|c| c.0), Some(0));
//! ```

pub mod quic;
pub mod radio;
pub mod transport;

pub use radio::config::{
    CarrierConfig, CellSiteConfig, ConfigError, InterferenceConfig, LinkConfig, MobilityConfig,
    NlosModel, PropagationConfig, RadioConfig, UeConfig,
};
pub use radio::coverage::{ColourScale, CoverageArea, CoverageImageError, CoverageMap};
pub use radio::link::{
    Delivery, LinkEvent, LinkEventKind, LinkMetrics, LinkState, LossReason, UeId, UeLink,
};
pub use radio::network::{CellId, CellMeasurement, CellNetwork};
pub use radio::pathloss::{knife_edge_loss_db, RmaParams};
pub use radio::phy::Direction;
pub use radio::sim::RadioSim;
pub use radio::terrain::{FlatTerrain, Point3, TerrainProfile};
