//! Truck perception: sensor models (lidar, the fleet-scale sensor model), BEV rasterisation,
//! the detector model running on the `npu` runtime, and tracking.
//!
//! Sans-IO: functions take `(now, points or scene)` and return detections or tracks; no wall
//! clock, no global random generator (callers pass seeded generators).
//!
//! # Frames
//!
//! The **truck frame** is the sensor's: `x` forward, `y` left, metres, origin at the ground point
//! under the truck's centre. Heights of lidar returns are **above the mapped terrain** at the
//! return's own position (a mine keeps a surveyed surface; a truck subtracts it), so the ground
//! reads ≈ 0 m on ramps and pit walls alike and an obstacle reads its own height.
//!
//! # Module map
//!
//! - [`types`]: what crosses the crate's boundary: points, scans, obstacle classes, ground
//!   truth, detections.
//! - [`lidar`]: the roof lidar's configuration and error model (noise, dropout, dust).
//! - [`fleet_sensor`]: the fleet-scale sensor model: the lidar cast analytically against the
//!   boxes near the truck over the mapped ground, with the same error model.
//! - [`fleet_bev`]: the same fleet-scale model straight into the BEV grid, without points
//!   (what the trucks run): a precomputed ground pattern, exact rays only where a box can be.
//! - [`bev`]: the bird's-eye-view grid the detector sees ([`bev::BevSpec`], [`bev::rasterise`]).
//! - [`track`]: the multi-object tracker in the site frame ([`track::Tracker`]).
//! - [`eval`]: detection evaluation against ground truth (matching, recall and precision by
//!   range and dust).

pub mod bev;
pub mod detector;
pub mod eval;
pub mod fleet_bev;
pub mod fleet_sensor;
pub mod lidar;
pub mod track;
pub mod types;

pub use bev::BevSpec;
pub use lidar::LidarConfig;
pub use types::{Detection, GroundTruth, LidarPoint, ObstacleClass, ObstacleSpec, Scan};
