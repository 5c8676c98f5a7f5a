//! IR → ONNX writer (opset 17), so graphs built or trained in code come back in through the
//! same importer. Fused activations are written as separate nodes; int8-compiled nodes are
//! refused (export the fp32 graph instead).

use super::wire::Writer;
use crate::error::Result;
use crate::ir::{AutoPad, DType, Dim, Graph, Tensor, TensorInfo};
use crate::ops;

/// Opset written by the exporter.
pub const EXPORT_OPSET: i64 = 17;

fn onnx_type(d: DType) -> i64 {
    match d {
        DType::F32 => 1,
        DType::F16 => 10,
        DType::I8 => 3,
        DType::I32 => 6,
        DType::I64 => 7,
    }
}

/// Encodes a tensor as a `TensorProto` with raw little-endian data.
pub fn tensor_proto(name: &str, t: &Tensor) -> Writer {
    let mut w = Writer::default();
    let dims: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    w.packed_ints(1, &dims);
    w.int(2, onnx_type(t.dtype()));
    w.string(8, name);
    let raw: Vec<u8> = match t {
        Tensor::F32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Tensor::I8(a) => a.iter().map(|&v| v as u8).collect(),
        Tensor::I32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Tensor::I64(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    w.bytes(9, &raw);
    w
}

fn value_info(t: &TensorInfo) -> Writer {
    let mut tt = Writer::default();
    tt.int(1, onnx_type(t.dtype));
    if !t.shape.is_empty() {
        let mut sh = Writer::default();
        for d in &t.shape {
            let mut dw = Writer::default();
            match d {
                Dim::Fixed(v) => dw.int(1, *v as i64),
                Dim::Dynamic(p) => dw.string(2, p),
            }
            sh.message(1, dw);
        }
        tt.message(2, sh);
    }
    let mut ty = Writer::default();
    ty.message(1, tt);
    let mut w = Writer::default();
    w.string(1, &t.name);
    w.message(2, ty);
    w
}

/// An attribute value.
pub(crate) enum A<'a> {
    I(i64),
    F(f32),
    S(&'a str),
    Ints(Vec<i64>),
}

/// Encodes one `AttributeProto`.
pub(crate) fn attr(name: &str, v: A<'_>) -> Writer {
    let mut w = Writer::default();
    w.string(1, name);
    match v {
        A::I(i) => {
            w.int(3, i);
            w.int(20, 2);
        }
        A::F(f) => {
            w.float(2, f);
            w.int(20, 1);
        }
        A::S(s) => {
            w.bytes(4, s.as_bytes());
            w.int(20, 3);
        }
        A::Ints(v) => {
            w.packed_ints(8, &v);
            w.int(20, 7);
        }
    }
    w
}

/// An integer list attribute value.
pub(crate) fn ints(v: &[usize]) -> A<'static> {
    A::Ints(v.iter().map(|&x| x as i64).collect())
}

/// The ONNX spelling of an `auto_pad` mode.
pub(crate) fn auto_pad(a: AutoPad) -> &'static str {
    match a {
        AutoPad::NotSet => "NOTSET",
        AutoPad::SameUpper => "SAME_UPPER",
        AutoPad::SameLower => "SAME_LOWER",
        AutoPad::Valid => "VALID",
    }
}

/// What an op family's exporter writes into: the ONNX nodes so far and the initializers it
/// adds for constant operand inputs (shapes, axes, bounds, scales).
pub struct ExportCx<'a> {
    graph: &'a Graph,
    nodes: Vec<Writer>,
    extra_inits: Vec<Writer>,
}

impl ExportCx<'_> {
    /// The graph being exported.
    pub fn graph(&self) -> &Graph {
        self.graph
    }

    /// Writes one ONNX node.
    pub fn node(
        &mut self,
        name: &str,
        op: &str,
        ins: &[String],
        outs: &[String],
        attrs: Vec<Writer>,
    ) {
        let mut w = Writer::default();
        for i in ins {
            w.string(1, i);
        }
        for o in outs {
            w.string(2, o);
        }
        w.string(3, name);
        w.string(4, op);
        for a in attrs {
            w.message(5, a);
        }
        self.nodes.push(w);
    }

    /// Adds a 1-D i64 initializer and returns its name.
    pub fn const_i64(&mut self, name: &str, v: &[i64]) -> String {
        let t = Tensor::from_i64(&[v.len()], v.to_vec())
            .unwrap_or_else(|_| Tensor::I64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[0]))));
        self.extra_inits.push(tensor_proto(name, &t));
        name.to_string()
    }

    /// Adds an f32 initializer (a scalar or 1-D) and returns its name.
    pub fn const_f32(&mut self, name: &str, v: &[f32], scalar: bool) -> String {
        let shape: Vec<usize> = if scalar { vec![] } else { vec![v.len()] };
        let t = Tensor::from_f32(&shape, v.to_vec())
            .unwrap_or_else(|_| Tensor::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[0]))));
        self.extra_inits.push(tensor_proto(name, &t));
        name.to_string()
    }
}

/// Serialises a graph to ONNX bytes; each node is written by its op family.
pub fn export_onnx(g: &Graph) -> Result<Vec<u8>> {
    let mut o = ExportCx {
        graph: g,
        nodes: Vec::new(),
        extra_inits: Vec::new(),
    };
    for n in &g.nodes {
        ops::family(&n.op).export(&n.op, n, &mut o)?;
    }
    let mut gw = Writer::default();
    for n in o.nodes {
        gw.message(1, n);
    }
    gw.string(2, &g.name);
    for (k, t) in &g.initializers {
        gw.message(5, tensor_proto(k, t));
    }
    for t in o.extra_inits {
        gw.message(5, t);
    }
    for i in &g.inputs {
        gw.message(11, value_info(i));
    }
    // Outputs declared without a shape get one from shape inference: dims that change with
    // the batch become the symbolic `N`.
    let s1 = crate::compiler::shape_infer::infer_shapes(g, 1).ok();
    let s2 = crate::compiler::shape_infer::infer_shapes(g, 2).ok();
    for out in &g.outputs {
        let mut info = out.clone();
        if info.shape.is_empty() {
            if let (Some(a), Some(b)) = (
                s1.as_ref().and_then(|s| s.get(&out.name)),
                s2.as_ref().and_then(|s| s.get(&out.name)),
            ) {
                if a.shape.len() == b.shape.len() {
                    info.shape = a
                        .shape
                        .iter()
                        .zip(&b.shape)
                        .map(|(&x, &y)| {
                            if x == y {
                                Dim::Fixed(x)
                            } else {
                                Dim::Dynamic("N".into())
                            }
                        })
                        .collect();
                    info.dtype = a.dtype;
                }
            }
        }
        gw.message(12, value_info(&info));
    }
    let mut m = Writer::default();
    m.int(1, 8);
    m.string(2, "minesim-npu");
    m.message(7, gw);
    let mut os = Writer::default();
    os.string(1, "");
    os.int(2, EXPORT_OPSET);
    m.message(8, os);
    Ok(m.buf)
}
