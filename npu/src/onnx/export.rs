//! IR → ONNX writer (opset 17), so graphs built or trained in code come back in through the
//! same importer. Fused activations are written as separate nodes; int8-compiled nodes are
//! refused (export the fp32 graph instead).

use super::wire::Writer;
use crate::error::{NpuError, Result};
use crate::ir::{
    Activation, AutoPad, CoordMode, DType, Dim, Graph, NearestMode, Op, Tensor, TensorInfo,
};

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

enum A<'a> {
    I(i64),
    F(f32),
    S(&'a str),
    Ints(Vec<i64>),
}

fn attr(name: &str, v: A<'_>) -> Writer {
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

fn ints(v: &[usize]) -> A<'static> {
    A::Ints(v.iter().map(|&x| x as i64).collect())
}

fn auto_pad(a: AutoPad) -> &'static str {
    match a {
        AutoPad::NotSet => "NOTSET",
        AutoPad::SameUpper => "SAME_UPPER",
        AutoPad::SameLower => "SAME_LOWER",
        AutoPad::Valid => "VALID",
    }
}

struct Out {
    nodes: Vec<Writer>,
    extra_inits: Vec<Writer>,
}

impl Out {
    fn node(&mut self, name: &str, op: &str, ins: &[String], outs: &[String], attrs: Vec<Writer>) {
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
    fn const_i64(&mut self, name: &str, v: &[i64]) -> String {
        let t = Tensor::from_i64(&[v.len()], v.to_vec())
            .unwrap_or_else(|_| Tensor::I64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[0]))));
        self.extra_inits.push(tensor_proto(name, &t));
        name.to_string()
    }
    fn const_f32(&mut self, name: &str, v: &[f32], scalar: bool) -> String {
        let shape: Vec<usize> = if scalar { vec![] } else { vec![v.len()] };
        let t = Tensor::from_f32(&shape, v.to_vec())
            .unwrap_or_else(|_| Tensor::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[0]))));
        self.extra_inits.push(tensor_proto(name, &t));
        name.to_string()
    }
    fn activation(&mut self, name: &str, act: Activation, input: String, output: String) {
        let (op, attrs, extra): (&str, Vec<Writer>, Vec<String>) = match act {
            Activation::Relu => ("Relu", vec![], vec![]),
            Activation::LeakyRelu(a) => ("LeakyRelu", vec![attr("alpha", A::F(a))], vec![]),
            Activation::Sigmoid => ("Sigmoid", vec![], vec![]),
            Activation::Tanh => ("Tanh", vec![], vec![]),
            Activation::Clip(lo, hi) => {
                let l = self.const_f32(&format!("{name}_min"), &[lo], true);
                let h = self.const_f32(&format!("{name}_max"), &[hi], true);
                ("Clip", vec![], vec![l, h])
            }
        };
        let mut ins = vec![input];
        ins.extend(extra);
        self.node(name, op, &ins, &[output], attrs);
    }
}

/// Serialises a graph to ONNX bytes.
pub fn export_onnx(g: &Graph) -> Result<Vec<u8>> {
    let mut o = Out {
        nodes: Vec::new(),
        extra_inits: Vec::new(),
    };
    for n in &g.nodes {
        let name = n.name.as_str();
        let ins = n.inputs.clone();
        let outs = n.outputs.clone();
        let first_in = || ins.first().cloned().unwrap_or_default();
        match &n.op {
            Op::Conv(a) | Op::ConvTranspose(a) => {
                if a.quant.is_some() {
                    return Err(NpuError::unsupported(
                        name,
                        "exporting an int8-compiled node",
                    ));
                }
                // The weight's spatial dims are authoritative for the kernel shape.
                let kernel = match ins
                    .get(1)
                    .and_then(|w| g.initializers.get(w))
                    .map(Tensor::shape)
                {
                    Some([_, _, kh, kw]) => [*kh, *kw],
                    _ => a.kernel,
                };
                let mut at = vec![
                    attr("kernel_shape", ints(&kernel)),
                    attr("strides", ints(&a.strides)),
                    attr("dilations", ints(&a.dilations)),
                    attr("group", A::I(a.group as i64)),
                ];
                if a.auto_pad == AutoPad::NotSet {
                    at.push(attr("pads", ints(&a.pads)));
                } else {
                    at.push(attr("auto_pad", A::S(auto_pad(a.auto_pad))));
                }
                let op = if matches!(n.op, Op::Conv(_)) {
                    "Conv"
                } else {
                    at.push(attr("output_padding", ints(&a.output_padding)));
                    "ConvTranspose"
                };
                match a.activation {
                    None => o.node(name, op, &ins, &outs, at),
                    Some(act) => {
                        let mid = format!("{}_preact", outs[0]);
                        o.node(name, op, &ins, std::slice::from_ref(&mid), at);
                        o.activation(&format!("{name}_act"), act, mid, outs[0].clone());
                    }
                }
            }
            Op::Gemm(a) => {
                if a.quant.is_some() {
                    return Err(NpuError::unsupported(
                        name,
                        "exporting an int8-compiled node",
                    ));
                }
                let at = vec![
                    attr("alpha", A::F(a.alpha)),
                    attr("beta", A::F(a.beta)),
                    attr("transA", A::I(i64::from(a.trans_a))),
                    attr("transB", A::I(i64::from(a.trans_b))),
                ];
                match a.activation {
                    None => o.node(name, "Gemm", &ins, &outs, at),
                    Some(act) => {
                        let mid = format!("{}_preact", outs[0]);
                        o.node(name, "Gemm", &ins, std::slice::from_ref(&mid), at);
                        o.activation(&format!("{name}_act"), act, mid, outs[0].clone());
                    }
                }
            }
            Op::Act(act) => o.activation(name, *act, first_in(), outs[0].clone()),
            Op::Resize {
                scales,
                sizes,
                coord,
                nearest,
            } => {
                let mut i2 = vec![first_in(), String::new()];
                if sizes.is_empty() {
                    i2.push(o.const_f32(&format!("{name}_scales"), scales, false));
                } else {
                    i2.push(String::new());
                    let s: Vec<i64> = sizes.iter().map(|&v| v as i64).collect();
                    i2.push(o.const_i64(&format!("{name}_sizes"), &s));
                }
                let cm = match coord {
                    CoordMode::HalfPixel => "half_pixel",
                    CoordMode::Asymmetric => "asymmetric",
                    CoordMode::AlignCorners => "align_corners",
                };
                let nm = match nearest {
                    NearestMode::RoundPreferFloor => "round_prefer_floor",
                    NearestMode::RoundPreferCeil => "round_prefer_ceil",
                    NearestMode::Floor => "floor",
                    NearestMode::Ceil => "ceil",
                };
                let at = vec![
                    attr("mode", A::S("nearest")),
                    attr("coordinate_transformation_mode", A::S(cm)),
                    attr("nearest_mode", A::S(nm)),
                ];
                o.node(name, "Resize", &i2, &outs, at);
            }
            Op::MaxPool(p) | Op::AveragePool(p) => {
                let mut at = vec![
                    attr("kernel_shape", ints(&p.kernel)),
                    attr("strides", ints(&p.strides)),
                    attr("ceil_mode", A::I(i64::from(p.ceil_mode))),
                ];
                if p.auto_pad == AutoPad::NotSet {
                    at.push(attr("pads", ints(&p.pads)));
                } else {
                    at.push(attr("auto_pad", A::S(auto_pad(p.auto_pad))));
                }
                let op = if matches!(n.op, Op::MaxPool(_)) {
                    at.push(attr("dilations", ints(&p.dilations)));
                    "MaxPool"
                } else {
                    at.push(attr(
                        "count_include_pad",
                        A::I(i64::from(p.count_include_pad)),
                    ));
                    "AveragePool"
                };
                o.node(name, op, &ins, &outs, at);
            }
            Op::BatchNormalization { epsilon } => o.node(
                name,
                "BatchNormalization",
                &ins,
                &outs,
                vec![attr("epsilon", A::F(*epsilon))],
            ),
            Op::Concat { axis } => {
                o.node(name, "Concat", &ins, &outs, vec![attr("axis", A::I(*axis))])
            }
            Op::Reshape { shape } => {
                let s = o.const_i64(&format!("{name}_shape"), shape);
                o.node(name, "Reshape", &[first_in(), s], &outs, vec![]);
            }
            Op::Flatten { axis } => o.node(
                name,
                "Flatten",
                &ins,
                &outs,
                vec![attr("axis", A::I(*axis))],
            ),
            Op::Transpose { perm } => {
                let at = if perm.is_empty() {
                    vec![]
                } else {
                    vec![attr("perm", ints(perm))]
                };
                o.node(name, "Transpose", &ins, &outs, at);
            }
            Op::Squeeze { axes } | Op::Unsqueeze { axes } => {
                let op = n.op.type_name();
                let mut i2 = vec![first_in()];
                if !axes.is_empty() {
                    i2.push(o.const_i64(&format!("{name}_axes"), axes));
                }
                o.node(name, op, &i2, &outs, vec![]);
            }
            Op::Softmax { axis } => o.node(
                name,
                "Softmax",
                &ins,
                &outs,
                vec![attr("axis", A::I(*axis))],
            ),
            Op::ReduceMin { axes, keepdims } => {
                let mut at = vec![attr("keepdims", A::I(i64::from(*keepdims)))];
                if !axes.is_empty() {
                    at.push(attr("axes", A::Ints(axes.clone())));
                }
                o.node(name, "ReduceMin", &ins, &outs, at);
            }
            Op::ReduceSum { axes, keepdims } => {
                let mut i2 = vec![first_in()];
                if !axes.is_empty() {
                    i2.push(o.const_i64(&format!("{name}_axes"), axes));
                }
                o.node(
                    name,
                    "ReduceSum",
                    &i2,
                    &outs,
                    vec![attr("keepdims", A::I(i64::from(*keepdims)))],
                );
            }
            Op::ArgMin { axis, keepdims } | Op::ArgMax { axis, keepdims } => o.node(
                name,
                n.op.type_name(),
                &ins,
                &outs,
                vec![
                    attr("axis", A::I(*axis)),
                    attr("keepdims", A::I(i64::from(*keepdims))),
                ],
            ),
            Op::Gather { axis } => {
                o.node(name, "Gather", &ins, &outs, vec![attr("axis", A::I(*axis))])
            }
            Op::QuantizeLinear { axis } | Op::DequantizeLinear { axis } => o.node(
                name,
                n.op.type_name(),
                &ins,
                &outs,
                vec![attr("axis", A::I(*axis))],
            ),
            Op::MatMul | Op::Binary(_) | Op::GlobalAveragePool | Op::Shape | Op::Identity => {
                o.node(name, n.op.type_name(), &ins, &outs, vec![])
            }
        }
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
