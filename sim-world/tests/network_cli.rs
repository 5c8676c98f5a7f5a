//! `minesim` with the network: the default run is simulated QUIC with link metrics in the
//! report; `minesim coverage` writes a coverage PNG and reports the radio along the roads.

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

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("minesim-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

#[test]
fn quic_run_reports_link_metrics() {
    let report = tmp("r.json");
    let path = report.to_str().expect("utf-8 path");
    let (code, out, err) = minesim(&[
        "run",
        "--trucks",
        "4",
        "--duration",
        "10s",
        "--seed",
        "2",
        "--transport",
        "quic",
        "--report",
        path,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("command latency p50 / p99"), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(r["link"]["transport"], "quic-sim");
    let n = &r["network"];
    assert_eq!(n["per_truck"].as_array().map(Vec::len), Some(4));
    for t in n["per_truck"].as_array().expect("per truck") {
        for k in [
            "serving_cell",
            "rsrp_dbm",
            "sinr_db",
            "rtt_ms",
            "handovers",
            "loss_ratio",
        ] {
            assert!(t.get(k).is_some(), "{k} missing in {t}");
        }
    }
    assert!(n["kpis"]["commands_delivered"].as_u64().expect("count") > 0);
    assert!(n["kpis"]["command_latency_p99_ms"].as_f64().is_some());
    // simulated QUIC is the default; `--transport memory` selects the in-memory transport
    let (code, out, err) = minesim(&["run", "--trucks", "2", "--duration", "2s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("quic-sim"), "{out}");
    let (code, out, err) = minesim(&[
        "run",
        "--trucks",
        "2",
        "--duration",
        "2s",
        "--transport",
        "memory",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("in-memory"), "{out}");
}

#[test]
fn coverage_map_png() {
    let png = tmp("cov.png");
    let path = png.to_str().expect("utf-8 path");
    let (code, _, err) = minesim(&["coverage", "--step", "60", "-o", path]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SINR"), "{err}");
    // the default site's roads are all above the attach threshold (its trailer mast)
    assert!(err.contains("0.0% below"), "{err}");
    let bytes = std::fs::read(&png).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 1000);
}
