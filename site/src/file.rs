//! The human-editable site file (TOML) and its compilation into a [`Site`].
//!
//! References between tables are indices (`lanes[3].from = 7` is `nodes[7]`). Every error
//! names the file, the line and column, the field (as a path like `lanes[3].points`) and the
//! reason.

use crate::ids::{DumpId, GnbId, IntersectionId, LaneId, LoaderId, NodeId};
pub use crate::location::{locate, path_at, Location};
use crate::road::{Lane, LaneDef, Node, RoadNetwork};
use crate::site::{
    Dump, DumpKind, GnbSite, Intersection, Loader, Material, Parking, Site, LANE_CLEARANCE_M,
};
use crate::terrain::{Heightfield, TerrainSpec};
use crate::units::kmh;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// A site file as written on disk.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub terrain: TerrainSpec,
    pub nodes: Vec<NodeEntry>,
    #[serde(default)]
    pub intersections: Vec<IntersectionEntry>,
    pub lanes: Vec<LaneEntry>,
    pub loaders: Vec<LoaderEntry>,
    pub dumps: Vec<DumpEntry>,
    #[serde(default)]
    pub parking: Option<ParkingEntry>,
    #[serde(default)]
    pub gnbs: Vec<GnbEntry>,
    /// Radio model settings (carrier band and bandwidth, UE, propagation, interference,
    /// mobility, link layer): a `network5g::RadioConfig` without its `cells`, which come from
    /// `gnbs`. Checked against the radio model by `network5g::radio::site::load_site`, the
    /// validation every command runs, and by the radio model when a run builds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "radio_schema")]
    pub radio: Option<toml::Table>,
}

/// `[radio]` in the schema: a table, checked against the radio model by
/// `network5g::radio::site::load_site` (the site crate does not know the model's fields).
fn radio_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object" })
}

/// The JSON Schema of the site file ([`SiteFile`]), draft 2020-12.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(SiteFile)
}

/// [`json_schema`] as pretty-printed JSON with a final newline, as committed in
/// `assets/schemas/site.schema.json` (regenerate it with
/// `cargo run -p site --example site_schema > assets/schemas/site.schema.json`).
pub fn json_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub name: String,
    pub pos: [f64; 2],
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IntersectionEntry {
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LaneEntry {
    pub from: u32,
    pub to: u32,
    pub width_m: f64,
    pub speed_limit_kmh: f64,
    /// Index into `intersections` when this lane is a connector inside a junction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intersection: Option<u32>,
    /// Design driving line `[x, y, z]`; the road is cut and filled to these heights.
    pub points: Vec<[f64; 3]>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoaderEntry {
    pub name: String,
    pub material: Material,
    pub lane: u32,
    pub spot_s: f64,
    pub pos: [f64; 2],
    pub bucket_t: f64,
    pub pass_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpEntry {
    pub name: String,
    pub kind: DumpKind,
    pub lane: u32,
    pub spots_s: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParkingEntry {
    pub lane: u32,
    pub slots_s: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GnbEntry {
    pub name: String,
    pub pos: [f64; 2],
    pub mast_height_m: f64,
    /// Transmit power, dBm (default: the radio model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_power_dbm: Option<f64>,
    /// Antenna gain, dBi (default: the radio model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub antenna_gain_dbi: Option<f64>,
    /// Electrical downtilt, degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtilt_deg: Option<f64>,
    /// Boresight azimuth of a sector antenna, degrees clockwise from north (omni if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azimuth_deg: Option<f64>,
}

/// A site file that cannot be used: the file, where in it (when known), the field (a path
/// like `lanes[3].points`) and the reason.
///
/// Displays as `FILE:LINE:COLUMN: FIELD: REASON`, or `FILE: FIELD: REASON` when the place is
/// not known (an unreadable file, a site built from a [`SiteFile`] without its text).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}{}: {field}: {reason}", at_suffix(location))]
pub struct SiteError {
    pub file: String,
    /// Line and column in the file (1-based): of the value of the field, or the `[header]`
    /// of a table or of an element of an array of tables.
    pub location: Option<Location>,
    pub field: String,
    pub reason: String,
}

fn at_suffix(location: &Option<Location>) -> String {
    location.map(|l| format!(":{l}")).unwrap_or_default()
}

impl SiteError {
    /// An error in `file` at `field`, without a location (see [`SiteError::located`]).
    pub fn new(file: &str, field: impl Into<String>, reason: impl Into<String>) -> SiteError {
        SiteError {
            file: file.to_string(),
            location: None,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The line of the location, if known.
    pub fn line(&self) -> Option<u32> {
        self.location.map(|l| l.line)
    }

    /// The column of the location, if known.
    pub fn column(&self) -> Option<u32> {
        self.location.map(|l| l.column)
    }

    /// This error with its location filled in from the file's `text` ([`locate`] of its
    /// field), unless it already has one.
    pub fn located(mut self, text: &str) -> SiteError {
        if self.location.is_none() {
            self.location = locate(text, &self.field);
        }
        self
    }
}

fn err(file: &str, field: impl Into<String>, reason: impl Into<String>) -> SiteError {
    SiteError::new(file, field, reason)
}

/// Reads and compiles a site file. Every error, syntax, type or semantic, carries the
/// line and column it is about (see [`load_str`]).
///
/// This does not check the `[radio]` table against the radio model; the one validation
/// that does is `network5g::radio::site::load_site`.
pub fn load(path: &Path) -> Result<Site, SiteError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| err(&name, "(file)", e.to_string()))?;
    load_str(&name, &text)
}

/// Parses and compiles the text of site file `file`: [`parse`], then [`build`] with its
/// errors located in `text` ([`SiteError::located`]).
pub fn load_str(file: &str, text: &str) -> Result<Site, SiteError> {
    let f = parse(file, text)?;
    build(file, &f).map_err(|e| e.located(text))
}

/// Parses TOML text into a [`SiteFile`]; syntax and type errors carry the field written
/// there and its line and column.
pub fn parse(file: &str, text: &str) -> Result<SiteFile, SiteError> {
    toml::from_str::<SiteFile>(text).map_err(|e| toml_error(file, text, &e))
}

/// A located [`SiteError`] for a `toml` error (syntax or deserialisation) in `text`: at the
/// error's span, with the field written there ([`path_at`]), else `(document)`.
pub fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> SiteError {
    let span = e.span();
    SiteError {
        file: file.to_string(),
        location: span.as_ref().map(|sp| Location::of_offset(text, sp.start)),
        // 0..0 is the span toml gives the document itself (a missing top-level field)
        field: span
            .filter(|sp| *sp != (0..0))
            .and_then(|sp| path_at(text, sp))
            .unwrap_or_else(|| "(document)".to_string()),
        reason: e.message().trim().to_string(),
    }
}

/// Serialises a site file to TOML.
pub fn to_toml(file: &SiteFile) -> Result<String, String> {
    toml::to_string(file).map_err(|e| e.to_string())
}

fn finite_pos(file: &str, field: String, v: f64) -> Result<(), SiteError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(err(
            file,
            field,
            format!("must be a positive number, got {v}"),
        ))
    }
}

/// Compiles and validates a site file.
pub fn build(file: &str, f: &SiteFile) -> Result<Site, SiteError> {
    let t = &f.terrain;
    finite_pos(file, "terrain.cell_m".into(), t.cell_m)?;
    for (i, v) in t.size_m.iter().enumerate() {
        finite_pos(file, format!("terrain.size_m[{i}]"), *v)?;
    }
    let cells = (t.size_m[0] / t.cell_m) * (t.size_m[1] / t.cell_m);
    if cells > 4.2e6 || t.size_m[0] / t.cell_m < 2.0 || t.size_m[1] / t.cell_m < 2.0 {
        return Err(err(
            file,
            "terrain.cell_m",
            "grid must have between 2×2 and about 2048×2048 cells",
        ));
    }
    if !t.rim_z.is_finite() {
        return Err(err(file, "terrain.rim_z", "must be a number"));
    }
    let p = &t.pit;
    finite_pos(file, "terrain.pit.depth_m".into(), p.depth_m)?;
    finite_pos(file, "terrain.pit.bench_height_m".into(), p.bench_height_m)?;
    finite_pos(file, "terrain.pit.floor_radius_m".into(), p.floor_radius_m)?;
    if p.top_radius_m.is_nan() || p.top_radius_m <= p.floor_radius_m {
        return Err(err(
            file,
            "terrain.pit.top_radius_m",
            "must be larger than floor_radius_m",
        ));
    }
    if !(5.0..90.0).contains(&p.face_angle_deg) || p.face_angle_deg == 5.0 {
        return Err(err(
            file,
            "terrain.pit.face_angle_deg",
            "must lie between 5 and 90 degrees",
        ));
    }
    for (i, o) in p.outline.iter().enumerate() {
        if o.iter().any(|v| !v.is_finite()) || o[0].abs() > 0.3 {
            return Err(err(
                file,
                format!("terrain.pit.outline[{i}]"),
                "amplitude must be within ±0.3",
            ));
        }
    }
    if f.nodes.is_empty() {
        return Err(err(file, "nodes", "a site needs at least one node"));
    }
    if f.lanes.is_empty() {
        return Err(err(file, "lanes", "a site needs at least one lane"));
    }
    let half_x = t.size_m[0] / 2.0;
    let half_y = t.size_m[1] / 2.0;
    let inside = |q: [f64; 2]| q[0].abs() <= half_x && q[1].abs() <= half_y;
    for (i, n) in f.nodes.iter().enumerate() {
        if !n.pos.iter().all(|v| v.is_finite()) || !inside(n.pos) {
            return Err(err(
                file,
                format!("nodes[{i}].pos"),
                "must lie inside the terrain",
            ));
        }
    }
    for (i, l) in f.lanes.iter().enumerate() {
        let at = |k: &str| format!("lanes[{i}].{k}");
        for (k, v) in [("from", l.from), ("to", l.to)] {
            if v as usize >= f.nodes.len() {
                return Err(err(
                    file,
                    at(k),
                    format!("node {v} does not exist ({} nodes)", f.nodes.len()),
                ));
            }
        }
        finite_pos(file, at("width_m"), l.width_m)?;
        finite_pos(file, at("speed_limit_kmh"), l.speed_limit_kmh)?;
        if l.speed_limit_kmh > 80.0 {
            return Err(err(
                file,
                at("speed_limit_kmh"),
                "haul trucks do not exceed 80 km/h",
            ));
        }
        if let Some(x) = l.intersection {
            if x as usize >= f.intersections.len() {
                return Err(err(
                    file,
                    at("intersection"),
                    format!("intersection {x} does not exist"),
                ));
            }
        }
        if l.points.len() < 2 {
            return Err(err(file, at("points"), "a lane needs at least two points"));
        }
        for (k, q) in l.points.iter().enumerate() {
            if !q.iter().all(|v| v.is_finite()) || !inside([q[0], q[1]]) {
                return Err(err(
                    file,
                    format!("lanes[{i}].points[{k}]"),
                    "must lie inside the terrain",
                ));
            }
        }
        for w in l.points.windows(2) {
            if ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt() < 1e-3 {
                return Err(err(file, at("points"), "two consecutive points coincide"));
            }
        }
        let ends = [
            (l.from, l.points[0], "first"),
            (l.to, l.points[l.points.len() - 1], "last"),
        ];
        for (node, q, which) in ends {
            let np = f.nodes[node as usize].pos;
            let d = ((q[0] - np[0]).powi(2) + (q[1] - np[1]).powi(2)).sqrt();
            if d > 0.5 {
                return Err(err(
                    file,
                    at("points"),
                    format!("{which} point is {d:.1} m from node {node}; lanes must start and end at their nodes"),
                ));
            }
        }
    }

    // Terrain: natural pit, then every lane carved in at its design heights.
    let mut terrain = Heightfield::natural(t);
    for (i, pad) in t.pads.iter().enumerate() {
        if pad.points.len() < 2 || pad.points.iter().any(|q| !q.iter().all(|v| v.is_finite())) {
            return Err(err(
                file,
                format!("terrain.pads[{i}].points"),
                "needs at least two finite points",
            ));
        }
        finite_pos(
            file,
            format!("terrain.pads[{i}].half_width_m"),
            pad.half_width_m,
        )?;
    }
    let mut carve: Vec<(Vec<[f64; 3]>, f64)> = t
        .pads
        .iter()
        .map(|p| (p.points.clone(), p.half_width_m - t.carve.shoulder_m))
        .collect();
    carve.extend(f.lanes.iter().map(|l| (l.points.clone(), l.width_m / 2.0)));
    terrain.carve(&carve, &t.carve);

    let nodes: Vec<Node> = f
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Node {
            id: NodeId(i as u32),
            name: n.name.clone(),
            pos: n.pos,
        })
        .collect();
    let lanes: Vec<Lane> = f
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let xy: Vec<[f64; 2]> = l.points.iter().map(|q| [q[0], q[1]]).collect();
            let def = LaneDef {
                id: LaneId(i as u32),
                from: NodeId(l.from),
                to: NodeId(l.to),
                width_m: l.width_m,
                speed_limit_ms: kmh(l.speed_limit_kmh),
                intersection: l.intersection.map(IntersectionId),
            };
            Lane::new(def, &xy, &terrain)
        })
        .collect();
    for l in &lanes {
        for (k, w) in l.points.windows(2).enumerate() {
            let run = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
            let grade = (w[1][2] - w[0][2]) / run.max(1e-9);
            if run > 2.0 && grade.abs() > 0.15 {
                return Err(err(
                    file,
                    format!("lanes[{}].points[{}]", l.id.0, k + 1),
                    format!(
                        "grade {:.1}% exceeds the 15% a haul truck can drive",
                        grade * 100.0
                    ),
                ));
            }
        }
    }
    let roads = RoadNetwork::new(nodes, lanes);
    if let Err(l) = roads.check_strongly_connected() {
        return Err(err(
            file,
            format!("lanes[{}]", l.0),
            "lane graph is not strongly connected: this lane cannot be reached from, or cannot lead back to, the rest of the network",
        ));
    }

    let mut intersections: Vec<Intersection> = f
        .intersections
        .iter()
        .enumerate()
        .map(|(i, x)| Intersection {
            id: IntersectionId(i as u32),
            name: x.name.clone(),
            lanes: Vec::new(),
            conflicts: Vec::new(),
        })
        .collect();
    for l in &roads.lanes {
        if let Some(x) = l.intersection {
            intersections[x.index()].lanes.push(l.id);
        }
    }
    for x in &mut intersections {
        let n = x.lanes.len();
        x.conflicts = vec![vec![false; n]; n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let a = roads.lane(x.lanes[i]);
                    let b = roads.lane(x.lanes[j]);
                    x.conflicts[i][j] = min_distance(a, b) < LANE_CLEARANCE_M;
                }
            }
        }
    }

    let lane_ref = |field: String, l: u32| -> Result<LaneId, SiteError> {
        if (l as usize) < roads.lanes.len() {
            Ok(LaneId(l))
        } else {
            Err(err(file, field, format!("lane {l} does not exist")))
        }
    };
    let spot_ok = |field: String, lane: LaneId, s: f64| -> Result<(), SiteError> {
        let ln = roads.lane(lane);
        if ln.intersection.is_some() {
            return Err(err(
                file,
                field,
                "a stopping point may not lie on an intersection connector",
            ));
        }
        if !(s.is_finite() && s >= 25.0 && s <= ln.length() - 25.0) {
            return Err(err(
                file,
                field,
                format!(
                    "{s} lies outside the lane's usable length (25 .. {:.1} m)",
                    ln.length() - 25.0
                ),
            ));
        }
        Ok(())
    };
    let mut loaders = Vec::new();
    for (i, l) in f.loaders.iter().enumerate() {
        let at = |k: &str| format!("loaders[{i}].{k}");
        let lane = lane_ref(at("lane"), l.lane)?;
        spot_ok(at("spot_s"), lane, l.spot_s)?;
        finite_pos(file, at("bucket_t"), l.bucket_t)?;
        finite_pos(file, at("pass_s"), l.pass_s)?;
        let clear = roads
            .lanes
            .iter()
            .map(|ln| ln.project(l.pos, 0.0, ln.length()).1.sqrt())
            .fold(f64::INFINITY, f64::min);
        if clear < 12.0 {
            return Err(err(
                file,
                at("pos"),
                format!("machine stands {clear:.1} m from a lane; keep at least 12 m"),
            ));
        }
        loaders.push(Loader {
            id: LoaderId(i as u32),
            name: l.name.clone(),
            material: l.material,
            lane,
            spot_s: l.spot_s,
            pos: l.pos,
            bucket_t: l.bucket_t,
            pass_s: l.pass_s,
        });
    }
    if loaders.is_empty() {
        return Err(err(file, "loaders", "a site needs at least one loader"));
    }
    let mut dumps = Vec::new();
    for (i, d) in f.dumps.iter().enumerate() {
        let at = |k: &str| format!("dumps[{i}].{k}");
        let lane = lane_ref(at("lane"), d.lane)?;
        if d.spots_s.is_empty() {
            return Err(err(file, at("spots_s"), "a dump needs at least one spot"));
        }
        for (k, &s) in d.spots_s.iter().enumerate() {
            spot_ok(format!("dumps[{i}].spots_s[{k}]"), lane, s)?;
        }
        if d.spots_s.windows(2).any(|w| w[1] - w[0] < 25.0) {
            return Err(err(
                file,
                at("spots_s"),
                "spots must increase and lie at least 25 m apart",
            ));
        }
        dumps.push(Dump {
            id: DumpId(i as u32),
            name: d.name.clone(),
            kind: d.kind,
            lane,
            spots_s: d.spots_s.clone(),
        });
    }
    for m in [Material::Ore, Material::Waste] {
        if loaders.iter().any(|l| l.material == m) && !dumps.iter().any(|d| d.kind.accepts(m)) {
            return Err(err(
                file,
                "dumps",
                format!("no dump accepts {m:?} from the loaders"),
            ));
        }
    }
    let parking = match &f.parking {
        None => None,
        Some(p) => {
            let lane = lane_ref("parking.lane".into(), p.lane)?;
            for (k, &s) in p.slots_s.iter().enumerate() {
                spot_ok(format!("parking.slots_s[{k}]"), lane, s)?;
            }
            Some(Parking {
                lane,
                slots_s: p.slots_s.clone(),
            })
        }
    };
    let mut gnbs = Vec::new();
    for (i, g) in f.gnbs.iter().enumerate() {
        if !inside(g.pos) {
            return Err(err(
                file,
                format!("gnbs[{i}].pos"),
                "must lie inside the terrain",
            ));
        }
        finite_pos(file, format!("gnbs[{i}].mast_height_m"), g.mast_height_m)?;
        for (field, v) in [
            ("tx_power_dbm", g.tx_power_dbm),
            ("antenna_gain_dbi", g.antenna_gain_dbi),
            ("downtilt_deg", g.downtilt_deg),
            ("azimuth_deg", g.azimuth_deg),
        ] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(err(
                    file,
                    format!("gnbs[{i}].{field}"),
                    "must be a finite number",
                ));
            }
        }
        gnbs.push(GnbSite {
            id: GnbId(i as u32),
            name: g.name.clone(),
            pos: g.pos,
            mast_height_m: g.mast_height_m,
            tx_power_dbm: g.tx_power_dbm,
            antenna_gain_dbi: g.antenna_gain_dbi,
            downtilt_deg: g.downtilt_deg,
            azimuth_deg: g.azimuth_deg,
        });
    }
    if f.radio.as_ref().is_some_and(|r| r.contains_key("cells")) {
        return Err(err(
            file,
            "radio.cells".to_string(),
            "cells come from [[gnbs]]; set per-mast values there",
        ));
    }

    check_clearance(file, &roads)?;

    Ok(Site {
        name: f.name.clone(),
        terrain_spec: t.clone(),
        terrain,
        roads,
        intersections,
        loaders,
        dumps,
        parking,
        gnbs,
        radio: f.radio.clone(),
    })
}

fn samples(l: &Lane, step: f64) -> Vec<[f64; 2]> {
    let n = (l.length() / step).ceil().max(1.0) as usize;
    (0..=n)
        .map(|i| {
            let p = l.point_at(l.length() * i as f64 / n as f64).pos;
            [p[0], p[1]]
        })
        .collect()
}

/// Smallest plan-view distance between two lanes' driving lines (sampled every 2 m).
pub fn min_distance(a: &Lane, b: &Lane) -> f64 {
    let sa = samples(a, 2.0);
    let mut best = f64::INFINITY;
    for q in sa {
        best = best.min(b.project(q, 0.0, b.length()).1.sqrt());
    }
    best
}

/// Lanes that may be held by different trucks at once must keep [`LANE_CLEARANCE_M`] apart.
/// Exempt: connectors of one intersection (their conflicts are tabled), and the parts of two
/// lanes within 30 m of a node they share.
fn check_clearance(file: &str, roads: &RoadNetwork) -> Result<(), SiteError> {
    const CELL: f64 = 20.0;
    const NEAR_NODE: f64 = 30.0;
    type Grid = HashMap<(i64, i64), Vec<(usize, [f64; 2])>>;
    let mut grid: Grid = HashMap::new();
    for l in &roads.lanes {
        for q in samples(l, 4.0) {
            let key = ((q[0] / CELL).floor() as i64, (q[1] / CELL).floor() as i64);
            grid.entry(key).or_default().push((l.id.index(), q));
        }
    }
    let node_pos = |n: NodeId| roads.nodes[n.index()].pos;
    let dist = |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let mut keys: Vec<_> = grid.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let Some(here) = grid.get(&key) else { continue };
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(there) = grid.get(&(key.0 + dx, key.1 + dy)) else {
                    continue;
                };
                for &(i, p) in here {
                    for &(j, q) in there {
                        if i >= j || dist(p, q) >= LANE_CLEARANCE_M {
                            continue;
                        }
                        let (a, b) = (&roads.lanes[i], &roads.lanes[j]);
                        if a.intersection.is_some() && a.intersection == b.intersection {
                            continue;
                        }
                        let shared = [a.from, a.to]
                            .into_iter()
                            .filter(|n| *n == b.from || *n == b.to)
                            .any(|n| {
                                dist(p, node_pos(n)) < NEAR_NODE && dist(q, node_pos(n)) < NEAR_NODE
                            });
                        if shared {
                            continue;
                        }
                        return Err(err(
                            file,
                            format!("lanes[{i}]"),
                            format!(
                                "comes within {:.1} m of lanes[{j}] near ({:.0}, {:.0}); lanes outside intersections must keep {LANE_CLEARANCE_M} m apart",
                                dist(p, q),
                                p[0],
                                p[1]
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
