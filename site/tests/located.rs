//! Every site-file error, syntax, type or semantic, names the file, the line and column, the
//! field and the reason (`FILE:LINE:COLUMN: FIELD: REASON`).

use site::file::{load, load_str};
use site::{Location, SiteError};

fn default_text() -> String {
    site::default_site::TEXT.to_string()
}

/// The text with the first line starting with `key` after the `n`-th (0-based) line equal to
/// `header` replaced by `new`, and that line's number (1-based).
fn edit(text: &str, header: &str, n: usize, key: &str, new: &str) -> (String, u32) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.as_str() == header)
        .nth(n)
        .map(|(i, _)| i)
        .expect("header present");
    let at = (start..lines.len())
        .find(|&i| lines[i].starts_with(key))
        .expect("key present");
    lines[at] = new.to_string();
    (lines.join("\n") + "\n", at as u32 + 1)
}

fn error_of(text: &str) -> SiteError {
    let e = load_str("pit.toml", text).expect_err("a bad site file is refused");
    println!("{e}");
    e
}

#[test]
fn the_default_site_loads() {
    load_str("default.toml", &default_text()).expect("the default site loads");
}

#[test]
fn a_lane_to_a_missing_node_points_at_its_to() {
    let (text, line) = edit(&default_text(), "[[lanes]]", 39, "to = ", "to = 9999");
    let e = error_of(&text);
    assert_eq!(e.field, "lanes[39].to", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 6 }), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "pit.toml:{line}:6: lanes[39].to: node 9999 does not exist"
        )),
        "{e}"
    );
}

#[test]
fn semantic_errors_on_tables_and_arrays_are_located() {
    // an element of an array value
    let (text, line) = edit(
        &default_text(),
        "[terrain]",
        0,
        "size_m = ",
        "size_m = [3000.0, -5.0]",
    );
    let e = error_of(&text);
    assert_eq!(e.field, "terrain.size_m[1]", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 19 }), "{e}");
    // a loading spot off its lane
    let (text, line) = edit(
        &default_text(),
        "[[loaders]]",
        2,
        "spot_s = ",
        "spot_s = 1e6",
    );
    let e = error_of(&text);
    assert_eq!(e.field, "loaders[2].spot_s", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 10 }), "{e}");
}

#[test]
fn a_syntax_error_has_line_and_column() {
    let (text, line) = edit(
        &default_text(),
        "[terrain.pit]",
        0,
        "depth_m = ",
        "depth_m = 180.0 m",
    );
    let e = error_of(&text);
    assert_eq!(e.line(), Some(line), "{e}");
    assert!(e.column().is_some_and(|c| c >= 11), "{e}");
    assert!(
        e.to_string().starts_with(&format!("pit.toml:{line}:")),
        "{e}"
    );
    // an unclosed array at the end of the file
    let e = error_of("name = [\n");
    assert_eq!(e.location, Some(Location { line: 1, column: 9 }), "{e}");
}

#[test]
fn a_type_error_has_line_and_column() {
    let (text, line) = edit(
        &default_text(),
        "[[nodes]]",
        5,
        "pos = ",
        "pos = [1.0, \"north\"]",
    );
    let e = error_of(&text);
    assert_eq!(e.field, "nodes[5].pos[1]", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 13 }), "{e}");
    assert!(e.reason.contains("invalid type"), "{e}");
    let (text, line) = edit(
        &default_text(),
        "[terrain]",
        0,
        "cell_m = ",
        "cell_m = \"six\"",
    );
    let e = error_of(&text);
    assert_eq!(e.field, "terrain.cell_m", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 10 }), "{e}");
}

#[test]
fn unknown_and_missing_keys_are_located() {
    let (text, line) = edit(
        &default_text(),
        "[terrain.pit]",
        0,
        "depth_m = ",
        "depht_m = 180.0",
    );
    let e = error_of(&text);
    assert_eq!(e.location, Some(Location { line, column: 1 }), "{e}");
    assert!(e.reason.contains("depht_m"), "{e}");
    let (text, line) = edit(&default_text(), "[[lanes]]", 3, "width_m = ", "");
    let e = error_of(&text);
    assert!(e.reason.contains("width_m"), "{e}");
    // at the header of the lane that lacks it
    let header = text
        .lines()
        .take(line as usize)
        .filter(|l| *l == "[[lanes]]")
        .count();
    assert_eq!(header, 4);
    assert_eq!(e.field, "lanes[3]", "{e}");
    assert_eq!(e.column(), Some(1), "{e}");
    assert!(e.line().is_some_and(|l| l < line), "{e}");
    // a missing top-level table: the document
    let e = error_of("name = \"pit\"\n");
    assert_eq!(e.field, "(document)", "{e}");
    assert!(e.reason.contains("terrain"), "{e}");
}

#[test]
fn load_locates_and_an_unreadable_file_is_not_located() {
    let dir = std::env::temp_dir().join(format!("site-located-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("pit.toml");
    let (text, line) = edit(&default_text(), "[[lanes]]", 39, "to = ", "to = 9999");
    std::fs::write(&path, text).expect("write");
    let e = load(&path).expect_err("refused");
    assert_eq!(e.line(), Some(line), "{e}");
    assert_eq!(e.file, path.display().to_string());
    let e = load(&dir.join("missing.toml")).expect_err("refused");
    assert_eq!(e.location, None);
    assert!(e.to_string().contains("missing.toml: (file): "), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
