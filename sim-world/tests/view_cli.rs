//! `minesim view` on the command line: without the `viewer` feature it says how to build the
//! viewer and exits 2; with it, bad viewer arguments exit 2 before any window opens.

use std::process::Command;

fn minesim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run minesim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(not(feature = "viewer"))]
#[test]
fn view_without_the_feature_says_how_to_build_it() {
    let (code, err) = minesim(&["view"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--features viewer"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(feature = "viewer")]
#[test]
fn view_refuses_bad_arguments_before_opening_a_window() {
    for args in [
        &["view", "--camera", "sideways"][..],
        &["view", "--overlays", "roads"][..],
        &["view", "--trucks", "10", "--camera", "follow:10"][..],
    ] {
        let (code, err) = minesim(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
