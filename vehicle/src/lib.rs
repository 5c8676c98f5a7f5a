//! Onboard truck autonomy, sans-IO: [`Truck::step`] takes the time, the sensed state and the
//! messages that arrived, and returns the actuation and the messages to send.
//!
//! Inside: the mission state machine (to loader → queue → spot → loading → haul → queue at
//! dump → dump → back; parking; stopped; faulted), the speed planner (speed limits,
//! curvature, grade, payload and the end of the current permission), the controller
//! ([`control`]: lateral steering on the route with a target offset, a speed PID with grade
//! and payload feed-forward into throttle and brake) and the safety supervisor
//! ([`supervisor`]: permission end and expiry, link watchdog, e-stop, time-to-collision
//! braking on perception's tracks, stale perception and plan, localisation uncertainty; every
//! transition logged with its reason; a truck stopped by link loss or e-stop moves again only
//! when re-armed).
//!
//! The planning model ([`planner`]) runs on the truck's NPU: a cost volume over the route
//! frame computed by a compiled `npu` model from a raster of tracks, lane edges and the stop
//! boundary, sampled along a lattice of candidate offsets × speed profiles; the truck follows
//! the latest plan that has arrived, and the supervisor stops it when plans go stale.
//!
//! Architecture invariant: **the truck's centre never passes `until_m` of its permission.**
//! The speed planner keeps the truck able to stop before it at the planning deceleration, and
//! brakes up to the full capacity when it must.

pub mod control;
pub mod dynamics;
pub mod localise;
pub mod planner;
pub mod supervisor;
pub mod truck;

pub use dynamics::TruckParams;
pub use localise::{Localiser, LocaliserConfig};
pub use planner::{
    Candidate, Plan, PlanError, PlanInput, PlanPoint, PlanTrack, Planner, PlannerConfig,
    RouteSample, SpeedProfile,
};
pub use supervisor::{Reason, SupervisorEvent, TrackView};
pub use truck::{Actuation, Sensed, Truck, TruckStats};
