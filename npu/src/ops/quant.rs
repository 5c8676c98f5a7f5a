//! Quantisation family: the symmetric int8 rounding used by int8 Conv/Gemm, and ONNX
//! QuantizeLinear / DequantizeLinear (per tensor or per axis, int8 zero points).

use ndarray::ArrayD;

use super::norm_axis;
use crate::error::{NpuError, Result};
use crate::ir::Tensor;

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
