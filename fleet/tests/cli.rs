//! The `dispatcher` command line: `minesim run`'s duration syntax and `--auto-rearm` forms,
//! clean refusals with exit code 2.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dispatcher"))
        .args(["--listen", "127.0.0.1:0", "--trucks", "2"])
        .args(args)
        .output()
        .unwrap()
}

fn fails_cleanly(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn duration_takes_minesims_syntax_and_auto_rearm_off_is_accepted() {
    for args in [
        ["--duration", "300ms", "--auto-rearm", "off"],
        ["--duration", "0.3", "--auto-rearm", "30s"],
        ["--seconds", "300ms", "--auto-rearm", "1min"],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?}: {err}");
        let summary: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("summary JSON on stdout");
        assert!(summary.is_object(), "{summary}");
    }
}

#[test]
fn negative_or_malformed_durations_are_refused_naming_the_value() {
    let e = fails_cleanly(&run(&["--duration", "-5s"]));
    assert!(
        e.contains("--duration") && e.contains("-5s") && e.contains("negative"),
        "{e}"
    );
    let e = fails_cleanly(&run(&["--duration", "-2"]));
    assert!(e.contains("-2") && e.contains("negative"), "{e}");
    let e = fails_cleanly(&run(&["--auto-rearm", "-1s"]));
    assert!(e.contains("--auto-rearm") && e.contains("negative"), "{e}");
    let e = fails_cleanly(&run(&["--auto-rearm", "sometimes"]));
    assert!(e.contains("sometimes") && e.contains("off"), "{e}");
    let e = fails_cleanly(&run(&["--duration", "10 parsecs"]));
    assert!(e.contains("parsecs"), "{e}");
}

#[test]
fn negative_counts_and_seeds_are_refused_naming_the_value() {
    let o = Command::new(env!("CARGO_BIN_EXE_dispatcher"))
        .args(["--listen", "127.0.0.1:0", "--trucks", "-3"])
        .output()
        .unwrap();
    let e = fails_cleanly(&o);
    assert!(e.contains("--trucks") && e.contains("got -3"), "{e}");
    let e = fails_cleanly(&run(&["--seed", "-1"]));
    assert!(
        e.contains("--seed") && e.contains("whole number from 0"),
        "{e}"
    );
    let e = fails_cleanly(&run(&["--pki-seed", "-7"]));
    assert!(e.contains("--pki-seed") && e.contains("-7"), "{e}");
}
