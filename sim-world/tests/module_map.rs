//! The module map in `src/lib.rs` is the order of dependencies: a module uses only modules
//! listed above it (so there are no import cycles, such as the old `net` ↔ `world`), and every
//! module is on the map.

use std::path::Path;

/// The modules in the order of the map (the `- [`name`]:` lines of the crate docs).
fn map(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - "))
        .filter_map(|l| {
            let l = l.trim_start_matches('[');
            let name = l.split(['`']).nth(1)?;
            Some(name.to_string())
        })
        .collect()
}

/// `crate::<module>` paths used in code (not in comments) of one file.
fn uses(text: &str, modules: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn modules_use_only_modules_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let order = map(&lib);
    assert!(order.len() > 10, "module map not found: {order:?}");
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.is_file() && name != "lib" && name != "main" {
            files.push((name.to_string(), path.clone()));
        }
        if path.is_dir() {
            for sub in std::fs::read_dir(&path).expect("dir") {
                files.push((name.to_string(), sub.expect("entry").path()));
            }
        }
    }
    for (module, path) in files {
        let at = order
            .iter()
            .position(|m| *m == module)
            .unwrap_or_else(|| panic!("module {module} is not on the map in lib.rs"));
        let text = std::fs::read_to_string(&path).expect("source");
        for used in uses(&text, &order) {
            if used == module {
                continue;
            }
            let their = order.iter().position(|m| *m == used).unwrap_or(usize::MAX);
            assert!(
                their < at,
                "{}: {module} uses {used}, which is not above it on the map",
                path.display()
            );
        }
    }
}
