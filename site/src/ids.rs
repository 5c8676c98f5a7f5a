//! Typed ids. Each is a dense index into the owning table (lanes, nodes, trucks, …).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($name:ident, $prefix:literal) => {
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Serialize,
            Deserialize,
            Default,
        )]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The index of this id in its owning table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(TruckId, "T");
id_type!(NodeId, "N");
id_type!(LaneId, "L");
id_type!(LoaderId, "LD");
id_type!(DumpId, "D");
id_type!(IntersectionId, "X");
id_type!(GnbId, "G");
id_type!(RouteId, "R");
