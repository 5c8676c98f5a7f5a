//! Elementwise family: numpy broadcasting and the broadcasting binaries Add/Sub/Mul/Div
//! (f32, and wrapping i32/i64 with x / 0 = 0).

use ndarray::{ArrayD, IxDyn, Zip};

use crate::error::{NpuError, Result};
use crate::ir::{BinaryOp, Tensor};

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
    let av = a
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| NpuError::shape(ctx, "broadcast"))?;
    let bv = b
        .broadcast(IxDyn(&shape))
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
                },
                ctx,
            )
        };
    }
    match (a, b) {
        (Tensor::F32(x), Tensor::F32(y)) => Ok(Tensor::F32(bin_generic(
            x,
            y,
            |p, q| match op {
                BinaryOp::Add => p + q,
                BinaryOp::Sub => p - q,
                BinaryOp::Mul => p * q,
                BinaryOp::Div => p / q,
            },
            ctx,
        )?)),
        (Tensor::I64(x), Tensor::I64(y)) => Ok(Tensor::I64(int_op!(x, y)?)),
        (Tensor::I32(x), Tensor::I32(y)) => Ok(Tensor::I32(int_op!(x, y)?)),
        _ => Err(NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: format!("{:?} with {:?}", a.dtype(), b.dtype()),
        }),
    }
}
