//! The op-family seam: everything the crate knows about a family of ops — ONNX import and
//! export, shape inference, the executor kernel, and what the cost model charges — sits
//! behind one trait, implemented once per family next to its kernels.
//!
//! The typed IR stays an enum ([`Op`]); [`family`] maps each variant to the family that
//! owns it (an exhaustive `match`, so a new variant does not compile until it is
//! registered), and [`onnx_family`] finds the family claiming an ONNX op type.
//!
//! Adding an op: a variant in [`Op`] (with its `type_name`), then either new arms in an
//! existing family or a new `ops/<family>.rs` with the kernels and one `impl OpFamily`,
//! registered in [`FAMILIES`] and [`family`].

use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{Node, Op, Tensor};
use crate::onnx::export::ExportCx;
use crate::onnx::import::ImportCx;

use super::{
    activation, conv, convnd, elementwise, gather, matmul, movement, norm, pool, quant, reduce,
    resize, shape, unary,
};

/// One family of ops: its ONNX mapping, shape inference, kernel and cost.
///
/// Every method receives the node's [`Op`]; a family handles only the variants [`family`]
/// routes to it (any other gets [`misrouted`]).
pub trait OpFamily: Sync {
    /// Family name (diagnostics).
    fn name(&self) -> &'static str;

    /// ONNX op types of the default domain this family imports.
    fn onnx_types(&self) -> &'static [&'static str];

    /// Builds the IR op for ONNX node type `op_type` (one of [`OpFamily::onnx_types`]).
    /// Constant operand inputs become attributes ([`ImportCx::keep_inputs`]); optional
    /// outputs the IR does not produce are dropped ([`ImportCx::keep_outputs`]).
    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op>;

    /// Output types: one per output, or one that every output gets.
    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>>;

    /// Computes the outputs on the host.
    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>>;

    /// Which unit the op runs on for operand sizes and launch.
    fn cost_class(&self, op: &Op) -> CostClass;

    /// Cube and vector work of the op at the shapes in `cx` (nothing by default).
    fn work(&self, _op: &Op, _cx: &CostCx<'_>) -> Work {
        Work::default()
    }

    /// Whether the output is a view of input 0 (the memory plan aliases it).
    fn is_view(&self, _op: &Op) -> bool {
        false
    }

    /// Writes the node as ONNX (opset 17).
    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()>;
}

/// Every family, in the order ONNX op types are looked up.
pub static FAMILIES: &[&dyn OpFamily] = &[
    &conv::ConvFamily,
    &matmul::MatMulFamily,
    &elementwise::ElementwiseFamily,
    &activation::ActivationFamily,
    &pool::PoolFamily,
    &norm::NormFamily,
    &shape::ShapeFamily,
    &reduce::ReduceFamily,
    &gather::GatherFamily,
    &quant::QuantFamily,
    &resize::ResizeFamily,
    &unary::UnaryFamily,
    &movement::MovementFamily,
    &convnd::ConvNdFamily,
];

/// The family that owns an IR op.
pub fn family(op: &Op) -> &'static dyn OpFamily {
    match op {
        Op::Conv(_) | Op::ConvTranspose(_) => &conv::ConvFamily,
        Op::MatMul | Op::Gemm(_) => &matmul::MatMulFamily,
        Op::Binary(_) | Op::Compare(_) | Op::Nary(_) | Op::Where => &elementwise::ElementwiseFamily,
        Op::Act(_) | Op::Softmax { .. } | Op::LogSoftmax { .. } | Op::SoftmaxCoerced { .. } => {
            &activation::ActivationFamily
        }
        Op::Unary(_) => &unary::UnaryFamily,
        Op::Expand { .. }
        | Op::Tile { .. }
        | Op::Slice { .. }
        | Op::Split { .. }
        | Op::Pad { .. }
        | Op::Cast { .. } => &movement::MovementFamily,
        Op::InstanceNormalization { .. } | Op::LayerNormalization { .. } | Op::Lrn { .. } => {
            &norm::NormFamily
        }
        Op::ConvNd(_) | Op::MaxPoolNd(_) | Op::AveragePoolNd(_) => &convnd::ConvNdFamily,
        Op::MaxPool(_) | Op::AveragePool(_) | Op::GlobalAveragePool => &pool::PoolFamily,
        Op::BatchNormalization { .. } => &norm::NormFamily,
        Op::Concat { .. }
        | Op::Reshape { .. }
        | Op::Flatten { .. }
        | Op::Transpose { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Shape
        | Op::Identity => &shape::ShapeFamily,
        Op::ReduceMin { .. }
        | Op::ReduceSum { .. }
        | Op::Reduce { .. }
        | Op::ArgMin { .. }
        | Op::ArgMax { .. } => &reduce::ReduceFamily,
        Op::Gather { .. } => &gather::GatherFamily,
        Op::QuantizeLinear { .. } | Op::DequantizeLinear { .. } => &quant::QuantFamily,
        Op::Resize { .. } => &resize::ResizeFamily,
    }
}

/// The family that imports ONNX op type `op_type` (default domain), if any.
pub fn onnx_family(op_type: &str) -> Option<&'static dyn OpFamily> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.onnx_types().contains(&op_type))
}

/// The error for an op routed to a family that does not own it (a registration bug).
pub fn misrouted(family: &str, op: &Op) -> NpuError {
    NpuError::InvalidGraph(format!(
        "op {} routed to the {family} family",
        op.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_onnx_type_has_one_family() {
        let mut seen = std::collections::BTreeMap::new();
        for f in FAMILIES {
            for t in f.onnx_types() {
                assert!(seen.insert(*t, f.name()).is_none(), "{t} claimed twice");
            }
        }
        assert!(seen.contains_key("Conv") && seen.contains_key("Dropout"));
    }
}
