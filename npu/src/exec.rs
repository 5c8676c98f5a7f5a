//! Graph executor: interprets a (compiled or plain) graph on `ndarray`, releasing each
//! intermediate value after its last use. Deterministic: no threads, fixed summation order.

use std::collections::BTreeMap;

use ndarray::ArrayD;

use crate::error::{NpuError, Result};
use crate::f16::{round_f16, round_f16_slice};
use crate::ir::{DType, Dim, Graph, Node, Tensor};
use crate::ops;

/// Largest value (elements) the executor will materialise (2^31, 8 GiB of f32).
pub const MAX_EXEC_ELEMENTS: usize = 1 << 31;

/// Numeric mode of execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Round every float result to f16 (emulated half precision).
    pub fp16: bool,
}

/// What an op family's kernel sees of one node being evaluated: the node and its inputs
/// (absent optional inputs are `None`).
pub struct EvalCx<'a> {
    node: &'a Node,
    ins: &'a [Option<&'a Tensor>],
    fp16: bool,
    rounded: std::cell::Cell<bool>,
}

impl<'a> EvalCx<'a> {
    /// Context of `node` on `ins`.
    pub fn new(node: &'a Node, ins: &'a [Option<&'a Tensor>]) -> Self {
        EvalCx {
            node,
            ins,
            fp16: false,
            rounded: std::cell::Cell::new(false),
        }
    }

    /// Context of `node` on `ins` in an executor that rounds every float result to f16.
    pub fn with_fp16(node: &'a Node, ins: &'a [Option<&'a Tensor>], fp16: bool) -> Self {
        EvalCx {
            fp16,
            ..EvalCx::new(node, ins)
        }
    }

    /// Whether the executor rounds this node's float results to f16: a kernel may round
    /// them itself while they are in cache and say so with [`Self::mark_rounded`].
    pub fn fp16(&self) -> bool {
        self.fp16
    }

    /// The kernel has rounded every float result to f16 (the executor skips its pass).
    pub fn mark_rounded(&self) {
        self.rounded.set(true);
    }

    /// Whether the kernel said it rounded its results.
    pub fn was_rounded(&self) -> bool {
        self.rounded.get()
    }

    /// Node name (the context of every error).
    pub fn name(&self) -> &'a str {
        self.node.name.as_str()
    }

    /// Number of declared inputs (absent optional ones included).
    pub fn input_count(&self) -> usize {
        self.node.inputs.len()
    }

    /// Number of declared outputs.
    pub fn output_count(&self) -> usize {
        self.node.outputs.len()
    }

    /// Input `i`, or an error when it is absent.
    pub fn input(&self, i: usize) -> Result<&'a Tensor> {
        self.opt(i).ok_or_else(|| {
            NpuError::InvalidGraph(format!(
                "node `{}` ({}) lacks input #{i}",
                self.node.name,
                self.node.op.type_name()
            ))
        })
    }

    /// Input `i` as f32, or an error when it is absent or not f32.
    pub fn input_f32(&self, i: usize) -> Result<&'a ArrayD<f32>> {
        self.input(i).and_then(|t| t.as_f32(self.name()))
    }

    /// Input 0.
    pub fn x(&self) -> Result<&'a Tensor> {
        self.input(0)
    }

    /// Input 0 as f32.
    pub fn xf(&self) -> Result<&'a ArrayD<f32>> {
        self.input_f32(0)
    }

    /// Optional input `i` (`None` when absent).
    pub fn opt(&self, i: usize) -> Option<&'a Tensor> {
        self.ins.get(i).copied().flatten()
    }

    /// Optional input `i` as a list of f32 values (any dtype cast).
    pub fn opt_f32_vec(&self, i: usize) -> Option<Vec<f32>> {
        self.opt(i).map(Tensor::to_f32_vec)
    }
}

/// Evaluates one node on its inputs (absent optional inputs are `None`) with its op
/// family's kernel.
pub fn eval_node(node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    ops::family(&node.op).eval(&node.op, &EvalCx::new(node, ins))
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
            let cx = EvalCx::with_fp16(node, &ins, opts.fp16);
            let outs = ops::family(&node.op).eval(&node.op, &cx)?;
            // Already f16: the kernel rounded its results, or it only copies runtime values
            // (every one of which is rounded in this mode).
            let copies_runtime = is_copy(&node.op)
                && node
                    .inputs
                    .iter()
                    .all(|v| !v.is_empty() && values.contains_key(v.as_str()));
            (outs, cx.was_rounded() || copies_runtime)
        };
        let (outs, rounded) = outs;
        for (name, t) in node.outputs.iter().zip(outs) {
            let t = if opts.fp16 && !rounded {
                round_tensor_owned(t)
            } else {
                t
            };
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

/// Ops whose every output element is a copy of an input element.
fn is_copy(op: &crate::ir::Op) -> bool {
    use crate::ir::Op;
    matches!(
        op,
        Op::Slice { .. }
            | Op::Split { .. }
            | Op::Concat { .. }
            | Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Squeeze { .. }
            | Op::Unsqueeze { .. }
            | Op::Transpose { .. }
            | Op::Identity
    )
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
        Tensor::F32(a) => {
            let mut a = a.as_standard_layout().into_owned();
            round_tensor_in(&mut a);
            Tensor::F32(a)
        }
        other => other.clone(),
    }
}

fn round_tensor_in(a: &mut ArrayD<f32>) {
    match a.as_slice_mut() {
        Some(s) => round_f16_slice(s),
        None => a.mapv_inplace(round_f16),
    }
}

/// Rounds a float tensor to f16 precision in place (integers unchanged).
pub fn round_tensor_owned(t: Tensor) -> Tensor {
    match t {
        Tensor::F32(mut a) => {
            round_tensor_in(&mut a);
            Tensor::F32(a)
        }
        other => other,
    }
}

/// Convenience: f32 array from a tensor map entry.
pub fn output_f32<'a>(outs: &'a BTreeMap<String, Tensor>, name: &str) -> Result<&'a ArrayD<f32>> {
    outs.get(name)
        .ok_or_else(|| NpuError::InvalidGraph(format!("no output `{name}`")))?
        .as_f32(name)
}
