//! `minesim compare` as a user meets it: one row per policy over the seeds, the JSON beside
//! it, and bad flags refused before anything runs.

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

#[test]
fn compare_prints_a_row_per_policy_over_the_seeds() {
    let dir = std::env::temp_dir().join(format!("minesim-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    let out = dir.join("c.json");
    let out_s = out.to_str().expect("utf-8 path");
    let (code, stdout, stderr) = minesim(&[
        "compare",
        "--trucks",
        "4",
        "--duration",
        "2m",
        "--seeds",
        "2",
        "--seed",
        "5",
        "--policy",
        "lp,nearest",
        "--report",
        out_s,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("lp ") || l.starts_with("nearest "))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(stdout.contains("4 trucks, 120 s, memory"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("JSON");
    let r = &json["rows"];
    assert_eq!(r[0]["policy"], "lp");
    assert_eq!(r[1]["policy"], "nearest");
    assert_eq!(r[0]["seeds"], serde_json::json!([5, 6]));
    assert_eq!(r[1]["collisions"], 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn compare_refuses_bad_flags_before_running() {
    for (args, says) in [
        (vec!["compare", "--policy", "lp,lp"], "named twice"),
        (vec!["compare", "--policy", "greedy"], "greedy"),
        (vec!["compare", "--seeds", "0"], "0"),
        (
            vec!["compare", "--report", "/no/such/folder/c.json"],
            "does not exist",
        ),
    ] {
        let (code, _, stderr) = minesim(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
