//! Compiler passes: optimisation keeps results, precision modes, gears, memory plan.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use npu::compiler::{compile, mem_plan, shape_infer, CalibMethod, CompileOptions};
use npu::device::DeviceProfile;
use npu::exec::{run_graph, ExecOptions};
use npu::ir::{Op, Precision, Tensor};
use npu::zoo;
use npu::NpuError;

fn sample(name: &str, t: Tensor) -> BTreeMap<String, Tensor> {
    BTreeMap::from([(name.to_string(), t)])
}

fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    let (a, b) = (a.to_f32(), b.to_f32());
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f32::max)
}

fn profile() -> DeviceProfile {
    DeviceProfile::builtin("ascend310").unwrap()
}

#[test]
fn fp32_compile_folds_fuses_and_keeps_results() {
    let g = zoo::small_cnn(1).unwrap();
    let m = compile(
        &g,
        &profile(),
        &CompileOptions {
            gears: vec![1, 2, 4],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.report.bn_folded, 1);
    assert_eq!(m.report.fusions, 4, "{:?}", m.report);
    assert!(m.graph.nodes.len() < g.nodes.len());
    assert!(m
        .graph
        .nodes
        .iter()
        .all(|n| !matches!(n.op, Op::BatchNormalization { .. } | Op::Act(_))));
    let first = &m.graph.nodes[0];
    assert_eq!(first.fused_from.len(), 3, "{:?}", first.fused_from);
    assert!(first.fused_from[1].starts_with("batchnormalization"));
    let x = zoo::synthetic_images(9, 2, 32, 32);
    let s = sample("image", x);
    let want = run_graph(&g, &s, ExecOptions::default()).unwrap();
    let got = m.run(&s).unwrap();
    let name = &g.outputs[0].name;
    assert!(max_rel(&got[name], &want[name]) < 1e-5);
}

#[test]
fn fp16_is_close_and_rounded() {
    let g = zoo::small_cnn(2).unwrap();
    let m = compile(
        &g,
        &profile(),
        &CompileOptions {
            precision: Precision::Fp16,
            ..Default::default()
        },
    )
    .unwrap();
    let s = sample("image", zoo::synthetic_images(3, 1, 32, 32));
    let want = run_graph(&g, &s, ExecOptions::default()).unwrap();
    let got = m.run(&s).unwrap();
    let name = &g.outputs[0].name;
    let e = max_rel(&got[name], &want[name]);
    assert!(e < 2e-2 && e > 0.0, "fp16 error {e}");
    for v in got[name].to_f32().iter() {
        assert_eq!(npu::f16::round_f16(*v), *v);
    }
}

#[test]
fn constant_folding_and_dce() {
    use npu::builder::GraphBuilder;
    use npu::ir::{BinaryOp, DType};
    let mut b = GraphBuilder::new("t");
    let x = b.input("x", DType::F32, &[2, 3]);
    let c1 = b.constant("c", Tensor::from_f32(&[3], vec![1.0, 2.0, 3.0]).unwrap());
    let c2 = b.constant("c", Tensor::from_f32(&[3], vec![0.5, 0.5, 0.5]).unwrap());
    let folded = b.binary(BinaryOp::Mul, &c1, &c2);
    let dead = b.binary(BinaryOp::Sub, &x, &c1);
    let _ = b.act(&dead, npu::ir::Activation::Relu);
    let y = b.binary(BinaryOp::Add, &x, &folded);
    b.output(&y, DType::F32);
    let g = b.build().unwrap();
    let m = compile(&g, &profile(), &CompileOptions::default()).unwrap();
    assert_eq!(m.report.folded_constants, 1);
    assert_eq!(m.report.removed_nodes, 2);
    assert_eq!(m.graph.nodes.len(), 1);
    let xs = Tensor::from_f32(&[2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let out = m.run(&sample("x", xs)).unwrap();
    assert_eq!(
        out[&y].to_f32().iter().copied().collect::<Vec<_>>(),
        vec![0.5, 2.0, 3.5, 3.5, 5.0, 6.5]
    );
}

#[test]
fn batched_requests_use_gears_and_match_single_runs() {
    let g = zoo::small_cnn(3).unwrap();
    let m = compile(
        &g,
        &profile(),
        &CompileOptions {
            gears: vec![1, 4, 8],
            ..Default::default()
        },
    )
    .unwrap();
    let reqs: Vec<_> = (0..3)
        .map(|i| sample("image", zoo::synthetic_images(100 + i, 1, 32, 32)))
        .collect();
    let (outs, gear) = m.run_batch_with_gear(&reqs).unwrap();
    assert_eq!(gear, 4);
    let name = &g.outputs[0].name;
    for (r, o) in reqs.iter().zip(&outs) {
        let single = m.run(r).unwrap();
        assert_eq!(o[name].shape(), &[1, 10]);
        assert!(max_rel(&o[name], &single[name]) < 1e-6);
    }
    // Deterministic: same input, bit-identical output.
    assert_eq!(m.run_batch(&reqs).unwrap(), outs);
    let big: Vec<_> = (0..9)
        .map(|i| sample("image", zoo::synthetic_images(i, 1, 32, 32)))
        .collect();
    assert!(matches!(
        m.run_batch(&big),
        Err(NpuError::NoGear {
            requested: 9,
            max: 8
        })
    ));
}

#[test]
fn memory_plan_reuses_and_never_overlaps_live_buffers() {
    let g = zoo::conv_heavy(1).unwrap();
    let m = compile(
        &g,
        &profile(),
        &CompileOptions {
            gears: vec![1, 16],
            ..Default::default()
        },
    )
    .unwrap();
    for plan in &m.mem_plans {
        assert!(
            plan.arena_bytes < plan.naive_bytes,
            "{} vs {}",
            plan.arena_bytes,
            plan.naive_bytes
        );
        for (i, a) in plan.buffers.iter().enumerate() {
            for b in &plan.buffers[i + 1..] {
                let live = a.first <= b.last && b.first <= a.last;
                let mem = a.offset < b.offset + b.size && b.offset < a.offset + a.size;
                assert!(!(live && mem), "{a:?} overlaps {b:?}");
            }
        }
    }
    assert!(m.mem_plans[1].arena_bytes > m.mem_plans[0].arena_bytes);
    let mut tiny = profile();
    tiny.soc_info.memory_size_bytes = m.mem_plans[0].total_bytes + 4096;
    let e = compile(
        &g,
        &tiny,
        &CompileOptions {
            gears: vec![1, 64],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, NpuError::OutOfMemory { batch: 64, .. }), "{e}");
    let shapes = shape_infer::infer_shapes(&m.graph, 1).unwrap();
    assert!(mem_plan::plan_memory(&m.graph, &shapes, Precision::Fp32, 1, &tiny).is_ok());
}

#[test]
fn int8_accuracy_is_reported_on_a_separate_evaluation_set() {
    let g = zoo::small_cnn(4).unwrap();
    let batch = |seed| sample("image", zoo::synthetic_images(seed, 8, 32, 32));
    let calib: Vec<_> = (0..2).map(|i| batch(1000 + i)).collect();
    let eval: Vec<_> = (0..2).map(|i| batch(2000 + i)).collect();
    for method in [CalibMethod::MinMax, CalibMethod::Percentile(99.9)] {
        let opts = CompileOptions {
            precision: Precision::Int8,
            gears: vec![1, 8],
            calibration: calib.clone(),
            calib_method: Some(method),
            evaluation: eval.clone(),
        };
        let m = compile(&g, &profile(), &opts).unwrap();
        assert_eq!(m.report.quantized_nodes, 5);
        let acc = m.report.accuracy.clone().unwrap();
        assert_eq!(acc.samples, 2);
        let o = &acc.outputs[0];
        println!("{method:?}: {o:?}");
        assert!(o.max_abs_err > 0.0, "int8 should differ from fp32");
        assert!(o.rel_l2_err < 0.1, "{o:?}");
        assert!(o.cosine > 0.99, "{o:?}");
        assert!(o.top1_agreement.unwrap() >= 0.8, "{o:?}");
        assert!(m
            .graph
            .initializers
            .values()
            .any(|t| matches!(t, Tensor::I8(_))));
    }
    let e = compile(
        &g,
        &profile(),
        &CompileOptions {
            precision: Precision::Int8,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, NpuError::Calibration(_)));
}

#[test]
fn matmul_bias_relu_becomes_one_gemm_kernel() {
    use npu::builder::{GraphBuilder, Rng};
    use npu::ir::{Activation, BinaryOp, DType};
    let mut rng = Rng::new(3);
    let mut b = GraphBuilder::new("mlp");
    let x = b.input_batched("x", &[6]);
    let w = b.constant("w", rng.tensor(&[6, 4], 1.0));
    let bias = b.constant("b", rng.tensor(&[4], 1.0));
    let mm = b.node(Op::MatMul, &[&x, &w]);
    let add = b.binary(BinaryOp::Add, &mm, &bias);
    let y = b.act(&add, Activation::Relu);
    b.output(&y, DType::F32);
    let g = b.build().unwrap();
    let m = compile(
        &g,
        &profile(),
        &CompileOptions {
            gears: vec![3],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.graph.nodes.len(), 1);
    let n = &m.graph.nodes[0];
    assert!(matches!(&n.op, Op::Gemm(ga) if ga.activation == Some(Activation::Relu)));
    assert_eq!(n.fused_from.len(), 3, "{:?}", n.fused_from);
    let s = sample("x", rng.tensor(&[3, 6], 1.0));
    let want = run_graph(&g, &s, ExecOptions::default()).unwrap();
    assert!(max_rel(&m.run(&s).unwrap()[&y], &want[&y]) < 1e-6);
    // The Gemm is quantisable once it came from MatMul.
    let q = compile(
        &g,
        &profile(),
        &CompileOptions {
            precision: Precision::Int8,
            gears: vec![3],
            calibration: vec![s.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(q.report.quantized_nodes, 1);
    assert!(max_rel(&q.run(&s).unwrap()[&y], &want[&y]) < 0.1);
}

#[test]
fn shape_and_dtype_inference_report_typed_errors() {
    use npu::builder::{GraphBuilder, Rng};
    use npu::ir::{BinaryOp, ConvAttrs, DType};
    let mut rng = Rng::new(1);
    // Conv weight expects 4 input channels, the input has 3.
    let mut b = GraphBuilder::new("bad_conv");
    let x = b.input_batched("x", &[3, 8, 8]);
    let y = b.conv(
        &x,
        rng.tensor(&[2, 4, 3, 3], 1.0),
        None,
        ConvAttrs::default(),
    );
    b.output(&y, DType::F32);
    let e = compile(&b.build().unwrap(), &profile(), &CompileOptions::default()).unwrap_err();
    match &e {
        NpuError::ShapeMismatch { node, .. } => assert!(node.starts_with("conv"), "{e}"),
        other => panic!("{other}"),
    }
    // f32 + i64.
    let mut b = GraphBuilder::new("bad_add");
    let x = b.input("x", DType::F32, &[2]);
    let k = b.constant("k", Tensor::from_i64(&[2], vec![1, 2]).unwrap());
    let y = b.binary(BinaryOp::Add, &x, &k);
    b.output(&y, DType::F32);
    let e = compile(&b.build().unwrap(), &profile(), &CompileOptions::default()).unwrap_err();
    assert!(matches!(e, NpuError::DTypeMismatch { .. }), "{e}");
    // Inferred shapes and dtypes of a good graph.
    let g = zoo::small_cnn(1).unwrap();
    let s = shape_infer::infer_shapes(&g, 5).unwrap();
    let out = &s[&g.outputs[0].name];
    assert_eq!(out.shape, vec![5, 10]);
    assert_eq!(out.dtype, npu::ir::DType::F32);
}

#[test]
fn malformed_graphs_are_rejected_before_any_pass() {
    use npu::ir::{Activation, DType, Graph, Node, TensorInfo};
    let node = |name: &str, ins: &[&str], outs: &[&str]| Node {
        name: name.into(),
        op: Op::Act(Activation::Relu),
        inputs: ins.iter().map(|s| s.to_string()).collect(),
        outputs: outs.iter().map(|s| s.to_string()).collect(),
        fused_from: vec![],
    };
    let base = Graph {
        name: "g".into(),
        inputs: vec![TensorInfo::fixed("x", DType::F32, &[2])],
        outputs: vec![TensorInfo::fixed("y", DType::F32, &[2])],
        ..Graph::default()
    };
    let cases = [
        vec![node("a", &["x"], &[])],                               // no output
        vec![node("a", &["x"], &["y"]), node("b", &["x"], &["y"])], // produced twice
        vec![node("a", &["z"], &["y"])],                            // dangling input
        vec![
            node("a", &["b_out"], &["a_out"]),
            node("b", &["a_out"], &["b_out"]),
        ], // cycle
        vec![node("a", &["x"], &["q"])],                            // output never produced
    ];
    for nodes in cases {
        let g = Graph {
            nodes,
            ..base.clone()
        };
        let e = compile(&g, &profile(), &CompileOptions::default()).unwrap_err();
        assert!(matches!(e, NpuError::InvalidGraph(_)), "{e}");
    }
}

#[test]
fn executor_refuses_absurd_values_before_allocating() {
    use npu::builder::{GraphBuilder, Rng};
    use npu::ir::{ConvAttrs, DType};
    let mut rng = Rng::new(1);
    let mut b = GraphBuilder::new("huge");
    let x = b.input("x", DType::F32, &[1, 1, 2, 2]);
    let w = b.constant("w", rng.tensor(&[1, 1, 1, 1], 1.0));
    let attrs = ConvAttrs {
        strides: [1 << 16, 1 << 16],
        output_padding: [1 << 15, 1 << 15],
        ..ConvAttrs::default()
    };
    let y = b.node(Op::ConvTranspose(attrs), &[&x, &w]);
    b.output(&y, DType::F32);
    let g = b.build().unwrap();
    let s = sample("x", Tensor::from_f32(&[1, 1, 2, 2], vec![1.0; 4]).unwrap());
    let e = run_graph(&g, &s, ExecOptions::default()).unwrap_err();
    assert!(matches!(e, NpuError::ShapeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("limit"), "{e}");
}

/// A batch below its gear runs unpadded when no sample can see another (the committed
/// detector and planner): each request's outputs equal, bit for bit, those of the same
/// requests zero-padded to the gear and run there, at every precision.
#[test]
fn separable_models_run_unpadded_with_the_padded_gear_bits() {
    for (file, dims) in [
        ("detector.onnx", [4usize, 64, 80]),
        ("planner.onnx", [8, 160, 33]),
    ] {
        let path = format!("{}/../assets/models/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("model");
        let g = npu::onnx::import::import_onnx(&bytes).expect("import");
        let name = g.inputs[0].name.clone();
        let [c, h, w] = dims;
        let data = |seed: u64, n: usize| {
            let mut rng = npu::builder::Rng::new(seed);
            let v: Vec<f32> = (0..n * c * h * w)
                .map(|_| {
                    let u = rng.uniform();
                    if u < 0.7 {
                        0.0
                    } else {
                        u * 4.0
                    }
                })
                .collect();
            Tensor::from_f32(&[n, c, h, w], v).expect("tensor")
        };
        for prec in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
            let opts = CompileOptions {
                precision: prec,
                gears: vec![1, 4, 8],
                calibration: vec![sample(&name, data(1, 1)), sample(&name, data(2, 1))],
                ..Default::default()
            };
            let m = compile(&g, &profile(), &opts).expect("compile");
            assert!(npu::compiler::batch_separable(&m.graph), "{file} {prec:?}");
            let x = data(3, 3);
            let got = m.run(&sample(&name, x.clone())).expect("run");
            // The same three samples and one zero sample, run at the gear.
            let pad = Tensor::from_f32(&[1, c, h, w], vec![0.0; c * h * w]).expect("pad");
            let padded = npu::ops::concat(&[&x, &pad], 0, "pad").expect("concat");
            let full = run_graph(&m.graph, &sample(&name, padded), m.exec_options()).expect("run");
            for (k, t) in &full {
                let want = t.as_f32(k).expect("f32");
                let want = want.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..3));
                let gv = got[k].as_f32(k).expect("f32");
                assert_eq!(gv.shape(), want.shape(), "{file} {prec:?} {k}");
                let same = gv
                    .iter()
                    .zip(want.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{file} {prec:?} output {k} differs from the padded run"
                );
            }
        }
        // A node that mixes samples (a Slice along the batch) makes the graph padded again.
        let mut mixed = g.clone();
        for n in &mut mixed.nodes {
            if let Op::Slice { axes, .. } = &mut n.op {
                axes.iter_mut().for_each(|a| *a = 0);
            }
            if let Op::Concat { axis } = &mut n.op {
                *axis = 0;
            }
        }
        assert!(!npu::compiler::batch_separable(&mixed), "{file} mixed");
    }
}
