//! ONNX fixtures (made by tests/fixtures/make_fixtures.py with onnx.reference) must match.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use npu::exec::{run_graph, ExecOptions};
use npu::ir::Tensor;
use npu::npy::read_npy;
use npu::onnx::{export_onnx, import_onnx};
use npu::NpuError;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn load(model: &str) -> (npu::Graph, BTreeMap<String, Tensor>, Vec<Tensor>) {
    let g = import_onnx(&fixture(&format!("{model}.onnx"))).unwrap();
    let inputs = g
        .inputs
        .iter()
        .enumerate()
        .map(|(i, info)| {
            (
                info.name.clone(),
                read_npy(&fixture(&format!("{model}.in{i}.npy"))).unwrap(),
            )
        })
        .collect();
    let outs = (0..g.outputs.len())
        .map(|i| read_npy(&fixture(&format!("{model}.out{i}.npy"))).unwrap())
        .collect();
    (g, inputs, outs)
}

pub fn assert_matches(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    match (got, want) {
        (Tensor::F32(a), Tensor::F32(b)) => {
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                    "{what}: {x} vs {y}"
                );
            }
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

fn check(model: &str) {
    let (g, inputs, want) = load(model);
    let got = run_graph(&g, &inputs, ExecOptions::default()).unwrap();
    for (o, w) in g.outputs.iter().zip(&want) {
        assert_matches(&got[&o.name], w, &format!("{model}/{}", o.name));
    }
    // The compiled (folded, fused) fp32 model matches too.
    let profile = npu::device::DeviceProfile::builtin("ascend310").unwrap();
    let batch = inputs.values().next().unwrap().shape()[0];
    let gears = if g.has_dynamic_batch() {
        vec![batch]
    } else {
        vec![]
    };
    let opts = npu::compiler::CompileOptions {
        gears,
        ..Default::default()
    };
    let m = npu::compiler::compile(&g, &profile, &opts).unwrap();
    let compiled = m.run(&inputs).unwrap();
    for (o, w) in g.outputs.iter().zip(&want) {
        assert_matches(
            &compiled[&o.name],
            w,
            &format!("{model}/{} compiled", o.name),
        );
    }
    // The writer's output comes back through the importer with identical results.
    let g2 = import_onnx(&export_onnx(&g).unwrap()).unwrap();
    let got2 = run_graph(&g2, &inputs, ExecOptions::default()).unwrap();
    for o in &g.outputs {
        assert_eq!(
            got[&o.name], got2[&o.name],
            "{model}: re-imported output {}",
            o.name
        );
    }
}

#[test]
fn small_cnn_matches_reference() {
    check("small_cnn");
}

#[test]
fn ops_mix_matches_reference() {
    check("ops_mix");
}

#[test]
fn decoder_matches_reference() {
    check("decoder");
}

#[test]
fn pool_ceil_matches_reference() {
    check("pool_ceil");
}

#[test]
fn unsupported_op_names_op_and_node() {
    let e = import_onnx(&fixture("unsupported.onnx")).unwrap_err();
    match &e {
        NpuError::UnsupportedOp { op_type, node } => {
            assert_eq!(op_type, "NonZero");
            assert_eq!(node, "nonzero_node");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().contains("NonZero") && e.to_string().contains("nonzero_node"));
}

#[test]
fn truncated_and_corrupt_onnx_are_typed_errors() {
    let bytes = fixture("small_cnn.onnx");
    for cut in (0..bytes.len()).step_by(97) {
        assert!(import_onnx(&bytes[..cut]).is_err(), "cut at {cut} accepted");
    }
    let mut state = 7u64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (state >> 33) as usize % b.len();
            b[i] ^= (state >> 20) as u8 | 1;
        }
        let _ = import_onnx(&b); // must not panic
    }
}

#[test]
fn input_shape_mismatch_is_typed() {
    let (g, mut inputs, _) = load("ops_mix");
    inputs.insert(
        "a".into(),
        Tensor::from_f32(&[3, 4, 7, 6], vec![0.0; 3 * 4 * 7 * 6]).unwrap(),
    );
    let e = run_graph(&g, &inputs, ExecOptions::default()).unwrap_err();
    assert!(matches!(e, NpuError::ShapeMismatch { .. }), "{e}");
}

/// The body of the `onnx_import` fuzz target on deterministic mutations of every fixture.
#[test]
fn mutated_models_never_panic_through_import_and_compile() {
    let profile = npu::device::DeviceProfile::builtin("ascend310").unwrap();
    let mut state = 99u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut imported = 0;
    for name in [
        "small_cnn.onnx",
        "ops_mix.onnx",
        "decoder.onnx",
        "pool_ceil.onnx",
    ] {
        let bytes = fixture(name);
        for round in 0..150 {
            let mut b = bytes.clone();
            for _ in 0..1 + round % 3 {
                let i = next() as usize % b.len();
                b[i] = match next() % 4 {
                    0 => 0xff,
                    1 => 0,
                    2 => b[i].wrapping_add(1),
                    _ => next() as u8,
                };
            }
            if let Ok(g) = import_onnx(&b) {
                imported += 1;
                let _ = export_onnx(&g);
                let opts = npu::compiler::CompileOptions {
                    gears: vec![1],
                    ..Default::default()
                };
                let _ = npu::compiler::compile(&g, &profile, &opts);
            }
        }
    }
    assert!(
        imported > 0,
        "some mutations (e.g. in weight data) should still import"
    );
}

#[test]
fn exported_outputs_carry_inferred_shapes_with_symbolic_batch() {
    use npu::ir::Dim;
    let g = npu::zoo::small_cnn(1).unwrap();
    assert!(
        g.outputs[0].shape.is_empty(),
        "builder leaves output shapes open"
    );
    let back = import_onnx(&export_onnx(&g).unwrap()).unwrap();
    assert_eq!(
        back.outputs[0].shape,
        vec![Dim::Dynamic("N".into()), Dim::Fixed(10)]
    );
    assert_eq!(back.inputs[0].shape[0], Dim::Dynamic("N".into()));
}

#[test]
fn opset18_model_imports_without_conversion() {
    // Split by num_outputs, ReduceMean axes as an input, LayerNormalization, Where, and a
    // Shape -> ConstantOfShape subgraph folded at import.
    let (g, _, _) = load("opset18");
    assert!(
        !g.nodes.iter().any(|n| matches!(n.op, npu::ir::Op::Shape)),
        "the Shape of a static input folds to a constant"
    );
    check("opset18");
}

#[test]
fn opset_below_range_names_op_and_version() {
    let e = import_onnx(&fixture("opset10.onnx")).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("Relu") && s.contains("opset 10") && s.contains("11..=23"),
        "{s}"
    );
}
