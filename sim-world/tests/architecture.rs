//! Architecture invariants, checked from `cargo metadata` and `cargo tree`:
//! - each crate depends only on the workspace crates the architecture allows, directly and
//!   transitively; `vehicle` and `fleet` never depend on each other;
//! - only `sim-world` pulls Bevy and rapier, in any feature set;
//! - the logic crates are sans-IO: with their default features off, none of them pulls an
//!   async runtime or a socket-level QUIC (`tokio`, `quinn`, `quinn-udp`); with defaults on,
//!   only the features meant for real mode (`network5g/real`, `fleet/server`) bring them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn workspace() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/..")
}

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// Names of every crate `package` pulls in as a normal (non-dev, non-build) dependency,
/// transitively, with or without its default features.
fn normal_deps(package: &str, default_features: bool) -> BTreeSet<String> {
    let mut args = vec![
        "tree",
        "-p",
        package,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--offline",
    ];
    if !default_features {
        args.push("--no-default-features");
    }
    cargo(&args)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_owned)
        .collect()
}

/// The workspace crates each crate may depend on, transitively.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("site", &[][..]),
        ("npu", &[][..]),
        ("network5g", &["site"][..]),
        ("perception", &["site", "npu"][..]),
        ("vehicle", &["site", "npu", "perception"][..]),
        ("fleet", &["site", "network5g"][..]),
        (
            "sim-world",
            &["site", "npu", "network5g", "perception", "vehicle", "fleet"][..],
        ),
    ])
}

/// Render, window and physics crates: only sim-world may have them.
const HEAVY: [&str; 7] = [
    "bevy", "bevy_ecs", "rapier3d", "parry3d", "wgpu", "winit", "naga",
];
/// Async runtime and socket QUIC: only behind the real-mode features.
const IO: [&str; 3] = ["tokio", "quinn", "quinn-udp"];

#[test]
fn direct_dependency_rules_hold() {
    let meta: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))
    .expect("metadata is JSON");
    let allowed = allowed();
    let mut seen = 0;
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            continue;
        };
        seen += 1;
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            if allowed.contains_key(dep) {
                assert!(ok.contains(&dep), "{name} must not depend on {dep}");
            }
        }
    }
    assert_eq!(
        seen,
        allowed.len(),
        "every crate of the architecture is in the workspace"
    );
}

#[test]
fn transitive_dependency_rules_hold() {
    let allowed = allowed();
    for (&name, ok) in &allowed {
        for defaults in [true, false] {
            let deps = normal_deps(name, defaults);
            for dep in deps.iter().filter(|d| allowed.contains_key(d.as_str())) {
                assert!(
                    ok.contains(&dep.as_str()),
                    "{name} (default features {defaults}) pulls {dep} transitively"
                );
            }
            if name != "sim-world" {
                for heavy in HEAVY {
                    assert!(
                        !deps.contains(heavy),
                        "{name} (default features {defaults}) pulls {heavy}: \
                         only sim-world uses Bevy and rapier"
                    );
                }
            }
        }
    }
}

#[test]
fn logic_crates_are_sans_io() {
    for name in ["site", "npu", "network5g", "perception", "vehicle", "fleet"] {
        let deps = normal_deps(name, false);
        for io in IO {
            assert!(
                !deps.contains(io),
                "{name} --no-default-features pulls {io}: the logic crates are sans-IO"
            );
        }
    }
    // Real mode is where the IO lives, and it is there (so the check above checks something).
    assert!(normal_deps("network5g", true).contains("tokio"));
    assert!(normal_deps("fleet", true).contains("quinn"));
    // Crates that do not drive real mode pull no IO even with their defaults.
    for name in ["site", "npu", "perception", "vehicle"] {
        let deps = normal_deps(name, true);
        for io in IO {
            assert!(!deps.contains(io), "{name} pulls {io}");
        }
    }
}
