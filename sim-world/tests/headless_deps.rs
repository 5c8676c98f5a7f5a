//! The headless build (no `viewer` feature) carries no render or window crates: `cargo tree`
//! of sim-world's normal dependencies, default features only, names no wgpu, winit or naga.

use std::process::Command;

#[test]
fn headless_build_has_no_render_or_window_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "sim-world",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.lines().any(|l| l.starts_with("bevy_ecs ")),
        "bevy is there"
    );
    let bad: Vec<&str> = tree
        .lines()
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            ["wgpu", "winit", "naga", "bevy_render", "bevy_winit"]
                .iter()
                .any(|b| name == *b || name.starts_with(&format!("{b}-")))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "render/window crates in the headless build: {bad:?}"
    );
}
