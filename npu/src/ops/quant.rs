//! Quantisation family: the symmetric int8 rounding used by int8 Conv/Gemm, and ONNX
//! QuantizeLinear / DequantizeLinear (per tensor or per axis, int8 zero points).

use ndarray::ArrayD;

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{DType, Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Quantises to symmetric int8 with round-half-even and saturation to [-127, 127].
#[inline]
pub fn quantize_sym(x: f32, scale: f32) -> i8 {
    let q = (x / scale).round_ties_even();
    q.clamp(-127.0, 127.0) as i8
}
fn per_axis(params: &[f32], x: &[usize], axis: i64, ctx: &str) -> Result<(usize, usize)> {
    if params.len() <= 1 {
        return Ok((0, 1));
    }
    let ax = norm_axis(axis, x.len(), ctx)?;
    if x[ax] != params.len() {
        return Err(NpuError::shape(
            ctx,
            "per-axis scale length differs from the axis",
        ));
    }
    Ok((ax, params.len()))
}

/// ONNX QuantizeLinear to int8: saturate(round(x / scale) + zero_point).
pub fn quantize_linear(
    x: &ArrayD<f32>,
    scale: &[f32],
    zp: &[i64],
    axis: i64,
    ctx: &str,
) -> Result<ArrayD<i8>> {
    let (ax, n) = per_axis(scale, x.shape(), axis, ctx)?;
    let mut out = ArrayD::<i8>::zeros(x.raw_dim());
    for ((idx, &v), o) in x.indexed_iter().zip(out.iter_mut()) {
        let c = if n == 1 { 0 } else { idx[ax] };
        let s = *scale
            .get(c)
            .ok_or_else(|| NpuError::shape(ctx, "empty scale"))?;
        let z = zp.get(c).copied().unwrap_or(0) as f32;
        *o = ((v / s).round_ties_even() + z).clamp(-128.0, 127.0) as i8;
    }
    Ok(out)
}

/// ONNX DequantizeLinear: (x - zero_point) * scale.
pub fn dequantize_linear(
    x: &Tensor,
    scale: &[f32],
    zp: &[i64],
    axis: i64,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let xi: ArrayD<i64> = match x {
        Tensor::I8(a) => a.mapv(i64::from),
        Tensor::I32(a) => a.mapv(i64::from),
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: "DequantizeLinear needs int8 or int32 input".into(),
            })
        }
    };
    let (ax, n) = per_axis(scale, xi.shape(), axis, ctx)?;
    let mut out = ArrayD::<f32>::zeros(xi.raw_dim());
    for ((idx, &v), o) in xi.indexed_iter().zip(out.iter_mut()) {
        let c = if n == 1 { 0 } else { idx[ax] };
        let s = *scale
            .get(c)
            .ok_or_else(|| NpuError::shape(ctx, "empty scale"))?;
        let z = zp.get(c).copied().unwrap_or(0);
        *o = (v - z) as f32 * s;
    }
    Ok(out)
}

/// QuantizeLinear and DequantizeLinear.
pub struct QuantFamily;

impl OpFamily for QuantFamily {
    fn name(&self) -> &'static str {
        "quant"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["QuantizeLinear", "DequantizeLinear"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let name = cx.name();
        if let Some(zp) = cx.const_input(2).ok().flatten() {
            if !matches!(zp.dtype(), DType::I8 | DType::I32) {
                return Err(NpuError::unsupported(
                    name,
                    "zero point must be int8 (uint8 is not supported)",
                ));
            }
        } else if op_type == "QuantizeLinear"
            && cx.proto().inputs.get(2).is_none_or(|s| s.is_empty())
        {
            return Err(NpuError::unsupported(
                name,
                "QuantizeLinear without zero point yields uint8 (not supported)",
            ));
        }
        let axis = cx.i("axis", 1);
        Ok(if op_type == "QuantizeLinear" {
            Op::QuantizeLinear { axis }
        } else {
            Op::DequantizeLinear { axis }
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let x = cx.x();
        match op {
            Op::QuantizeLinear { .. } => cx.one(DType::I8, x.shape.clone()),
            Op::DequantizeLinear { .. } => cx.f32(x.shape.clone()),
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let (Op::QuantizeLinear { axis } | Op::DequantizeLinear { axis }) = op else {
            return Err(misrouted(self.name(), op));
        };
        let s = cx.input(1)?.to_f32_vec();
        let zp = match cx.opt(2) {
            Some(t) => t.to_i64_vec(ctx)?,
            None => Vec::new(),
        };
        Ok(vec![if matches!(op, Op::QuantizeLinear { .. }) {
            Tensor::I8(quantize_linear(cx.xf()?, &s, &zp, *axis, ctx)?)
        } else {
            Tensor::F32(dequantize_linear(cx.x()?, &s, &zp, *axis, ctx)?)
        }])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, _op: &Op, cx: &CostCx<'_>) -> Work {
        Work {
            vector_ops: 2 * cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let (Op::QuantizeLinear { axis } | Op::DequantizeLinear { axis }) = op else {
            return Err(misrouted(self.name(), op));
        };
        cx.node(
            &node.name,
            op.type_name(),
            &node.inputs,
            &node.outputs,
            vec![attr("axis", A::I(*axis))],
        );
        Ok(())
    }
}
