//! Small sites for tests and benchmarks (shipped in the library so every crate's tests can use
//! them).

use crate::ids::{DumpId, LaneId, LoaderId, NodeId};
use crate::road::{Lane, LaneDef, Node, RoadNetwork};
use crate::site::{Dump, DumpKind, Loader, Material};
use crate::terrain::{CarveSpec, PitSpec, TerrainSpec};
use crate::{Heightfield, Site};

/// The spec of a test site whose heightfield is given directly (no generated pit).
fn given_terrain_spec(nx: usize, ny: usize, cell: f64) -> TerrainSpec {
    TerrainSpec {
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
    }
}

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
        terrain_spec: given_terrain_spec(nx, ny, cell),
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

/// A hillside haul, where the loaded leg runs downhill (a mountain-top mine, or a crusher
/// below the pit rim): a one-way circuit with a loader on the upper platform, a straight
/// descent of `length_m` at `grade` (0.1 = 10 %) along +x, a waste dump on the lower platform
/// and the empty climb back 60 m to the south. The grade eases in and out over 40 m at each
/// end (a vertical curve). Lanes: 0 the upper turn (the loader: a large shovel, two 145 t
/// passes of 12 s, so that tests get a loaded truck quickly), 1 the loaded descent, 2 the
/// lower turn (the dump), 3 the empty climb. Speed limits 12 m/s on the straights, 8 m/s on
/// the turns; no intersections, no radio sites. The first start slot is on the upper turn,
/// short of the loader.
pub fn hillside(grade: f64, length_m: f64) -> Site {
    let (r, ext) = (30.0, 90.0);
    let cell = 5.0;
    let origin = [-ext - r - 60.0, -2.0 * r - 60.0];
    let nx = ((length_m + 2.0 * (ext + r + 60.0)) / cell).ceil() as usize + 1;
    let ny = ((2.0 * r + 120.0) / cell).ceil() as usize + 1;
    // the height along x: the grade eased in over [0, ease] and out over [L - ease, L]
    let ease = 40.0_f64.min(length_m / 2.0);
    let slope_at = |x: f64| -> f64 {
        let w = (x / ease).min((length_m - x) / ease).clamp(0.0, 1.0);
        grade * w
    };
    let mut z_of_col = Vec::with_capacity(nx);
    let mut z = 0.0;
    let sub = 20;
    for ix in 0..nx {
        let x = origin[0] + ix as f64 * cell;
        if ix > 0 {
            let h = cell / sub as f64;
            z -= (0..sub)
                .map(|k| slope_at(x - cell + (k as f64 + 0.5) * h) * h)
                .sum::<f64>();
        }
        z_of_col.push(z);
    }
    let heights = (0..ny)
        .flat_map(|_| z_of_col.iter().map(|&z| z as f32))
        .collect();
    let terrain = Heightfield {
        origin,
        cell,
        nx,
        ny,
        heights,
    };
    let y2 = -2.0 * r;
    let straight = |a: [f64; 2], b: [f64; 2]| -> Vec<[f64; 2]> {
        let n = ((b[0] - a[0]).hypot(b[1] - a[1]) / 10.0).ceil().max(1.0) as usize;
        (0..=n)
            .map(|i| {
                let f = i as f64 / n as f64;
                [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]
            })
            .collect()
    };
    // a half turn around `c` from angle a0 through a0 - pi (clockwise), 5-degree steps
    let turn = |c: [f64; 2], a0: f64| -> Vec<[f64; 2]> {
        (1..36)
            .map(|i| {
                let a = a0 - std::f64::consts::PI * i as f64 / 36.0;
                [c[0] + r * a.cos(), c[1] + r * a.sin()]
            })
            .collect()
    };
    let descent = straight([0.0, 0.0], [length_m, 0.0]);
    let mut lower = straight([length_m, 0.0], [length_m + ext, 0.0]);
    lower.extend(turn([length_m + ext, -r], std::f64::consts::FRAC_PI_2));
    lower.extend(straight([length_m + ext, y2], [length_m, y2]));
    let climb = straight([length_m, y2], [0.0, y2]);
    let mut upper = straight([0.0, y2], [-ext, y2]);
    upper.extend(turn([-ext, -r], -std::f64::consts::FRAC_PI_2));
    upper.extend(straight([-ext, 0.0], [0.0, 0.0]));
    let node = |id: u32, name: &str, pos: [f64; 2]| Node {
        id: NodeId(id),
        name: name.into(),
        pos,
    };
    let nodes = vec![
        node(0, "crest", [0.0, 0.0]),
        node(1, "foot", [length_m, 0.0]),
        node(2, "foot return", [length_m, y2]),
        node(3, "crest return", [0.0, y2]),
    ];
    let lane = |id: u32, from: u32, to: u32, limit: f64, xy: &[[f64; 2]]| {
        let def = LaneDef {
            id: LaneId(id),
            from: NodeId(from),
            to: NodeId(to),
            width_m: 17.0,
            speed_limit_ms: limit,
            intersection: None,
        };
        Lane::new(def, xy, &terrain)
    };
    let lanes = vec![
        lane(0, 3, 0, 8.0, &upper),
        lane(1, 0, 1, 12.0, &descent),
        lane(2, 1, 2, 8.0, &lower),
        lane(3, 2, 3, 12.0, &climb),
    ];
    let roads = RoadNetwork::new(nodes, lanes);
    let upper_len = roads.lane(LaneId(0)).length();
    let loaders = vec![Loader {
        id: LoaderId(0),
        name: "upper face".into(),
        material: Material::Waste,
        lane: LaneId(0),
        spot_s: upper_len - 45.0,
        pos: [-45.0, 26.0],
        bucket_t: 145.0,
        pass_s: 12.0,
    }];
    let dumps = vec![Dump {
        id: DumpId(0),
        name: "lower dump".into(),
        kind: DumpKind::Waste,
        lane: LaneId(2),
        spots_s: vec![40.0, 70.0],
    }];
    Site {
        name: format!("hillside {:.0}%", grade * 100.0),
        terrain_spec: given_terrain_spec(nx, ny, cell),
        roads,
        terrain,
        intersections: vec![],
        loaders,
        dumps,
        parking: None,
        gnbs: vec![],
        radio: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hillside_descent_falls_at_its_grade_and_the_circuit_closes() {
        let s = hillside(0.10, 600.0);
        let d = s.roads.lane(LaneId(1));
        let mid = d.point_at(300.0);
        assert!((mid.grade + 0.10).abs() < 0.005, "grade {}", mid.grade);
        let top = d.point_at(0.0).pos[2];
        let foot = d.point_at(d.length()).pos[2];
        // 600 m at 10 %, less the eased ends (2 x 40 m at half the grade on average)
        assert!(((top - foot) - 56.0).abs() < 0.5, "drop {}", top - foot);
        for l in &s.roads.lanes {
            let next = s.roads.lane(s.roads.successors(l.id)[0]);
            let (a, b) = (l.point_at(l.length()).pos, next.point_at(0.0).pos);
            assert!(
                (a[0] - b[0]).hypot(a[1] - b[1]) < 1e-6,
                "lane {} joins",
                l.id.0
            );
        }
        assert!(s.start_slots(45.0).len() >= 20);
    }
}
