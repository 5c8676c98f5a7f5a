//! Bad input to `minesim`: a clear message, exit code 2, no panic.

use std::process::Command;

fn minesim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("minesim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_clean_failure(code: i32, err: &str) {
    assert_eq!(code, 2, "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.trim().is_empty());
}

#[test]
fn zero_trucks_is_refused() {
    let (code, _, err) = minesim(&["run", "--trucks", "0"]);
    assert_clean_failure(code, &err);
    assert!(err.contains("at least one truck"), "{err}");
}

#[test]
fn unknown_flag_is_refused() {
    let (code, _, err) = minesim(&["run", "--lorries", "3"]);
    assert_clean_failure(code, &err);
    assert!(err.contains("--lorries"), "{err}");
}

#[test]
fn bad_duration_is_refused() {
    let (code, _, err) = minesim(&["run", "--duration", "ten minutes"]);
    assert_clean_failure(code, &err);
    assert!(err.contains("duration"), "{err}");
}

#[test]
fn malformed_site_file_names_file_and_field() {
    let dir = std::env::temp_dir().join(format!("minesim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[terrain]\nsize_m = [100.0, 100.0]\ncell_m = \"six\"\n",
    )
    .unwrap();
    let (code, _, err) = minesim(&["run", "--site", bad.to_str().unwrap(), "--trucks", "2"]);
    assert_clean_failure(code, &err);
    assert!(err.contains("bad.toml") && err.contains("cell_m"), "{err}");

    // Well-formed but inconsistent: a loader on a lane that does not exist.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/sites/default.toml"
    ))
    .unwrap();
    let at = text.find("[[loaders]]").expect("a loader");
    let lane = at + text[at..].find("\nlane = ").expect("loader lane") + 1;
    let eol = lane + text[lane..].find('\n').expect("line end");
    let broken = format!("{}lane = 9999{}", &text[..lane], &text[eol..]);
    let f = dir.join("inconsistent.toml");
    std::fs::write(&f, broken).unwrap();
    let (code, _, err) = minesim(&["run", "--site", f.to_str().unwrap(), "--trucks", "2"]);
    assert_clean_failure(code, &err);
    assert!(
        err.contains(&format!(
            "inconsistent.toml:{}:8: loaders[0].lane: lane 9999 does not exist",
            text[..lane].lines().count() + 1
        )),
        "{err}"
    );

    let (code, _, err) = minesim(&["run", "--site", dir.join("missing.toml").to_str().unwrap()]);
    assert_clean_failure(code, &err);
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn too_many_trucks_for_the_site_is_refused() {
    let (code, _, err) = minesim(&["run", "--trucks", "1500", "--duration", "1s"]);
    assert_clean_failure(code, &err);
    assert!(err.contains("room"), "{err}");
}

#[test]
fn a_short_run_writes_a_complete_report() {
    let dir = std::env::temp_dir().join(format!("minesim-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let (code, out, err) = minesim(&[
        "run",
        "--trucks",
        "3",
        "--duration",
        "20s",
        "--seed",
        "3",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("real-time factor"), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for k in [
        "seed",
        "trucks",
        "sim_seconds",
        "wall_seconds",
        "real_time_factor",
        "tonnes",
        "loads",
        "collisions",
        "permission_violations",
        "min_separation_m",
        "mean_cycle_s",
        "mean_queue_loader_s",
        "mean_queue_dump_s",
        "loader_utilisation",
        "truck_utilisation",
        "per_truck",
        "per_loader",
    ] {
        assert!(r.get(k).is_some(), "report lacks {k}");
    }
    assert_eq!(r["trucks"], 3);
    assert_eq!(r["per_truck"].as_array().map(|a| a.len()), Some(3));
}

#[test]
fn a_missing_or_broken_model_stops_the_run_at_start_naming_the_file() {
    let (code, _, err) = minesim(&[
        "run",
        "--perception",
        "on",
        "--trucks",
        "2",
        "--duration",
        "1s",
        "--model",
        "no/such/detector.onnx",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no/such/detector.onnx: cannot read the model"),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("minesim-cli-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let bad = dir.join("garbage.onnx");
    std::fs::write(&bad, b"not a model at all").expect("write");
    let (code, _, err) = minesim(&[
        "run",
        "--perception",
        "on",
        "--trucks",
        "2",
        "--duration",
        "1s",
        "--model",
        bad.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("garbage.onnx: not a valid ONNX model"),
        "{err}"
    );
    let (code, _, err) = minesim(&[
        "run",
        "--perception",
        "on",
        "--trucks",
        "2",
        "--duration",
        "1s",
        "--obstacle",
        "boulder@1,2",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown obstacle class"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lidar_file_sets_the_sensor_and_bad_ones_name_file_and_field() {
    let dir = std::env::temp_dir().join(format!("minesim-cli-lidar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let run = |lidar: &std::path::Path, report: &std::path::Path| {
        minesim(&[
            "run",
            "--perception",
            "on",
            "--trucks",
            "2",
            "--duration",
            "2s",
            "--lidar",
            lidar.to_str().expect("utf8"),
            "--report",
            report.to_str().expect("utf8"),
        ])
    };
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "beams = 16\nazimuth_step = 512\n").expect("write");
    let (code, _, err) = run(&typo, &dir.join("r0.json"));
    assert_clean_failure(code, &err);
    assert!(
        err.contains("typo.toml") && err.contains("azimuth_step"),
        "{err}"
    );
    let zero = dir.join("zero.toml");
    std::fs::write(&zero, "beams = 0\n").expect("write");
    let (code, _, err) = run(&zero, &dir.join("r1.json"));
    assert_clean_failure(code, &err);
    assert!(err.contains("zero.toml") && err.contains("beams"), "{err}");
    // A 16-beam, 512-step sensor: a quarter of the default's rays, so about a quarter of
    // its points per sweep.
    let small = dir.join("small.toml");
    std::fs::write(&small, "beams = 16\nazimuth_steps = 512\n").expect("write");
    let full = dir.join("full.toml");
    std::fs::write(&full, "# all defaults\n").expect("write");
    let points = |lidar: &std::path::Path, name: &str| {
        let report = dir.join(name);
        let (code, _, err) = run(lidar, &report);
        assert_eq!(code, 0, "{err}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
        r["perception"]["points_per_sweep"]
            .as_f64()
            .expect("points")
    };
    let (p_small, p_full) = (points(&small, "small.json"), points(&full, "full.json"));
    assert!(p_full > 1000.0, "{p_full}");
    let ratio = p_small / p_full;
    assert!((0.15..0.35).contains(&ratio), "{p_small} / {p_full}");
    let _ = std::fs::remove_dir_all(&dir);
}
