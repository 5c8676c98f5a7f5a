//! Normalisation family: inference BatchNormalization over the channel axis,
//! InstanceNormalization, LayerNormalization (opset 17) and LRN. Statistics are accumulated
//! in f64 in a fixed order.

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;
use ndarray::{ArrayD, Axis};

/// Inference batch normalisation over channel axis 1.
pub fn batch_norm(
    x: &ArrayD<f32>,
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 2 {
        return Err(NpuError::shape(ctx, "BatchNormalization needs rank >= 2"));
    }
    let c = x.shape()[1];
    if [scale.len(), bias.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != c)
    {
        return Err(NpuError::shape(ctx, "BatchNormalization parameter length"));
    }
    let mut y = x.clone();
    for (ci, mut lane) in y.axis_iter_mut(Axis(1)).enumerate() {
        let k = scale[ci] / (var[ci] + eps).sqrt();
        let b = bias[ci] - mean[ci] * k;
        lane.mapv_inplace(|v| v * k + b);
    }
    Ok(y)
}

/// Normalises each lane of `groups` rows of `inner` contiguous elements to zero mean and unit
/// variance (biased), then applies `scale`/`bias` chosen by `param(row, elem)`.
fn normalize_rows(
    x: &[f32],
    inner: usize,
    eps: f32,
    mut affine: impl FnMut(usize, usize, f32) -> f32,
) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if inner == 0 {
        return out;
    }
    for (r, (row, o)) in x.chunks(inner).zip(out.chunks_mut(inner)).enumerate() {
        let n = row.len() as f64;
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        for (e, (&v, y)) in row.iter().zip(o.iter_mut()).enumerate() {
            *y = affine(r, e, ((f64::from(v) - mean) * inv) as f32);
        }
    }
    out
}

/// InstanceNormalization: per sample and channel over the spatial axes.
pub fn instance_norm(
    x: &ArrayD<f32>,
    scale: &[f32],
    bias: &[f32],
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 2 || scale.len() != x.shape()[1] || bias.len() != x.shape()[1] {
        return Err(NpuError::shape(ctx, "InstanceNormalization parameters"));
    }
    let c = x.shape()[1];
    let inner: usize = x.shape()[2..].iter().product();
    let xv = super::std_vec(x);
    let y = normalize_rows(&xv, inner, eps, |r, _, v| v * scale[r % c] + bias[r % c]);
    ArrayD::from_shape_vec(x.raw_dim(), y).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// LayerNormalization over the axes from `axis` on; scale and bias broadcast over them.
pub fn layer_norm(
    x: &ArrayD<f32>,
    scale: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    axis: i64,
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let ax = super::norm_axis(axis, x.ndim(), ctx)?;
    let tail = &x.shape()[ax..];
    let inner: usize = tail.iter().product();
    let bc = |t: &ArrayD<f32>| -> Result<Vec<f32>> {
        Ok(t.broadcast(ndarray::IxDyn(tail))
            .ok_or_else(|| NpuError::shape(ctx, "LayerNormalization scale/bias shape"))?
            .iter()
            .copied()
            .collect())
    };
    let s = bc(scale)?;
    let b = match bias {
        Some(b) => bc(b)?,
        None => vec![0.0; inner],
    };
    let xv = super::std_vec(x);
    let y = normalize_rows(&xv, inner, eps, |_, e, v| v * s[e] + b[e]);
    ArrayD::from_shape_vec(x.raw_dim(), y).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// LRN across channels: x / (bias + alpha / size * sum(x^2 over the window))^beta.
pub fn lrn(
    x: &ArrayD<f32>,
    size: usize,
    alpha: f32,
    beta: f32,
    bias: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 3 || size == 0 {
        return Err(NpuError::shape(ctx, "LRN needs rank >= 3 and size >= 1"));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let inner: usize = x.shape()[2..].iter().product();
    let xv = super::std_vec(x);
    let mut y = vec![0f32; xv.len()];
    let lo = (size - 1) / 2;
    let hi = size - 1 - lo;
    for b in 0..n {
        for ch in 0..c {
            let c0 = ch.saturating_sub(lo);
            let c1 = (ch + hi).min(c - 1);
            for p in 0..inner {
                let mut sq = 0f64;
                for k in c0..=c1 {
                    let v = f64::from(xv[(b * c + k) * inner + p]);
                    sq += v * v;
                }
                let i = (b * c + ch) * inner + p;
                let d =
                    (f64::from(bias) + f64::from(alpha) / size as f64 * sq).powf(f64::from(beta));
                y[i] = (f64::from(xv[i]) / d) as f32;
            }
        }
    }
    ArrayD::from_shape_vec(x.raw_dim(), y).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// BatchNormalization (inference), InstanceNormalization, LayerNormalization and LRN.
pub struct NormFamily;

impl OpFamily for NormFamily {
    fn name(&self) -> &'static str {
        "norm"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &[
            "BatchNormalization",
            "InstanceNormalization",
            "LayerNormalization",
            "LRN",
        ]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        match op_type {
            "InstanceNormalization" => {
                return Ok(Op::InstanceNormalization {
                    epsilon: cx.f("epsilon", 1e-5),
                })
            }
            "LayerNormalization" => {
                if cx.i("stash_type", 1) != 1 {
                    return Err(NpuError::unsupported(
                        cx.name(),
                        "LayerNormalization stash_type",
                    ));
                }
                cx.keep_outputs(1);
                return Ok(Op::LayerNormalization {
                    axis: cx.i("axis", -1),
                    epsilon: cx.f("epsilon", 1e-5),
                });
            }
            "LRN" => {
                let size = usize::try_from(cx.i("size", 0))
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| cx.malformed(format!("LRN `{}` needs size >= 1", cx.name())))?;
                return Ok(Op::Lrn {
                    size,
                    alpha: cx.f("alpha", 1e-4),
                    beta: cx.f("beta", 0.75),
                    bias: cx.f("bias", 1.0),
                });
            }
            _ => {}
        }
        if cx.i("training_mode", 0) != 0 {
            return Err(NpuError::unsupported(
                cx.name(),
                "BatchNormalization training_mode",
            ));
        }
        cx.keep_outputs(1);
        Ok(Op::BatchNormalization {
            epsilon: cx.f("epsilon", 1e-5),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let x = cx.x();
        match op {
            Op::BatchNormalization { .. } => {}
            Op::InstanceNormalization { .. } => {
                cx.float(x)?;
                let c = x.shape.get(1).copied().unwrap_or(0);
                if x.shape.len() < 2 || cx.input(1)?.len() != c || cx.input(2)?.len() != c {
                    return Err(NpuError::shape(
                        cx.name(),
                        "InstanceNormalization parameters",
                    ));
                }
                return cx.f32(x.shape.clone());
            }
            Op::LayerNormalization { axis, .. } => {
                cx.float(x)?;
                super::norm_axis(*axis, x.shape.len(), cx.name())?;
                cx.input(1)?;
                return cx.f32(x.shape.clone());
            }
            Op::Lrn { .. } => {
                cx.float(x)?;
                if x.shape.len() < 3 {
                    return Err(NpuError::shape(cx.name(), "LRN needs rank >= 3"));
                }
                return cx.f32(x.shape.clone());
            }
            _ => return Err(misrouted(self.name(), op)),
        }
        cx.float(x)?;
        let c = x.shape.get(1).copied().unwrap_or(0);
        for i in 1..5 {
            if cx.input(i)?.len() != c {
                return Err(NpuError::shape(
                    cx.name(),
                    "BatchNormalization parameter length",
                ));
            }
        }
        cx.f32(x.shape.clone())
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let epsilon = match op {
            Op::BatchNormalization { epsilon } => epsilon,
            Op::InstanceNormalization { epsilon } => {
                let s = cx.input(1)?.to_f32_vec();
                let b = cx.input(2)?.to_f32_vec();
                return Ok(vec![Tensor::F32(instance_norm(
                    cx.xf()?,
                    &s,
                    &b,
                    *epsilon,
                    ctx,
                )?)]);
            }
            Op::LayerNormalization { axis, epsilon } => {
                let s = cx.input_f32(1)?;
                let b = match cx.opt(2) {
                    Some(t) => Some(t.as_f32(ctx)?),
                    None => None,
                };
                return Ok(vec![Tensor::F32(layer_norm(
                    cx.xf()?,
                    s,
                    b,
                    *axis,
                    *epsilon,
                    ctx,
                )?)]);
            }
            Op::Lrn {
                size,
                alpha,
                beta,
                bias,
            } => {
                return Ok(vec![Tensor::F32(lrn(
                    cx.xf()?,
                    *size,
                    *alpha,
                    *beta,
                    *bias,
                    ctx,
                )?)]);
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        let p: Vec<Vec<f32>> = (1..5)
            .map(|i| cx.input(i).map(Tensor::to_f32_vec))
            .collect::<Result<_>>()?;
        Ok(vec![Tensor::F32(batch_norm(
            cx.xf()?,
            &p[0],
            &p[1],
            &p[2],
            &p[3],
            *epsilon,
            cx.name(),
        )?)])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let per = match op {
            // mean, variance, normalise, affine
            Op::InstanceNormalization { .. } | Op::LayerNormalization { .. } => 6,
            Op::Lrn { size, .. } => 2 * *size as u64 + 4,
            _ => 2,
        };
        Work {
            vector_ops: per * cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (name, ins, outs) = (node.name.as_str(), &node.inputs, &node.outputs);
        let epsilon = match op {
            Op::BatchNormalization { epsilon } => epsilon,
            Op::InstanceNormalization { epsilon } => {
                cx.node(
                    name,
                    "InstanceNormalization",
                    ins,
                    outs,
                    vec![attr("epsilon", A::F(*epsilon))],
                );
                return Ok(());
            }
            Op::LayerNormalization { axis, epsilon } => {
                cx.node(
                    name,
                    "LayerNormalization",
                    ins,
                    outs,
                    vec![attr("axis", A::I(*axis)), attr("epsilon", A::F(*epsilon))],
                );
                return Ok(());
            }
            Op::Lrn {
                size,
                alpha,
                beta,
                bias,
            } => {
                cx.node(
                    name,
                    "LRN",
                    ins,
                    outs,
                    vec![
                        attr("size", A::I(*size as i64)),
                        attr("alpha", A::F(*alpha)),
                        attr("beta", A::F(*beta)),
                        attr("bias", A::F(*bias)),
                    ],
                );
                return Ok(());
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        cx.node(
            &node.name,
            "BatchNormalization",
            &node.inputs,
            &node.outputs,
            vec![attr("epsilon", A::F(*epsilon))],
        );
        Ok(())
    }
}
