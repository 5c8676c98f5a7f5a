//! The simulated mine as a Bevy app: world building, rapier physics, every truck's autonomy
//! and the dispatcher wired together over a transport, the shift loop of the `minesim` CLI.
//!
//! Headless by default (Bevy without render features). One step of simulated time runs the
//! phases of [`phase::Phase::ORDER`]: control → physics → site work → dispatch → measure →
//! sync, both in [`SimWorld::step`] and in the Bevy schedule [`app::SimStep`].
//!
//! # Module map
//!
//! Each module uses only modules above it in this list, so there are no import cycles.
//!
//! - [`config`]: what a run simulates: [`SimConfig`], the transport choice [`NetworkChoice`].
//! - [`error`]: [`SimError`], the library's one error.
//! - [`phase`]: [`phase::Phase`], the phases of a step and their order, defined once.
//! - [`physics`]: the rapier3d world: terrain collider, truck bodies driven by tyre forces.
//! - [`obstacles`]: [`obstacles::ObstacleSet`], obstacles appearing as fixed boxes in the
//!   physics world at their time.
//! - [`traffic`]: manned light vehicles and water carts driving the roads by simple rules,
//!   kinematic bodies in the physics world, reporting through fleet tablets and driving by
//!   the dispatcher's grants.
//! - [`lidar`]: the ray-cast roof lidar over the physics world ([`lidar::cast_scan`]).
//! - [`scene`]: what the sensors see as boxes (trucks, loaders, obstacles) and random
//!   obstacles.
//! - [`net`]: the transport built from the config (in-memory, simulated QUIC, real mode);
//!   the site's coverage map and the radio along its roads.
//! - [`gnss`]: GNSS under the pit walls: the terrain's sky view on a lazy grid, the fix
//!   quality it gives, a truck's receiver (noise, multipath, outages).
//! - [`truck`]: one simulated truck ([`truck::TruckSim`]): autonomy, body, load, sensors,
//!   counters.
//! - [`perceive`]: perception in the loop: sweeps, the detector on each truck's NPU timeline,
//!   tracking, the obstacle the speed planner stops for; fleet figures and the NPU trace.
//! - [`planning`]: the planning model on each truck's NPU (queued behind the detector on
//!   the same device), plans the trucks follow; fleet figures.
//! - [`site_work`]: loaders filling trucks in passes, trucks tipping at dumps.
//! - [`safety`]: the independent safety monitor: closest distance, contacts, permissions.
//! - [`world`]: the loop: [`SimWorld`] (trucks, dispatcher, transport, counters) and its
//!   phases, [`SimWorld::step`].
//! - [`report`]: the JSON report and the KPI table.
//! - [`dataset`]: labelled detector samples from running worlds (`minesim dataset`) and the
//!   detector's evaluation on them.
//! - [`app`]: the Bevy side: the world as a resource, [`app::SimPlugin`] chaining one
//!   [`app::SimSystems`] set per phase, a truck entity per truck.
//! - [`compare`]: `minesim compare`'s table: each dispatch policy's KPIs as mean ± sd over
//!   the seeds, from the runs' reports.
//! - [`run`]: a shift from start to report ([`run::run_shift`]), with the wall clock and the
//!   progress display injected; `src/main.rs` is the thin `minesim` command line over it.
//! - `viewer` (feature `viewer`): the 3D viewer, Bevy plugins over the same app.
//!
//! Random draws come from [`site::seed`] streams of the run seed (GNSS, IMU, odometry:
//! `TruckSensors`, indices `truck | k << 32`; pass times: `Loader` per loader); the event-log hash is
//! [`site::hash`].

pub mod app;
pub mod compare;
pub mod config;
pub mod dataset;
pub mod error;
pub mod gnss;
pub mod lidar;
pub mod net;
pub mod obstacles;
pub mod perceive;
pub mod phase;
pub mod physics;
pub mod planning;
pub mod report;
pub mod run;
pub mod safety;
pub mod scene;
pub mod site_work;
pub mod traffic;
pub mod truck;
#[cfg(feature = "viewer")]
pub mod viewer;
pub mod world;

pub use config::{NetworkChoice, SimConfig};
pub use error::SimError;
pub use world::SimWorld;
