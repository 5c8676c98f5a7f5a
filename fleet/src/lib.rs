//! The dispatcher, sans-IO: [`Dispatcher::handle`] takes each message from a truck,
//! [`Dispatcher::tick`] runs assignment, traffic permissions and the watchdog, and
//! [`Dispatcher::poll_outbox`] hands back the messages to send. Time is passed in.
//!
//! - **Assignment** by the run's policy ([`assign`]): `nearest` (a truck that asks for work
//!   goes to the loader where it could start loading soonest, travel time against the queue
//!   already sent there), `fixed` (one loader per truck for the shift) or `lp` (a linear
//!   program for the best flow on every path, then the path furthest behind its rate); a
//!   loaded truck goes to its path's dump (`lp`) or the dump of its material it reaches
//!   soonest, counting the trucks already heading there.
//! - **Routing** on the lane graph by travel time (A* from `petgraph`, an admissible
//!   straight-line heuristic; see [`routing`]).
//! - **Permissions** (railway-style block control): each truck holds a *claim*, the road from
//!   behind its body to beyond the end of its permission. Claims never overlap on a lane;
//!   connector lanes of an intersection that come too close are never held by two trucks; a
//!   truck is only let into an intersection when it can leave it completely; a grant never
//!   shrinks. See [`permits`].
//! - **Watchdog**: a truck not heard from for 2 s is marked lost and the road it holds stays
//!   frozen until it is heard again.
//!
//! - **Manned vehicles** report through fleet tablets and hold claims and grants in the same
//!   index; their claims go in first and their grants grow first, so trucks yield to them
//!   ([`manned`]).
//!
//! Architecture invariant: **no two trucks ever hold overlapping road.** (`tests/` has a
//! property test that drives random fleets and checks it after every tick.)
//!
//! ## Module map
//!
//! - [`assign`]: the assignment policies, the flow program (`good_lp` with `microlp`), the
//!   real-time allocator and the learned travel times.
//! - [`dispatcher`]: [`Dispatcher`], its configuration, truck views and event log; `tick` runs
//!   its phases in one fixed order (watchdog, re-arm policy, assignment, permissions,
//!   heartbeats).
//! - [`manned`]: manned vehicles (light vehicles, water carts) in the same reservation
//!   system, from their fleet tablets' reports; trucks yield to them.
//! - [`permits`]: claims, the claim index and [`permits::extend`], one truck's grant against
//!   everyone else's claims.
//! - [`routing`]: [`routing::Router`], A* on the lane graph by travel time.
//! - `server` (feature `server`, on by default): the real-mode server, the same
//!   [`Dispatcher`] driven by tokio and `quinn` through `network5g`'s real-mode transport; the
//!   `dispatcher` binary (`src/bin/dispatcher.rs`) is its command line. Without the feature
//!   the crate depends on `site`, `petgraph`, `good_lp`, `serde` and `thiserror` only, and does no IO.

pub mod assign;
pub mod dispatcher;
pub mod manned;
pub mod permits;
pub mod routing;
#[cfg(feature = "server")]
pub mod server;
#[cfg(test)]
mod testing;

pub use dispatcher::{Dispatcher, DispatcherConfig, FleetEvent, FleetEventKind, TruckView};
pub use permits::Claim;
