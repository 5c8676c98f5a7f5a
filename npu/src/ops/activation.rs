//! Activation family: elementwise activations (Relu, LeakyRelu, Sigmoid, Tanh, Clip; the
//! same functions serve as fused Conv/Gemm epilogues), Softmax and LogSoftmax (opset 13
//! semantics, and the 2-D coercion of earlier opsets).

use ndarray::{ArrayD, Axis};

use super::family::{misrouted, OpFamily};
use super::norm_axis;
use crate::compiler::shape_infer::{InferCx, ValueType};
use crate::cost::{CostClass, CostCx, Work};
use crate::error::{NpuError, Result};
use crate::exec::EvalCx;
use crate::ir::{Activation, Node, Op, Tensor};
use crate::onnx::export::{attr, ExportCx, A};
use crate::onnx::import::ImportCx;
use crate::onnx::wire::Writer;

/// Applies an activation elementwise.
pub fn activation(x: &ArrayD<f32>, act: Activation) -> ArrayD<f32> {
    x.mapv(|v| act.apply(v))
}
/// Softmax along one axis.
pub fn softmax(x: &ArrayD<f32>, axis: i64, ctx: &str) -> Result<ArrayD<f32>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    let mut y = x.clone();
    for mut lane in y.lanes_mut(Axis(ax)) {
        let m = lane.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s: f32 = lane.iter().sum();
        lane.mapv_inplace(|v| v / s);
    }
    Ok(y)
}

/// LogSoftmax along one axis: x - max - ln(sum(e^(x - max))), the sum in f64.
pub fn log_softmax(x: &ArrayD<f32>, axis: i64, ctx: &str) -> Result<ArrayD<f32>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    let mut y = x.clone();
    for mut lane in y.lanes_mut(Axis(ax)) {
        let m = lane.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let s: f64 = lane.iter().map(|&v| f64::from(v - m).exp()).sum();
        let ls = s.ln() as f32;
        lane.mapv_inplace(|v| v - m - ls);
    }
    Ok(y)
}

/// Softmax / LogSoftmax before opset 13: coerce to 2-D `[prod(dims[..axis]),
/// prod(dims[axis..])]`, normalise each row, restore the shape.
pub fn softmax_coerced(x: &ArrayD<f32>, axis: i64, log: bool, ctx: &str) -> Result<ArrayD<f32>> {
    let r = x.ndim();
    let ax = if axis == r as i64 && r > 0 {
        r
    } else {
        norm_axis(axis, r, ctx)?
    };
    let rows: usize = x.shape()[..ax].iter().product();
    let cols: usize = x.shape()[ax..].iter().product();
    let flat = x
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(ndarray::IxDyn(&[rows, cols]))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))?;
    let y = if log {
        log_softmax(&flat, 1, ctx)?
    } else {
        softmax(&flat, 1, ctx)?
    };
    y.into_shape_with_order(ndarray::IxDyn(x.shape()))
        .map_err(|e| NpuError::shape(ctx, e.to_string()))
}

/// Writes activation `act` as its own ONNX node (`Clip` bounds become scalar initializers).
pub(crate) fn export_activation(
    cx: &mut ExportCx<'_>,
    name: &str,
    act: Activation,
    input: String,
    output: String,
) {
    let (op, attrs, extra): (&str, Vec<Writer>, Vec<String>) = match act {
        Activation::Relu => ("Relu", vec![], vec![]),
        Activation::LeakyRelu(a) => ("LeakyRelu", vec![attr("alpha", A::F(a))], vec![]),
        Activation::Sigmoid => ("Sigmoid", vec![], vec![]),
        Activation::Tanh => ("Tanh", vec![], vec![]),
        Activation::Clip(lo, hi) => {
            let l = cx.const_f32(&format!("{name}_min"), &[lo], true);
            let h = cx.const_f32(&format!("{name}_max"), &[hi], true);
            ("Clip", vec![], vec![l, h])
        }
    };
    let mut ins = vec![input];
    ins.extend(extra);
    cx.node(name, op, &ins, &[output], attrs);
}

/// Writes a Conv/Gemm-like node; a fused activation epilogue becomes a separate activation
/// node after an intermediate `<output>_preact` value.
pub(crate) fn export_with_epilogue(
    cx: &mut ExportCx<'_>,
    node: &Node,
    op_type: &str,
    attrs: Vec<Writer>,
    act: Option<Activation>,
) {
    let (name, ins, outs) = (node.name.as_str(), &node.inputs, &node.outputs);
    match act {
        None => cx.node(name, op_type, ins, outs, attrs),
        Some(act) => {
            let mid = format!("{}_preact", outs[0]);
            cx.node(name, op_type, ins, std::slice::from_ref(&mid), attrs);
            export_activation(cx, &format!("{name}_act"), act, mid, outs[0].clone());
        }
    }
}

/// Elementwise activations and Softmax.
pub struct ActivationFamily;

impl OpFamily for ActivationFamily {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn onnx_types(&self) -> &'static [&'static str] {
        &[
            "Relu",
            "LeakyRelu",
            "Sigmoid",
            "Tanh",
            "Clip",
            "Softmax",
            "LogSoftmax",
        ]
    }

    fn import(&self, op_type: &str, cx: &mut ImportCx<'_>) -> Result<Op> {
        Ok(match op_type {
            "Relu" => Op::Act(Activation::Relu),
            "LeakyRelu" => Op::Act(Activation::LeakyRelu(cx.f("alpha", 0.01))),
            "Sigmoid" => Op::Act(Activation::Sigmoid),
            "Tanh" => Op::Act(Activation::Tanh),
            "Clip" => {
                let lo = cx
                    .const_input(1)?
                    .and_then(|t| t.to_f32_vec().first().copied());
                let hi = cx
                    .const_input(2)?
                    .and_then(|t| t.to_f32_vec().first().copied());
                cx.keep_inputs(1);
                Op::Act(Activation::Clip(
                    lo.unwrap_or(f32::MIN),
                    hi.unwrap_or(f32::MAX),
                ))
            }
            "Softmax" | "LogSoftmax" if cx.opset() < 13 => Op::SoftmaxCoerced {
                axis: cx.i("axis", 1),
                log: op_type == "LogSoftmax",
            },
            "Softmax" => Op::Softmax {
                axis: cx.i("axis", -1),
            },
            "LogSoftmax" => Op::LogSoftmax {
                axis: cx.i("axis", -1),
            },
            _ => return Err(cx.unsupported_op()),
        })
    }

    fn infer(&self, op: &Op, cx: &InferCx<'_>) -> Result<Vec<ValueType>> {
        let x = cx.x();
        cx.float(x)?;
        match op {
            Op::Act(_) => {}
            Op::Softmax { axis } | Op::LogSoftmax { axis } => {
                norm_axis(*axis, x.shape.len(), cx.name())?;
            }
            Op::SoftmaxCoerced { axis, .. } => {
                if *axis != x.shape.len() as i64 {
                    norm_axis(*axis, x.shape.len(), cx.name())?;
                }
            }
            _ => return Err(misrouted(self.name(), op)),
        }
        cx.f32(x.shape.clone())
    }

    fn eval(&self, op: &Op, cx: &EvalCx<'_>) -> Result<Vec<Tensor>> {
        let y = match op {
            Op::Act(a) => activation(cx.xf()?, *a),
            Op::Softmax { axis } => softmax(cx.xf()?, *axis, cx.name())?,
            Op::LogSoftmax { axis } => log_softmax(cx.xf()?, *axis, cx.name())?,
            Op::SoftmaxCoerced { axis, log } => softmax_coerced(cx.xf()?, *axis, *log, cx.name())?,
            _ => return Err(misrouted(self.name(), op)),
        };
        Ok(vec![Tensor::F32(y)])
    }

    fn cost_class(&self, _op: &Op) -> CostClass {
        CostClass::Vector
    }

    fn work(&self, op: &Op, cx: &CostCx<'_>) -> Work {
        let vector_ops = match op {
            Op::Act(a) => cx.out_elems() * a.vector_ops(),
            _ => 6 * cx.out_elems(),
        };
        Work {
            vector_ops,
            ..Work::default()
        }
    }

    fn export(&self, op: &Op, node: &Node, cx: &mut ExportCx<'_>) -> Result<()> {
        let name = node.name.as_str();
        match op {
            Op::Act(act) => {
                let input = node.inputs.first().cloned().unwrap_or_default();
                export_activation(cx, name, *act, input, node.outputs[0].clone());
            }
            Op::Softmax { axis } | Op::LogSoftmax { axis } => cx.node(
                name,
                op.type_name(),
                &node.inputs,
                &node.outputs,
                vec![attr("axis", A::I(*axis))],
            ),
            Op::SoftmaxCoerced { .. } => {
                return Err(NpuError::unsupported(
                    name,
                    "export of a pre-opset-13 Softmax (the exporter writes opset 17)",
                ))
            }
            _ => return Err(misrouted(self.name(), op)),
        }
        Ok(())
    }
}
