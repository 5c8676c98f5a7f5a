//! The committed detector (`assets/models/detector.onnx`) loads, compiles for the trucks'
//! Ascend 310 at fp32 and INT8, and meets the figures recorded next to it
//! (`assets/models/detector.metrics.json`) on a small held-out set drawn here from the
//! simulator (seeds never used for training).

use sim_world::dataset::{evaluate, generate, DatasetSpec, Sample, Sensing};
use sim_world::perceive::{default_model_path, load_detector, PerceptionConfig};
use std::sync::Arc;

fn small_set() -> (Vec<Vec<f32>>, Vec<Sample>) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
    let site = Arc::new(site::file::load(&path).expect("default site"));
    let spec = DatasetSpec {
        seeds: vec![900, 901, 902, 903],
        trucks: 20,
        samples_per_seed: 30,
        dust_levels: vec![0.0],
        sensing: vec![Sensing::Fleet, Sensing::Raycast],
        ..Default::default()
    };
    let mut grids = Vec::new();
    let mut samples = Vec::new();
    generate(site, &spec, |g, s| {
        grids.push(g.to_vec());
        samples.push(s.clone());
        Ok(())
    })
    .expect("dataset");
    (grids, samples)
}

fn recorded(precision: &str, level: &str, what: &str) -> f64 {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/models/detector.metrics.json");
    let text = std::fs::read_to_string(&p).expect("recorded metrics");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v[precision]["levels"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["sensing"] == level))
        .and_then(|l| l["clear"][what].as_f64())
        .unwrap_or_else(|| panic!("no recorded {precision} {level} {what}"))
}

#[test]
fn the_committed_detector_meets_its_recorded_figures() {
    let (grids, samples) = small_set();
    let refs: Vec<&[f32]> = grids.iter().map(Vec::as_slice).collect();
    let cfg = PerceptionConfig::default();
    let mut by_precision = Vec::new();
    for (name, p) in [
        ("fp32", npu::ir::Precision::Fp32),
        ("int8", npu::ir::Precision::Int8),
    ] {
        let det = load_detector(&default_model_path(), p, &cfg).expect("loads and compiles");
        assert!(det.latency_us() > 0 && det.flops() > 1_000_000);
        let figs = evaluate(&det, &refs, &samples).expect("runs");
        assert_eq!(figs.len(), 2, "both sensing levels scored");
        for l in &figs {
            let level = l.sensing.name();
            let (r, pr) = (l.clear.recall, l.clear.precision);
            eprintln!(
                "{name} {level}: recall {r:.3} precision {pr:.3} over {} objects",
                l.clear.tp + l.clear.fn_
            );
            assert!(l.clear.tp + l.clear.fn_ >= 100, "too few objects to judge");
            // A small set: allow 8 points below the figure recorded on the full held-out set.
            assert!(
                r >= recorded(name, level, "recall") - 0.08,
                "{name} {level} recall {r}"
            );
            assert!(
                pr >= recorded(name, level, "precision") - 0.08,
                "{name} {level} precision {pr}"
            );
        }
        by_precision.push(figs);
    }
    // INT8 within 2 points of fp32 on the same frames (recall), 3 on precision.
    for (a, b) in by_precision[0].iter().zip(&by_precision[1]) {
        assert!(
            (a.clear.recall - b.clear.recall).abs() <= 0.02,
            "{a:?} vs {b:?}"
        );
        assert!(
            (a.clear.precision - b.clear.precision).abs() <= 0.03,
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn a_truncated_or_wrong_model_is_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("minesim-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let bytes = std::fs::read(default_model_path()).expect("model");
    let cut = dir.join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let cfg = PerceptionConfig::default();
    let e = load_detector(&cut, npu::ir::Precision::Fp16, &cfg).expect_err("truncated");
    let msg = e.to_string();
    assert!(msg.starts_with(&cut.display().to_string()), "{msg}");
    let e =
        load_detector(&dir.join("none.onnx"), npu::ir::Precision::Fp16, &cfg).expect_err("missing");
    assert!(e.to_string().contains("none.onnx: cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
