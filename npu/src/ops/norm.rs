//! Normalisation family: inference BatchNormalization over the channel axis.

use super::family::{misrouted, OpFamily};
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;
use ndarray::{ArrayD, Axis};

/// Inference batch normalisation over channel axis 1.
pub fn batch_norm(
    x: &ArrayD<f32>,
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 2 {
        return Err(NpuError::shape(ctx, "BatchNormalization needs rank >= 2"));
    }
    let c = x.shape()[1];
    if [scale.len(), bias.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != c)
    {
        return Err(NpuError::shape(ctx, "BatchNormalization parameter length"));
    }
    let mut y = x.clone();
    for (ci, mut lane) in y.axis_iter_mut(Axis(1)).enumerate() {
        let k = scale[ci] / (var[ci] + eps).sqrt();
        let b = bias[ci] - mean[ci] * k;
        lane.mapv_inplace(|v| v * k + b);
    }
    Ok(y)
}

/// BatchNormalization (inference).
pub struct NormFamily;

impl OpFamily for NormFamily {
    fn name(&self) -> &'static str {
        "norm"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &["BatchNormalization"]
    }

    fn import(&self, _op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        if cx.i("training_mode", 0) != 0 {
            return Err(NpuError::unsupported(
                cx.name(),
                "BatchNormalization training_mode",
            ));
        }
        cx.keep_outputs(1);
        Ok(Op::BatchNormalization {
            epsilon: cx.f("epsilon", 1e-5),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let Op::BatchNormalization { .. } = op else {
            return Err(misrouted(self.name(), op));
        };
        let x = cx.x();
        cx.float(x)?;
        let c = x.shape.get(1).copied().unwrap_or(0);
        for i in 1..5 {
            if cx.input(i)?.len() != c {
                return Err(NpuError::shape(
                    cx.name(),
                    "BatchNormalization parameter length",
                ));
            }
        }
        cx.f32(x.shape.clone())
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let Op::BatchNormalization { epsilon } = op else {
            return Err(misrouted(self.name(), op));
        };
        let p: Vec<Vec<f32>> = (1..5)
            .map(|i| cx.input(i).map(Tensor::to_f32_vec))
            .collect::<Result<_>>()?;
        Ok(vec![Tensor::F32(batch_norm(
            cx.xf()?,
            &p[0],
            &p[1],
            &p[2],
            &p[3],
            *epsilon,
            cx.name(),
        )?)])
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
        let Op::BatchNormalization { epsilon } = op else {
            return Err(misrouted(self.name(), op));
        };
        cx.node(
            &node.name,
            "BatchNormalization",
            &node.inputs,
            &node.outputs,
            vec![attr("epsilon", A::F(*epsilon))],
        );
        Ok(())
    }
}
