//! Elementwise family: numpy broadcasting and the broadcasting binaries Add/Sub/Mul/Div
//! (f32, and wrapping i32/i64 with x / 0 = 0).

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{BinaryOp, Node, Op, Tensor};
use crate::onnx::export::ExportCx;
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

/// Broadcasting binaries.
pub struct ElementwiseFamily;

impl OpFamily for ElementwiseFamily {
    fn name(&self) -> &'static str {
        "elementwise"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["Add", "Sub", "Mul", "Div"]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(Op::Binary(match op_type {
            "Add" => BinaryOp::Add,
            "Sub" => BinaryOp::Sub,
            "Mul" => BinaryOp::Mul,
            "Div" => BinaryOp::Div,
            _ => return Err(cx.unsupported_op()),
        }))
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let Op::Binary(_) = op else {
            return Err(misrouted(self.name(), op));
        };
        let (ctx, x) = (cx.name(), cx.x());
        let y = cx.input(1)?;
        if x.dtype != y.dtype {
            return Err(NpuError::DTypeMismatch {
                node: ctx.into(),
                detail: format!("{:?} with {:?}", x.dtype, y.dtype),
            });
        }
        cx.same(broadcast_shape(&x.shape, &y.shape, ctx)?)
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let Op::Binary(b) = op else {
            return Err(misrouted(self.name(), op));
        };
        Ok(vec![binary(*b, cx.x()?, cx.input(1)?, cx.name())?])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, _op: &Op, cx: &CostCx<'_>) -> Work {
        Work {
            vector_ops: cx.out_elems(),
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        cx.node(
            &node.name,
            op.type_name(),
            &node.inputs,
            &node.outputs,
            vec![],
        );
        Ok(())
    }
}
