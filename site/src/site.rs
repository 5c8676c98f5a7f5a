//! The compiled site: terrain, road network, intersections, loaders, dumps, parking, gNBs.
//! Built from a [`crate::file::SiteFile`] by [`crate::file::build`].

use crate::ids::{DumpId, GnbId, IntersectionId, LaneId, LoaderId};
use crate::road::RoadNetwork;
use crate::terrain::{Heightfield, TerrainSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a loader digs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Material {
    Ore,
    Waste,
}

/// Kind of dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DumpKind {
    /// Primary crusher: takes ore.
    Crusher,
    /// Waste dump: takes waste.
    Waste,
}

impl DumpKind {
    pub fn accepts(self, m: Material) -> bool {
        matches!(
            (self, m),
            (DumpKind::Crusher, Material::Ore) | (DumpKind::Waste, Material::Waste)
        )
    }
}

/// A loading unit (shovel or excavator) at a loading face.
#[derive(Clone, Debug, PartialEq)]
pub struct Loader {
    pub id: LoaderId,
    pub name: String,
    pub material: Material,
    /// Lane and offset where a truck's centre stops to be loaded.
    pub lane: LaneId,
    pub spot_s: f64,
    /// Position of the machine itself.
    pub pos: [f64; 2],
    pub bucket_t: f64,
    pub pass_s: f64,
}

/// A dump: the crusher pocket(s) or the waste dump edge.
#[derive(Clone, Debug, PartialEq)]
pub struct Dump {
    pub id: DumpId,
    pub name: String,
    pub kind: DumpKind,
    pub lane: LaneId,
    /// Offsets on `lane` where trucks stop to tip, in driving order.
    pub spots_s: Vec<f64>,
}

/// Parking slots along a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Parking {
    pub lane: LaneId,
    pub slots_s: Vec<f64>,
}

/// A 5G base station site (radio parameters come with the 5G link model).
#[derive(Clone, Debug, PartialEq)]
pub struct GnbSite {
    pub id: GnbId,
    pub name: String,
    pub pos: [f64; 2],
    pub mast_height_m: f64,
    /// Per-mast radio values (the radio model's defaults where `None`).
    pub tx_power_dbm: Option<f64>,
    pub antenna_gain_dbi: Option<f64>,
    pub downtilt_deg: Option<f64>,
    pub azimuth_deg: Option<f64>,
}

/// A junction: its connector lanes, and which pairs of them may not be held together.
#[derive(Clone, Debug, PartialEq)]
pub struct Intersection {
    pub id: IntersectionId,
    pub name: String,
    pub lanes: Vec<LaneId>,
    /// `conflicts[i][j]`: connectors `lanes[i]` and `lanes[j]` come closer than the clearance.
    pub conflicts: Vec<Vec<bool>>,
}

impl Intersection {
    /// True when two connector lanes of this intersection must not be held at once.
    pub fn conflict(&self, a: LaneId, b: LaneId) -> bool {
        let i = self.lanes.iter().position(|&l| l == a);
        let j = self.lanes.iter().position(|&l| l == b);
        match (i, j) {
            (Some(i), Some(j)) => self.conflicts[i][j],
            _ => false,
        }
    }
}

/// A place a truck can start a run: lane, offset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slot {
    pub lane: LaneId,
    pub s: f64,
}

/// The whole site, ready to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    pub name: String,
    pub terrain_spec: TerrainSpec,
    pub terrain: Heightfield,
    pub roads: RoadNetwork,
    pub intersections: Vec<Intersection>,
    pub loaders: Vec<Loader>,
    pub dumps: Vec<Dump>,
    pub parking: Option<Parking>,
    pub gnbs: Vec<GnbSite>,
    /// The site file's `[radio]` table (see [`crate::file::SiteFile::radio`]).
    pub radio: Option<toml::Table>,
}

/// Minimum plan-view distance between the driving lines of two lanes that may be occupied
/// at the same time: a 9.5 m wide truck on each, 3 m between bodies, 1 m tracking error.
pub const LANE_CLEARANCE_M: f64 = 13.5;

impl Site {
    /// Start slots for trucks: on two-way road lanes (not connectors, not loops), away from
    /// lane ends, `spacing` metres apart, in a fixed order.
    pub fn start_slots(&self, spacing: f64) -> Vec<Slot> {
        let mut out = Vec::new();
        for lane in &self.roads.lanes {
            if lane.intersection.is_some() || lane.is_loop() {
                continue;
            }
            let mut s = 35.0;
            while s <= lane.length() - 35.0 {
                out.push(Slot { lane: lane.id, s });
                s += spacing;
            }
        }
        out
    }

    /// `n` start slots spread evenly over all candidate slots; `None` if the site holds fewer.
    pub fn spread_slots(&self, n: usize) -> Option<Vec<Slot>> {
        let all = self.start_slots(45.0);
        if n > all.len() {
            return None;
        }
        Some((0..n).map(|i| all[i * all.len() / n.max(1)]).collect())
    }

    /// Where each truck of an `n`-truck fleet starts: [`Site::spread_slots`] shuffled by
    /// the run seed's [`crate::seed::Stream::FleetStart`] generator (slot `k` is truck `k`'s).
    /// The simulation and a separate dispatcher process compute the same roster from the same
    /// site, fleet size and seed.
    pub fn fleet_start(&self, n: usize, seed: u64) -> Option<Vec<Slot>> {
        use rand::RngExt;
        let mut slots = self.spread_slots(n)?;
        let mut rng = crate::seed::rng(seed, crate::seed::Stream::FleetStart, 0);
        for i in (1..slots.len()).rev() {
            let j = rng.random_range(0..=i);
            slots.swap(i, j);
        }
        Some(slots)
    }

    pub fn capacity(&self) -> usize {
        self.start_slots(45.0).len()
    }

    /// Total lane length, metres.
    pub fn road_length_m(&self) -> f64 {
        self.roads.lanes.iter().map(|l| l.length()).sum()
    }
}

impl Site {
    /// Finds the lane a vehicle at `pos` heading `heading` is on: the nearest lane whose
    /// direction there is within 60° of the heading (road lanes before connectors).
    pub fn locate(&self, pos: [f64; 2], heading: f64) -> Option<(LaneId, f64)> {
        let mut best: Option<(f64, LaneId, f64)> = None;
        for lane in &self.roads.lanes {
            let (s, d2) = lane.project(pos, 0.0, lane.length());
            if d2 > 20.0 * 20.0 {
                continue;
            }
            let h = lane.point_at(s).heading;
            if crate::road::wrap_angle(h - heading).abs() > 1.05 {
                continue;
            }
            let penalty = if lane.intersection.is_some() {
                100.0
            } else {
                0.0
            };
            let score = d2 + penalty;
            if best.is_none_or(|b| score < b.0) {
                best = Some((score, lane.id, s));
            }
        }
        best.map(|(_, l, s)| (l, s))
    }
}
