//! Onboard truck autonomy, sans-IO: [`Truck::step`] takes the time, the sensed state and the
//! messages that arrived, and returns the actuation and the messages to send.
//!
//! Inside: the mission state machine (to loader → queue → spot → loading → haul → queue at
//! dump → dump → back; parking; stopped; faulted), route following (pure pursuit), speed
//! control that respects speed limits, curvature, grade, payload and the end of the current
//! permission, and the safety supervisor (permission end, permission expiry, link watchdog,
//! e-stop; a stopped truck moves again only when re-armed).
//!
//! Seams for later issues: obstacles from `perception` (a speed constraint at the obstacle's
//! distance), and the planner model on the `npu` (scoring candidate trajectories instead of
//! pure pursuit).
//!
//! Architecture invariant: **the truck's centre never passes `until_m` of its permission.**
//! The speed planner keeps the truck able to stop before it at the planning deceleration, and
//! brakes up to the full capacity when it must.

pub mod dynamics;
pub mod localise;
pub mod truck;

pub use dynamics::TruckParams;
pub use localise::{Localiser, LocaliserConfig};
pub use truck::{Actuation, Sensed, Truck, TruckStats};
