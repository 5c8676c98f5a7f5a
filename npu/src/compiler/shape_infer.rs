//! Pass: shape and dtype inference for every value at a given batch size.

use std::collections::BTreeMap;

use crate::error::{NpuError, Result};
use crate::ir::{DType, Graph, Node};
use crate::ops;

/// Inferred type of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueType {
    /// Element type.
    pub dtype: DType,
    /// Concrete shape.
    pub shape: Vec<usize>,
}

impl ValueType {
    /// Element count.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the value has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Types of every value (inputs, initializers, node outputs) at batch `batch`.
pub type Shapes = BTreeMap<String, ValueType>;

fn get<'a>(s: &'a Shapes, node: &Node, i: usize) -> Result<&'a ValueType> {
    let name = node
        .inputs
        .get(i)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| NpuError::InvalidGraph(format!("node `{}` lacks input #{i}", node.name)))?;
    s.get(name).ok_or_else(|| {
        NpuError::InvalidGraph(format!("node `{}` uses unknown value `{name}`", node.name))
    })
}

/// What an op family's shape inference sees of one node: its inputs' types.
pub struct InferCx<'a> {
    node: &'a Node,
    shapes: &'a Shapes,
    x: &'a ValueType,
}

impl<'a> InferCx<'a> {
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

    /// Type of input 0 (present for every node that reaches a family).
    pub fn x(&self) -> &'a ValueType {
        self.x
    }

    /// Type of input `i`, or an error when it is absent or unknown.
    pub fn input(&self, i: usize) -> Result<&'a ValueType> {
        get(self.shapes, self.node, i)
    }

    /// Type of optional input `i` (`None` when absent or unknown).
    pub fn opt(&self, i: usize) -> Option<&'a ValueType> {
        self.input(i).ok()
    }

    /// Fails unless `v` is a float value.
    pub fn float(&self, v: &ValueType) -> Result<()> {
        if matches!(v.dtype, DType::F32 | DType::F16) {
            Ok(())
        } else {
            Err(NpuError::DTypeMismatch {
                node: self.name().into(),
                detail: format!("expected a float input, got {:?}", v.dtype),
            })
        }
    }

    /// One f32 output of `shape`.
    pub fn f32(&self, shape: Vec<usize>) -> Result<Vec<ValueType>> {
        Ok(vec![ValueType {
            dtype: DType::F32,
            shape,
        }])
    }

    /// One output of `shape` with the dtype of input 0.
    pub fn same(&self, shape: Vec<usize>) -> Result<Vec<ValueType>> {
        Ok(vec![ValueType {
            dtype: self.x.dtype,
            shape,
        }])
    }

    /// One output of `dtype` and `shape`.
    pub fn one(&self, dtype: DType, shape: Vec<usize>) -> Result<Vec<ValueType>> {
        Ok(vec![ValueType { dtype, shape }])
    }
}

/// Infers the output types of one node with its op family: one type per output, or a single
/// type that every output gets (ops of one output).
pub fn infer_outputs(node: &Node, s: &Shapes) -> Result<Vec<ValueType>> {
    let x = get(s, node, 0)?;
    let cx = InferCx { node, shapes: s, x };
    ops::family(&node.op).infer(&node.op, &cx)
}

/// Infers the type of the first output of one node.
pub fn infer_node(node: &Node, s: &Shapes) -> Result<ValueType> {
    infer_outputs(node, s)?
        .into_iter()
        .next()
        .ok_or_else(|| NpuError::InvalidGraph(format!("node `{}` infers no output", node.name)))
}

/// Largest element count of one value (2^36); beyond it a shape is rejected as absurd.
pub const MAX_ELEMENTS: usize = 1 << 36;

/// Element count of a shape, or an error when it overflows or exceeds [`MAX_ELEMENTS`].
pub fn checked_numel(shape: &[usize], ctx: &str) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| NpuError::shape(ctx, format!("shape {shape:?} is too large")))
}

/// Infers every value's type with dynamic dimensions bound to `batch`.
pub fn infer_shapes(g: &Graph, batch: usize) -> Result<Shapes> {
    let mut s = Shapes::new();
    for (k, t) in &g.initializers {
        s.insert(
            k.clone(),
            ValueType {
                dtype: t.dtype(),
                shape: t.shape().to_vec(),
            },
        );
    }
    for i in &g.inputs {
        let shape = i.concrete_shape(batch);
        checked_numel(&shape, &i.name)?;
        s.insert(
            i.name.clone(),
            ValueType {
                dtype: i.dtype,
                shape,
            },
        );
    }
    for n in &g.nodes {
        let ts = infer_outputs(n, &s)?;
        for t in &ts {
            checked_numel(&t.shape, &n.name)?;
        }
        for (i, o) in n.outputs.iter().enumerate() {
            if let Some(t) = ts.get(i).or_else(|| ts.first().filter(|_| ts.len() == 1)) {
                s.insert(o.clone(), t.clone());
            }
        }
    }
    Ok(s)
}

/// Element count the node would produce when evaluated on the given constants, if its
/// shape can be inferred (used to avoid folding huge constants).
pub fn const_output_elements(
    node: &Node,
    consts: &BTreeMap<String, crate::ir::Tensor>,
) -> Option<usize> {
    let mut s = Shapes::new();
    for i in node.inputs.iter().filter(|i| !i.is_empty()) {
        let t = consts.get(i)?;
        s.insert(
            i.clone(),
            ValueType {
                dtype: t.dtype(),
                shape: t.shape().to_vec(),
            },
        );
    }
    let t = infer_node(node, &s).ok()?;
    checked_numel(&t.shape, &node.name).ok()
}
