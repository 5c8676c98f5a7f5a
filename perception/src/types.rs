//! What crosses the crate's boundary.

use serde::{Deserialize, Serialize};

/// One lidar return in the truck frame (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LidarPoint {
    /// Forward, m.
    pub x: f32,
    /// Left, m.
    pub y: f32,
    /// Height above the mapped terrain at `(x, y)`, m.
    pub h: f32,
}

/// One sweep of a sensor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scan {
    /// Simulated time of the sweep, µs.
    pub t_us: u64,
    /// Returns.
    pub points: Vec<LidarPoint>,
    /// Rays cast (returns + rays with no return), for dropout and cost figures.
    pub rays: u32,
}

/// What an obstacle is. The detector's heatmap has one channel per class, in
/// [`ObstacleClass::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObstacleClass {
    /// A fallen rock, 0.5–3 m.
    Rock,
    /// A manned light vehicle (pickup), ~5.5 × 2 × 1.9 m.
    LightVehicle,
    /// A person, ~0.6 × 0.6 × 1.8 m.
    Person,
    /// A haul truck (moving or stalled) or a loader.
    Machine,
}

impl ObstacleClass {
    /// Every class, in heatmap-channel order.
    pub const ALL: [ObstacleClass; 4] = [
        ObstacleClass::Rock,
        ObstacleClass::LightVehicle,
        ObstacleClass::Person,
        ObstacleClass::Machine,
    ];

    /// Heatmap channel of the class.
    pub const fn index(self) -> usize {
        match self {
            ObstacleClass::Rock => 0,
            ObstacleClass::LightVehicle => 1,
            ObstacleClass::Person => 2,
            ObstacleClass::Machine => 3,
        }
    }

    /// The name used in files (`rock`, `light_vehicle`, `person`, `machine`).
    pub const fn name(self) -> &'static str {
        match self {
            ObstacleClass::Rock => "rock",
            ObstacleClass::LightVehicle => "light_vehicle",
            ObstacleClass::Person => "person",
            ObstacleClass::Machine => "machine",
        }
    }
}

/// A labelled object in the truck frame (dataset labels, evaluation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub class: ObstacleClass,
    /// Centre, truck frame, m.
    pub x: f32,
    pub y: f32,
    /// Extent along its own heading, across it, and up, m.
    pub length: f32,
    pub width: f32,
    pub height: f32,
    /// Heading relative to the truck's, rad.
    pub yaw: f32,
    /// Sensor returns that fell on the object in this sweep (0: fully occluded or out of
    /// sight; evaluation counts an object as visible from 2 returns).
    pub points: u32,
}

/// A detector output in the truck frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class: ObstacleClass,
    /// Centre, truck frame, m.
    pub x: f32,
    pub y: f32,
    /// Footprint, m (axis-aligned in the truck frame).
    pub length: f32,
    pub width: f32,
    /// Heatmap peak, 0–1.
    pub confidence: f32,
}
