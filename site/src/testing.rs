//! Small sites for tests and benchmarks (shipped in the library so every crate's tests can use
//! them).

use crate::ids::{LaneId, NodeId};
use crate::road::{Lane, LaneDef, Node, RoadNetwork};
use crate::terrain::{CarveSpec, PitSpec, TerrainSpec};
use crate::{Heightfield, Site};

/// A plane rising at `grade` along +x, with one straight lane up it from `(0, 0)` to
/// `(length_m, 0)` (lane 0) and its return lane 20 m to the north (lane 1). Speed limit
/// 30 m/s, no intersections, no loaders.
pub fn slope(grade: f64, length_m: f64) -> Site {
    let cell = 10.0;
    let nx = (length_m / cell).ceil() as usize + 11;
    let ny = 11;
    let origin = [-50.0, -50.0];
    let heights = (0..ny)
        .flat_map(|_| (0..nx).map(move |ix| ((origin[0] + ix as f64 * cell) * grade) as f32))
        .collect();
    let terrain = Heightfield {
        origin,
        cell,
        nx,
        ny,
        heights,
    };
    let n = (length_m / 10.0).ceil() as usize;
    let up: Vec<[f64; 2]> = (0..=n)
        .map(|i| [length_m * i as f64 / n as f64, 0.0])
        .collect();
    let down: Vec<[f64; 2]> = up.iter().rev().map(|p| [p[0], 20.0]).collect();
    let nodes = vec![
        Node {
            id: NodeId(0),
            name: "foot".into(),
            pos: [0.0, 0.0],
        },
        Node {
            id: NodeId(1),
            name: "top".into(),
            pos: [length_m, 0.0],
        },
    ];
    let lane = |id: u32, from: u32, to: u32, xy: &[[f64; 2]]| {
        let def = LaneDef {
            id: LaneId(id),
            from: NodeId(from),
            to: NodeId(to),
            width_m: 17.0,
            speed_limit_ms: 30.0,
            intersection: None,
        };
        Lane::new(def, xy, &terrain)
    };
    let lanes = vec![lane(0, 0, 1, &up), lane(1, 1, 0, &down)];
    Site {
        name: format!("slope {:.0}%", grade * 100.0),
        terrain_spec: TerrainSpec {
            size_m: [(nx - 1) as f64 * cell, (ny - 1) as f64 * cell],
            cell_m: cell,
            rim_z: 0.0,
            pit: PitSpec {
                center: [0.0, 0.0],
                floor_radius_m: 1.0,
                top_radius_m: 2.0,
                depth_m: 1.0,
                bench_height_m: 1.0,
                face_angle_deg: 60.0,
                outline: vec![],
            },
            carve: CarveSpec::default(),
            pads: vec![],
        },
        roads: RoadNetwork::new(nodes, lanes),
        terrain,
        intersections: vec![],
        loaders: vec![],
        dumps: vec![],
        parking: None,
        gnbs: vec![],
        radio: None,
    }
}
