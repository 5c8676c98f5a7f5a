//! A small hand-built site for the unit tests.

use site::ids::{IntersectionId, LaneId, NodeId};
use site::road::{Lane, LaneDef, Node, RoadNetwork};
use site::{Heightfield, Intersection, Site};

/// Straight-line points from `a` to `b`, about every 10 m.
fn line(a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    let n = ((b[0] - a[0]).hypot(b[1] - a[1]) / 10.0).ceil().max(1.0) as usize;
    (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64;
            [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
        })
        .collect()
}

/// A flat crossroad with a fast detour and an island. Nodes: Wfar (−400, 0), W (0, 0),
/// X1 (400, 0), X2 (440, 0), E (800, 0), S (420, −20), N (420, 20), Sfar/Nfar 400 m beyond,
/// C (200, 300), P/Q an island. Lanes (all 10 m/s but the detour, 30 m/s):
/// 0 W→X1 (400 m); 1 X1→X2 and 4 S→N, the two connectors of intersection 0 (they conflict);
/// 2 X2→E (a dead end); 3 Sfar→S; 5 N→Nfar; 6 W→C and 7 C→X1 (the detour: 721 m at 30 m/s,
/// faster than lane 0); 8 P→Q (reached from nowhere); 9 Wfar→W (the way in).
pub fn crossroad() -> Site {
    let nodes: Vec<(&str, [f64; 2])> = vec![
        ("W", [0.0, 0.0]),
        ("X1", [400.0, 0.0]),
        ("X2", [440.0, 0.0]),
        ("E", [800.0, 0.0]),
        ("Sfar", [420.0, -400.0]),
        ("S", [420.0, -20.0]),
        ("N", [420.0, 20.0]),
        ("Nfar", [420.0, 400.0]),
        ("C", [200.0, 300.0]),
        ("P", [1000.0, 400.0]),
        ("Q", [1000.0, 480.0]),
        ("Wfar", [-400.0, 0.0]),
    ];
    let (cell, nx, ny) = (20.0, 81, 51);
    let terrain = Heightfield {
        origin: [-500.0, -500.0],
        cell,
        nx,
        ny,
        heights: vec![0.0; nx * ny],
    };
    // (from, to, speed, intersection)
    let defs: [(u32, u32, f64, Option<u32>); 10] = [
        (0, 1, 10.0, None),
        (1, 2, 10.0, Some(0)),
        (2, 3, 10.0, None),
        (4, 5, 10.0, None),
        (5, 6, 10.0, Some(0)),
        (6, 7, 10.0, None),
        (0, 8, 30.0, None),
        (8, 1, 30.0, None),
        (9, 10, 10.0, None),
        (11, 0, 10.0, None),
    ];
    let lanes = defs
        .iter()
        .enumerate()
        .map(|(i, &(from, to, speed, x))| {
            let def = LaneDef {
                id: LaneId(i as u32),
                from: NodeId(from),
                to: NodeId(to),
                width_m: 17.0,
                speed_limit_ms: speed,
                intersection: x.map(IntersectionId),
            };
            let xy = line(nodes[from as usize].1, nodes[to as usize].1);
            Lane::new(def, &xy, &terrain)
        })
        .collect();
    let nodes = nodes
        .iter()
        .enumerate()
        .map(|(i, (name, pos))| Node {
            id: NodeId(i as u32),
            name: (*name).into(),
            pos: *pos,
        })
        .collect();
    let mut site = site::testing::slope(0.0, 100.0);
    site.name = "crossroad".into();
    site.terrain = terrain;
    site.roads = RoadNetwork::new(nodes, lanes);
    site.intersections = vec![Intersection {
        id: IntersectionId(0),
        name: "cross".into(),
        lanes: vec![LaneId(1), LaneId(4)],
        conflicts: vec![vec![false, true], vec![true, false]],
    }];
    site
}

/// The default site (`assets/sites/default.toml`).
pub fn default_site() -> Site {
    site::default_site::load().expect("the default site loads")
}
