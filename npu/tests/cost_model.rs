//! Cost-model properties on the built-in device profiles.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use npu::builder::{GraphBuilder, Rng};
use npu::compiler::{compile, CompileOptions, CompiledModel};
use npu::cost::{Bound, KernelCost};
use npu::device::DeviceProfile;
use npu::ir::{BinaryOp, ConvAttrs, DType, Graph, Precision};

fn conv_graph(c: usize, m: usize, hw: usize, k: usize, group: usize) -> Graph {
    let mut rng = Rng::new(7);
    let mut b = GraphBuilder::new("conv");
    let x = b.input("x", DType::F32, &[1, c, hw, hw]);
    let w = rng.tensor(&[m, c / group, k, k], 0.1);
    let y = b.conv(
        &x,
        w,
        None,
        ConvAttrs {
            pads: [k / 2; 4],
            group,
            ..ConvAttrs::default()
        },
    );
    b.output(&y, DType::F32);
    b.build().unwrap()
}

fn compiled(g: &Graph, p: &DeviceProfile, prec: Precision) -> CompiledModel {
    let mut opts = CompileOptions {
        precision: prec,
        ..Default::default()
    };
    if prec == Precision::Int8 {
        let info = &g.inputs[0];
        let shape = info.concrete_shape(1);
        let mut rng = Rng::new(1);
        opts.calibration = vec![BTreeMap::from([(
            info.name.clone(),
            rng.tensor(&shape, 1.0),
        )])];
    }
    compile(g, p, &opts).unwrap()
}

fn kernel(g: &Graph, p: &DeviceProfile, prec: Precision) -> KernelCost {
    let m = compiled(g, p, prec);
    let mut k = m.kernel_costs(m.gears[0], p).unwrap();
    assert_eq!(k.len(), 1);
    k.pop().unwrap()
}

fn p310() -> DeviceProfile {
    DeviceProfile::builtin("ascend310").unwrap()
}

#[test]
fn latency_grows_with_work() {
    let p = p310();
    let mut last = 0.0;
    for (c, hw) in [(16, 16), (32, 16), (32, 32), (64, 32), (64, 64), (128, 64)] {
        let k = kernel(&conv_graph(c, c, hw, 3, 1), &p, Precision::Fp16);
        assert!(k.total_us > last, "{c}x{hw}: {} <= {last}", k.total_us);
        last = k.total_us;
    }
    // Model-level latency grows with the batch gear.
    let g = npu::zoo::small_cnn(1).unwrap();
    let m = compile(
        &g,
        &p,
        &CompileOptions {
            gears: vec![1, 8, 32],
            ..Default::default()
        },
    )
    .unwrap();
    let l: Vec<u64> = m
        .gears
        .iter()
        .map(|&g| m.latency_us(g, &p).unwrap())
        .collect();
    assert!(l[0] < l[1] && l[1] < l[2], "{l:?}");
}

#[test]
fn int8_beats_fp16_on_cube_bound_layers() {
    let p = p310();
    let g = conv_graph(256, 256, 28, 3, 1);
    let f = kernel(&g, &p, Precision::Fp16);
    let q = kernel(&g, &p, Precision::Int8);
    assert_eq!(f.bound, Bound::Cube, "{f:?}");
    assert!(
        q.total_us < f.total_us * 0.7,
        "int8 {} vs fp16 {}",
        q.total_us,
        f.total_us
    );
    let f32k = kernel(&g, &p, Precision::Fp32);
    assert!(f32k.total_us > f.total_us);
}

#[test]
fn depthwise_conv_is_vector_bound() {
    for name in DeviceProfile::builtin_names() {
        let p = DeviceProfile::builtin(name).unwrap();
        // A 7x7 depthwise layer (ConvNeXt/MobileNet style): 49 vector MACs per output element.
        let k = kernel(&conv_graph(256, 256, 56, 7, 256), &p, Precision::Fp16);
        assert_eq!(k.bound, Bound::Vector, "{name}: {k:?}");
        assert_eq!(k.cube_cycles, 0);
        // The same channels as a dense conv go to the cube.
        let d = kernel(&conv_graph(256, 256, 56, 3, 1), &p, Precision::Fp16);
        assert_eq!(d.bound, Bound::Cube, "{name}: {d:?}");
    }
}

#[test]
fn memory_bound_op_scales_with_bytes() {
    let p = p310();
    let add = |n: usize| {
        let mut b = GraphBuilder::new("add");
        let x = b.input("x", DType::F32, &[1, n]);
        let y = b.input("y", DType::F32, &[1, n]);
        let z = b.binary(BinaryOp::Add, &x, &y);
        b.output(&z, DType::F32);
        kernel(&b.build().unwrap(), &p, Precision::Fp16)
    };
    let a = add(1 << 20);
    let b = add(1 << 21);
    assert_eq!(a.bound, Bound::Memory);
    assert_eq!(b.bytes, 2 * a.bytes);
    assert!((b.memory_us / a.memory_us - 2.0).abs() < 1e-9);
    assert!(b.total_us > 1.9 * (a.total_us - a.overhead_us));
}

#[test]
fn no_kernel_on_the_310_exceeds_its_fp16_peak() {
    let p = p310();
    let peak = p.peak_fp16_flops();
    assert!((peak - 8e12).abs() / 8e12 < 1e-3);
    let mut checked = 0;
    for &(c, m, hw, k, g) in &[
        (16, 16, 8, 1, 1),
        (64, 64, 56, 3, 1),
        (256, 256, 14, 3, 1),
        (512, 512, 7, 1, 1),
        (3, 64, 112, 7, 1),
        (32, 32, 32, 3, 32),
        (128, 256, 28, 3, 2),
    ] {
        let kc = kernel(&conv_graph(c, m, hw, k, g), &p, Precision::Fp16);
        let achieved = kc.flops as f64 / (kc.total_us * 1e-6);
        assert!(
            achieved <= peak,
            "{c}->{m} {hw}x{hw} k{k}: {achieved:e} flop/s"
        );
        checked += 1;
    }
    let m = compile(
        &npu::zoo::conv_heavy(1).unwrap(),
        &p,
        &CompileOptions {
            precision: Precision::Fp16,
            gears: vec![1, 32],
            ..Default::default()
        },
    )
    .unwrap();
    for &gear in &m.gears {
        for kc in m.kernel_costs(gear, &p).unwrap() {
            if kc.total_us == 0.0 {
                // Pure views (Flatten) are free and do no work.
                assert_eq!(kc.flops, 0);
                continue;
            }
            assert!(kc.flops as f64 / (kc.total_us * 1e-6) <= peak, "{kc:?}");
            assert!((0.0..1.0).contains(&kc.padding_waste));
            checked += 1;
        }
    }
    assert!(checked > 10);
}

#[test]
fn padding_waste_is_counted() {
    let p = p310();
    // 17 output channels pad to 32 in the N direction of the cube fractal.
    let k = kernel(&conv_graph(16, 17, 16, 1, 1), &p, Precision::Fp16);
    assert!(k.padding_waste > 0.4, "{k:?}");
    let k = kernel(&conv_graph(16, 16, 16, 1, 1), &p, Precision::Fp16);
    assert!(k.padding_waste < 1e-9, "{k:?}");
}

#[test]
fn bigger_device_is_faster() {
    let g = npu::zoo::conv_heavy(2).unwrap();
    let lat = |name: &str| {
        let p = DeviceProfile::builtin(name).unwrap();
        let m = compile(
            &g,
            &p,
            &CompileOptions {
                precision: Precision::Fp16,
                gears: vec![32],
                ..Default::default()
            },
        )
        .unwrap();
        m.latency_us(32, &p).unwrap()
    };
    let (a, b, c) = (lat("ascend310"), lat("ascend310p"), lat("ascend910b"));
    assert!(a > b && b > c, "{a} {b} {c}");
}

#[test]
fn cube_tiles_fit_the_local_buffers() {
    for name in DeviceProfile::builtin_names() {
        let p = DeviceProfile::builtin(name).unwrap();
        let s = &p.ai_core_spec;
        for prec in [Precision::Fp16, Precision::Int8, Precision::Fp32] {
            for &(c, m, hw, k) in &[
                (3, 64, 112, 7),
                (64, 64, 56, 3),
                (512, 512, 7, 3),
                (1024, 1000, 1, 1),
            ] {
                let kc = kernel(&conv_graph(c, m, hw, k, 1), &p, prec);
                let t = kc.tiling.unwrap();
                let a = t.bm * s.cube_m * t.bk * t.k0 * t.in_bytes;
                let b = t.bk * t.k0 * t.bn * s.cube_n * t.in_bytes;
                let cc = t.bm * s.cube_m * t.bn * s.cube_n * 4;
                assert!(
                    2 * a <= s.l0_a_size && 2 * b <= s.l0_b_size && cc <= s.l0_c_size,
                    "{name} {prec:?}: {t:?}"
                );
                assert_eq!(
                    t.k0,
                    if prec == Precision::Int8 {
                        s.cube_k_int8
                    } else {
                        s.cube_k_fp16
                    }
                );
                assert_eq!(
                    t.blocks_per_core,
                    t.out_blocks.div_ceil(u64::from(p.soc_info.ai_core_cnt))
                );
            }
        }
    }
}

#[test]
fn per_op_type_efficiency_override_applies() {
    let mut p = p310();
    let sm = |p: &DeviceProfile| {
        let mut b = GraphBuilder::new("sm");
        let x = b.input("x", DType::F32, &[64, 4096]);
        let y = b.node(npu::ir::Op::Softmax { axis: -1 }, &[&x]);
        b.output(&y, DType::F32);
        kernel(&b.build().unwrap(), p, Precision::Fp16)
    };
    let base = sm(&p);
    p.efficiency.op_type.insert("Softmax".into(), 0.1);
    let slow = sm(&p);
    assert!(
        (slow.vector_us / base.vector_us - 5.0).abs() < 1e-9,
        "{} vs {}",
        slow.vector_us,
        base.vector_us
    );
    p.efficiency.op_type.insert("Softmax".into(), 1.5);
    let text = toml::to_string(&p).unwrap();
    assert!(
        DeviceProfile::from_toml(&text).is_err(),
        "efficiency above 1 is refused"
    );
}
