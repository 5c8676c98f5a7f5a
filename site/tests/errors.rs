//! Site-file errors name the file, the line and column, the field and the reason.

use site::file::{build, parse, to_toml};
use site::generate::{generate, GenParams};

fn default_text() -> String {
    to_toml(&generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    }))
    .expect("default site serialises")
}

fn error_of(text: &str) -> String {
    match parse("bad.toml", text).and_then(|f| build("bad.toml", &f)) {
        Ok(_) => panic!("accepted a bad site file"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn syntax_and_type_errors_name_the_field() {
    let e = error_of("name = \"x\"\n[terrain]\ncell_m = \"six\"\n");
    assert!(e.starts_with("bad.toml:3:10: terrain.cell_m: "), "{e}");
    let e = error_of("name = [\n");
    assert!(e.starts_with("bad.toml:1:9: "), "{e}");
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let text = default_text().replacen("rim_z = ", "rim_height = ", 1);
    let e = error_of(&text);
    assert!(e.contains("rim_height") || e.contains("rim_z"), "{e}");
}

#[test]
fn inconsistent_references_are_named() {
    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    f.lanes[3].to = 9999;
    let e = build("s.toml", &f).unwrap_err();
    assert_eq!(e.field, "lanes[3].to");
    assert!(e.reason.contains("9999"), "{e}");

    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    f.loaders[0].spot_s = 1e6;
    let e = build("s.toml", &f).unwrap_err();
    assert_eq!(e.field, "loaders[0].spot_s");

    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    f.terrain.cell_m = -1.0;
    let e = build("s.toml", &f).unwrap_err();
    assert_eq!(e.field, "terrain.cell_m");

    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    let last = f.lanes[5].points.len() - 1;
    f.lanes[5].points[last][0] += 30.0;
    let e = build("s.toml", &f).unwrap_err();
    assert_eq!(e.field, "lanes[5].points");
    assert!(e.reason.contains("node"), "{e}");
}

#[test]
fn a_lane_cut_off_from_the_network_is_refused() {
    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    // A lane with no way back.
    let n = f.nodes.len() as u32;
    let from = f.lanes[0].to;
    let p = f.nodes[from as usize].pos;
    let z = f.lanes[0].points[f.lanes[0].points.len() - 1][2];
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let q = [p[0] + 20.0 * p[0] / r, p[1] + 20.0 * p[1] / r];
    f.nodes.push(site::file::NodeEntry {
        name: "dead".into(),
        pos: q,
    });
    f.lanes.push(site::file::LaneEntry {
        from,
        to: n,
        width_m: 17.0,
        speed_limit_kmh: 30.0,
        intersection: None,
        points: vec![[p[0], p[1], z], [q[0], q[1], z]],
    });
    let e = build("s.toml", &f).unwrap_err();
    assert_eq!(e.field, format!("lanes[{}]", f.lanes.len() - 1), "{e}");
    assert!(e.reason.contains("strongly connected"), "{e}");
}

#[test]
fn lanes_too_close_outside_intersections_are_refused() {
    let mut f = generate(&GenParams {
        faces: 4,
        ..GenParams::default()
    });
    // Move one road lane onto its opposite lane.
    let (a, b) = (0usize, 1usize);
    let mut pts = f.lanes[b].points.clone();
    pts.reverse();
    let first = f.lanes[a].points[0];
    let last = f.lanes[a].points[f.lanes[a].points.len() - 1];
    let n = pts.len();
    pts[0] = first;
    pts[n - 1] = last;
    f.lanes[a].points = pts;
    let e = build("s.toml", &f).unwrap_err();
    assert!(e.field.starts_with("lanes["), "{e}");
}
