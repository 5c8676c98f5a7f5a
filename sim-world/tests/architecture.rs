//! Architecture invariants, checked from `cargo metadata`:
//! only `sim-world` uses Bevy and rapier; `vehicle` and `fleet` never depend on each other;
//! each crate depends only on the workspace crates the architecture allows.

use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn dependency_rules_hold() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
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
    ]);
    let heavy = ["bevy", "rapier3d", "parry3d", "wgpu", "winit"];
    let packages = meta["packages"].as_array().expect("packages");
    let mut seen = 0;
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            continue;
        };
        seen += 1;
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            let kind = d["kind"].as_str();
            if allowed.contains_key(dep) {
                assert!(ok.contains(&dep), "{name} must not depend on {dep}");
            }
            if name != "sim-world" && kind.is_none() {
                assert!(
                    !heavy.contains(&dep),
                    "{name} must not depend on {dep}: only sim-world uses Bevy and rapier"
                );
            }
        }
    }
    assert_eq!(
        seen,
        allowed.len(),
        "every crate of the architecture is in the workspace"
    );
}
