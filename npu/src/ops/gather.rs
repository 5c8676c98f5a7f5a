//! Gather family: selection along one axis by (possibly negative) integer indices.

use ndarray::Axis;

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use super::shape::reshape;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{Node, Op, Tensor};
use crate::map_tensor;
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;

/// Gather along an axis with (possibly negative) integer indices.
pub fn gather(data: &Tensor, indices: &Tensor, axis: i64, ctx: &str) -> Result<Tensor> {
    let ds = data.shape().to_vec();
    let ax = norm_axis(axis, ds.len(), ctx)?;
    let dim = ds[ax] as i64;
    let idx: Vec<usize> = indices
        .to_i64_vec(ctx)?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(NpuError::shape(
                    ctx,
                    format!("Gather index {i} out of range {dim}"),
                ))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_>>()?;
    let mut shape: Vec<usize> = ds[..ax].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&ds[ax + 1..]);
    let sel = map_tensor!(data, a => a.select(Axis(ax), &idx));
    reshape(&sel, &shape, ctx)
}

/// Gather.
pub struct GatherFamily;

impl OpFamily for GatherFamily {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["Gather"]
    }

    fn import(&self, _op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(Op::Gather {
            axis: cx.i("axis", 0),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let Op::Gather { axis } = op else {
            return Err(misrouted(self.name(), op));
        };
        let x = cx.x();
        let ax = norm_axis(*axis, x.shape.len(), cx.name())?;
        let idx = cx.input(1)?;
        let mut sh = x.shape[..ax].to_vec();
        sh.extend_from_slice(&idx.shape);
        sh.extend_from_slice(&x.shape[ax + 1..]);
        cx.same(sh)
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let Op::Gather { axis } = op else {
            return Err(misrouted(self.name(), op));
        };
        Ok(vec![gather(cx.x()?, cx.input(1)?, *axis, cx.name())?])
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
        let Op::Gather { axis } = op else {
            return Err(misrouted(self.name(), op));
        };
        cx.node(
            &node.name,
            "Gather",
            &node.inputs,
            &node.outputs,
            vec![attr("axis", A::I(*axis))],
        );
        Ok(())
    }
}
