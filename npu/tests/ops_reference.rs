//! Each kernel against a naive reference implementation on random inputs.

#![allow(clippy::unwrap_used)]

use ndarray::{ArrayD, IxDyn};
use npu::builder::Rng;
use npu::ir::{
    Activation, AutoPad, BinaryOp, ConvAttrs, CoordMode, NearestMode, PoolAttrs, QuantParams,
    Tensor,
};
use npu::ops::{self, Weights};
use proptest::prelude::*;

fn arr(rng: &mut Rng, shape: &[usize]) -> ArrayD<f32> {
    match rng.tensor(shape, 1.0) {
        Tensor::F32(a) => a,
        _ => unreachable!(),
    }
}

fn close(a: &ArrayD<f32>, b: &ArrayD<f32>, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{x} vs {y} (tol {tol})"
        );
    }
}

/// Direct 7-loop convolution.
#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &ArrayD<f32>,
    w: &ArrayD<f32>,
    b: Option<&[f32]>,
    s: [usize; 2],
    p: [usize; 4],
    d: [usize; 2],
    g: usize,
) -> ArrayD<f32> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (m, cg, kh, kw) = (w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]);
    let ho = (h + p[0] + p[2] - (kh - 1) * d[0] - 1) / s[0] + 1;
    let wo = (wd + p[1] + p[3] - (kw - 1) * d[1] - 1) / s[1] + 1;
    let mg = m / g;
    let _ = c;
    let mut y = ArrayD::zeros(IxDyn(&[n, m, ho, wo]));
    for ni in 0..n {
        for oc in 0..m {
            let gi = oc / mg;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[oc]) as f64;
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ix = (ox * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    acc += (x[[ni, gi * cg + ci, iy as usize, ix as usize]]
                                        * w[[oc, ci, ky, kx]])
                                        as f64;
                                }
                            }
                        }
                    }
                    y[[ni, oc, oy, ox]] = acc as f32;
                }
            }
        }
    }
    y
}

#[allow(clippy::type_complexity)]
fn conv_case() -> impl Strategy<
    Value = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        [usize; 4],
        usize,
        u64,
    ),
> {
    (
        1usize..3,  // n
        1usize..4,  // channels per group
        1usize..4,  // groups
        1usize..4,  // out per group
        3usize..10, // h
        3usize..10, // w
        1usize..4,  // k
        1usize..3,  // stride
        prop::array::uniform4(0usize..3),
        1usize..3, // dilation
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv_matches_naive((n, cg, g, mg, h, w, k, s, p, d, seed) in conv_case()) {
        prop_assume!(h + p[0] + p[2] > (k - 1) * d && w + p[1] + p[3] > (k - 1) * d);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[n, cg * g, h, w]);
        let wt = arr(&mut rng, &[mg * g, cg, k, k]);
        let b: Vec<f32> = (0..mg * g).map(|_| rng.sym(1.0)).collect();
        let attrs = ConvAttrs { kernel: [k, k], strides: [s, s], pads: p, dilations: [d, d], group: g, ..ConvAttrs::default() };
        let got = ops::conv2d(&x, Weights::F32(&wt), Some(&b), &attrs, "t").unwrap();
        let want = naive_conv(&x, &wt, Some(&b), [s, s], p, [d, d], g);
        close(&got, &want, 1e-5);
    }

    #[test]
    fn conv_int8_matches_dequantised_naive((n, cg, g, mg, h, w, k, s, p, d, seed) in conv_case()) {
        prop_assume!(h + p[0] + p[2] > (k - 1) * d && w + p[1] + p[3] > (k - 1) * d);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[n, cg * g, h, w]);
        let wt = arr(&mut rng, &[mg * g, cg, k, k]);
        let sx = 1.0 / 127.0;
        let scales: Vec<f32> = (0..mg * g).map(|i| (0.5 + i as f32 * 0.1) / 127.0).collect();
        let mut wq = ArrayD::<i8>::zeros(wt.raw_dim());
        let mut wdq = wt.clone();
        for ((idx, v), (q, dq)) in wt.indexed_iter().zip(wq.iter_mut().zip(wdq.iter_mut())) {
            *q = ops::quantize_sym(*v, scales[idx[0]]);
            *dq = f32::from(*q) * scales[idx[0]];
        }
        let xdq = x.mapv(|v| f32::from(ops::quantize_sym(v, sx)) * sx);
        let qp = QuantParams { input_scale: sx, weight_scales: scales.clone() };
        let attrs = ConvAttrs { strides: [s, s], pads: p, dilations: [d, d], group: g, activation: Some(Activation::Relu), quant: Some(qp.clone()), ..ConvAttrs::default() };
        let got = ops::conv2d(&x, Weights::I8(&wq, &qp), None, &attrs, "t").unwrap();
        let want = naive_conv(&xdq, &wdq, None, [s, s], p, [d, d], g).mapv(|v| v.max(0.0));
        close(&got, &want, 1e-5);
    }

    #[test]
    fn conv_transpose_matches_gather_form(n in 1usize..3, cg in 1usize..3, mg in 1usize..3, g in 1usize..3, h in 1usize..5, w in 1usize..5,
                                          k in 1usize..4, s in 1usize..3, d in 1usize..3, p in 0usize..2, op in 0usize..2, seed in any::<u64>()) {
        let span = d * (k - 1) + 1;
        prop_assume!(op < s && (s * (h - 1) + op + span) > 2 * p && (s * (w - 1) + op + span) > 2 * p);
        let (c, m) = (cg * g, mg * g);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[n, c, h, w]);
        let wt = arr(&mut rng, &[c, mg, k, k]);
        let b: Vec<f32> = (0..m).map(|_| rng.sym(1.0)).collect();
        let attrs = ConvAttrs { strides: [s, s], pads: [p; 4], dilations: [d, d], group: g, output_padding: [op, op], ..ConvAttrs::default() };
        let got = ops::conv_transpose2d(&x, &wt, Some(&b), &attrs, "t").unwrap();
        let (ho, wo) = (s * (h - 1) + op + span - 2 * p, s * (w - 1) + op + span - 2 * p);
        prop_assert_eq!(got.shape(), &[n, m, ho, wo]);
        // Gather form: each output pixel sums the inputs of its group whose window covers it.
        for ni in 0..n { for oc in 0..m { for oy in 0..ho { for ox in 0..wo {
            let gi = oc / mg;
            let mut acc = f64::from(b[oc]);
            for ci in gi * cg..(gi + 1) * cg { for y in 0..h { for xx in 0..w { for ky in 0..k { for kx in 0..k {
                if y * s + ky * d == oy + p && xx * s + kx * d == ox + p {
                    acc += (x[[ni, ci, y, xx]] * wt[[ci, oc - gi * mg, ky, kx]]) as f64;
                }
            }}}}}
            let v = got[[ni, oc, oy, ox]];
            prop_assert!((v as f64 - acc).abs() <= 1e-5 * acc.abs().max(1.0), "{} vs {}", v, acc);
        }}}}
    }

    #[test]
    fn pools_match_naive(n in 1usize..3, c in 1usize..3, h in 2usize..9, w in 2usize..9, k in 1usize..4, s in 1usize..3,
                         p in 0usize..2, incl in any::<bool>(), seed in any::<u64>()) {
        prop_assume!(p < k && h + 2 * p >= k && w + 2 * p >= k);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[n, c, h, w]);
        let attrs = PoolAttrs { kernel: [k, k], strides: [s, s], pads: [p; 4], dilations: [1, 1], auto_pad: AutoPad::NotSet, ceil_mode: false, count_include_pad: incl };
        let mx = ops::pool2d(&x, &attrs, true, "t").unwrap();
        let av = ops::pool2d(&x, &attrs, false, "t").unwrap();
        let ho = (h + 2 * p - k) / s + 1;
        let wo = (w + 2 * p - k) / s + 1;
        prop_assert_eq!(mx.shape(), &[n, c, ho, wo]);
        for ni in 0..n { for ci in 0..c { for oy in 0..ho { for ox in 0..wo {
            let mut m = f32::NEG_INFINITY; let mut sum = 0.0; let mut cnt = 0;
            for ky in 0..k { for kx in 0..k {
                let iy = (oy * s + ky) as isize - p as isize; let ix = (ox * s + kx) as isize - p as isize;
                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                    let v = x[[ni, ci, iy as usize, ix as usize]]; m = m.max(v); sum += v; cnt += 1;
                }
            }}
            let div = if incl { k * k } else { cnt };
            prop_assert_eq!(mx[[ni, ci, oy, ox]], m);
            prop_assert!((av[[ni, ci, oy, ox]] - sum / div as f32).abs() < 1e-5);
        }}}}
    }

    #[test]
    fn matmul_broadcast_matches_naive(b1 in 1usize..3, b2 in 1usize..3, m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let a = arr(&mut rng, &[b1, 1, m, k]);
        let b = arr(&mut rng, &[b2, k, n]);
        let y = ops::matmul(&a, &b, "t").unwrap();
        prop_assert_eq!(y.shape(), &[b1, b2, m, n]);
        for i in 0..b1 { for j in 0..b2 { for r in 0..m { for c in 0..n {
            let s: f32 = (0..k).map(|t| a[[i, 0, r, t]] * b[[j, t, c]]).sum();
            prop_assert!((y[[i, j, r, c]] - s).abs() < 1e-5);
        }}}}
    }

    #[test]
    fn binary_broadcast_matches_naive(d0 in 1usize..4, d1 in 1usize..4, d2 in 1usize..4, mask in 0u8..8, opi in 0usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let full = [d0, d1, d2];
        let bshape: Vec<usize> = full.iter().enumerate().map(|(i, &d)| if mask & (1 << i) != 0 { 1 } else { d }).collect();
        let a = arr(&mut rng, &full);
        let b = arr(&mut rng, &bshape[1..]); // lower rank, broadcast from the right
        let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div][opi];
        let y = ops::binary(op, &Tensor::F32(a.clone()), &Tensor::F32(b.clone()), "t").unwrap();
        let y = y.as_f32("t").unwrap();
        for i in 0..d0 { for j in 0..d1 { for l in 0..d2 {
            let bv = b[[if bshape[1] == 1 { 0 } else { j }, if bshape[2] == 1 { 0 } else { l }]];
            let av = a[[i, j, l]];
            let want = match op { BinaryOp::Add => av + bv, BinaryOp::Sub => av - bv, BinaryOp::Mul => av * bv, BinaryOp::Div => av / bv, _ => unreachable!() };
            prop_assert_eq!(y[[i, j, l]], want);
        }}}
    }

    #[test]
    fn softmax_reduce_arg_match_naive(r in 1usize..5, c in 1usize..7, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[r, c]);
        let sm = ops::softmax(&x, -1, "t").unwrap();
        let rs = ops::reduce(&x, &[1], true, false, "t").unwrap();
        let rm = ops::reduce(&x, &[0], false, true, "t").unwrap();
        let am = ops::arg_reduce(&x, 1, false, true, "t").unwrap();
        let an = ops::arg_reduce(&x, 0, true, false, "t").unwrap();
        prop_assert_eq!(rs.shape(), &[r, 1]);
        prop_assert_eq!(an.shape(), &[1, c]);
        for i in 0..r {
            let row: Vec<f32> = (0..c).map(|j| x[[i, j]]).collect();
            let mx = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let den: f32 = row.iter().map(|v| (v - mx).exp()).sum();
            for j in 0..c { prop_assert!((sm[[i, j]] - (row[j] - mx).exp() / den).abs() < 1e-6); }
            prop_assert!((rs[[i, 0]] - row.iter().sum::<f32>()).abs() < 1e-5);
            let best = (0..c).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            prop_assert_eq!(am[[i]], best as i64);
        }
        for j in 0..c {
            let col: Vec<f32> = (0..r).map(|i| x[[i, j]]).collect();
            prop_assert_eq!(rm[[j]], col.iter().cloned().fold(f32::INFINITY, f32::min));
            let worst = (0..r).fold(0, |b, i| if col[i] < col[b] { i } else { b });
            prop_assert_eq!(an[[0, j]], worst as i64);
        }
    }

    #[test]
    fn transpose_gather_concat_match_naive(a in 1usize..4, b in 1usize..4, c in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[a, b, c]);
        let t = ops::transpose(&Tensor::F32(x.clone()), &[2, 0, 1], "t").unwrap();
        let t = t.as_f32("t").unwrap();
        prop_assert_eq!(t.shape(), &[c, a, b]);
        let idx: Vec<i64> = (0..5).map(|i| (i as i64 % b as i64) - (i as i64 % 2) * b as i64).collect();
        let gi = Tensor::from_i64(&[5], idx.clone()).unwrap();
        let g = ops::gather(&Tensor::F32(x.clone()), &gi, 1, "t").unwrap();
        let g = g.as_f32("t").unwrap();
        prop_assert_eq!(g.shape(), &[a, 5, c]);
        let cat = ops::concat(&[&Tensor::F32(x.clone()), &Tensor::F32(x.clone())], -1, "t").unwrap();
        let cat = cat.as_f32("t").unwrap();
        for i in 0..a { for j in 0..b { for l in 0..c {
            prop_assert_eq!(t[[l, i, j]], x[[i, j, l]]);
            prop_assert_eq!(cat[[i, j, l]], x[[i, j, l]]);
            prop_assert_eq!(cat[[i, j, l + c]], x[[i, j, l]]);
        }}}
        for i in 0..a { for (q, &ix) in idx.iter().enumerate() { for l in 0..c {
            let j = if ix < 0 { ix + b as i64 } else { ix } as usize;
            prop_assert_eq!(g[[i, q, l]], x[[i, j, l]]);
        }}}
    }

    #[test]
    fn resize_nearest_integer_scale(h in 1usize..5, w in 1usize..5, sh in 1usize..4, sw in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[1, 2, h, w]);
        let y = ops::resize_nearest(&Tensor::F32(x.clone()), &[1.0, 1.0, sh as f32, sw as f32], &[], CoordMode::Asymmetric, NearestMode::Floor, "t").unwrap();
        let y = y.as_f32("t").unwrap();
        prop_assert_eq!(y.shape(), &[1, 2, h * sh, w * sw]);
        for c in 0..2 { for i in 0..h * sh { for j in 0..w * sw {
            prop_assert_eq!(y[[0, c, i, j]], x[[0, c, i / sh, j / sw]]);
        }}}
    }

    #[test]
    fn quantize_dequantize_roundtrip(n in 1usize..20, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[n]);
        let q = ops::quantize_linear(&x, &[0.01], &[3], 0, "t").unwrap();
        let d = ops::dequantize_linear(&Tensor::I8(q.clone()), &[0.01], &[3], 0, "t").unwrap();
        for i in 0..n {
            let want = ((x[i] / 0.01).round_ties_even() + 3.0).clamp(-128.0, 127.0);
            prop_assert_eq!(f32::from(q[i]), want);
            prop_assert!((d[i] - (want - 3.0) * 0.01).abs() < 1e-6);
        }
    }
}

#[test]
fn batchnorm_and_activations() {
    let mut rng = Rng::new(5);
    let x = arr(&mut rng, &[2, 3, 2, 2]);
    let (sc, bi, me, va) = (
        [1.0, 2.0, 0.5],
        [0.1, 0.0, -0.3],
        [0.2, -0.1, 0.0],
        [1.0, 0.25, 4.0],
    );
    let y = ops::batch_norm(&x, &sc, &bi, &me, &va, 1e-5, "t").unwrap();
    for ((idx, v), yv) in x.indexed_iter().zip(y.iter()) {
        let c = idx[1];
        let want = (v - me[c]) / (va[c] + 1e-5f32).sqrt() * sc[c] + bi[c];
        assert!((yv - want).abs() < 1e-5);
    }
    assert_eq!(Activation::LeakyRelu(0.1).apply(-2.0), -0.2);
    assert_eq!(Activation::Clip(-1.0, 0.5).apply(3.0), 0.5);
    assert!((Activation::Sigmoid.apply(0.0) - 0.5).abs() < 1e-7);
    let g = ops::global_avg_pool(&x, "t").unwrap();
    assert_eq!(g.shape(), &[2, 3, 1, 1]);
    let m: f32 = (0..2)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| x[[1, 2, i, j]])
        .sum::<f32>()
        / 4.0;
    assert!((g[[1, 2, 0, 0]] - m).abs() < 1e-6);
}

#[test]
fn shape_errors_are_typed() {
    let x = ArrayD::<f32>::zeros(IxDyn(&[1, 3, 4, 4]));
    let w = ArrayD::<f32>::zeros(IxDyn(&[2, 2, 3, 3]));
    let e = ops::conv2d(&x, Weights::F32(&w), None, &ConvAttrs::default(), "c1").unwrap_err();
    assert!(matches!(e, npu::NpuError::ShapeMismatch { .. }), "{e}");
    let e = ops::binary(
        BinaryOp::Add,
        &Tensor::F32(ArrayD::zeros(IxDyn(&[2, 3]))),
        &Tensor::F32(ArrayD::zeros(IxDyn(&[4]))),
        "a",
    )
    .unwrap_err();
    assert!(e.to_string().contains("broadcast"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn gemm_matches_naive(m in 1usize..6, k in 1usize..7, n in 1usize..6, ta in any::<bool>(), tb in any::<bool>(),
                          cmode in 0usize..3, alpha in -2.0f32..2.0, beta in -2.0f32..2.0, seed in any::<u64>()) {
        use npu::ir::GemmAttrs;
        let mut rng = Rng::new(seed);
        let a = arr(&mut rng, &if ta { [k, m] } else { [m, k] });
        let b = arr(&mut rng, &if tb { [n, k] } else { [k, n] });
        let c = match cmode { 0 => None, 1 => Some(arr(&mut rng, &[n])), _ => Some(arr(&mut rng, &[m, n])) };
        let at = GemmAttrs { alpha, beta, trans_a: ta, trans_b: tb, activation: Some(Activation::LeakyRelu(0.1)), quant: None };
        let y = ops::gemm(&a, &Tensor::F32(b.clone()), c.as_ref(), &at, "t").unwrap();
        for i in 0..m { for j in 0..n {
            let mut s = 0.0f32;
            for t in 0..k {
                let av = if ta { a[[t, i]] } else { a[[i, t]] };
                let bv = if tb { b[[j, t]] } else { b[[t, j]] };
                s += av * bv;
            }
            let cv = match &c { None => 0.0, Some(c) if c.ndim() == 1 => c[[j]], Some(c) => c[[i, j]] };
            let want = Activation::LeakyRelu(0.1).apply(alpha * s + beta * cv);
            prop_assert!((y[[i, j]] - want).abs() <= 1e-5 * want.abs().max(1.0), "{} vs {}", y[[i, j]], want);
        }}
    }

    #[test]
    fn int8_gemm_matches_integer_reference(m in 1usize..5, k in prop_oneof![1usize..40, 1000usize..2100], n in 1usize..6,
                                           extreme in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        // `extreme`: all -128, the worst case for exactness of the f32 blocks.
        let mut draw = |_| if extreme { -128i8 } else { (rng.next_u64() % 256) as u8 as i8 };
        let a: Vec<i8> = (0..m * k).map(&mut draw).collect();
        let b: Vec<i8> = (0..k * n).map(&mut draw).collect();
        let c = ops::gemm_i8(&a, &b, m, k, n);
        prop_assert_eq!(&c, &ops::gemm_i8_scalar(&a, &b, m, k, n));
        for i in 0..m { for j in 0..n {
            let want: i32 = (0..k).map(|t| i32::from(a[i * k + t]) * i32::from(b[t * n + j])).sum();
            prop_assert_eq!(c[i * n + j], want);
        }}
    }

    #[test]
    fn resize_nearest_matches_coordinate_formula(h in 1usize..6, w in 1usize..6, sh in 0.3f32..3.5, sw in 0.3f32..3.5,
                                                 mode in 0usize..3, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[1, 1, h, w]);
        let (coord, nearest) = [(CoordMode::HalfPixel, NearestMode::RoundPreferFloor), (CoordMode::Asymmetric, NearestMode::Floor),
                                (CoordMode::AlignCorners, NearestMode::RoundPreferCeil)][mode];
        let y = ops::resize_nearest(&Tensor::F32(x.clone()), &[1.0, 1.0, sh, sw], &[], coord, nearest, "t");
        let (ho, wo) = ((h as f32 * sh).floor() as usize, (w as f32 * sw).floor() as usize);
        prop_assume!(ho > 0 && wo > 0);
        let y = y.unwrap();
        let y = y.as_f32("t").unwrap();
        prop_assert_eq!(y.shape(), &[1, 1, ho, wo]);
        // Independent per-pixel evaluation of the ONNX formulas in f64.
        let src = |o: usize, scale: f32, inn: usize, out: usize| -> usize {
            let o = o as f64; let s = scale as f64;
            let c = match coord {
                CoordMode::HalfPixel => (o + 0.5) / s - 0.5,
                CoordMode::Asymmetric => o / s,
                CoordMode::AlignCorners => if out == 1 { 0.0 } else { o * (inn as f64 - 1.0) / (out as f64 - 1.0) },
            };
            let r = match nearest {
                NearestMode::Floor => c.floor(),
                NearestMode::RoundPreferFloor => if (c - c.floor() - 0.5).abs() < 1e-6 { c.floor() } else { c.round() },
                NearestMode::RoundPreferCeil => if (c - c.floor() - 0.5).abs() < 1e-6 { c.ceil() } else { c.round() },
                NearestMode::Ceil => c.ceil(),
            };
            r.clamp(0.0, inn as f64 - 1.0) as usize
        };
        for i in 0..ho { for j in 0..wo {
            prop_assert_eq!(y[[0, 0, i, j]], x[[0, 0, src(i, sh, h, ho), src(j, sw, w, wo)]]);
        }}
    }

    #[test]
    fn shape_ops_preserve_row_major_order(a in 1usize..4, b in 1usize..4, c in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = Tensor::F32(arr(&mut rng, &[a, 1, b, c]));
        let flat: Vec<f32> = x.to_f32_vec();
        let sq = ops::squeeze_shape(x.shape(), &[1], "t").unwrap();
        prop_assert_eq!(&sq, &vec![a, b, c]);
        let us = ops::unsqueeze_shape(&sq, &[0, -1], "t").unwrap();
        prop_assert_eq!(&us, &vec![1, a, b, c, 1]);
        let target = ops::reshape_target(x.shape(), &[0, -1], "t").unwrap();
        prop_assert_eq!(&target, &vec![a, b * c]);
        let r = ops::reshape(&x, &target, "t").unwrap();
        prop_assert_eq!(r.to_f32_vec(), flat);
        prop_assert!(ops::reshape_target(x.shape(), &[-1, -1], "t").is_err());
        prop_assert!(ops::reshape_target(x.shape(), &[(a * b * c + 1) as i64], "t").is_err());
    }
}

/// Random conv/pool/act graphs survive export → import with identical results.
mod roundtrip {
    use super::*;
    use npu::builder::GraphBuilder;
    use npu::exec::{run_graph, ExecOptions};
    use npu::ir::{DType, Op};
    use npu::onnx::{export_onnx, import_onnx};
    use std::collections::BTreeMap;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn builder_graph_onnx_roundtrip(c in 1usize..4, m in 1usize..5, k in 1usize..4, s in 1usize..3, act in 0usize..5,
                                        pool in any::<bool>(), seed in any::<u64>()) {
            let mut rng = Rng::new(seed);
            let mut b = GraphBuilder::new("rt");
            let x = b.input_batched("x", &[c, 9, 8]);
            let w = rng.tensor(&[m, c, k, k], 0.5);
            let bias = rng.tensor(&[m], 0.5);
            let y = b.conv(&x, w, Some(bias), ConvAttrs { strides: [s, s], pads: [k / 2; 4], ..ConvAttrs::default() });
            let a = [Activation::Relu, Activation::LeakyRelu(0.3), Activation::Sigmoid, Activation::Tanh, Activation::Clip(-0.2, 0.7)][act];
            let mut y = b.act(&y, a);
            if pool {
                y = b.max_pool(&y, 2, 1, 0);
            }
            let y = b.node(Op::Softmax { axis: 1 }, &[&y]);
            b.output(&y, DType::F32);
            let g = b.build().unwrap();
            let g2 = import_onnx(&export_onnx(&g).unwrap()).unwrap();
            let inputs = BTreeMap::from([("x".to_string(), rng.tensor(&[2, c, 9, 8], 1.0))]);
            let o1 = run_graph(&g, &inputs, ExecOptions::default()).unwrap();
            let o2 = run_graph(&g2, &inputs, ExecOptions::default()).unwrap();
            prop_assert_eq!(o1, o2);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn maxpool_dilation_ceil_mode_matches_naive(h in 2usize..10, w in 2usize..10, k in 1usize..4, s in 1usize..4, d in 1usize..3,
                                               p in 0usize..2, ceil in any::<bool>(), seed in any::<u64>()) {
        let span = d * (k - 1) + 1;
        prop_assume!(p < k && h + 2 * p >= span && w + 2 * p >= span);
        let mut rng = Rng::new(seed);
        let x = arr(&mut rng, &[1, 2, h, w]);
        let attrs = PoolAttrs { kernel: [k, k], strides: [s, s], pads: [p; 4], dilations: [d, d], auto_pad: AutoPad::NotSet, ceil_mode: ceil, count_include_pad: false };
        let y = ops::pool2d(&x, &attrs, true, "t").unwrap();
        let size = |n: usize| {
            let num = n + 2 * p - span;
            let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
            // A last window starting in the end padding is dropped (ONNX / PyTorch rule).
            if ceil && (o - 1) * s >= n + p { o -= 1; }
            o
        };
        let (ho, wo) = (size(h), size(w));
        prop_assert_eq!(y.shape(), &[1, 2, ho, wo]);
        for c in 0..2 { for oy in 0..ho { for ox in 0..wo {
            let mut m = f32::NEG_INFINITY;
            for ky in 0..k { for kx in 0..k {
                let iy = (oy * s + ky * d) as isize - p as isize;
                let ix = (ox * s + kx * d) as isize - p as isize;
                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                    m = m.max(x[[0, c, iy as usize, ix as usize]]);
                }
            }}
            prop_assert_eq!(y[[0, c, oy, ox]], m);
        }}}
    }
}
