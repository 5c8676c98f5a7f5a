//! The op families added for ONNX opsets 11–23 against naive reference loops: N-D
//! convolution and pooling, unary maths, the new binaries, comparisons and Where, all
//! reductions, movement ops, normalisations, LogSoftmax and the pre-13 Softmax coercion;
//! and the importer's opset range.

#![allow(clippy::unwrap_used)]

use ndarray::{ArrayD, IxDyn};
use npu::builder::Rng;
use npu::ir::{
    AutoPad, BinaryOp, CompareOp, DType, PadMode, ReduceKind, Tensor, UnaryOp, WindowNd,
};
use npu::ops;
use proptest::prelude::*;

fn arr(rng: &mut Rng, shape: &[usize]) -> ArrayD<f32> {
    match rng.tensor(shape, 1.0) {
        Tensor::F32(a) => a,
        _ => unreachable!(),
    }
}

fn win(kernel: Vec<usize>, s: usize, p: usize, d: usize, g: usize) -> WindowNd {
    let r = kernel.len();
    WindowNd {
        kernel,
        strides: vec![s; r],
        pads: vec![p; 2 * r],
        dilations: vec![d; r],
        auto_pad: AutoPad::NotSet,
        group: g,
        ceil_mode: false,
        count_include_pad: false,
    }
}

/// Direct 3-D convolution loop (1-D runs as depth = height = 1).
#[allow(clippy::too_many_arguments)]
fn naive_conv3(
    x: &ArrayD<f32>,
    w: &ArrayD<f32>,
    b: &[f32],
    s: usize,
    p: usize,
    d: usize,
    g: usize,
) -> ArrayD<f32> {
    let (n, _c, xd, xh, xw) = (
        x.shape()[0],
        x.shape()[1],
        x.shape()[2],
        x.shape()[3],
        x.shape()[4],
    );
    let (m, cg, kd, kh, kw) = (
        w.shape()[0],
        w.shape()[1],
        w.shape()[2],
        w.shape()[3],
        w.shape()[4],
    );
    let o = |i: usize, k: usize, p: usize| (i + 2 * p - (k - 1) * d - 1) / s + 1;
    let (pd, ph) = (if xd == 1 { 0 } else { p }, if xh == 1 { 0 } else { p });
    let (od, oh, ow) = (o(xd, kd, pd), o(xh, kh, ph), o(xw, kw, p));
    let mg = m / g;
    let mut y = ArrayD::zeros(IxDyn(&[n, m, od, oh, ow]));
    for ni in 0..n {
        for oc in 0..m {
            for a in 0..od {
                for bb in 0..oh {
                    for cc in 0..ow {
                        let mut acc = f64::from(b[oc]);
                        for ci in 0..cg {
                            for ka in 0..kd {
                                for kb in 0..kh {
                                    for kc in 0..kw {
                                        let ia = (a * s + ka * d) as isize - pd as isize;
                                        let ib = (bb * s + kb * d) as isize - ph as isize;
                                        let ic = (cc * s + kc * d) as isize - p as isize;
                                        if ia >= 0
                                            && ib >= 0
                                            && ic >= 0
                                            && (ia as usize) < xd
                                            && (ib as usize) < xh
                                            && (ic as usize) < xw
                                        {
                                            acc += f64::from(
                                                x[[
                                                    ni,
                                                    (oc / mg) * cg + ci,
                                                    ia as usize,
                                                    ib as usize,
                                                    ic as usize,
                                                ]] * w[[oc, ci, ka, kb, kc]],
                                            );
                                        }
                                    }
                                }
                            }
                        }
                        y[[ni, oc, a, bb, cc]] = acc as f32;
                    }
                }
            }
        }
    }
    y
}

fn close(a: &ArrayD<f32>, b: &ArrayD<f32>, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "{x} vs {y}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv_nd_matches_naive(three in any::<bool>(), g in 1usize..3, cg in 1usize..3, mg in 1usize..3,
                             l in 3usize..7, k in 1usize..4, s in 1usize..3, p in 0usize..2, d in 1usize..3, seed in any::<u64>()) {
        prop_assume!(l + 2 * p > (k - 1) * d);
        let mut rng = Rng::new(seed);
        let (c, m) = (g * cg, g * mg);
        let (xs, ws): (Vec<usize>, Vec<usize>) = if three {
            (vec![2, c, l, l - 1, l], vec![m, cg, k, k, k])
        } else {
            (vec![2, c, l], vec![m, cg, k])
        };
        prop_assume!(!three || l - 1 + 2 * p > (k - 1) * d);
        let x = arr(&mut rng, &xs);
        let w = arr(&mut rng, &ws);
        let b: Vec<f32> = (0..m).map(|i| i as f32 * 0.1).collect();
        let y = ops::conv_nd(&x, &w, Some(&b), &win(ws[2..].to_vec(), s, p, d, g), "t").unwrap();
        // The same convolution as 3-D (1-D: depth = height = 1) in naive loops.
        let x5 = x.clone().into_shape_with_order(IxDyn(&[2, c, if three { l } else { 1 }, if three { l - 1 } else { 1 }, l])).unwrap();
        let w5 = w.clone().into_shape_with_order(IxDyn(&[m, cg, if three { k } else { 1 }, if three { k } else { 1 }, k])).unwrap();
        let want = naive_conv3(&x5, &w5, &b, s, p, d, g);
        let want = want.clone().into_shape_with_order(IxDyn(y.shape())).unwrap();
        close(&y, &want, 1e-4);
    }

    #[test]
    fn pool_1d_matches_naive(l in 2usize..9, k in 1usize..4, s in 1usize..3, p in 0usize..2, max in any::<bool>(), inc in any::<bool>(), seed in any::<u64>()) {
        prop_assume!(k <= l + 2 * p && p < k);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[1, 2, l]);
        let mut a = win(vec![k], s, p, 1, 1);
        a.count_include_pad = inc;
        let y = ops::pool_nd(&x, &a, max, "t").unwrap();
        let o = (l + 2 * p - k) / s + 1;
        prop_assert_eq!(y.shape(), &[1, 2, o]);
        for c in 0..2 { for i in 0..o {
            let taps: Vec<f32> = (0..k).filter_map(|t| {
                let q = (i * s + t) as isize - p as isize;
                (q >= 0 && (q as usize) < l).then(|| x[[0, c, q as usize]])
            }).collect();
            let want = if max { taps.iter().copied().fold(f32::NEG_INFINITY, f32::max) }
                else { taps.iter().sum::<f32>() / if inc { k as f32 } else { taps.len() as f32 } };
            prop_assert!((y[[0, c, i]] - want).abs() < 1e-5, "{} vs {}", y[[0, c, i]], want);
        }}
    }

    #[test]
    fn binaries_match_naive(n in 1usize..6, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let a = arr(&mut rng, &[2, n]);
        let b = arr(&mut rng, &[n]);
        for (op, f) in [
            (BinaryOp::Max, (|x: f32, y: f32| x.max(y)) as fn(f32, f32) -> f32),
            (BinaryOp::Min, |x, y| x.min(y)),
            (BinaryOp::PRelu, |x, y| if x < 0.0 { x * y } else { x }),
            (BinaryOp::Pow, |x: f32, y: f32| (f64::from(x.abs()).powf(f64::from(y))) as f32),
            (BinaryOp::Mod { fmod: true }, |x: f32, y: f32| x % y),
        ] {
            let base = if op == BinaryOp::Pow { a.mapv(f32::abs) } else { a.clone() };
            let y = ops::binary(op, &Tensor::F32(base), &Tensor::F32(b.clone()), "t").unwrap();
            let y = y.as_f32("t").unwrap();
            for i in 0..2 { for j in 0..n {
                prop_assert_eq!(y[[i, j]], f(a[[i, j]], b[[j]]));
            }}
        }
        // Python-style integer Mod takes the divisor's sign.
        let m = ops::binary(BinaryOp::Mod { fmod: false }, &Tensor::from_i64(&[2], vec![-7, 7]).unwrap(), &Tensor::from_i64(&[2], vec![3, -3]).unwrap(), "t").unwrap();
        prop_assert_eq!(m, Tensor::from_i64(&[2], vec![2, -2]).unwrap());
    }

    #[test]
    fn compare_and_where_match_naive(n in 1usize..7, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let a = arr(&mut rng, &[n]);
        let b = arr(&mut rng, &[1]);
        let c = ops::compare(CompareOp::Greater, &Tensor::F32(a.clone()), &Tensor::F32(b.clone()), "t").unwrap();
        let Tensor::I8(ci) = &c else { panic!("bool is int8") };
        for i in 0..n { prop_assert_eq!(ci[[i]], i8::from(a[[i]] > b[[0]])); }
        let w = ops::where_select(&c, &Tensor::F32(a.clone()), &Tensor::F32(b.clone()), "t").unwrap();
        let w = w.as_f32("t").unwrap();
        for i in 0..n { prop_assert_eq!(w[[i]], a[[i]].max(b[[0]])); }
    }

    #[test]
    fn reductions_match_naive(r in 1usize..4, c in 1usize..6, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[r, c]);
        for kind in [ReduceKind::Max, ReduceKind::Mean, ReduceKind::Prod, ReduceKind::L1, ReduceKind::L2, ReduceKind::LogSumExp, ReduceKind::SumSquare] {
            let y = ops::reduce_kind(&x, kind, &[1], false, "t").unwrap();
            prop_assert_eq!(y.shape(), &[r]);
            for i in 0..r {
                let row: Vec<f64> = (0..c).map(|j| f64::from(x[[i, j]])).collect();
                let want = match kind {
                    ReduceKind::Max => row.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    ReduceKind::Mean => row.iter().sum::<f64>() / c as f64,
                    ReduceKind::Prod => row.iter().product(),
                    ReduceKind::L1 => row.iter().map(|v| v.abs()).sum(),
                    ReduceKind::L2 => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
                    ReduceKind::LogSumExp => row.iter().map(|v| v.exp()).sum::<f64>().ln(),
                    ReduceKind::SumSquare => row.iter().map(|v| v * v).sum(),
                    _ => unreachable!(),
                } as f32;
                prop_assert!((y[[i]] - want).abs() <= 1e-5 * want.abs().max(1.0), "{kind:?}: {} vs {}", y[[i]], want);
            }
        }
    }

    #[test]
    fn norms_and_log_softmax_match_naive(r in 1usize..4, c in 2usize..7, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[r, c]);
        let ls = ops::log_softmax(&x, 1, "t").unwrap();
        let sm = ops::softmax(&x, 1, "t").unwrap();
        close(&ls, &sm.mapv(f32::ln), 1e-5);
        let scale = ArrayD::from_elem(IxDyn(&[c]), 2.0f32);
        let bias = ArrayD::from_elem(IxDyn(&[c]), 0.5f32);
        let ln = ops::layer_norm(&x, &scale, Some(&bias), -1, 1e-5, "t").unwrap();
        for i in 0..r {
            let row: Vec<f64> = (0..c).map(|j| f64::from(x[[i, j]])).collect();
            let mean = row.iter().sum::<f64>() / c as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
            for j in 0..c {
                let want = ((row[j] - mean) / (var + 1e-5).sqrt() * 2.0 + 0.5) as f32;
                prop_assert!((ln[[i, j]] - want).abs() < 1e-4);
            }
        }
        // Before opset 13, Softmax of [r, c] at axis 0 normalises over all r * c values.
        let co = ops::softmax_coerced(&x, 0, false, "t").unwrap();
        let total: f32 = x.iter().map(|v| v.exp()).sum();
        close(&co, &x.mapv(|v| v.exp() / total), 1e-5);
    }
}

#[test]
fn unary_ops_match_std() {
    let xs = [-2.5f32, -1.0, -0.3, 0.0, 0.4, 1.0, 3.7];
    for &x in &xs {
        let d = f64::from(x);
        let cases = [
            (UnaryOp::Neg, -x),
            (UnaryOp::Abs, x.abs()),
            (UnaryOp::Exp, d.exp() as f32),
            (UnaryOp::Floor, x.floor()),
            (UnaryOp::Ceil, x.ceil()),
            (
                UnaryOp::Sign,
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                },
            ),
            (UnaryOp::Softplus, (1.0 + d.exp()).ln() as f32),
            (UnaryOp::Softsign, x / (1.0 + x.abs())),
            (
                UnaryOp::Elu(1.0),
                if x >= 0.0 { x } else { (d.exp() - 1.0) as f32 },
            ),
            (
                UnaryOp::Shrink(0.1, 0.5),
                if x > 0.5 {
                    x - 0.1
                } else if x < -0.5 {
                    x + 0.1
                } else {
                    0.0
                },
            ),
        ];
        for (op, want) in cases {
            let got = ops::unary_f32(op, x);
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{op:?}({x}) = {got}, want {want}"
            );
        }
    }
    // erf against tabulated values (Abramowitz & Stegun, table 7.1).
    for (x, want) in [
        (0.1, 0.112_462_916),
        (0.5, 0.520_499_878),
        (1.0, 0.842_700_793),
        (2.0, 0.995_322_265),
        (3.0, 0.999_977_910),
    ] {
        assert!((ops::erf64(x) - want).abs() < 1e-9, "erf({x})");
        assert!((ops::erf64(-x) + want).abs() < 1e-9);
    }
    let t = ops::unary(
        UnaryOp::Abs,
        &Tensor::from_i64(&[2], vec![-3, 4]).unwrap(),
        "t",
    )
    .unwrap();
    assert_eq!(t, Tensor::from_i64(&[2], vec![3, 4]).unwrap());
}

#[test]
fn movement_ops_match_naive() {
    let x = Tensor::from_f32(&[2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
    // Slice with a negative step: x[1::-1, 2:0:-1]
    let idx =
        ops::slice_indices(&[2, 3], &[1, 2], &[i64::MIN, 0], &[0, 1], &[-1, -1], "t").unwrap();
    assert_eq!(idx, vec![vec![1, 0], vec![2, 1]]);
    let t = ops::tile(&x, &[1, 2], "t").unwrap();
    assert_eq!(
        t.to_f32_vec(),
        vec![0., 1., 2., 0., 1., 2., 3., 4., 5., 3., 4., 5.]
    );
    let e = ops::expand(
        &Tensor::from_f32(&[3], vec![1., 2., 3.]).unwrap(),
        &[2, 3],
        "t",
    )
    .unwrap();
    assert_eq!(e.to_f32_vec(), vec![1., 2., 3., 1., 2., 3.]);
    assert_eq!(ops::split_sizes(7, &[], 3, "t").unwrap(), vec![3, 3, 1]);
    let row = Tensor::from_f32(&[1, 3], vec![1., 2., 3.]).unwrap();
    for (mode, want) in [
        (PadMode::Constant, vec![9., 9., 1., 2., 3., 9.]),
        (PadMode::Reflect, vec![3., 2., 1., 2., 3., 2.]),
        (PadMode::Edge, vec![1., 1., 1., 2., 3., 3.]),
        (PadMode::Wrap, vec![2., 3., 1., 2., 3., 1.]),
    ] {
        let p = ops::pad(&row, &[0, 2, 0, 1], mode, 9.0, "t").unwrap();
        assert_eq!(p.to_f32_vec(), want, "{mode:?}");
    }
    // Negative pads crop.
    let p = ops::pad(&row, &[0, -1, 0, 0], PadMode::Constant, 0.0, "t").unwrap();
    assert_eq!(p.to_f32_vec(), vec![2., 3.]);
    let c = ops::cast(
        &Tensor::from_f32(&[3], vec![-1.7, 0.0, 2.9]).unwrap(),
        DType::I64,
        false,
    );
    assert_eq!(c, Tensor::from_i64(&[3], vec![-1, 0, 2]).unwrap());
    let b = ops::cast(
        &Tensor::from_f32(&[2], vec![0.0, 0.5]).unwrap(),
        DType::I8,
        true,
    );
    assert_eq!(b.to_f32_vec(), vec![0., 1.]);
}

#[test]
fn lrn_and_instance_norm_match_naive() {
    let mut rng = Rng::new(7);
    let x = arr(&mut rng, &[1, 5, 2, 2]);
    let y = ops::lrn(&x, 3, 1e-1, 0.75, 1.0, "t").unwrap();
    for c in 0..5usize {
        for p in 0..4usize {
            let (h, w) = (p / 2, p % 2);
            let sq: f32 = (c.saturating_sub(1)..=(c + 1).min(4))
                .map(|k| x[[0, k, h, w]].powi(2))
                .sum();
            let want = x[[0, c, h, w]] / (1.0 + 0.1 / 3.0 * sq).powf(0.75);
            assert!((y[[0, c, h, w]] - want).abs() < 1e-5);
        }
    }
    let y = ops::instance_norm(&x, &[1.0; 5], &[0.0; 5], 1e-5, "t").unwrap();
    for c in 0..5 {
        let v: Vec<f32> = (0..4).map(|p| y[[0, c, p / 2, p % 2]]).collect();
        let mean: f32 = v.iter().sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-5);
    }
}
