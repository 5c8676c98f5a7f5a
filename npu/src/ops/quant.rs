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
///
/// The quotient is first clamped to ±256 (which saturates alike), then rounded by the exact
/// add-and-subtract of 1.5·2^23 (round half to even in IEEE arithmetic, no libm call, so
/// loops vectorise); NaN gives 0 as before. Bit-identical to [`quantize_sym_reference`].
#[inline]
pub fn quantize_sym(x: f32, scale: f32) -> i8 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let t = (x / scale).clamp(-256.0, 256.0);
    let q = (t + MAGIC) - MAGIC;
    q.clamp(-127.0, 127.0) as i8
}

/// [`quantize_sym`] as an f32 integer (`f32::from(quantize_sym(x, scale))`, +0 for zero and
/// NaN) without the float-to-int conversion, so loops over slices vectorise.
#[inline]
pub fn quantize_sym_f32(x: f32, scale: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let t = (x / scale).clamp(-256.0, 256.0);
    let q = ((t + MAGIC) - MAGIC).clamp(-127.0, 127.0);
    if q.is_nan() {
        0.0
    } else {
        q + 0.0
    }
}

/// The plain rounding [`quantize_sym`] must match.
#[cfg(test)]
pub(crate) fn quantize_sym_reference(x: f32, scale: f32) -> i8 {
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

#[cfg(test)]
mod tests {
    use super::{quantize_sym, quantize_sym_f32, quantize_sym_reference};

    fn same(x: f32, s: f32) {
        let want = quantize_sym_reference(x, s);
        assert_eq!(quantize_sym(x, s), want, "x={x:e} s={s}");
        assert_eq!(
            quantize_sym_f32(x, s).to_bits(),
            f32::from(want).to_bits(),
            "x={x:e} s={s}"
        );
    }

    #[test]
    fn quantize_sym_matches_reference() {
        let scales = [1.0f32, 0.013, 0.5, 3.7e-3, 1e-30, 7.0, -0.25];
        let mut b: u64 = 0;
        while b <= u64::from(u32::MAX) {
            let x = f32::from_bits(b as u32);
            for s in scales {
                same(x, s);
            }
            b += 65_537 * 3;
        }
        // Every half-integer and its neighbours in and around the int8 range.
        for i in -600..=600 {
            let h = i as f32 * 0.5;
            for x in [
                h,
                f32::from_bits(h.to_bits() + 1),
                f32::from_bits(h.to_bits().wrapping_sub(1)),
            ] {
                same(x, 1.0);
            }
        }
        for x in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e30,
            -1e30,
        ] {
            same(x, 1.0);
        }
    }
}
