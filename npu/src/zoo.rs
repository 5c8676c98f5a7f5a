//! Small reference models built with the builder API (tests, benchmarks, demos). Weights are
//! deterministic pseudo-random values (He-style scaling) from a seed.

use crate::builder::{GraphBuilder, Rng};
use crate::error::Result;
use crate::ir::{Activation, ConvAttrs, DType, Graph, Op, Tensor};

#[allow(clippy::too_many_arguments)]
fn conv(
    b: &mut GraphBuilder,
    rng: &mut Rng,
    x: &str,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    group: usize,
) -> String {
    let fan_in = (cin / group * k * k) as f32;
    let w = rng.tensor(&[cout, cin / group, k, k], (6.0 / fan_in).sqrt());
    let bias = rng.tensor(&[cout], 0.1);
    b.conv(
        x,
        w,
        Some(bias),
        ConvAttrs {
            strides: [stride, stride],
            pads: [k / 2; 4],
            group,
            ..ConvAttrs::default()
        },
    )
}

fn bn(b: &mut GraphBuilder, rng: &mut Rng, x: &str, c: usize) -> String {
    let scale = Tensor::from_f32(&[c], (0..c).map(|_| 1.0 + rng.sym(0.2)).collect());
    let bias = rng.tensor(&[c], 0.1);
    let mean = rng.tensor(&[c], 0.1);
    let var = Tensor::from_f32(&[c], (0..c).map(|_| 1.0 + rng.sym(0.5)).collect());
    let (Ok(scale), Ok(var)) = (scale, var) else {
        return x.to_string();
    };
    let s = b.constant("bn_scale", scale);
    let bb = b.constant("bn_bias", bias);
    let m = b.constant("bn_mean", mean);
    let v = b.constant("bn_var", var);
    b.node(
        Op::BatchNormalization { epsilon: 1e-5 },
        &[x, &s, &bb, &m, &v],
    )
}

/// A small perception-style CNN on `[N, 3, 32, 32]` with 10 logits: conv+BN+ReLU, max-pool,
/// conv, depthwise conv, pointwise conv, global average pool, fully connected.
pub fn small_cnn(seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut b = GraphBuilder::new("small_cnn");
    let x = b.input_batched("image", &[3, 32, 32]);
    let c1 = conv(&mut b, &mut rng, &x, 3, 16, 3, 1, 1);
    let n1 = bn(&mut b, &mut rng, &c1, 16);
    let r1 = b.act(&n1, Activation::Relu);
    let p1 = b.max_pool(&r1, 2, 2, 0);
    let c2 = conv(&mut b, &mut rng, &p1, 16, 32, 3, 1, 1);
    let r2 = b.act(&c2, Activation::Relu);
    let d3 = conv(&mut b, &mut rng, &r2, 32, 32, 3, 2, 32);
    let r3 = b.act(&d3, Activation::Clip(0.0, 6.0));
    let c4 = conv(&mut b, &mut rng, &r3, 32, 32, 1, 1, 1);
    let r4 = b.act(&c4, Activation::Relu);
    let gp = b.node(Op::GlobalAveragePool, &[&r4]);
    let fl = b.node(Op::Flatten { axis: 1 }, &[&gp]);
    let w = rng.tensor(&[10, 32], (6.0f32 / 32.0).sqrt());
    let bias = rng.tensor(&[10], 0.1);
    let logits = b.linear(&fl, w, bias);
    b.output(&logits, DType::F32);
    b.build()
}

/// A conv-heavy backbone on `[N, 3, 64, 64]` (benchmarks): five 3×3 convolutions with
/// ReLU, two of them strided, then global pooling and a classifier.
pub fn conv_heavy(seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut b = GraphBuilder::new("conv_heavy");
    let mut x = b.input_batched("image", &[3, 64, 64]);
    let layers = [
        (3, 32, 2),
        (32, 64, 1),
        (64, 64, 1),
        (64, 128, 2),
        (128, 128, 1),
    ];
    for (cin, cout, s) in layers {
        let c = conv(&mut b, &mut rng, &x, cin, cout, 3, s, 1);
        x = b.act(&c, Activation::Relu);
    }
    let gp = b.node(Op::GlobalAveragePool, &[&x]);
    let fl = b.node(Op::Flatten { axis: 1 }, &[&gp]);
    let w = rng.tensor(&[10, 128], (6.0f32 / 128.0).sqrt());
    let bias = rng.tensor(&[10], 0.1);
    let logits = b.linear(&fl, w, bias);
    b.output(&logits, DType::F32);
    b.build()
}

/// Synthetic "camera" images `[n, 3, h, w]`: smooth gradients and blobs plus noise, drawn
/// from a seed (different seeds give different data sets of the same distribution).
pub fn synthetic_images(seed: u64, n: usize, h: usize, w: usize) -> Tensor {
    let mut rng = Rng::new(seed);
    let mut v = Vec::with_capacity(n * 3 * h * w);
    for _ in 0..n {
        let (cx, cy, r) = (
            rng.uniform() * w as f32,
            rng.uniform() * h as f32,
            2.0 + rng.uniform() * h as f32 / 3.0,
        );
        let tilt = [rng.sym(1.0), rng.sym(1.0), rng.sym(1.0)];
        let amp = 0.5 + rng.uniform();
        for (c, t) in tilt.iter().enumerate() {
            for y in 0..h {
                for x in 0..w {
                    let d2 = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / (r * r);
                    let blob = amp * (-d2).exp() * if c == 1 { -1.0 } else { 1.0 };
                    let grad = t * (x as f32 / w as f32 - 0.5);
                    v.push(blob + grad + rng.sym(0.1));
                }
            }
        }
    }
    Tensor::from_f32(&[n, 3, h, w], v)
        .unwrap_or_else(|_| Tensor::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[0]))))
}
