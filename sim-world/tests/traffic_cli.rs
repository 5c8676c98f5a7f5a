//! `minesim run --light-vehicles N --water-carts M`: the report gets a traffic section that
//! validates against the committed schema (counts per kind, km, closest approach, contacts,
//! the trucks' waiting); without the flags there is none; bad counts are refused.

use std::process::Command;

fn minesim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args(args)
        .output()
        .expect("minesim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(extra: &[&str], name: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("minesim-traffic-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    let p = path.to_str().expect("utf-8");
    let mut args = vec![
        "run",
        "--trucks",
        "6",
        "--duration",
        "90s",
        "--transport",
        "memory",
        "--report",
        p,
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = minesim(&args);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&path).expect("report written");
    serde_json::from_str(&text).expect("report is JSON")
}

#[test]
fn manned_vehicles_on_the_command_line_and_in_the_report() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/schemas/report.schema.json"
    ))
    .expect("report schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");

    let r = report(
        &["--light-vehicles", "3", "--water-carts", "1"],
        "mixed.json",
    );
    assert!(
        validator.is_valid(&r),
        "the report validates against the schema"
    );
    let t = &r["traffic"];
    assert_eq!(t["per_kind"]["light_vehicle"]["count"], 3);
    assert_eq!(t["per_kind"]["water_cart"]["count"], 1);
    assert!(t["km_driven"].as_f64().expect("km") > 0.1, "{t}");
    assert_eq!(t["truck_contacts"], 0);
    assert_eq!(t["claim_overlaps"], 0);
    assert!(t["truck_waited_s"].as_f64().is_some(), "{t}");

    let plain = report(&[], "plain.json");
    assert!(validator.is_valid(&plain));
    assert!(
        plain.get("traffic").is_none(),
        "no traffic section without the flags"
    );

    let (code, _, err) = minesim(&["run", "--light-vehicles", "-2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("manned vehicles must be from 0 to 200"),
        "{err}"
    );
    let (code, _, err) = minesim(&[
        "run",
        "--light-vehicles",
        "1",
        "--transport",
        "real",
        "--duration",
        "1s",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("remote"), "{err}");
}
