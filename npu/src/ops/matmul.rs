//! Matrix-product family: numpy MatMul with batch broadcasting, Gemm (f32 or int8 weights
//! with fused epilogue) and the exact i8×i8→i32 GEMMs they and the int8 Conv use.

use ndarray::{ArrayD, ArrayView2, ArrayViewD, Axis, IxDyn, Zip};

use super::activation::export_with_epilogue;
use super::elementwise::broadcast_shape;
use super::family::{misrouted, OpFamily};
use super::quant::quantize_sym;
use super::std_vec;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, CubeWork, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{GemmAttrs, Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

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

/// MatMul and Gemm.
pub struct MatMulFamily;

impl OpFamily for MatMulFamily {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["MatMul", "Gemm"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(match op_type {
            "MatMul" => Op::MatMul,
            "Gemm" => Op::Gemm(GemmAttrs {
                alpha: cx.f("alpha", 1.0),
                beta: cx.f("beta", 1.0),
                trans_a: cx.i("transA", 0) != 0,
                trans_b: cx.i("transB", 0) != 0,
                activation: None,
                quant: None,
            }),
            _ => return Err(cx.unsupported_op()),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        match op {
            Op::MatMul => {
                cx.float(x)?;
                cx.f32(matmul_shape(&x.shape, &cx.input(1)?.shape, ctx)?)
            }
            Op::Gemm(g) => {
                cx.float(x)?;
                let b = cx.input(1)?;
                if x.shape.len() != 2 || b.shape.len() != 2 {
                    return Err(NpuError::shape(ctx, "Gemm operands must be 2-D"));
                }
                let (m, k) = if g.trans_a {
                    (x.shape[1], x.shape[0])
                } else {
                    (x.shape[0], x.shape[1])
                };
                // An int8-compiled weight is stored as [K, N].
                let (k2, n) = if g.trans_b && g.quant.is_none() {
                    (b.shape[1], b.shape[0])
                } else {
                    (b.shape[0], b.shape[1])
                };
                if k != k2 {
                    return Err(NpuError::shape(
                        ctx,
                        format!("Gemm inner dims {k} and {k2} differ"),
                    ));
                }
                if let Some(c) = cx.opt(2) {
                    let bs = broadcast_shape(&[m, n], &c.shape, ctx)?;
                    if bs != [m, n] {
                        return Err(NpuError::shape(
                            ctx,
                            "Gemm C does not broadcast to the output",
                        ));
                    }
                }
                cx.f32(vec![m, n])
            }
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        let y = match op {
            Op::MatMul => matmul(cx.xf()?, cx.input_f32(1)?, ctx)?,
            Op::Gemm(g) => {
                let c = match cx.opt(2) {
                    Some(t) => Some(t.as_f32(ctx)?),
                    None => None,
                };
                gemm(cx.xf()?, cx.input(1)?, c, g, ctx)?
            }
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![Tensor::F32(y)])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Cube
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let in0 = cx.input_shape(0);
        let o = cx.output_shape(0);
        let mut work = Work::default();
        match op {
            Op::Gemm(ga) => {
                let k = if ga.trans_a { in0.first() } else { in0.get(1) }
                    .copied()
                    .unwrap_or(0) as u64;
                if let [m, n] = o[..] {
                    work.macs = m as u64 * k * n as u64;
                    work.cube = Some(CubeWork {
                        groups: 1,
                        m: m as u64,
                        k,
                        n: n as u64,
                    });
                }
                work.vector_ops += cx.epilogue(ga.activation, 2);
            }
            Op::MatMul => {
                let k = in0.last().copied().unwrap_or(0) as u64;
                let r = o.len();
                if r >= 2 {
                    let (m, n) = (o[r - 2] as u64, o[r - 1] as u64);
                    let groups = o[..r - 2].iter().product::<usize>() as u64;
                    let groups = groups.max(1);
                    work.macs = groups * m * k * n;
                    work.cube = Some(CubeWork { groups, m, k, n });
                }
            }
            _ => {}
        }
        work
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let name = node.name.as_str();
        match op {
            Op::MatMul => cx.node(name, "MatMul", &node.inputs, &node.outputs, vec![]),
            Op::Gemm(a) => {
                if a.quant.is_some() {
                    return Err(NpuError::unsupported(
                        name,
                        "exporting an int8-compiled node",
                    ));
                }
                let at = vec![
                    attr("alpha", A::F(a.alpha)),
                    attr("beta", A::F(a.beta)),
                    attr("transA", A::I(i64::from(a.trans_a))),
                    attr("transB", A::I(i64::from(a.trans_b))),
                ];
                export_with_epilogue(cx, node, "Gemm", at, a.activation);
            }
            _ => return Err(misrouted(self.name(), op)),
        }
        Ok(())
    }
}
