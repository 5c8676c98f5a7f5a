//! Matrix-product family: numpy MatMul with batch broadcasting, Gemm (f32 or int8 weights
//! with fused epilogue) and the exact i8×i8→i32 GEMMs they and the int8 Conv use.

use ndarray::{ArrayD, ArrayView2, ArrayViewD, Axis, IxDyn, Zip};

use super::elementwise::broadcast_shape;
use super::quant::quantize_sym;
use super::std_vec;
use crate::error::{NpuError, Result};
use crate::ir::{GemmAttrs, Tensor};

/// Plain i8×i8→i32 GEMM (`a` m×k, `b` k×n, row-major), four rows of `b` per pass.
pub fn gemm_i8_scalar(a: &[i8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        let crow = &mut c[i * n..(i + 1) * n];
        let arow = &a[i * k..(i + 1) * k];
        let mut kk = 0;
        while kk + 4 <= k {
            let (a0, a1, a2, a3) = (
                i32::from(arow[kk]),
                i32::from(arow[kk + 1]),
                i32::from(arow[kk + 2]),
                i32::from(arow[kk + 3]),
            );
            let b0 = &b[kk * n..(kk + 1) * n];
            let b1 = &b[(kk + 1) * n..(kk + 2) * n];
            let b2 = &b[(kk + 2) * n..(kk + 3) * n];
            let b3 = &b[(kk + 3) * n..(kk + 4) * n];
            for ((((cv, &x0), &x1), &x2), &x3) in crow.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3) {
                *cv += a0 * i32::from(x0)
                    + a1 * i32::from(x1)
                    + a2 * i32::from(x2)
                    + a3 * i32::from(x3);
            }
            kk += 4;
        }
        while kk < k {
            let av = i32::from(arow[kk]);
            for (cv, &bv) in crow.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                *cv += av * i32::from(bv);
            }
            kk += 1;
        }
    }
    c
}

/// Depth of one exact f32 block: |i8·i8| ≤ 2^14, so any partial sum of up to 1024 products
/// is an integer of magnitude ≤ 2^24 and therefore exact in f32.
pub const EXACT_F32_K_BLOCK: usize = 1024;

/// i8×i8→i32 GEMM (`a` m×k, `b` k×n, row-major) with the exact i32 result. The depth is cut
/// into blocks of [`EXACT_F32_K_BLOCK`]; each block runs on the f32 SIMD GEMM, where every
/// product and partial sum is an exactly representable integer, and is added in i32. The
/// result is bit-identical to integer arithmetic (checked against [`gemm_i8_scalar`]).
pub fn gemm_i8(a: &[i8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let af: Vec<f32> = a.iter().map(|&v| f32::from(v)).collect();
    let bf: Vec<f32> = b.iter().map(|&v| f32::from(v)).collect();
    let (Ok(am), Ok(bm)) = (
        ArrayView2::from_shape((m, k), &af),
        ArrayView2::from_shape((k, n), &bf),
    ) else {
        return gemm_i8_scalar(a, b, m, k, n);
    };
    let mut c = vec![0i32; m * n];
    let mut k0 = 0;
    while k0 < k {
        let k1 = (k0 + EXACT_F32_K_BLOCK).min(k);
        let r = am
            .slice(ndarray::s![.., k0..k1])
            .dot(&bm.slice(ndarray::s![k0..k1, ..]));
        for (cv, rv) in c.iter_mut().zip(r.iter()) {
            *cv += *rv as i32;
        }
        k0 = k1;
    }
    c
}
fn dot2(
    a: &ArrayViewD<'_, f32>,
    b: &ArrayViewD<'_, f32>,
    ctx: &str,
) -> Result<ndarray::Array2<f32>> {
    let a2 = a
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let b2 = b
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    if a2.ncols() != b2.nrows() {
        return Err(NpuError::shape(
            ctx,
            format!("inner dims {} and {} differ", a2.ncols(), b2.nrows()),
        ));
    }
    Ok(a2.dot(&b2))
}
/// Output shape of numpy matmul.
pub fn matmul_shape(a: &[usize], b: &[usize], ctx: &str) -> Result<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        return Err(NpuError::shape(ctx, "MatMul of a scalar"));
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(NpuError::shape(
            ctx,
            format!("MatMul inner dims differ: {a:?} x {b:?}"),
        ));
    }
    let mut batch = broadcast_shape(&a2[..a2.len() - 2], &b2[..b2.len() - 2], ctx)?;
    if a.len() > 1 {
        batch.push(m);
    }
    if b.len() > 1 {
        batch.push(n);
    }
    Ok(batch)
}

/// Numpy-semantics matmul with batch broadcasting.
pub fn matmul(a: &ArrayD<f32>, b: &ArrayD<f32>, ctx: &str) -> Result<ArrayD<f32>> {
    let out_shape = matmul_shape(a.shape(), b.shape(), ctx)?;
    let a2 = if a.ndim() == 1 {
        a.view().insert_axis(Axis(0)).into_dyn()
    } else {
        a.view()
    };
    let b2 = if b.ndim() == 1 {
        b.view().insert_axis(Axis(1)).into_dyn()
    } else {
        b.view()
    };
    let (m, n) = (a2.shape()[a2.ndim() - 2], b2.shape()[b2.ndim() - 1]);
    let k = a2.shape()[a2.ndim() - 1];
    let batch = broadcast_shape(
        &a2.shape()[..a2.ndim() - 2],
        &b2.shape()[..b2.ndim() - 2],
        ctx,
    )?;
    let mut ash = batch.clone();
    ash.extend([m, k]);
    let mut bsh = batch.clone();
    bsh.extend([k, n]);
    let ab = a2
        .broadcast(IxDyn(&ash))
        .ok_or_else(|| NpuError::shape(ctx, "MatMul broadcast"))?;
    let bb = b2
        .broadcast(IxDyn(&bsh))
        .ok_or_else(|| NpuError::shape(ctx, "MatMul broadcast"))?;
    let nb: usize = batch.iter().product();
    let a3 = ab
        .to_shape((nb, m, k))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let b3 = bb
        .to_shape((nb, k, n))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let mut out = Vec::with_capacity(nb * m * n);
    for i in 0..nb {
        let r = a3.index_axis(Axis(0), i).dot(&b3.index_axis(Axis(0), i));
        out.extend(r.iter().copied());
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Gemm: alpha * A' * B' + beta * C, then the fused activation. With int8 parameters, B is an
/// int8 [K, N] matrix with per-column scales and A is quantised per tensor.
pub fn gemm(
    a: &ArrayD<f32>,
    b: &Tensor,
    c: Option<&ArrayD<f32>>,
    at: &GemmAttrs,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if a.ndim() != 2 || b.shape().len() != 2 {
        return Err(NpuError::shape(ctx, "Gemm operands must be 2-D"));
    }
    let av = if at.trans_a {
        a.t().into_dyn()
    } else {
        a.view()
    };
    let mut y: ndarray::Array2<f32> = match (b, &at.quant) {
        (Tensor::F32(bm), None) => {
            let bv = if at.trans_b {
                bm.t().into_dyn()
            } else {
                bm.view()
            };
            let mut y = dot2(&av, &bv, ctx)?;
            if at.alpha != 1.0 {
                y.mapv_inplace(|v| v * at.alpha);
            }
            y
        }
        (Tensor::I8(bq), Some(q)) => {
            let (m, k) = (av.shape()[0], av.shape()[1]);
            let (k2, n) = (bq.shape()[0], bq.shape()[1]);
            if k != k2 || q.weight_scales.len() != n {
                return Err(NpuError::shape(ctx, "int8 Gemm dims"));
            }
            let aq: Vec<i8> = av.iter().map(|&v| quantize_sym(v, q.input_scale)).collect();
            let acc = gemm_i8(&aq, &std_vec(bq), m, k, n);
            ndarray::Array2::from_shape_fn((m, n), |(i, j)| {
                acc[i * n + j] as f32 * q.input_scale * q.weight_scales[j] * at.alpha
            })
        }
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: "Gemm weight dtype does not match its quantisation".into(),
            })
        }
    };
    if let Some(c) = c {
        let cb = c.broadcast(y.raw_dim()).ok_or_else(|| {
            NpuError::shape(
                ctx,
                format!(
                    "Gemm C {:?} does not broadcast to {:?}",
                    c.shape(),
                    y.shape()
                ),
            )
        })?;
        Zip::from(&mut y)
            .and(&cb)
            .for_each(|yv, &cv| *yv += at.beta * cv);
    }
    if let Some(act) = at.activation {
        y.mapv_inplace(|v| act.apply(v));
    }
    Ok(y.into_dyn())
}
