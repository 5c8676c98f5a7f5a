//! Reduction family: ReduceMin / ReduceSum over axes and ArgMin / ArgMax along one axis.

use ndarray::{ArrayD, Axis};

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{DType, Node, Op, Tensor};
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
        &["ReduceMin", "ReduceSum", "ArgMin", "ArgMax"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(match op_type {
            "ReduceMin" | "ReduceSum" => {
                let keepdims = cx.i("keepdims", 1) != 0;
                let axes = match cx.ints("axes") {
                    Some(v) => v,
                    None => cx.const_i64s(1)?.unwrap_or_default(),
                };
                if axes.is_empty() && cx.i("noop_with_empty_axes", 0) != 0 {
                    Op::Identity
                } else {
                    cx.keep_inputs(1);
                    if op_type == "ReduceMin" {
                        Op::ReduceMin { axes, keepdims }
                    } else {
                        Op::ReduceSum { axes, keepdims }
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
            Op::ReduceMin { axes, keepdims } | Op::ReduceSum { axes, keepdims } => {
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
