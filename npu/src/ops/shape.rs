//! Shape family: ops that move or relabel data without arithmetic (Concat, Reshape,
//! Flatten, Transpose, Squeeze, Unsqueeze, Shape, Identity).

use ndarray::{concatenate, ArrayD, Axis, IxDyn};

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{checked_numel, InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{DType, Node, Op, Tensor};
use crate::map_tensor;
use crate::onnx::export::{attr, ints, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Concatenation along an axis (all inputs of one dtype).
pub fn concat(xs: &[&Tensor], axis: i64, ctx: &str) -> Result<Tensor> {
    let first = xs
        .first()
        .ok_or_else(|| NpuError::shape(ctx, "Concat of nothing"))?;
    let ax = norm_axis(axis, first.shape().len(), ctx)?;
    macro_rules! cat {
        ($v:ident) => {{
            let mut views = Vec::with_capacity(xs.len());
            for t in xs {
                match t {
                    Tensor::$v(a) => views.push(a.view()),
                    _ => {
                        return Err(NpuError::DTypeMismatch {
                            node: ctx.into(),
                            detail: "Concat inputs differ in dtype".into(),
                        })
                    }
                }
            }
            let arrays: Vec<&ArrayD<_>> = xs
                .iter()
                .filter_map(|t| match t {
                    Tensor::$v(a) => Some(a),
                    _ => None,
                })
                .collect();
            match super::fast::concat_blocks(&arrays, ax) {
                Some(y) => Tensor::$v(y),
                None => Tensor::$v(
                    concatenate(Axis(ax), &views)
                        .map_err(|e| NpuError::shape(ctx, e.to_string()))?,
                ),
            }
        }};
    }
    Ok(match first {
        Tensor::F32(_) => cat!(F32),
        Tensor::I8(_) => cat!(I8),
        Tensor::I32(_) => cat!(I32),
        Tensor::I64(_) => cat!(I64),
    })
}

/// Resolves a Reshape target (0 copies the input dim, -1 is inferred).
pub fn reshape_target(input: &[usize], shape: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 => out.push(
                *input
                    .get(i)
                    .ok_or_else(|| NpuError::shape(ctx, "Reshape 0 beyond input rank"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            s if s > 0 => out.push(s as usize),
            _ => {
                return Err(NpuError::shape(
                    ctx,
                    format!("bad Reshape target {shape:?}"),
                ))
            }
        }
    }
    let known: usize = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpuError::shape(ctx, "Reshape target overflows"))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(NpuError::shape(
                ctx,
                format!("cannot reshape {input:?} to {shape:?}"),
            ));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(NpuError::shape(
            ctx,
            format!("cannot reshape {input:?} to {shape:?}"),
        ));
    }
    Ok(out)
}

/// Reshape to a concrete shape (row-major).
pub fn reshape(x: &Tensor, shape: &[usize], ctx: &str) -> Result<Tensor> {
    if shape.iter().product::<usize>() != x.len() {
        return Err(NpuError::shape(
            ctx,
            format!("cannot reshape {:?} to {shape:?}", x.shape()),
        ));
    }
    Ok(map_tensor!(x, a => {
        ArrayD::from_shape_vec(IxDyn(shape), a.iter().copied().collect())
            .map_err(|e| NpuError::shape(ctx, e.to_string()))?
    }))
}

/// Output shape of Squeeze.
pub fn squeeze_shape(x: &[usize], axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok(x.iter().copied().filter(|&d| d != 1).collect());
    }
    let mut drop = Vec::new();
    for &a in axes {
        let ax = norm_axis(a, x.len(), ctx)?;
        if x[ax] != 1 {
            return Err(NpuError::shape(
                ctx,
                format!("cannot squeeze axis {a} of {x:?}"),
            ));
        }
        drop.push(ax);
    }
    Ok(x.iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, &d)| d)
        .collect())
}

/// Output shape of Unsqueeze.
pub fn unsqueeze_shape(x: &[usize], axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let r = x.len() + axes.len();
    let mut ins = Vec::new();
    for &a in axes {
        let ax = norm_axis(a, r, ctx)?;
        if ins.contains(&ax) {
            return Err(NpuError::shape(ctx, "duplicate Unsqueeze axis"));
        }
        ins.push(ax);
    }
    let mut it = x.iter();
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        if ins.contains(&i) {
            out.push(1);
        } else {
            out.push(
                *it.next()
                    .ok_or_else(|| NpuError::shape(ctx, "Unsqueeze rank"))?,
            );
        }
    }
    Ok(out)
}

/// Validates a permutation (empty = reverse).
pub fn perm_or_reverse(perm: &[usize], rank: usize, ctx: &str) -> Result<Vec<usize>> {
    let p: Vec<usize> = if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.to_vec()
    };
    let mut seen = vec![false; rank];
    if p.len() != rank {
        return Err(NpuError::shape(ctx, "Transpose perm rank"));
    }
    for &i in &p {
        if i >= rank || seen[i] {
            return Err(NpuError::shape(ctx, format!("bad permutation {p:?}")));
        }
        seen[i] = true;
    }
    Ok(p)
}

/// Transpose.
pub fn transpose(x: &Tensor, perm: &[usize], ctx: &str) -> Result<Tensor> {
    let p = perm_or_reverse(perm, x.shape().len(), ctx)?;
    Ok(map_tensor!(x, a => a.view().permuted_axes(IxDyn(&p)).as_standard_layout().into_owned()))
}

/// Concat, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape and Identity (ONNX
/// Dropout imports as Identity).
pub struct ShapeFamily;

fn flatten_axis(axis: i64, rank: usize, ctx: &str) -> Result<usize> {
    if axis == rank as i64 {
        Ok(rank)
    } else {
        norm_axis(axis, rank, ctx)
    }
}

impl OpFamily for ShapeFamily {
    fn name(&self) -> &'static str {
        "shape"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &[
            "Concat",
            "Reshape",
            "Flatten",
            "Transpose",
            "Squeeze",
            "Unsqueeze",
            "Shape",
            "Identity",
            "Dropout",
        ]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        Ok(match op_type {
            "Concat" => Op::Concat {
                axis: cx.i("axis", 0),
            },
            "Reshape" => {
                if cx.i("allowzero", 0) != 0 {
                    return Err(NpuError::unsupported(name, "Reshape allowzero=1"));
                }
                let shape = cx.const_i64s(1)?.ok_or_else(|| {
                    cx.malformed(format!("Reshape `{name}` lacks its shape input"))
                })?;
                cx.keep_inputs(1);
                Op::Reshape { shape }
            }
            "Flatten" => Op::Flatten {
                axis: cx.i("axis", 1),
            },
            "Transpose" => Op::Transpose {
                perm: cx
                    .ints("perm")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| usize::try_from(v).map_err(|_| cx.malformed("negative perm")))
                    .collect::<Result<_>>()?,
            },
            "Squeeze" | "Unsqueeze" => {
                let axes = match cx.ints("axes") {
                    Some(v) => v,
                    None => cx.const_i64s(1)?.unwrap_or_default(),
                };
                cx.keep_inputs(1);
                if op_type == "Squeeze" {
                    Op::Squeeze { axes }
                } else {
                    Op::Unsqueeze { axes }
                }
            }
            "Shape" => Op::Shape,
            "Identity" | "Dropout" => {
                cx.keep_inputs(1);
                if op_type == "Dropout" {
                    cx.keep_outputs(1);
                }
                Op::Identity
            }
            _ => return Err(cx.unsupported_op()),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        match op {
            Op::Concat { axis } => {
                let ax = norm_axis(*axis, x.shape.len(), ctx)?;
                let mut out = x.shape.clone();
                for i in 1..cx.input_count() {
                    let y = cx.input(i)?;
                    if y.dtype != x.dtype || y.shape.len() != x.shape.len() {
                        return Err(NpuError::shape(
                            ctx,
                            "Concat inputs differ in rank or dtype",
                        ));
                    }
                    for (d, (&a, &b)) in x.shape.iter().zip(&y.shape).enumerate() {
                        if d != ax && a != b {
                            return Err(NpuError::shape(
                                ctx,
                                format!(
                                    "Concat inputs {:?} and {:?} differ off axis",
                                    x.shape, y.shape
                                ),
                            ));
                        }
                    }
                    out[ax] = out[ax].saturating_add(y.shape[ax]);
                }
                cx.same(out)
            }
            Op::Reshape { shape } => cx.same(reshape_target(&x.shape, shape, ctx)?),
            Op::Flatten { axis } => {
                let ax = flatten_axis(*axis, x.shape.len(), ctx)?;
                cx.same(vec![
                    checked_numel(&x.shape[..ax], ctx)?,
                    checked_numel(&x.shape[ax..], ctx)?,
                ])
            }
            Op::Transpose { perm } => {
                let p = perm_or_reverse(perm, x.shape.len(), ctx)?;
                cx.same(p.iter().map(|&i| x.shape[i]).collect())
            }
            Op::Squeeze { axes } => cx.same(squeeze_shape(&x.shape, axes, ctx)?),
            Op::Unsqueeze { axes } => cx.same(unsqueeze_shape(&x.shape, axes, ctx)?),
            Op::Shape => cx.one(DType::I64, vec![x.shape.len()]),
            Op::Identity => Ok(vec![x.clone()]),
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::Concat { axis } => {
                let xs: Vec<&Tensor> = (0..cx.input_count())
                    .map(|i| cx.input(i))
                    .collect::<Result<_>>()?;
                concat(&xs, *axis, ctx)?
            }
            Op::Reshape { shape } => {
                let t = cx.x()?;
                let target = reshape_target(t.shape(), shape, ctx)?;
                reshape(t, &target, ctx)?
            }
            Op::Flatten { axis } => {
                let t = cx.x()?;
                let s = t.shape();
                let ax = flatten_axis(*axis, s.len(), ctx)?;
                let a: usize = s[..ax].iter().product();
                let b: usize = s[ax..].iter().product();
                reshape(t, &[a, b], ctx)?
            }
            Op::Transpose { perm } => transpose(cx.x()?, perm, ctx)?,
            Op::Squeeze { axes } => {
                let t = cx.x()?;
                let s = squeeze_shape(t.shape(), axes, ctx)?;
                reshape(t, &s, ctx)?
            }
            Op::Unsqueeze { axes } => {
                let t = cx.x()?;
                let s = unsqueeze_shape(t.shape(), axes, ctx)?;
                reshape(t, &s, ctx)?
            }
            Op::Shape => {
                let s: Vec<i64> = cx.x()?.shape().iter().map(|&d| d as i64).collect();
                Tensor::from_i64(&[s.len()], s)?
            }
            Op::Identity => cx.x()?.clone(),
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![y])
    }

    fn cost_class(&self, op: &Op) -> CostClass {
        match op {
            Op::Concat { .. } | Op::Transpose { .. } => CostClass::Vector,
            _ => CostClass::Free,
        }
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        match op {
            Op::Concat { .. } | Op::Transpose { .. } => Work {
                vector_ops: cx.out_elems(),
                ..Work::default()
            },
            _ => Work::default(),
        }
    }

    fn is_view(&self, op: &Op) -> bool {
        matches!(
            op,
            Op::Reshape { .. }
                | Op::Flatten { .. }
                | Op::Squeeze { .. }
                | Op::Unsqueeze { .. }
                | Op::Identity
        )
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (name, ins, outs) = (node.name.as_str(), &node.inputs, &node.outputs);
        let first_in = || ins.first().cloned().unwrap_or_default();
        match op {
            Op::Concat { axis } => {
                cx.node(name, "Concat", ins, outs, vec![attr("axis", A::I(*axis))])
            }
            Op::Reshape { shape } => {
                let s = cx.const_i64(&format!("{name}_shape"), shape);
                cx.node(name, "Reshape", &[first_in(), s], outs, vec![]);
            }
            Op::Flatten { axis } => {
                cx.node(name, "Flatten", ins, outs, vec![attr("axis", A::I(*axis))])
            }
            Op::Transpose { perm } => {
                let at = if perm.is_empty() {
                    vec![]
                } else {
                    vec![attr("perm", ints(perm))]
                };
                cx.node(name, "Transpose", ins, outs, at);
            }
            Op::Squeeze { axes } | Op::Unsqueeze { axes } => {
                let mut i2 = vec![first_in()];
                if !axes.is_empty() {
                    i2.push(cx.const_i64(&format!("{name}_axes"), axes));
                }
                cx.node(name, op.type_name(), &i2, outs, vec![]);
            }
            Op::Shape | Op::Identity => cx.node(name, op.type_name(), ins, outs, vec![]),
            _ => return Err(misrouted(self.name(), op)),
        }
        Ok(())
    }
}
