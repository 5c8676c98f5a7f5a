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

/// An obstacle placed in the world (site frame), from a run's flags or a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObstacleSpec {
    pub class: ObstacleClass,
    /// Centre of the footprint, site frame (east, north), m.
    pub x: f64,
    pub y: f64,
    /// Heading of its length axis, rad from east, counter-clockwise.
    #[serde(default)]
    pub yaw: f64,
    /// Extent along its heading, across it, and up, m.
    pub length: f64,
    pub width: f64,
    pub height: f64,
    /// Simulated time it appears, µs (0: from the start).
    #[serde(default)]
    pub appear_at_us: u64,
    /// Simulated time it is taken away (cleared from the road), µs; never if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_at_us: Option<u64>,
}

impl ObstacleSpec {
    /// Checks the fields; the error names the field and the reason.
    pub fn validate(&self) -> Result<(), String> {
        for (v, name) in [(self.x, "x"), (self.y, "y"), (self.yaw, "yaw")] {
            if !v.is_finite() {
                return Err(format!("{name}: must be a finite number, got {v}"));
            }
        }
        for (v, name) in [
            (self.length, "length"),
            (self.width, "width"),
            (self.height, "height"),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 30.0) {
                return Err(format!("{name}: must be in (0, 30] m, got {v}"));
            }
        }
        if let Some(r) = self.remove_at_us {
            if r <= self.appear_at_us {
                return Err(format!(
                    "remove_at_us: must be after appear_at_us ({} µs), got {r} µs",
                    self.appear_at_us
                ));
            }
        }
        Ok(())
    }

    /// A typical object of the class at `(x, y)`: a 1.5 m rock, a 5.5 × 2 × 1.9 m light
    /// vehicle, a 0.6 × 0.6 × 1.8 m person, a stalled 15 × 9 × 6 m haul truck.
    pub fn typical(class: ObstacleClass, x: f64, y: f64, yaw: f64) -> ObstacleSpec {
        let (length, width, height) = match class {
            ObstacleClass::Rock => (1.5, 1.5, 1.2),
            ObstacleClass::LightVehicle => (5.5, 2.0, 1.9),
            ObstacleClass::Person => (0.6, 0.6, 1.8),
            ObstacleClass::Machine => (15.0, 9.0, 6.0),
        };
        ObstacleSpec {
            class,
            x,
            y,
            yaw,
            length,
            width,
            height,
            appear_at_us: 0,
            remove_at_us: None,
        }
    }
}
