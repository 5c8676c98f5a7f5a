//! Messages the dispatcher sends to a truck.

use crate::ids::{DumpId, LoaderId, RouteId};
use crate::route::Route;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// What a route is for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// Drive to the loader's spot and be loaded.
    Load { loader: LoaderId },
    /// Drive to a spot of the dump and tip.
    Dump { dump: DumpId },
    /// Drive to a parking slot.
    Park,
}

impl std::fmt::Display for Task {
    /// Words for people: `Load at loader 6`, `Dump at dump 2`, `Park`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::Load { loader } => write!(f, "Load at loader {}", loader.0),
            Task::Dump { dump } => write!(f, "Dump at dump {}", dump.0),
            Task::Park => f.write_str("Park"),
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Operator => "operator e-stop",
            StopReason::LinkLost => "link lost",
            StopReason::Area => "area stop",
        })
    }
}

/// The right to move along a route up to a point, until a time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PermissionGrant {
    pub route: RouteId,
    /// The truck's centre may advance to this route distance and no further.
    pub until_m: f64,
    /// After this instant the grant is void: the truck stops within it.
    pub expires: SimTime,
}

/// Why the dispatcher stops a truck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    Operator,
    LinkLost,
    Area,
}

/// Dispatcher → truck.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DispatchMsg {
    Assignment { task: Task, route: Route },
    Permission(PermissionGrant),
    EStop(StopReason),
    ReArm,
    Heartbeat,
}
