//! Reduction family: ReduceMin / ReduceSum over axes, the other reductions (ReduceMax,
//! ReduceMean, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
//! ReduceSumSquare; accumulated in f64 in a fixed order) and ArgMin / ArgMax along one axis.
//!
//! ONNX moved `axes` from an attribute to an input at opset 13 for ReduceSum and at opset 18
//! for the others; the importer reads it where the model's opset puts it.

use ndarray::{ArrayD, Axis};

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{DType, Node, Op, ReduceKind, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

fn reduce_axes(rank: usize, axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let mut v: Vec<usize> = if axes.is_empty() {
        (0..rank).collect()
    } else {
        axes.iter()
            .map(|&a| norm_axis(a, rank, ctx))
            .collect::<Result<_>>()?
    };
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Output shape of a reduction.
pub fn reduce_shape(x: &[usize], axes: &[i64], keep: bool, ctx: &str) -> Result<Vec<usize>> {
    let ax = reduce_axes(x.len(), axes, ctx)?;
    Ok(x.iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if ax.contains(&i) {
                keep.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect())
}

/// ReduceMin (min == true) or ReduceSum.
pub fn reduce(
    x: &ArrayD<f32>,
    axes: &[i64],
    keep: bool,
    min: bool,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let ax = reduce_axes(x.ndim(), axes, ctx)?;
    if min && ax.iter().any(|&a| x.shape()[a] == 0) {
        return Err(NpuError::shape(ctx, "ReduceMin over an empty axis"));
    }
    let mut y = x.clone();
    for &a in ax.iter().rev() {
        y = if min {
            y.fold_axis(Axis(a), f32::INFINITY, |&acc, &v| acc.min(v))
        } else {
            y.sum_axis(Axis(a))
        };
        if keep {
            y = y.insert_axis(Axis(a));
        }
    }
    Ok(y)
}

/// A reduction of kind `kind` over `axes` (empty = all), accumulated in f64 per output
/// element in row-major order of the reduced elements.
pub fn reduce_kind(
    x: &ArrayD<f32>,
    kind: ReduceKind,
    axes: &[i64],
    keep: bool,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let ax = reduce_axes(x.ndim(), axes, ctx)?;
    let kept: Vec<usize> = (0..x.ndim()).filter(|a| !ax.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(ax.iter()).copied().collect();
    let outer: usize = kept.iter().map(|&a| x.shape()[a]).product();
    let inner: usize = ax.iter().map(|&a| x.shape()[a]).product();
    if inner == 0 && matches!(kind, ReduceKind::Max) {
        return Err(NpuError::shape(ctx, "ReduceMax over an empty axis"));
    }
    let xp = x.view().permuted_axes(ndarray::IxDyn(&perm));
    let flat: Vec<f32> = xp.iter().copied().collect();
    let mut out = Vec::with_capacity(outer);
    for r in 0..outer {
        let row = &flat[r * inner..(r + 1) * inner];
        let v: f64 = match kind {
            ReduceKind::Max => row
                .iter()
                .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b))),
            ReduceKind::Mean => row.iter().map(|&v| f64::from(v)).sum::<f64>() / inner as f64,
            ReduceKind::Prod => row.iter().map(|&v| f64::from(v)).product(),
            ReduceKind::L1 => row.iter().map(|&v| f64::from(v).abs()).sum(),
            ReduceKind::L2 => row
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt(),
            ReduceKind::LogSum => row.iter().map(|&v| f64::from(v)).sum::<f64>().ln(),
            ReduceKind::LogSumExp => {
                let m = row
                    .iter()
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b)));
                if m.is_infinite() {
                    m
                } else {
                    m + row
                        .iter()
                        .map(|&v| (f64::from(v) - m).exp())
                        .sum::<f64>()
                        .ln()
                }
            }
            ReduceKind::SumSquare => row.iter().map(|&v| f64::from(v) * f64::from(v)).sum(),
        };
        out.push(v as f32);
    }
    let shape = reduce_shape(x.shape(), axes, keep, ctx)?;
    ArrayD::from_shape_vec(ndarray::IxDyn(&shape), out)
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// ArgMax (max == true) or ArgMin, first index on ties; i64 output.
pub fn arg_reduce(
    x: &ArrayD<f32>,
    axis: i64,
    keep: bool,
    max: bool,
    ctx: &str,
) -> Result<ArrayD<i64>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    if x.shape()[ax] == 0 {
        return Err(NpuError::shape(ctx, "arg-reduction over an empty axis"));
    }
    let y = x.map_axis(Axis(ax), |lane| {
        let mut best = 0usize;
        let mut bv = lane[0];
        for (i, &v) in lane.iter().enumerate().skip(1) {
            if (max && v > bv) || (!max && v < bv) {
                best = i;
                bv = v;
            }
        }
        best as i64
    });
    Ok(if keep { y.insert_axis(Axis(ax)) } else { y })
}

/// ReduceMin, ReduceSum, ArgMin and ArgMax.
pub struct ReduceFamily;

impl OpFamily for ReduceFamily {
    fn name(&self) -> &'static str {
        "reduce"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &[
            "ReduceMin",
            "ReduceSum",
            "ReduceMax",
            "ReduceMean",
            "ReduceProd",
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceSumSquare",
            "ArgMin",
            "ArgMax",
        ]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(match op_type {
            t if t.starts_with("Reduce") => {
                let keepdims = cx.i("keepdims", 1) != 0;
                // `axes` became an input at opset 13 (ReduceSum) / 18 (the others).
                let input_since = if t == "ReduceSum" { 13 } else { 18 };
                let axes = if cx.opset() >= input_since {
                    cx.const_i64s(1)?.unwrap_or_default()
                } else {
                    cx.ints("axes").unwrap_or_default()
                };
                cx.keep_inputs(1);
                if axes.is_empty() && cx.i("noop_with_empty_axes", 0) != 0 {
                    Op::Identity
                } else {
                    let kind = match t {
                        "ReduceMin" => return Ok(Op::ReduceMin { axes, keepdims }),
                        "ReduceSum" => return Ok(Op::ReduceSum { axes, keepdims }),
                        "ReduceMax" => ReduceKind::Max,
                        "ReduceMean" => ReduceKind::Mean,
                        "ReduceProd" => ReduceKind::Prod,
                        "ReduceL1" => ReduceKind::L1,
                        "ReduceL2" => ReduceKind::L2,
                        "ReduceLogSum" => ReduceKind::LogSum,
                        "ReduceLogSumExp" => ReduceKind::LogSumExp,
                        "ReduceSumSquare" => ReduceKind::SumSquare,
                        _ => return Err(cx.unsupported_op()),
                    };
                    Op::Reduce {
                        kind,
                        axes,
                        keepdims,
                    }
                }
            }
            "ArgMin" | "ArgMax" => {
                if cx.i("select_last_index", 0) != 0 {
                    return Err(NpuError::unsupported(cx.name(), "select_last_index=1"));
                }
                let axis = cx.i("axis", 0);
                let keepdims = cx.i("keepdims", 1) != 0;
                if op_type == "ArgMin" {
                    Op::ArgMin { axis, keepdims }
                } else {
                    Op::ArgMax { axis, keepdims }
                }
            }
            _ => return Err(cx.unsupported_op()),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        cx.float(x)?;
        match op {
            Op::ReduceMin { axes, keepdims }
            | Op::ReduceSum { axes, keepdims }
            | Op::Reduce { axes, keepdims, .. } => {
                cx.f32(reduce_shape(&x.shape, axes, *keepdims, ctx)?)
            }
            Op::ArgMin { axis, keepdims } | Op::ArgMax { axis, keepdims } => cx.one(
                DType::I64,
                reduce_shape(&x.shape, &[*axis], *keepdims, ctx)?,
            ),
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::ReduceMin { axes, keepdims } => {
                Tensor::F32(reduce(cx.xf()?, axes, *keepdims, true, ctx)?)
            }
            Op::ReduceSum { axes, keepdims } => {
                Tensor::F32(reduce(cx.xf()?, axes, *keepdims, false, ctx)?)
            }
            Op::Reduce {
                kind,
                axes,
                keepdims,
            } => Tensor::F32(reduce_kind(cx.xf()?, *kind, axes, *keepdims, ctx)?),
            Op::ArgMin { axis, keepdims } => {
                Tensor::I64(arg_reduce(cx.xf()?, *axis, *keepdims, false, ctx)?)
            }
            Op::ArgMax { axis, keepdims } => {
                Tensor::I64(arg_reduce(cx.xf()?, *axis, *keepdims, true, ctx)?)
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![y])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let vector_ops = match op {
            Op::ArgMin { .. } | Op::ArgMax { .. } => 2 * cx.in_elems(),
            Op::Reduce {
                kind: ReduceKind::LogSumExp,
                ..
            } => 5 * cx.in_elems(),
            Op::Reduce {
                kind: ReduceKind::L2 | ReduceKind::SumSquare,
                ..
            } => 2 * cx.in_elems(),
            _ => cx.in_elems(),
        };
        Work {
            vector_ops,
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (name, ins, outs) = (node.name.as_str(), &node.inputs, &node.outputs);
        match op {
            // Opset 17: ReduceMin takes its axes as an attribute, ReduceSum as an input.
            Op::ReduceMin { axes, keepdims } => {
                let mut at = vec![attr("keepdims", A::I(i64::from(*keepdims)))];
                if !axes.is_empty() {
                    at.push(attr("axes", A::Ints(axes.clone())));
                }
                cx.node(name, "ReduceMin", ins, outs, at);
            }
            Op::ReduceSum { axes, keepdims } => {
                let mut i2 = vec![ins.first().cloned().unwrap_or_default()];
                if !axes.is_empty() {
                    i2.push(cx.const_i64(&format!("{name}_axes"), axes));
                }
                cx.node(
                    name,
                    "ReduceSum",
                    &i2,
                    outs,
                    vec![attr("keepdims", A::I(i64::from(*keepdims)))],
                );
            }
            // Opset 17: the other reductions take their axes as an attribute.
            Op::Reduce { axes, keepdims, .. } => {
                let mut at = vec![attr("keepdims", A::I(i64::from(*keepdims)))];
                if !axes.is_empty() {
                    at.push(attr("axes", A::Ints(axes.clone())));
                }
                cx.node(name, op.type_name(), ins, outs, at);
            }
            Op::ArgMin { axis, keepdims } | Op::ArgMax { axis, keepdims } => cx.node(
                name,
                op.type_name(),
                ins,
                outs,
                vec![
                    attr("axis", A::I(*axis)),
                    attr("keepdims", A::I(i64::from(*keepdims))),
                ],
            ),
            _ => return Err(misrouted(self.name(), op)),
        }
        Ok(())
    }
}
