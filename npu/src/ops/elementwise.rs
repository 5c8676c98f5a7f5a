//! Elementwise family: numpy broadcasting and the broadcasting binaries Add/Sub/Mul/Div/
//! Pow/Max/Min/PRelu/Mod (f32, and wrapping i32/i64 with x / 0 = 0), the comparisons and
//! logic ops (Equal, Less, Greater, ..., And/Or/Xor: bool output held as int8 0/1), the
//! N-ary Sum/Mean/Max/Min and Where.

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::f16::round_f16;
use crate::ir::{BinaryOp, CompareOp, DType, NaryOp, Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;
use ndarray::{ArrayD, IxDyn, Zip};

/// Broadcast shape of two shapes (numpy rules).
pub fn broadcast_shape(a: &[usize], b: &[usize], ctx: &str) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(NpuError::shape(
                ctx,
                format!("shapes {a:?} and {b:?} do not broadcast"),
            ));
        };
    }
    Ok(out)
}
fn bin_generic<T: Copy>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    f: impl Fn(T, T) -> T,
    ctx: &str,
) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(a.shape(), b.shape(), ctx)?;
    if let Some(v) = super::fast::binary_blocks(a, b, &shape, &f) {
        return ArrayD::from_shape_vec(IxDyn(&shape), v)
            .map_err(|e| NpuError::shape(ctx, e.to_string()));
    }
    bin_zip(a, b, &shape, f, ctx)
}

/// The generic broadcasting binary on `ndarray`'s `Zip` (any layout); the fast path must
/// match it bit for bit.
pub(crate) fn bin_zip<T: Copy>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    shape: &[usize],
    f: impl Fn(T, T) -> T,
    ctx: &str,
) -> Result<ArrayD<T>> {
    let av = a
        .broadcast(IxDyn(shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    let bv = b
        .broadcast(IxDyn(shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

/// Broadcasting elementwise binary op.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, ctx: &str) -> Result<Tensor> {
    macro_rules! int_op {
        ($x:expr, $y:expr) => {
            bin_generic(
                $x,
                $y,
                |p, q| match op {
                    BinaryOp::Add => p.wrapping_add(q),
                    BinaryOp::Sub => p.wrapping_sub(q),
                    BinaryOp::Mul => p.wrapping_mul(q),
                    BinaryOp::Div => {
                        if q == 0 {
                            0
                        } else {
                            p.wrapping_div(q)
                        }
                    }
                    BinaryOp::Pow => {
                        if q < 0 {
                            0
                        } else {
                            p.wrapping_pow(u32::try_from(q).unwrap_or(u32::MAX))
                        }
                    }
                    BinaryOp::Max => p.max(q),
                    BinaryOp::Min => p.min(q),
                    BinaryOp::PRelu => {
                        if p < 0 {
                            p.wrapping_mul(q)
                        } else {
                            p
                        }
                    }
                    BinaryOp::Mod { fmod } => {
                        if q == 0 {
                            0
                        } else {
                            let r = p.wrapping_rem(q);
                            if !fmod && r != 0 && ((r < 0) != (q < 0)) {
                                r.wrapping_add(q)
                            } else {
                                r
                            }
                        }
                    }
                },
                ctx,
            )
        };
    }
    match (a, b) {
        // The common arithmetic with its own closure (a loop without a match per element).
        (Tensor::F32(x), Tensor::F32(y)) if op == BinaryOp::Add => {
            Ok(Tensor::F32(bin_generic(x, y, |p, q| p + q, ctx)?))
        }
        (Tensor::F32(x), Tensor::F32(y)) if op == BinaryOp::Sub => {
            Ok(Tensor::F32(bin_generic(x, y, |p, q| p - q, ctx)?))
        }
        (Tensor::F32(x), Tensor::F32(y)) if op == BinaryOp::Mul => {
            Ok(Tensor::F32(bin_generic(x, y, |p, q| p * q, ctx)?))
        }
        (Tensor::F32(x), Tensor::F32(y)) if op == BinaryOp::Div => {
            Ok(Tensor::F32(bin_generic(x, y, |p, q| p / q, ctx)?))
        }
        (Tensor::F32(x), Tensor::F32(y)) => Ok(Tensor::F32(bin_generic(
            x,
            y,
            |p, q| match op {
                BinaryOp::Add => p + q,
                BinaryOp::Sub => p - q,
                BinaryOp::Mul => p * q,
                BinaryOp::Div => p / q,
                BinaryOp::Pow => pow_f32(p, q),
                BinaryOp::Max => {
                    if p.is_nan() || q.is_nan() {
                        f32::NAN
                    } else {
                        p.max(q)
                    }
                }
                BinaryOp::Min => {
                    if p.is_nan() || q.is_nan() {
                        f32::NAN
                    } else {
                        p.min(q)
                    }
                }
                BinaryOp::PRelu => {
                    if p < 0.0 {
                        p * q
                    } else {
                        p
                    }
                }
                BinaryOp::Mod { fmod } => {
                    let r = p % q;
                    if !fmod && r != 0.0 && ((r < 0.0) != (q < 0.0)) {
                        r + q
                    } else {
                        r
                    }
                }
            },
            ctx,
        )?)),
        // Pow with an integer exponent of a float base.
        (Tensor::F32(x), y) if op == BinaryOp::Pow => {
            Ok(Tensor::F32(bin_generic(x, &y.to_f32(), pow_f32, ctx)?))
        }
        (Tensor::I64(x), Tensor::I64(y)) => Ok(Tensor::I64(int_op!(x, y)?)),
        (Tensor::I32(x), Tensor::I32(y)) => Ok(Tensor::I32(int_op!(x, y)?)),
        _ => Err(NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: format!("{:?} with {:?}", a.dtype(), b.dtype()),
        }),
    }
}

/// x^y in f64 rounded once (integral exponents of negative bases are exact as in C `pow`).
fn pow_f32(x: f32, y: f32) -> f32 {
    f64::from(x).powf(f64::from(y)) as f32
}

/// Broadcasting comparison or logic op; the result is a bool tensor (int8 0/1).
pub fn compare(op: CompareOp, a: &Tensor, b: &Tensor, ctx: &str) -> Result<Tensor> {
    fn cmp<T: Copy + PartialOrd + Default>(
        op: CompareOp,
        x: &ArrayD<T>,
        y: &ArrayD<T>,
        ctx: &str,
    ) -> Result<ArrayD<i8>> {
        let shape = broadcast_shape(x.shape(), y.shape(), ctx)?;
        let xv = x
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
        let yv = y
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
        let z = T::default();
        Ok(Zip::from(&xv).and(&yv).map_collect(|&p, &q| {
            i8::from(match op {
                CompareOp::Equal => p == q,
                CompareOp::Less => p < q,
                CompareOp::LessOrEqual => p <= q,
                CompareOp::Greater => p > q,
                CompareOp::GreaterOrEqual => p >= q,
                CompareOp::And => p != z && q != z,
                CompareOp::Or => p != z || q != z,
                CompareOp::Xor => (p != z) != (q != z),
            })
        }))
    }
    let y = match (a, b) {
        (Tensor::F32(x), Tensor::F32(y)) => cmp(op, x, y, ctx)?,
        (Tensor::I8(x), Tensor::I8(y)) => cmp(op, x, y, ctx)?,
        (Tensor::I32(x), Tensor::I32(y)) => cmp(op, x, y, ctx)?,
        (Tensor::I64(x), Tensor::I64(y)) => cmp(op, x, y, ctx)?,
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: format!("{:?} with {:?}", a.dtype(), b.dtype()),
            })
        }
    };
    Ok(Tensor::I8(y))
}

/// Broadcasting select: `cond ? x : y` (cond is a bool tensor, any nonzero is true).
pub fn where_select(cond: &Tensor, x: &Tensor, y: &Tensor, ctx: &str) -> Result<Tensor> {
    let c = match cond {
        Tensor::I8(c) => c,
        other => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: format!("Where condition must be bool, got {:?}", other.dtype()),
            })
        }
    };
    let shape = broadcast_shape(c.shape(), x.shape(), ctx)?;
    let shape = broadcast_shape(&shape, y.shape(), ctx)?;
    let cv = c
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    macro_rules! sel {
        ($v:ident, $a:expr, $b:expr) => {{
            let av = $a
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
            let bv = $b
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
            Tensor::$v(
                Zip::from(&cv)
                    .and(&av)
                    .and(&bv)
                    .map_collect(|&k, &p, &q| if k != 0 { p } else { q }),
            )
        }};
    }
    Ok(match (x, y) {
        (Tensor::F32(a), Tensor::F32(b)) => sel!(F32, a, b),
        (Tensor::I8(a), Tensor::I8(b)) => sel!(I8, a, b),
        (Tensor::I32(a), Tensor::I32(b)) => sel!(I32, a, b),
        (Tensor::I64(a), Tensor::I64(b)) => sel!(I64, a, b),
        _ => {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: format!("Where of {:?} and {:?}", x.dtype(), y.dtype()),
            })
        }
    })
}

/// N-ary op over all inputs, folded left to right (Mean divides the sum once at the end).
pub fn nary(op: NaryOp, xs: &[&Tensor], ctx: &str) -> Result<Tensor> {
    let (first, rest) = xs
        .split_first()
        .ok_or_else(|| NpuError::shape(ctx, "N-ary op of nothing"))?;
    let b = match op {
        NaryOp::Sum | NaryOp::Mean => BinaryOp::Add,
        NaryOp::Max => BinaryOp::Max,
        NaryOp::Min => BinaryOp::Min,
    };
    let mut acc = (*first).clone();
    for t in rest {
        acc = binary(b, &acc, t, ctx)?;
    }
    if op == NaryOp::Mean {
        let n = xs.len() as f32;
        acc = match acc {
            Tensor::F32(a) => Tensor::F32(a.mapv(|v| v / n)),
            other => {
                return Err(NpuError::DTypeMismatch {
                    node: ctx.into(),
                    detail: format!("Mean of {:?}", other.dtype()),
                })
            }
        };
    }
    Ok(acc)
}

/// Broadcasting binaries, comparisons, N-ary ops and Where.
pub struct ElementwiseFamily;

impl OpFamily for ElementwiseFamily {
    fn name(&self) -> &'static str {
        "elementwise"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &[
            "Add",
            "Sub",
            "Mul",
            "Div",
            "Pow",
            "PRelu",
            "Mod",
            "Max",
            "Min",
            "Sum",
            "Mean",
            "Equal",
            "Less",
            "LessOrEqual",
            "Greater",
            "GreaterOrEqual",
            "And",
            "Or",
            "Xor",
            "Where",
        ]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        let n = cx.proto().inputs.len();
        Ok(match op_type {
            "Add" => Op::Binary(BinaryOp::Add),
            "Sub" => Op::Binary(BinaryOp::Sub),
            "Mul" => Op::Binary(BinaryOp::Mul),
            "Div" => Op::Binary(BinaryOp::Div),
            "Pow" => Op::Binary(BinaryOp::Pow),
            "PRelu" => Op::Binary(BinaryOp::PRelu),
            "Mod" => Op::Binary(BinaryOp::Mod {
                fmod: cx.i("fmod", 0) != 0,
            }),
            "Max" if n == 2 => Op::Binary(BinaryOp::Max),
            "Min" if n == 2 => Op::Binary(BinaryOp::Min),
            "Max" => Op::Nary(NaryOp::Max),
            "Min" => Op::Nary(NaryOp::Min),
            "Sum" => Op::Nary(NaryOp::Sum),
            "Mean" => Op::Nary(NaryOp::Mean),
            "Equal" => Op::Compare(CompareOp::Equal),
            "Less" => Op::Compare(CompareOp::Less),
            "LessOrEqual" => Op::Compare(CompareOp::LessOrEqual),
            "Greater" => Op::Compare(CompareOp::Greater),
            "GreaterOrEqual" => Op::Compare(CompareOp::GreaterOrEqual),
            "And" => Op::Compare(CompareOp::And),
            "Or" => Op::Compare(CompareOp::Or),
            "Xor" => Op::Compare(CompareOp::Xor),
            "Where" => Op::Where,
            _ => return Err(cx.unsupported_op()),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let (ctx, x) = (cx.name(), cx.x());
        let mismatch = |a: DType, b: DType| NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: format!("{a:?} with {b:?}"),
        };
        match op {
            Op::Binary(b) => {
                let y = cx.input(1)?;
                let float = |d: DType| matches!(d, DType::F32 | DType::F16);
                let pow_mixed = *b == BinaryOp::Pow && float(x.dtype);
                if x.dtype != y.dtype && !pow_mixed && !(float(x.dtype) && float(y.dtype)) {
                    return Err(mismatch(x.dtype, y.dtype));
                }
                cx.same(broadcast_shape(&x.shape, &y.shape, ctx)?)
            }
            Op::Compare(_) => {
                let y = cx.input(1)?;
                if x.dtype != y.dtype {
                    return Err(mismatch(x.dtype, y.dtype));
                }
                cx.one(DType::I8, broadcast_shape(&x.shape, &y.shape, ctx)?)
            }
            Op::Nary(_) => {
                let mut shape = x.shape.clone();
                for i in 1..cx.input_count() {
                    let y = cx.input(i)?;
                    if x.dtype != y.dtype {
                        return Err(mismatch(x.dtype, y.dtype));
                    }
                    shape = broadcast_shape(&shape, &y.shape, ctx)?;
                }
                cx.same(shape)
            }
            Op::Where => {
                let (a, b) = (cx.input(1)?, cx.input(2)?);
                if x.dtype != DType::I8 {
                    return Err(NpuError::DTypeMismatch {
                        node: ctx.into(),
                        detail: format!("Where condition must be bool, got {:?}", x.dtype),
                    });
                }
                if a.dtype != b.dtype {
                    return Err(mismatch(a.dtype, b.dtype));
                }
                let s = broadcast_shape(&x.shape, &a.shape, ctx)?;
                cx.one(a.dtype, broadcast_shape(&s, &b.shape, ctx)?)
            }
            _ => Err(misrouted(self.name(), op)),
        }
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let ctx = cx.name();
        Ok(vec![match op {
            Op::Binary(b) => match (cx.fp16(), b, cx.x()?, cx.input(1)?) {
                // Add/Sub/Mul on f32 in the fp16 executor: each result rounded as it is made
                // (the same bits as the executor's pass over the output).
                (
                    true,
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul,
                    Tensor::F32(x),
                    Tensor::F32(y),
                ) => {
                    let z = match b {
                        BinaryOp::Add => bin_generic(x, y, |p, q| round_f16(p + q), ctx)?,
                        BinaryOp::Sub => bin_generic(x, y, |p, q| round_f16(p - q), ctx)?,
                        _ => bin_generic(x, y, |p, q| round_f16(p * q), ctx)?,
                    };
                    cx.mark_rounded();
                    Tensor::F32(z)
                }
                (_, _, x, y) => binary(*b, x, y, ctx)?,
            },
            Op::Compare(c) => compare(*c, cx.x()?, cx.input(1)?, ctx)?,
            Op::Nary(n) => {
                let xs: Vec<&Tensor> = (0..cx.input_count())
                    .map(|i| cx.input(i))
                    .collect::<Result<_>>()?;
                nary(*n, &xs, ctx)?
            }
            Op::Where => where_select(cx.x()?, cx.input(1)?, cx.input(2)?, ctx)?,
            _ => return Err(misrouted(self.name(), op)),
        }])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let per = match op {
            Op::Binary(BinaryOp::Pow) => 4,
            Op::Binary(BinaryOp::Mod { .. } | BinaryOp::PRelu) => 2,
            Op::Nary(_) => cx.has_inputs().saturating_sub(1).max(1) as u64,
            _ => 1,
        };
        Work {
            vector_ops: per * cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let at = match op {
            Op::Binary(BinaryOp::Mod { fmod }) => vec![attr("fmod", A::I(i64::from(*fmod)))],
            _ => vec![],
        };
        cx.node(&node.name, op.type_name(), &node.inputs, &node.outputs, at);
        Ok(())
    }
}
