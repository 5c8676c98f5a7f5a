//! Shared vocabulary of minesim: ids, units, simulated time, the mine site model (terrain,
//! road network, zones, gNB sites), the site file format with validation, a seeded procedural
//! open-pit generator, route geometry shared by trucks and dispatcher, and the truck↔dispatcher
//! protocol messages.
//!
//! Architecture invariants:
//! - **No wall clock and no global RNG here.** Time is [`SimTime`] (integer microseconds);
//!   randomness comes from generators seeded by the caller.
//! - **Coordinates:** site frame, metres, `x` east, `y` north, `z` up.
//! - **The site file is the user's:** every load error names the file, the line and column, the
//!   field and the reason.

pub mod cli;
pub mod default_site;
pub mod file;
pub mod generate;
pub mod hash;
pub mod ids;
pub mod location;
pub mod protocol;
pub mod road;
pub mod route;
pub mod seed;
pub mod site;
pub mod terrain;
pub mod testing;
pub mod time;
pub mod units;

pub use file::{SiteError, SiteFile};
pub use ids::*;
pub use location::Location;
pub use road::{Lane, Node, RoadNetwork};
pub use route::Route;
pub use site::{Dump, DumpKind, GnbSite, Intersection, Loader, Material, Parking, Site};
pub use terrain::Heightfield;
pub use time::{DelayOrOff, SimDuration, SimTime};
