//! Messages a truck sends to the dispatcher.

use crate::ids::{DumpId, LoaderId, RouteId};
use serde::{Deserialize, Serialize};

/// The truck's mission state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MissionState {
    /// Waiting for an assignment.
    Idle,
    /// Driving empty to a loader.
    ToLoader,
    /// Waiting in the queue near the loader.
    QueueLoader,
    /// Manoeuvring onto the loading spot.
    Spotting,
    /// Being loaded.
    Loading,
    /// Driving loaded to a dump.
    Hauling,
    /// Waiting in the queue near the dump.
    QueueDump,
    /// Tipping the load.
    Dumping,
    /// Driving to a parking slot.
    ToParking,
    Parked,
    /// Stopped by e-stop, link loss or an expired permission; moves again only when re-armed.
    Stopped,
    /// A fault the truck cannot clear itself.
    Faulted,
}

impl std::fmt::Display for MissionState {
    /// Words for people: `hauling`, `queueing at the loader`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MissionState::Idle => "idle",
            MissionState::ToLoader => "driving to the loader",
            MissionState::QueueLoader => "queueing at the loader",
            MissionState::Spotting => "spotting at the loader",
            MissionState::Loading => "loading",
            MissionState::Hauling => "hauling",
            MissionState::QueueDump => "queueing at the dump",
            MissionState::Dumping => "dumping",
            MissionState::ToParking => "driving to parking",
            MissionState::Parked => "parked",
            MissionState::Stopped => "stopped",
            MissionState::Faulted => "faulted",
        })
    }
}

impl MissionState {
    pub const ALL: [MissionState; 12] = [
        MissionState::Idle,
        MissionState::ToLoader,
        MissionState::QueueLoader,
        MissionState::Spotting,
        MissionState::Loading,
        MissionState::Hauling,
        MissionState::QueueDump,
        MissionState::Dumping,
        MissionState::ToParking,
        MissionState::Parked,
        MissionState::Stopped,
        MissionState::Faulted,
    ];
    pub fn name(self) -> &'static str {
        match self {
            MissionState::Idle => "idle",
            MissionState::ToLoader => "to_loader",
            MissionState::QueueLoader => "queue_loader",
            MissionState::Spotting => "spotting",
            MissionState::Loading => "loading",
            MissionState::Hauling => "hauling",
            MissionState::QueueDump => "queue_dump",
            MissionState::Dumping => "dumping",
            MissionState::ToParking => "to_parking",
            MissionState::Parked => "parked",
            MissionState::Stopped => "stopped",
            MissionState::Faulted => "faulted",
        }
    }
}

/// Static facts a truck announces when it joins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruckInfo {
    pub length_m: f64,
    pub width_m: f64,
    pub capacity_t: f64,
}

/// Periodic state report (latest value wins).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    pub pos: [f64; 3],
    pub heading: f64,
    pub speed: f64,
    /// The route the truck is following, if any.
    pub route: Option<RouteId>,
    /// Distance of the truck's centre along that route.
    pub progress_m: f64,
    pub payload_t: f64,
    pub state: MissionState,
}

/// Truck → dispatcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TruckMsg {
    Hello(TruckInfo),
    Telemetry(Telemetry),
    StateChanged {
        from: MissionState,
        to: MissionState,
    },
    LoadDone {
        loader: LoaderId,
        tonnes: f64,
    },
    DumpDone {
        dump: DumpId,
        tonnes: f64,
    },
    WorkRequest,
    Heartbeat,
}
