//! `load_site`: one validation of a site file, the `[radio]` table included, every error
//! located at its line and column.

use network5g::radio::site::{load_site, load_site_str};
use site::{Location, SiteError};

fn default_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/sites/default.toml"
    ))
    .expect("default site readable")
}

/// The default site with `extra` appended, and the line `extra`'s first line lands on.
fn with_extra(extra: &str) -> (String, u32) {
    let text = default_text() + "\n";
    let line = text.lines().count() as u32 + 1;
    (text + extra, line)
}

fn error_of(text: &str) -> SiteError {
    let e = load_site_str("pit.toml", text).expect_err("a bad site file is refused");
    println!("{e}");
    e
}

#[test]
fn the_default_site_passes() {
    load_site_str("default.toml", &default_text()).expect("default site");
    let (text, _) =
        with_extra("[radio.carrier]\nbandwidth_hz = 40e6\n[radio.ue]\nantenna_height_m = 4.0\n");
    let s = load_site_str("pit.toml", &text).expect("valid radio table");
    assert!(s.radio.is_some());
}

#[test]
fn a_misspelt_radio_key_is_refused_at_its_line_and_column() {
    let (text, line) = with_extra("[radio.carrier]\nbandwith_hz = 40e6\n");
    // the site crate alone does not know the radio's keys ...
    assert!(site::file::load_str("pit.toml", &text).is_ok());
    // ... the one validation does
    let e = error_of(&text);
    assert_eq!(e.field, "radio.carrier.bandwith_hz", "{e}");
    assert_eq!(
        e.location,
        Some(Location {
            line: line + 1,
            column: 1
        }),
        "{e}"
    );
    assert!(e.reason.contains("unknown field `bandwith_hz`"), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "pit.toml:{}:1: radio.carrier.bandwith_hz: unknown field",
            line + 1
        )),
        "{e}"
    );
    // an unknown table too
    let (text, line) = with_extra("[radio.carier]\nbandwidth_hz = 40e6\n");
    let e = error_of(&text);
    assert_eq!(e.field, "radio.carier", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 8 }), "{e}");
}

#[test]
fn radio_type_and_range_errors_are_located() {
    let (text, line) = with_extra("[radio.ue]\nantenna_height_m = \"high\"\n");
    let e = error_of(&text);
    assert_eq!(e.field, "radio.ue.antenna_height_m", "{e}");
    assert_eq!(
        e.location,
        Some(Location {
            line: line + 1,
            column: 20
        }),
        "{e}"
    );
    let (text, line) = with_extra("[radio.carrier]\nbandwidth_hz = -1.0\n");
    let e = error_of(&text);
    assert_eq!(e.field, "radio.carrier.bandwidth_hz", "{e}");
    assert_eq!(
        e.location,
        Some(Location {
            line: line + 1,
            column: 16
        }),
        "{e}"
    );
    assert!(e.reason.contains("> 0") && e.reason.contains("-1"), "{e}");
    let (text, line) = with_extra("[radio.carrier]\ntdd_pattern = \"DDDX\"\n");
    let e = error_of(&text);
    assert_eq!(e.field, "radio.carrier.tdd_pattern", "{e}");
    assert_eq!(e.line(), Some(line + 1), "{e}");
    let (text, line) =
        with_extra("[radio.carrier]\nspecial_slot_dl_symbols = 12\nspecial_slot_ul_symbols = 4\n");
    let e = error_of(&text);
    assert_eq!(e.field, "radio.carrier", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 1 }), "{e}");
}

#[test]
fn a_mast_value_out_of_range_names_its_gnb() {
    let text = default_text().replacen(
        "name = \"gNB1\"\n",
        "name = \"gNB1\"\ndowntilt_deg = 95.0\n",
        1,
    );
    let line = text
        .lines()
        .position(|l| l == "downtilt_deg = 95.0")
        .expect("edited") as u32
        + 1;
    let e = error_of(&text);
    assert_eq!(e.field, "gnbs[1].downtilt_deg", "{e}");
    assert_eq!(e.location, Some(Location { line, column: 16 }), "{e}");
}

#[test]
fn site_errors_stay_located_and_a_site_without_gnbs_passes() {
    let text = default_text().replacen("rim_z = ", "rim_height = ", 1);
    let e = error_of(&text);
    assert!(e.reason.contains("rim_height") && e.line().is_some(), "{e}");
    let cut = default_text();
    let no_gnbs = &cut[..cut.find("[[gnbs]]").expect("gnbs")];
    let text = no_gnbs.to_string() + "\n[radio.ue]\nantenna_height_m = 4.0\n";
    load_site_str("pit.toml", &text).expect("a site without gNBs");
    let text = no_gnbs.to_string() + "\n[radio.ue]\nantenna_height_m = 0.0\n";
    assert_eq!(error_of(&text).field, "radio.ue.antenna_height_m");
}

#[test]
fn load_site_reads_the_file() {
    let dir = std::env::temp_dir().join(format!("load-site-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("pit.toml");
    let (text, line) = with_extra("[radio.mobility]\nhysterisis_db = 4.0\n");
    std::fs::write(&path, text).expect("write");
    let e = load_site(&path).expect_err("refused");
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(
        e.location,
        Some(Location {
            line: line + 1,
            column: 1
        }),
        "{e}"
    );
    std::fs::write(&path, default_text()).expect("write");
    load_site(&path).expect("default site");
    let e = load_site(&dir.join("missing.toml")).expect_err("refused");
    assert_eq!((e.field.as_str(), e.location), ("(file)", None));
    let _ = std::fs::remove_dir_all(&dir);
}
