//! Movement family: ops that copy, repeat, cut or convert data without arithmetic across
//! elements — Expand, Tile, Slice, Split, Pad (constant, reflect, edge, wrap) and Cast. Their
//! operand tensors (shapes, repeats, starts/ends, split sizes, pads) must be constants and
//! become attributes at import, following the opset that moved them from attributes to
//! inputs (Slice at 10, Pad at 11, Split at 13, Pad `axes` at 18).

use ndarray::{ArrayD, Axis, IxDyn};

use super::elementwise::broadcast_shape;
use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{checked_numel, InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::f16::round_f16;
use crate::ir::{DType, Node, Op, PadMode, Tensor};
use crate::map_tensor;
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Output shape of Expand (numpy broadcasting of the input against `shape`).
pub fn expand_shape(x: &[usize], shape: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let s: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| NpuError::shape(ctx, "negative Expand dim")))
        .collect::<Result<_>>()?;
    broadcast_shape(x, &s, ctx)
}

/// Expand: broadcast to `shape`.
pub fn expand(x: &Tensor, shape: &[usize], ctx: &str) -> Result<Tensor> {
    Ok(map_tensor!(x, a => a
        .broadcast(IxDyn(shape))
        .ok_or_else(|| NpuError::shape(ctx, format!("cannot expand {:?} to {shape:?}", a.shape())))?
        .to_owned()))
}

/// Tile: repeat each axis `repeats[i]` times.
pub fn tile(x: &Tensor, repeats: &[usize], ctx: &str) -> Result<Tensor> {
    if repeats.len() != x.shape().len() {
        return Err(NpuError::shape(ctx, "Tile repeats must match the rank"));
    }
    Ok(map_tensor!(x, a => {
        let mut y = a.clone();
        for (ax, &r) in repeats.iter().enumerate() {
            let d = y.shape()[ax];
            let idx: Vec<usize> = (0..r).flat_map(|_| 0..d).collect();
            y = y.select(Axis(ax), &idx);
        }
        y
    }))
}

/// Resolved source indices of a slice along each axis.
pub fn slice_indices(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
    ctx: &str,
) -> Result<Vec<Vec<usize>>> {
    let mut out: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
    if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(NpuError::shape(ctx, "Slice operand lengths differ"));
    }
    for i in 0..starts.len() {
        let ax = norm_axis(axes[i], shape.len(), ctx)?;
        let d = shape[ax] as i64;
        let step = steps[i];
        if step == 0 {
            return Err(NpuError::shape(ctx, "Slice step 0"));
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = (norm(starts[i]), norm(ends[i]));
        let mut v = Vec::new();
        if step > 0 {
            let (s, e) = (s.clamp(0, d), e.clamp(0, d));
            let mut k = s;
            while k < e {
                v.push(k as usize);
                k += step;
            }
        } else {
            let (s, e) = (s.clamp(-1, d - 1), e.clamp(-1, d - 1));
            let mut k = s;
            while k > e {
                v.push(k as usize);
                k += step;
            }
        }
        out[ax] = v;
    }
    Ok(out)
}

/// Gathers `idx[axis]` along every axis.
fn select_all(x: &Tensor, idx: &[Vec<usize>]) -> Tensor {
    map_tensor!(x, a => match super::fast::slice_copy(a, idx) {
        Some(y) => y,
        None => select_generic(a, idx),
    })
}

/// [`select_all`] by `ndarray`'s `select` (any layout); the fast path must match it.
pub(crate) fn select_generic<T: Clone>(a: &ArrayD<T>, idx: &[Vec<usize>]) -> ArrayD<T> {
    {
        let mut y = a.clone();
        for (ax, ix) in idx.iter().enumerate() {
            if ix.len() != y.shape()[ax] || ix.iter().enumerate().any(|(i, &v)| i != v) {
                y = y.select(Axis(ax), ix);
            }
        }
        y
    }
}

/// Sizes of a Split along `axis` of length `d` into `n` outputs.
pub fn split_sizes(d: usize, split: &[usize], n: usize, ctx: &str) -> Result<Vec<usize>> {
    if !split.is_empty() {
        if split.iter().sum::<usize>() != d || split.len() != n {
            return Err(NpuError::shape(
                ctx,
                format!("Split sizes {split:?} do not cover {d} in {n} outputs"),
            ));
        }
        return Ok(split.to_vec());
    }
    if n == 0 {
        return Err(NpuError::shape(ctx, "Split into no output"));
    }
    // ONNX 18: the last chunk is smaller when d is not a multiple of n.
    let c = d.div_ceil(n);
    Ok((0..n).map(|i| c.min(d.saturating_sub(i * c))).collect())
}

/// Pad output shape.
pub fn pad_shape(x: &[usize], pads: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let r = x.len();
    if pads.len() != 2 * r {
        return Err(NpuError::shape(ctx, format!("Pad needs {} pads", 2 * r)));
    }
    x.iter()
        .enumerate()
        .map(|(i, &d)| {
            let v = d as i64 + pads[i] + pads[i + r];
            usize::try_from(v).map_err(|_| NpuError::shape(ctx, "Pad crops below zero"))
        })
        .collect()
}

/// Source index of output position `o` along an axis of length `d` padded by `pb` at the
/// start, or `None` for a constant cell.
fn pad_src(o: i64, d: i64, pb: i64, mode: PadMode) -> Option<usize> {
    let i = o - pb;
    if (0..d).contains(&i) {
        return Some(i as usize);
    }
    if d == 0 {
        return None;
    }
    match mode {
        PadMode::Constant => None,
        PadMode::Edge => Some(i.clamp(0, d - 1) as usize),
        PadMode::Wrap => Some(i.rem_euclid(d) as usize),
        PadMode::Reflect => {
            if d == 1 {
                return Some(0);
            }
            let p = 2 * (d - 1);
            let m = i.rem_euclid(p);
            Some(if m < d { m } else { p - m } as usize)
        }
    }
}

/// Pad with `pads` (begins then ends; negative pads crop).
pub fn pad(x: &Tensor, pads: &[i64], mode: PadMode, value: f32, ctx: &str) -> Result<Tensor> {
    let shape = pad_shape(x.shape(), pads, ctx)?;
    let r = shape.len();
    if mode == PadMode::Reflect
        && (0..r).any(|i| pads[i].max(pads[i + r]) >= x.shape()[i] as i64 && shape[i] > 0)
    {
        return Err(NpuError::shape(ctx, "reflect pad as large as the axis"));
    }
    let maps: Vec<Vec<Option<usize>>> = (0..r)
        .map(|i| {
            (0..shape[i] as i64)
                .map(|o| pad_src(o, x.shape()[i] as i64, pads[i], mode))
                .collect()
        })
        .collect();
    macro_rules! go {
        ($a:expr, $v:expr) => {{
            let mut src = vec![0usize; r];
            ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
                for (k, s) in src.iter_mut().enumerate() {
                    match maps[k][ix[k]] {
                        Some(v) => *s = v,
                        None => return $v,
                    }
                }
                $a[IxDyn(&src)]
            })
        }};
    }
    Ok(match x {
        Tensor::F32(a) => Tensor::F32(go!(a, value)),
        Tensor::I8(a) => Tensor::I8(go!(a, value as i8)),
        Tensor::I32(a) => Tensor::I32(go!(a, value as i32)),
        Tensor::I64(a) => Tensor::I64(go!(a, value as i64)),
    })
}

/// Cast to `to` (bool targets give 0/1 int8; float targets of f16 are rounded).
pub fn cast(x: &Tensor, to: DType, to_bool: bool) -> Tensor {
    if to_bool {
        return Tensor::I8(match x {
            Tensor::F32(a) => a.mapv(|v| i8::from(v != 0.0)),
            Tensor::I8(a) => a.mapv(|v| i8::from(v != 0)),
            Tensor::I32(a) => a.mapv(|v| i8::from(v != 0)),
            Tensor::I64(a) => a.mapv(|v| i8::from(v != 0)),
        });
    }
    match to {
        DType::F32 => Tensor::F32(x.to_f32()),
        DType::F16 => Tensor::F32(x.to_f32().mapv(round_f16)),
        DType::I8 => Tensor::I8(match x {
            Tensor::F32(a) => a.mapv(|v| v as i8),
            Tensor::I8(a) => a.clone(),
            Tensor::I32(a) => a.mapv(|v| v as i8),
            Tensor::I64(a) => a.mapv(|v| v as i8),
        }),
        DType::I32 => Tensor::I32(match x {
            Tensor::F32(a) => a.mapv(|v| v as i32),
            Tensor::I8(a) => a.mapv(i32::from),
            Tensor::I32(a) => a.clone(),
            Tensor::I64(a) => a.mapv(|v| v as i32),
        }),
        DType::I64 => Tensor::I64(match x {
            Tensor::F32(a) => a.mapv(|v| v as i64),
            Tensor::I8(a) => a.mapv(i64::from),
            Tensor::I32(a) => a.mapv(i64::from),
            Tensor::I64(a) => a.clone(),
        }),
    }
}

fn usize_list(v: &[i64], what: &str, ctx: &str) -> Result<Vec<usize>> {
    v.iter()
        .map(|&d| usize::try_from(d).map_err(|_| NpuError::shape(ctx, format!("negative {what}"))))
        .collect()
}

/// Expand, Tile, Slice, Split, Pad and Cast.
pub struct MovementFamily;

impl OpFamily for MovementFamily {
    fn name(&self) -> &'static str {
        "movement"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["Expand", "Tile", "Slice", "Split", "Pad", "Cast"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        let need = |cx: &ImportCx<'_>, i: usize, what: &str| -> Result<Vec<i64>> {
            cx.const_i64s(i)?
                .ok_or_else(|| cx.malformed(format!("{op_type} `{name}` lacks its {what}")))
        };
        let op = match op_type {
            "Expand" => Op::Expand {
                shape: need(cx, 1, "shape")?,
            },
            "Tile" => Op::Tile {
                repeats: usize_list(&need(cx, 1, "repeats")?, "repeats", name)?,
            },
            "Slice" => {
                let starts = need(cx, 1, "starts")?;
                let ends = need(cx, 2, "ends")?;
                let axes = cx
                    .const_i64s(3)?
                    .unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = cx.const_i64s(4)?.unwrap_or_else(|| vec![1; starts.len()]);
                Op::Slice {
                    starts,
                    ends,
                    axes,
                    steps,
                }
            }
            "Split" => {
                let split = if cx.opset() >= 13 {
                    cx.const_i64s(1)?.unwrap_or_default()
                } else {
                    cx.ints("split").unwrap_or_default()
                };
                Op::Split {
                    axis: cx.i("axis", 0),
                    split: usize_list(&split, "split", name)?,
                }
            }
            "Pad" => {
                let mode = match cx.s("mode", "constant").as_str() {
                    "constant" => PadMode::Constant,
                    "reflect" => PadMode::Reflect,
                    "edge" => PadMode::Edge,
                    "wrap" if cx.opset() >= 19 => PadMode::Wrap,
                    m => {
                        return Err(NpuError::unsupported(
                            name,
                            format!("Pad mode `{m}` at opset {}", cx.opset()),
                        ))
                    }
                };
                let pads = need(cx, 1, "pads")?;
                let value = cx
                    .const_input(2)?
                    .and_then(|t| t.to_f32_vec().first().copied())
                    .unwrap_or(0.0);
                if cx.opset() >= 18 && cx.const_i64s(3)?.is_some() {
                    // Pads for listed axes only: expanded in infer needs the rank; refuse
                    // unless they cover every axis in order.
                    let axes = cx.const_i64s(3)?.unwrap_or_default();
                    if axes.iter().enumerate().any(|(i, &a)| a != i as i64)
                        || 2 * axes.len() != pads.len()
                    {
                        return Err(NpuError::unsupported(name, "Pad with a partial `axes`"));
                    }
                }
                Op::Pad { pads, mode, value }
            }
            "Cast" => {
                let code = cx.i("to", 0);
                let (to, to_bool) = match code {
                    1 | 11 => (DType::F32, false),
                    10 => (DType::F16, false),
                    3 => (DType::I8, false),
                    6 => (DType::I32, false),
                    7 => (DType::I64, false),
                    9 => (DType::I8, true),
                    o => {
                        return Err(NpuError::unsupported(
                            name,
                            format!("Cast to ONNX element type {o}"),
                        ))
                    }
                };
                Op::Cast { to, to_bool }
            }
            _ => return Err(cx.unsupported_op()),
        };
        cx.keep_inputs(1);
        Ok(op)
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        match op {
            Op::Expand { shape } => cx.same(expand_shape(&x.shape, shape, ctx)?),
            Op::Tile { repeats } => {
                if repeats.len() != x.shape.len() {
                    return Err(NpuError::shape(ctx, "Tile repeats must match the rank"));
                }
                let s: Vec<usize> = x
                    .shape
                    .iter()
                    .zip(repeats)
                    .map(|(&d, &r)| {
                        d.checked_mul(r)
                            .ok_or_else(|| NpuError::shape(ctx, "Tile overflows"))
                    })
                    .collect::<Result<_>>()?;
                checked_numel(&s, ctx)?;
                cx.same(s)
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                let idx = slice_indices(&x.shape, starts, ends, axes, steps, ctx)?;
                cx.same(idx.iter().map(Vec::len).collect())
            }
            Op::Split { axis, split } => {
                let ax = norm_axis(*axis, x.shape.len(), ctx)?;
                let n = cx.output_count();
                let sizes = split_sizes(x.shape[ax], split, n, ctx)?;
                Ok(sizes
                    .iter()
                    .map(|&s| {
                        let mut sh = x.shape.clone();
                        sh[ax] = s;
                        ValueType {
                            dtype: x.dtype,
                            shape: sh,
                        }
                    })
                    .collect())
            }
            Op::Pad { pads, .. } => cx.same(pad_shape(&x.shape, pads, ctx)?),
            Op::Cast { to, .. } => cx.one(
                if *to == DType::F16 { DType::F32 } else { *to },
                x.shape.clone(),
            ),
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let x = cx.x()?;
        Ok(match op {
            Op::Expand { shape } => vec![expand(x, &expand_shape(x.shape(), shape, ctx)?, ctx)?],
            Op::Tile { repeats } => vec![tile(x, repeats, ctx)?],
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                let idx = slice_indices(x.shape(), starts, ends, axes, steps, ctx)?;
                vec![select_all(x, &idx)]
            }
            Op::Split { axis, split } => {
                let ax = norm_axis(*axis, x.shape().len(), ctx)?;
                let sizes = split_sizes(x.shape()[ax], split, cx.output_count(), ctx)?;
                let mut at = 0;
                let mut outs = Vec::with_capacity(sizes.len());
                for s in sizes {
                    let mut idx: Vec<Vec<usize>> =
                        x.shape().iter().map(|&d| (0..d).collect()).collect();
                    idx[ax] = (at..at + s).collect();
                    at += s;
                    outs.push(select_all(x, &idx));
                }
                outs
            }
            Op::Pad { pads, mode, value } => vec![pad(x, pads, *mode, *value, ctx)?],
            Op::Cast { to, to_bool } => vec![cast(x, *to, *to_bool)],
            _ => return Err(misrouted(self.name(), op)),
        })
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, _op: &Op, cx: &CostCx<'_>) -> Work {
        // A copy per output element (memory traffic dominates; counted by the model).
        Work {
            vector_ops: cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (name, outs) = (node.name.as_str(), &node.outputs);
        let x = node.inputs.first().cloned().unwrap_or_default();
        let as_i64 = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<i64>>();
        match op {
            Op::Expand { shape } => {
                let s = cx.const_i64(&format!("{name}_shape"), shape);
                cx.node(name, "Expand", &[x, s], outs, vec![]);
            }
            Op::Tile { repeats } => {
                let r = cx.const_i64(&format!("{name}_repeats"), &as_i64(repeats));
                cx.node(name, "Tile", &[x, r], outs, vec![]);
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                let ins = vec![
                    x,
                    cx.const_i64(&format!("{name}_starts"), starts),
                    cx.const_i64(&format!("{name}_ends"), ends),
                    cx.const_i64(&format!("{name}_axes"), axes),
                    cx.const_i64(&format!("{name}_steps"), steps),
                ];
                cx.node(name, "Slice", &ins, outs, vec![]);
            }
            Op::Split { axis, split } => {
                let mut ins = vec![x];
                if !split.is_empty() {
                    ins.push(cx.const_i64(&format!("{name}_split"), &as_i64(split)));
                }
                cx.node(name, "Split", &ins, outs, vec![attr("axis", A::I(*axis))]);
            }
            Op::Pad { pads, mode, value } => {
                let m = match mode {
                    PadMode::Constant => "constant",
                    PadMode::Reflect => "reflect",
                    PadMode::Edge => "edge",
                    PadMode::Wrap => {
                        return Err(NpuError::unsupported(name, "export of Pad wrap (opset 19)"))
                    }
                };
                let p = cx.const_i64(&format!("{name}_pads"), pads);
                let v = cx.const_f32(&format!("{name}_value"), &[*value], true);
                cx.node(name, "Pad", &[x, p, v], outs, vec![attr("mode", A::S(m))]);
            }
            Op::Cast { to, to_bool } => {
                let code = if *to_bool {
                    9
                } else {
                    match to {
                        DType::F32 => 1,
                        DType::F16 => 10,
                        DType::I8 => 3,
                        DType::I32 => 6,
                        DType::I64 => 7,
                    }
                };
                cx.node(name, "Cast", &[x], outs, vec![attr("to", A::I(code))]);
            }
            _ => return Err(misrouted(self.name(), op)),
        }
        Ok(())
    }
}
