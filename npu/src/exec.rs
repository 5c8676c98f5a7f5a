//! Graph executor: interprets a (compiled or plain) graph on `ndarray`, releasing each
//! intermediate value after its last use. Deterministic: no threads, fixed summation order.

use std::collections::BTreeMap;

use ndarray::ArrayD;

use crate::error::{NpuError, Result};
use crate::f16::round_f16;
use crate::ir::{DType, Dim, Graph, Node, Op, Tensor};
use crate::ops::{self, Weights};

/// Largest value (elements) the executor will materialise (2^31, 8 GiB of f32).
pub const MAX_EXEC_ELEMENTS: usize = 1 << 31;

/// Numeric mode of execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Round every float result to f16 (emulated half precision).
    pub fp16: bool,
}

fn input<'a>(node: &Node, ins: &[Option<&'a Tensor>], i: usize) -> Result<&'a Tensor> {
    ins.get(i).copied().flatten().ok_or_else(|| {
        NpuError::InvalidGraph(format!(
            "node `{}` ({}) lacks input #{i}",
            node.name,
            node.op.type_name()
        ))
    })
}

fn opt_f32(ins: &[Option<&Tensor>], i: usize) -> Option<Vec<f32>> {
    ins.get(i).copied().flatten().map(Tensor::to_f32_vec)
}

/// Evaluates one node on its inputs (absent optional inputs are `None`).
pub fn eval_node(node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let ctx = node.name.as_str();
    let x = || input(node, ins, 0);
    let xf = || input(node, ins, 0).and_then(|t| t.as_f32(ctx));
    let out = match &node.op {
        Op::Conv(a) => {
            let w = input(node, ins, 1)?;
            let b = opt_f32(ins, 2);
            let wt = match (w, &a.quant) {
                (Tensor::F32(w), None) => Weights::F32(w),
                (Tensor::I8(w), Some(q)) => Weights::I8(w, q),
                _ => {
                    return Err(NpuError::DTypeMismatch {
                        node: ctx.into(),
                        detail: "Conv weight dtype does not match its quantisation".into(),
                    })
                }
            };
            Tensor::F32(ops::conv2d(xf()?, wt, b.as_deref(), a, ctx)?)
        }
        Op::ConvTranspose(a) => {
            let w = input(node, ins, 1)?.as_f32(ctx)?;
            let b = opt_f32(ins, 2);
            Tensor::F32(ops::conv_transpose2d(xf()?, w, b.as_deref(), a, ctx)?)
        }
        Op::Resize {
            scales,
            sizes,
            coord,
            nearest,
        } => ops::resize_nearest(x()?, scales, sizes, *coord, *nearest, ctx)?,
        Op::MatMul => Tensor::F32(ops::matmul(xf()?, input(node, ins, 1)?.as_f32(ctx)?, ctx)?),
        Op::Gemm(g) => {
            let c = match ins.get(2).copied().flatten() {
                Some(t) => Some(t.as_f32(ctx)?),
                None => None,
            };
            Tensor::F32(ops::gemm(xf()?, input(node, ins, 1)?, c, g, ctx)?)
        }
        Op::Binary(b) => ops::binary(*b, x()?, input(node, ins, 1)?, ctx)?,
        Op::Act(a) => Tensor::F32(ops::activation(xf()?, *a)),
        Op::MaxPool(p) => Tensor::F32(ops::pool2d(xf()?, p, true, ctx)?),
        Op::AveragePool(p) => Tensor::F32(ops::pool2d(xf()?, p, false, ctx)?),
        Op::GlobalAveragePool => Tensor::F32(ops::global_avg_pool(xf()?, ctx)?),
        Op::BatchNormalization { epsilon } => {
            let p: Vec<Vec<f32>> = (1..5)
                .map(|i| input(node, ins, i).map(Tensor::to_f32_vec))
                .collect::<Result<_>>()?;
            Tensor::F32(ops::batch_norm(
                xf()?,
                &p[0],
                &p[1],
                &p[2],
                &p[3],
                *epsilon,
                ctx,
            )?)
        }
        Op::Concat { axis } => {
            let xs: Vec<&Tensor> = (0..node.inputs.len())
                .map(|i| input(node, ins, i))
                .collect::<Result<_>>()?;
            ops::concat(&xs, *axis, ctx)?
        }
        Op::Reshape { shape } => {
            let t = x()?;
            let target = ops::reshape_target(t.shape(), shape, ctx)?;
            ops::reshape(t, &target, ctx)?
        }
        Op::Flatten { axis } => {
            let t = x()?;
            let s = t.shape();
            let ax = if *axis == s.len() as i64 {
                s.len()
            } else {
                ops::norm_axis(*axis, s.len(), ctx)?
            };
            let a: usize = s[..ax].iter().product();
            let b: usize = s[ax..].iter().product();
            ops::reshape(t, &[a, b], ctx)?
        }
        Op::Transpose { perm } => ops::transpose(x()?, perm, ctx)?,
        Op::Squeeze { axes } => {
            let t = x()?;
            let s = ops::squeeze_shape(t.shape(), axes, ctx)?;
            ops::reshape(t, &s, ctx)?
        }
        Op::Unsqueeze { axes } => {
            let t = x()?;
            let s = ops::unsqueeze_shape(t.shape(), axes, ctx)?;
            ops::reshape(t, &s, ctx)?
        }
        Op::Softmax { axis } => Tensor::F32(ops::softmax(xf()?, *axis, ctx)?),
        Op::ReduceMin { axes, keepdims } => {
            Tensor::F32(ops::reduce(xf()?, axes, *keepdims, true, ctx)?)
        }
        Op::ReduceSum { axes, keepdims } => {
            Tensor::F32(ops::reduce(xf()?, axes, *keepdims, false, ctx)?)
        }
        Op::ArgMin { axis, keepdims } => {
            Tensor::I64(ops::arg_reduce(xf()?, *axis, *keepdims, false, ctx)?)
        }
        Op::ArgMax { axis, keepdims } => {
            Tensor::I64(ops::arg_reduce(xf()?, *axis, *keepdims, true, ctx)?)
        }
        Op::Gather { axis } => ops::gather(x()?, input(node, ins, 1)?, *axis, ctx)?,
        Op::QuantizeLinear { axis } => {
            let s = input(node, ins, 1)?.to_f32_vec();
            let zp = match ins.get(2).copied().flatten() {
                Some(t) => t.to_i64_vec(ctx)?,
                None => Vec::new(),
            };
            Tensor::I8(ops::quantize_linear(xf()?, &s, &zp, *axis, ctx)?)
        }
        Op::DequantizeLinear { axis } => {
            let s = input(node, ins, 1)?.to_f32_vec();
            let zp = match ins.get(2).copied().flatten() {
                Some(t) => t.to_i64_vec(ctx)?,
                None => Vec::new(),
            };
            Tensor::F32(ops::dequantize_linear(x()?, &s, &zp, *axis, ctx)?)
        }
        Op::Shape => {
            let s: Vec<i64> = x()?.shape().iter().map(|&d| d as i64).collect();
            Tensor::from_i64(&[s.len()], s)?
        }
        Op::Identity => x()?.clone(),
    };
    Ok(vec![out])
}

/// Checks a runtime input against its declared type.
pub fn check_input(info: &crate::ir::TensorInfo, t: &Tensor) -> Result<()> {
    let want = match info.dtype {
        DType::F16 => DType::F32,
        d => d,
    };
    if t.dtype() != want {
        return Err(NpuError::DTypeMismatch {
            node: info.name.clone(),
            detail: format!("input expects {:?}, got {:?}", info.dtype, t.dtype()),
        });
    }
    let s = t.shape();
    let ok = s.len() == info.shape.len()
        && info.shape.iter().zip(s).all(|(d, &v)| match d {
            Dim::Fixed(f) => *f == v,
            Dim::Dynamic(_) => true,
        });
    if !ok {
        return Err(NpuError::shape(
            &info.name,
            format!("input expects shape {:?}, got {s:?}", info.shape),
        ));
    }
    Ok(())
}

/// Runs a graph; `observer` sees every value as it is produced.
pub fn run_graph_observed(
    g: &Graph,
    inputs: &BTreeMap<String, Tensor>,
    opts: ExecOptions,
    observer: &mut dyn FnMut(&Node, &str, &Tensor),
) -> Result<BTreeMap<String, Tensor>> {
    let mut values: BTreeMap<&str, std::borrow::Cow<'_, Tensor>> = BTreeMap::new();
    for info in &g.inputs {
        let t = inputs
            .get(&info.name)
            .ok_or_else(|| NpuError::ShapeMismatch {
                node: info.name.clone(),
                detail: "graph input not provided".into(),
            })?;
        check_input(info, t)?;
        let t = if opts.fp16 {
            std::borrow::Cow::Owned(round_tensor(t))
        } else {
            std::borrow::Cow::Borrowed(t)
        };
        values.insert(info.name.as_str(), t);
    }
    // Type-check the whole graph at this batch before computing anything: shape errors come
    // back typed, and no value may exceed MAX_EXEC_ELEMENTS.
    let batch = g
        .inputs
        .iter()
        .find(|i| i.has_dynamic_batch())
        .and_then(|i| inputs.get(&i.name))
        .and_then(|t| t.shape().first().copied())
        .unwrap_or(1);
    let types = crate::compiler::shape_infer::infer_shapes(g, batch)?;
    if let Some((name, v)) = types.iter().find(|(_, v)| v.len() > MAX_EXEC_ELEMENTS) {
        return Err(NpuError::shape(
            name,
            format!(
                "value of shape {:?} exceeds the executor limit of {MAX_EXEC_ELEMENTS} elements",
                v.shape
            ),
        ));
    }
    // Last node index using each value; graph outputs are never released.
    let mut last_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for v in &n.inputs {
            last_use.insert(v.as_str(), i);
        }
    }
    for o in &g.outputs {
        last_use.insert(o.name.as_str(), usize::MAX);
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let outs = {
            let ins: Vec<Option<&Tensor>> = node
                .inputs
                .iter()
                .map(|name| {
                    if name.is_empty() {
                        Ok(None)
                    } else if let Some(v) = values.get(name.as_str()) {
                        Ok(Some(v.as_ref()))
                    } else if let Some(t) = g.initializers.get(name) {
                        Ok(Some(t))
                    } else {
                        Err(NpuError::InvalidGraph(format!(
                            "node `{}` uses unknown value `{name}`",
                            node.name
                        )))
                    }
                })
                .collect::<Result<_>>()?;
            eval_node(node, &ins)?
        };
        for (name, t) in node.outputs.iter().zip(outs) {
            let t = if opts.fp16 { round_tensor(&t) } else { t };
            observer(node, name, &t);
            values.insert(name.as_str(), std::borrow::Cow::Owned(t));
        }
        for v in &node.inputs {
            if last_use.get(v.as_str()) == Some(&i) {
                values.remove(v.as_str());
            }
        }
    }
    let mut out = BTreeMap::new();
    for o in &g.outputs {
        let t = match values.get(o.name.as_str()) {
            Some(v) => v.as_ref().clone(),
            None => g.initializers.get(&o.name).cloned().ok_or_else(|| {
                NpuError::InvalidGraph(format!("output `{}` not produced", o.name))
            })?,
        };
        out.insert(o.name.clone(), t);
    }
    Ok(out)
}

/// Runs a graph on named inputs and returns the named outputs.
pub fn run_graph(
    g: &Graph,
    inputs: &BTreeMap<String, Tensor>,
    opts: ExecOptions,
) -> Result<BTreeMap<String, Tensor>> {
    run_graph_observed(g, inputs, opts, &mut |_, _, _| {})
}

/// Rounds a float tensor to f16 precision (integers unchanged).
pub fn round_tensor(t: &Tensor) -> Tensor {
    match t {
        Tensor::F32(a) => Tensor::F32(a.mapv(round_f16)),
        other => other.clone(),
    }
}

/// Convenience: f32 array from a tensor map entry.
pub fn output_f32<'a>(outs: &'a BTreeMap<String, Tensor>, name: &str) -> Result<&'a ArrayD<f32>> {
    outs.get(name)
        .ok_or_else(|| NpuError::InvalidGraph(format!("no output `{name}`")))?
        .as_f32(name)
}
