//! Pass: shape and dtype inference for every value at a given batch size.

use std::collections::BTreeMap;

use crate::error::{NpuError, Result};
use crate::ir::{DType, Graph, Node, Op};
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

fn float(v: &ValueType, ctx: &str) -> Result<()> {
    if matches!(v.dtype, DType::F32 | DType::F16) {
        Ok(())
    } else {
        Err(NpuError::DTypeMismatch {
            node: ctx.into(),
            detail: format!("expected a float input, got {:?}", v.dtype),
        })
    }
}

/// Infers the output type of one node.
pub fn infer_node(node: &Node, s: &Shapes) -> Result<ValueType> {
    let ctx = node.name.as_str();
    let x = get(s, node, 0)?;
    let f = |shape: Vec<usize>| ValueType {
        dtype: DType::F32,
        shape,
    };
    let same = |shape: Vec<usize>| ValueType {
        dtype: x.dtype,
        shape,
    };
    Ok(match &node.op {
        Op::Conv(a) => {
            float(x, ctx)?;
            let w = get(s, node, 1)?;
            let g = ops::conv_geom(&x.shape, &w.shape, a, ctx)?;
            if let Ok(b) = get(s, node, 2) {
                if b.len() != g.m {
                    return Err(NpuError::shape(
                        ctx,
                        "bias length differs from output channels",
                    ));
                }
            }
            f(vec![g.n, g.m, g.ho, g.wo])
        }
        Op::ConvTranspose(a) => {
            float(x, ctx)?;
            let w = get(s, node, 1)?;
            f(ops::conv_transpose_out(&x.shape, &w.shape, a, ctx)?.to_vec())
        }
        Op::Resize { scales, sizes, .. } => same(ops::resize_shape(&x.shape, scales, sizes, ctx)?),
        Op::MatMul => {
            float(x, ctx)?;
            f(ops::matmul_shape(&x.shape, &get(s, node, 1)?.shape, ctx)?)
        }
        Op::Gemm(g) => {
            float(x, ctx)?;
            let b = get(s, node, 1)?;
            if x.shape.len() != 2 || b.shape.len() != 2 {
                return Err(NpuError::shape(ctx, "Gemm operands must be 2-D"));
            }
            let (m, k) = if g.trans_a {
                (x.shape[1], x.shape[0])
            } else {
                (x.shape[0], x.shape[1])
            };
            // An int8-compiled weight is stored as [K, N].
            let (k2, n) = if g.trans_b && g.quant.is_none() {
                (b.shape[1], b.shape[0])
            } else {
                (b.shape[0], b.shape[1])
            };
            if k != k2 {
                return Err(NpuError::shape(
                    ctx,
                    format!("Gemm inner dims {k} and {k2} differ"),
                ));
            }
            if let Ok(c) = get(s, node, 2) {
                let bs = ops::broadcast_shape(&[m, n], &c.shape, ctx)?;
                if bs != [m, n] {
                    return Err(NpuError::shape(
                        ctx,
                        "Gemm C does not broadcast to the output",
                    ));
                }
            }
            f(vec![m, n])
        }
        Op::Binary(_) => {
            let y = get(s, node, 1)?;
            if x.dtype != y.dtype {
                return Err(NpuError::DTypeMismatch {
                    node: ctx.into(),
                    detail: format!("{:?} with {:?}", x.dtype, y.dtype),
                });
            }
            same(ops::broadcast_shape(&x.shape, &y.shape, ctx)?)
        }
        Op::Act(_) | Op::Softmax { .. } | Op::BatchNormalization { .. } => {
            float(x, ctx)?;
            if let Op::Softmax { axis } = node.op {
                ops::norm_axis(axis, x.shape.len(), ctx)?;
            }
            if let Op::BatchNormalization { .. } = node.op {
                let c = x.shape.get(1).copied().unwrap_or(0);
                for i in 1..5 {
                    if get(s, node, i)?.len() != c {
                        return Err(NpuError::shape(ctx, "BatchNormalization parameter length"));
                    }
                }
            }
            f(x.shape.clone())
        }
        Op::MaxPool(p) | Op::AveragePool(p) => {
            float(x, ctx)?;
            f(ops::pool_geom(&x.shape, p, ctx)?.0.to_vec())
        }
        Op::GlobalAveragePool => {
            float(x, ctx)?;
            if x.shape.len() < 3 {
                return Err(NpuError::shape(ctx, "GlobalAveragePool needs rank >= 3"));
            }
            let mut sh = x.shape[..2].to_vec();
            sh.extend(std::iter::repeat_n(1, x.shape.len() - 2));
            f(sh)
        }
        Op::Concat { axis } => {
            let ax = ops::norm_axis(*axis, x.shape.len(), ctx)?;
            let mut out = x.shape.clone();
            for i in 1..node.inputs.len() {
                let y = get(s, node, i)?;
                if y.dtype != x.dtype || y.shape.len() != x.shape.len() {
                    return Err(NpuError::shape(
                        ctx,
                        "Concat inputs differ in rank or dtype",
                    ));
                }
                for (d, (&a, &b)) in x.shape.iter().zip(&y.shape).enumerate() {
                    if d != ax && a != b {
                        return Err(NpuError::shape(
                            ctx,
                            format!(
                                "Concat inputs {:?} and {:?} differ off axis",
                                x.shape, y.shape
                            ),
                        ));
                    }
                }
                out[ax] = out[ax].saturating_add(y.shape[ax]);
            }
            same(out)
        }
        Op::Reshape { shape } => same(ops::reshape_target(&x.shape, shape, ctx)?),
        Op::Flatten { axis } => {
            let ax = if *axis == x.shape.len() as i64 {
                x.shape.len()
            } else {
                ops::norm_axis(*axis, x.shape.len(), ctx)?
            };
            same(vec![
                checked_numel(&x.shape[..ax], ctx)?,
                checked_numel(&x.shape[ax..], ctx)?,
            ])
        }
        Op::Transpose { perm } => {
            let p = ops::perm_or_reverse(perm, x.shape.len(), ctx)?;
            same(p.iter().map(|&i| x.shape[i]).collect())
        }
        Op::Squeeze { axes } => same(ops::squeeze_shape(&x.shape, axes, ctx)?),
        Op::Unsqueeze { axes } => same(ops::unsqueeze_shape(&x.shape, axes, ctx)?),
        Op::ReduceMin { axes, keepdims } | Op::ReduceSum { axes, keepdims } => {
            float(x, ctx)?;
            f(ops::reduce_shape(&x.shape, axes, *keepdims, ctx)?)
        }
        Op::ArgMin { axis, keepdims } | Op::ArgMax { axis, keepdims } => {
            float(x, ctx)?;
            ValueType {
                dtype: DType::I64,
                shape: ops::reduce_shape(&x.shape, &[*axis], *keepdims, ctx)?,
            }
        }
        Op::Gather { axis } => {
            let ax = ops::norm_axis(*axis, x.shape.len(), ctx)?;
            let idx = get(s, node, 1)?;
            let mut sh = x.shape[..ax].to_vec();
            sh.extend_from_slice(&idx.shape);
            sh.extend_from_slice(&x.shape[ax + 1..]);
            same(sh)
        }
        Op::QuantizeLinear { .. } => ValueType {
            dtype: DType::I8,
            shape: x.shape.clone(),
        },
        Op::DequantizeLinear { .. } => f(x.shape.clone()),
        Op::Shape => ValueType {
            dtype: DType::I64,
            shape: vec![x.shape.len()],
        },
        Op::Identity => x.clone(),
    })
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
        let t = infer_node(n, &s)?;
        checked_numel(&t.shape, &n.name)?;
        for o in &n.outputs {
            s.insert(o.clone(), t.clone());
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
