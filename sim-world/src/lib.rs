//! The simulated mine as a Bevy app: world building, rapier physics, every truck's autonomy
//! and the dispatcher wired together over a transport, and the `minesim` CLI.
//!
//! Headless by default (Bevy without render features). One step of simulated time runs the
//! systems of [`app::SimStep`] in a fixed order: control → physics → site work → dispatch →
//! measure → sync.

pub mod app;
pub mod config;
pub mod error;
pub mod net;
pub mod phase;
pub mod physics;
pub mod report;
pub mod run;
pub mod safety;
pub mod site_work;
#[cfg(feature = "viewer")]
pub mod viewer;
pub mod world;

pub use config::{NetworkChoice, SimConfig};
pub use error::SimError;
pub use world::SimWorld;
