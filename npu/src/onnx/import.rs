//! ONNX → IR importer (opsets 13–17 of the default domain).

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use super::wire::{AttributeProto, DimProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};
use crate::error::{NpuError, Result};
use crate::exec;
use crate::ir::{
    Activation, AutoPad, BinaryOp, ConvAttrs, CoordMode, DType, Dim, GemmAttrs, Graph, Layout,
    NearestMode, Node, Op, PoolAttrs, Tensor, TensorInfo,
};

/// Lowest and highest default-domain opsets accepted.
pub const OPSET_RANGE: (i64, i64) = (13, 17);

fn malformed(detail: impl Into<String>) -> NpuError {
    NpuError::Malformed {
        what: "ONNX model",
        detail: detail.into(),
    }
}

/// Decodes an IEEE half to f32.
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = i32::from((h >> 10) & 0x1f);
    let m = f32::from(h & 0x3ff);
    let v = match e {
        0 => m * 2f32.powi(-24),
        31 => {
            if m == 0.0 {
                f32::INFINITY
            } else {
                f32::NAN
            }
        }
        _ => (1.0 + m / 1024.0) * 2f32.powi(e - 15),
    };
    sign * v
}

/// ONNX element type code to IR dtype.
pub fn dtype_from_onnx(code: i32, ctx: &str) -> Result<DType> {
    Ok(match code {
        1 | 11 => DType::F32,
        10 => DType::F16,
        3 => DType::I8,
        6 => DType::I32,
        7 => DType::I64,
        other => {
            return Err(NpuError::unsupported(
                ctx,
                format!(
                "ONNX element type {other} (supported: float, float16, double, int8, int32, int64)"
            ),
            ))
        }
    })
}

/// Converts a `TensorProto` into a tensor, checking the data length against the dims.
pub fn tensor_from_proto(t: &TensorProto) -> Result<Tensor> {
    let ctx = if t.name.is_empty() { "tensor" } else { &t.name };
    if t.data_location == 1 {
        return Err(NpuError::unsupported(ctx, "external tensor data"));
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut n: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| malformed(format!("negative dim in `{ctx}`")))?;
        n = n
            .checked_mul(d)
            .ok_or_else(|| malformed(format!("dims of `{ctx}` overflow")))?;
        shape.push(d);
    }
    let raw = t.raw_data.as_deref();
    let check = |len: usize, unit: usize| -> Result<()> {
        if len != n.saturating_mul(unit) {
            Err(malformed(format!(
                "tensor `{ctx}` has {len} bytes/values of data for {n} elements"
            )))
        } else {
            Ok(())
        }
    };
    let arr_err = |e: ndarray::ShapeError| malformed(format!("tensor `{ctx}`: {e}"));
    Ok(match t.data_type {
        1 => {
            let v: Vec<f32> = if let Some(r) = raw {
                check(r.len(), 4)?;
                r.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                check(t.float_data.len(), 1)?;
                t.float_data.clone()
            };
            Tensor::F32(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        11 => {
            let v: Vec<f32> = if let Some(r) = raw {
                check(r.len(), 8)?;
                r.chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        f64::from_le_bytes(a) as f32
                    })
                    .collect()
            } else {
                check(t.double_data.len(), 1)?;
                t.double_data.iter().map(|&d| d as f32).collect()
            };
            Tensor::F32(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        10 => {
            let v: Vec<f32> = if let Some(r) = raw {
                check(r.len(), 2)?;
                r.chunks_exact(2)
                    .map(|c| f16_bits_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect()
            } else {
                check(t.int32_data.len(), 1)?;
                t.int32_data
                    .iter()
                    .map(|&b| f16_bits_to_f32(b as u16))
                    .collect()
            };
            Tensor::F32(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        3 => {
            let v: Vec<i8> = if let Some(r) = raw {
                check(r.len(), 1)?;
                r.iter().map(|&b| b as i8).collect()
            } else {
                check(t.int32_data.len(), 1)?;
                t.int32_data.iter().map(|&b| b as i8).collect()
            };
            Tensor::I8(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        6 => {
            let v: Vec<i32> = if let Some(r) = raw {
                check(r.len(), 4)?;
                r.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                check(t.int32_data.len(), 1)?;
                t.int32_data.iter().map(|&b| b as i32).collect()
            };
            Tensor::I32(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        7 => {
            let v: Vec<i64> = if let Some(r) = raw {
                check(r.len(), 8)?;
                r.chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        i64::from_le_bytes(a)
                    })
                    .collect()
            } else {
                check(t.int64_data.len(), 1)?;
                t.int64_data.clone()
            };
            Tensor::I64(ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(arr_err)?)
        }
        other => {
            return Err(NpuError::unsupported(
                ctx,
                format!("tensor element type {other}"),
            ))
        }
    })
}

fn value_info(v: &ValueInfoProto) -> Result<TensorInfo> {
    let dtype = dtype_from_onnx(v.elem_type, &v.name)?;
    let shape: Vec<Dim> = match &v.shape {
        Some(dims) => dims
            .iter()
            .map(|d| match d {
                DimProto::Value(x) if *x >= 0 => Ok(Dim::Fixed(*x as usize)),
                DimProto::Value(x) => Err(malformed(format!("negative dim {x} in `{}`", v.name))),
                DimProto::Param(p) => Ok(Dim::Dynamic(if p.is_empty() {
                    "?".to_string()
                } else {
                    p.clone()
                })),
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    Ok(TensorInfo {
        name: v.name.clone(),
        dtype,
        layout: if shape.len() == 4 {
            Layout::Nchw
        } else {
            Layout::Nd
        },
        shape,
    })
}

struct Attrs<'a> {
    node: &'a str,
    map: BTreeMap<&'a str, &'a AttributeProto>,
}

impl<'a> Attrs<'a> {
    fn new(n: &'a NodeProto, name: &'a str) -> Self {
        Attrs {
            node: name,
            map: n.attributes.iter().map(|a| (a.name.as_str(), a)).collect(),
        }
    }
    fn has(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }
    fn i(&self, k: &str, d: i64) -> i64 {
        self.map.get(k).and_then(|a| a.i).unwrap_or(d)
    }
    fn f(&self, k: &str, d: f32) -> f32 {
        self.map.get(k).and_then(|a| a.f).unwrap_or(d)
    }
    fn ints(&self, k: &str) -> Option<Vec<i64>> {
        self.map.get(k).map(|a| a.ints.clone())
    }
    fn s(&self, k: &str, d: &str) -> String {
        self.map
            .get(k)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_else(|| d.to_string())
    }
    fn usizes(&self, k: &str, len: usize, d: usize) -> Result<Vec<usize>> {
        match self.ints(k) {
            None => Ok(vec![d; len]),
            Some(v) => {
                if v.len() != len {
                    return Err(NpuError::unsupported(
                        self.node,
                        format!(
                            "attribute `{k}` has {} values, expected {len} (only 2-D windows)",
                            v.len()
                        ),
                    ));
                }
                v.iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| malformed(format!("negative `{k}` in `{}`", self.node)))
                    })
                    .collect()
            }
        }
    }
    fn auto_pad(&self) -> Result<AutoPad> {
        Ok(match self.s("auto_pad", "NOTSET").as_str() {
            "NOTSET" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            o => return Err(NpuError::unsupported(self.node, format!("auto_pad {o}"))),
        })
    }
}

fn arr2(v: &[usize]) -> [usize; 2] {
    [v[0], v[1]]
}
fn arr4(v: &[usize]) -> [usize; 4] {
    [v[0], v[1], v[2], v[3]]
}

#[allow(clippy::type_complexity)]
fn window_attrs(
    a: &Attrs<'_>,
) -> Result<([usize; 2], [usize; 2], [usize; 4], [usize; 2], AutoPad)> {
    let k = a.usizes("kernel_shape", 2, 1)?;
    let s = a.usizes("strides", 2, 1)?;
    let p = a.usizes("pads", 4, 0)?;
    let d = a.usizes("dilations", 2, 1)?;
    Ok((arr2(&k), arr2(&s), arr4(&p), arr2(&d), a.auto_pad()?))
}

fn const_input<'c>(
    n: &NodeProto,
    name: &str,
    idx: usize,
    consts: &'c BTreeMap<String, Tensor>,
) -> Result<Option<&'c Tensor>> {
    match n.inputs.get(idx) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => consts.get(s).map(Some).ok_or_else(|| {
            NpuError::unsupported(
                name,
                format!("{} input #{idx} (`{s}`) must be a constant", n.op_type),
            )
        }),
    }
}

fn const_i64s(
    n: &NodeProto,
    name: &str,
    idx: usize,
    consts: &BTreeMap<String, Tensor>,
) -> Result<Option<Vec<i64>>> {
    const_input(n, name, idx, consts)?
        .map(|t| t.to_i64_vec(name))
        .transpose()
}

/// Converts one ONNX node; constant operand inputs (shapes, axes, bounds, scales) are
/// resolved from `consts` and dropped from the node inputs.
fn convert_node(
    n: &NodeProto,
    name: &str,
    consts: &BTreeMap<String, Tensor>,
    opset: i64,
) -> Result<Node> {
    let a = Attrs::new(n, name);
    let mut inputs = n.inputs.clone();
    let keep = |inputs: &mut Vec<String>, k: usize| inputs.truncate(k);
    let unsupported = || NpuError::UnsupportedOp {
        op_type: if n.domain.is_empty() || n.domain == "ai.onnx" {
            n.op_type.clone()
        } else {
            format!("{}:{}", n.domain, n.op_type)
        },
        node: name.to_string(),
    };
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(unsupported());
    }
    let op = match n.op_type.as_str() {
        "Conv" | "ConvTranspose" => {
            let (k, s, p, d, ap) = window_attrs(&a)?;
            let op_pad = a.usizes("output_padding", 2, 0)?;
            if a.has("output_shape") {
                return Err(NpuError::unsupported(name, "ConvTranspose output_shape"));
            }
            let attrs = ConvAttrs {
                kernel: k,
                strides: s,
                pads: p,
                dilations: d,
                group: usize::try_from(a.i("group", 1))
                    .ok()
                    .filter(|&g| g > 0)
                    .ok_or_else(|| malformed(format!("bad group in `{name}`")))?,
                auto_pad: ap,
                output_padding: arr2(&op_pad),
                activation: None,
                quant: None,
            };
            if n.op_type == "Conv" {
                Op::Conv(attrs)
            } else {
                Op::ConvTranspose(attrs)
            }
        }
        "Resize" => {
            let mode = a.s("mode", "nearest");
            if mode != "nearest" {
                return Err(NpuError::unsupported(
                    name,
                    format!("Resize mode `{mode}` (only nearest)"),
                ));
            }
            let coord = match a.s("coordinate_transformation_mode", "half_pixel").as_str() {
                "half_pixel" | "pytorch_half_pixel" => CoordMode::HalfPixel,
                "asymmetric" => CoordMode::Asymmetric,
                "align_corners" => CoordMode::AlignCorners,
                o => {
                    return Err(NpuError::unsupported(
                        name,
                        format!("Resize coordinate mode `{o}`"),
                    ))
                }
            };
            let nearest = match a.s("nearest_mode", "round_prefer_floor").as_str() {
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "floor" => NearestMode::Floor,
                "ceil" => NearestMode::Ceil,
                o => {
                    return Err(NpuError::unsupported(
                        name,
                        format!("Resize nearest mode `{o}`"),
                    ))
                }
            };
            let scales = const_input(n, name, 2, consts)?
                .map(Tensor::to_f32_vec)
                .unwrap_or_default();
            let sizes = const_i64s(n, name, 3, consts)?
                .unwrap_or_default()
                .into_iter()
                .map(|v| usize::try_from(v).map_err(|_| malformed("negative Resize size")))
                .collect::<Result<Vec<_>>>()?;
            if scales.is_empty() == sizes.is_empty() {
                return Err(NpuError::unsupported(
                    name,
                    "Resize needs exactly one of scales and sizes",
                ));
            }
            keep(&mut inputs, 1);
            Op::Resize {
                scales,
                sizes,
                coord,
                nearest,
            }
        }
        "MatMul" => Op::MatMul,
        "Gemm" => Op::Gemm(GemmAttrs {
            alpha: a.f("alpha", 1.0),
            beta: a.f("beta", 1.0),
            trans_a: a.i("transA", 0) != 0,
            trans_b: a.i("transB", 0) != 0,
            activation: None,
            quant: None,
        }),
        "Add" => Op::Binary(BinaryOp::Add),
        "Sub" => Op::Binary(BinaryOp::Sub),
        "Mul" => Op::Binary(BinaryOp::Mul),
        "Div" => Op::Binary(BinaryOp::Div),
        "Relu" => Op::Act(Activation::Relu),
        "LeakyRelu" => Op::Act(Activation::LeakyRelu(a.f("alpha", 0.01))),
        "Sigmoid" => Op::Act(Activation::Sigmoid),
        "Tanh" => Op::Act(Activation::Tanh),
        "Clip" => {
            let lo = const_input(n, name, 1, consts)?.and_then(|t| t.to_f32_vec().first().copied());
            let hi = const_input(n, name, 2, consts)?.and_then(|t| t.to_f32_vec().first().copied());
            keep(&mut inputs, 1);
            Op::Act(Activation::Clip(
                lo.unwrap_or(f32::MIN),
                hi.unwrap_or(f32::MAX),
            ))
        }
        "MaxPool" | "AveragePool" => {
            if n.outputs.len() > 1 && n.outputs.get(1).is_some_and(|s| !s.is_empty()) {
                return Err(NpuError::unsupported(name, "MaxPool indices output"));
            }
            let (k, s, p, d, ap) = window_attrs(&a)?;
            if !a.has("kernel_shape") {
                return Err(malformed(format!("`{name}` lacks kernel_shape")));
            }
            let pa = PoolAttrs {
                kernel: k,
                strides: s,
                pads: p,
                dilations: d,
                auto_pad: ap,
                ceil_mode: a.i("ceil_mode", 0) != 0,
                count_include_pad: a.i("count_include_pad", 0) != 0,
            };
            if n.op_type == "MaxPool" {
                Op::MaxPool(pa)
            } else {
                Op::AveragePool(pa)
            }
        }
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "BatchNormalization" => {
            if a.i("training_mode", 0) != 0 {
                return Err(NpuError::unsupported(
                    name,
                    "BatchNormalization training_mode",
                ));
            }
            Op::BatchNormalization {
                epsilon: a.f("epsilon", 1e-5),
            }
        }
        "Concat" => Op::Concat {
            axis: a.i("axis", 0),
        },
        "Reshape" => {
            if a.i("allowzero", 0) != 0 {
                return Err(NpuError::unsupported(name, "Reshape allowzero=1"));
            }
            let shape = const_i64s(n, name, 1, consts)?
                .ok_or_else(|| malformed(format!("Reshape `{name}` lacks its shape input")))?;
            keep(&mut inputs, 1);
            Op::Reshape { shape }
        }
        "Flatten" => Op::Flatten {
            axis: a.i("axis", 1),
        },
        "Transpose" => Op::Transpose {
            perm: a
                .ints("perm")
                .unwrap_or_default()
                .into_iter()
                .map(|v| usize::try_from(v).map_err(|_| malformed("negative perm")))
                .collect::<Result<_>>()?,
        },
        "Squeeze" | "Unsqueeze" => {
            let axes = match a.ints("axes") {
                Some(v) => v,
                None => const_i64s(n, name, 1, consts)?.unwrap_or_default(),
            };
            keep(&mut inputs, 1);
            if n.op_type == "Squeeze" {
                Op::Squeeze { axes }
            } else {
                Op::Unsqueeze { axes }
            }
        }
        "Softmax" => {
            if opset < 13 {
                return Err(NpuError::unsupported(
                    name,
                    "Softmax before opset 13 (2-D coercion semantics)",
                ));
            }
            Op::Softmax {
                axis: a.i("axis", -1),
            }
        }
        "ReduceMin" | "ReduceSum" => {
            let keepdims = a.i("keepdims", 1) != 0;
            let axes = match a.ints("axes") {
                Some(v) => v,
                None => const_i64s(n, name, 1, consts)?.unwrap_or_default(),
            };
            if axes.is_empty() && a.i("noop_with_empty_axes", 0) != 0 {
                Op::Identity
            } else {
                keep(&mut inputs, 1);
                if n.op_type == "ReduceMin" {
                    Op::ReduceMin { axes, keepdims }
                } else {
                    Op::ReduceSum { axes, keepdims }
                }
            }
        }
        "ArgMin" | "ArgMax" => {
            if a.i("select_last_index", 0) != 0 {
                return Err(NpuError::unsupported(name, "select_last_index=1"));
            }
            let axis = a.i("axis", 0);
            let keepdims = a.i("keepdims", 1) != 0;
            if n.op_type == "ArgMin" {
                Op::ArgMin { axis, keepdims }
            } else {
                Op::ArgMax { axis, keepdims }
            }
        }
        "Gather" => Op::Gather {
            axis: a.i("axis", 0),
        },
        "QuantizeLinear" | "DequantizeLinear" => {
            if let Some(zp) = const_input(n, name, 2, consts).ok().flatten() {
                if !matches!(zp.dtype(), DType::I8 | DType::I32) {
                    return Err(NpuError::unsupported(
                        name,
                        "zero point must be int8 (uint8 is not supported)",
                    ));
                }
            } else if n.op_type == "QuantizeLinear" && n.inputs.get(2).is_none_or(|s| s.is_empty())
            {
                return Err(NpuError::unsupported(
                    name,
                    "QuantizeLinear without zero point yields uint8 (not supported)",
                ));
            }
            let axis = a.i("axis", 1);
            if n.op_type == "QuantizeLinear" {
                Op::QuantizeLinear { axis }
            } else {
                Op::DequantizeLinear { axis }
            }
        }
        "Shape" => Op::Shape,
        "Identity" | "Dropout" => {
            keep(&mut inputs, 1);
            Op::Identity
        }
        _ => return Err(unsupported()),
    };
    let mut outputs = n.outputs.clone();
    if matches!(
        n.op_type.as_str(),
        "Dropout" | "BatchNormalization" | "MaxPool"
    ) {
        outputs.truncate(1);
    }
    Ok(Node {
        name: name.to_string(),
        op,
        inputs,
        outputs,
        fused_from: Vec::new(),
    })
}

fn constant_node_value(n: &NodeProto, name: &str) -> Result<Tensor> {
    let a = n
        .attributes
        .first()
        .ok_or_else(|| malformed(format!("Constant `{name}` has no value")))?;
    match a.name.as_str() {
        "value" => tensor_from_proto(
            a.t.as_ref()
                .ok_or_else(|| malformed(format!("Constant `{name}` value is not a tensor")))?,
        ),
        "value_float" => Tensor::from_f32(&[], vec![a.f.unwrap_or(0.0)]),
        "value_floats" => Tensor::from_f32(&[a.floats.len()], a.floats.clone()),
        "value_int" => Tensor::from_i64(&[], vec![a.i.unwrap_or(0)]),
        "value_ints" => Tensor::from_i64(&[a.ints.len()], a.ints.clone()),
        o => Err(NpuError::unsupported(
            name,
            format!("Constant attribute `{o}`"),
        )),
    }
}

/// Parses an ONNX model file into a validated, topologically sorted graph.
pub fn import_onnx(bytes: &[u8]) -> Result<Graph> {
    let m = ModelProto::decode(bytes)?;
    let opset = m
        .opset_import
        .iter()
        .find(|(d, _)| d.is_empty() || d == "ai.onnx")
        .map(|(_, v)| *v)
        .ok_or_else(|| malformed("no default-domain opset_import"))?;
    if opset < OPSET_RANGE.0 || opset > OPSET_RANGE.1 {
        return Err(NpuError::unsupported(
            "model",
            format!(
                "opset {opset} (supported {}..={})",
                OPSET_RANGE.0, OPSET_RANGE.1
            ),
        ));
    }
    let gp = m.graph.ok_or_else(|| malformed("model has no graph"))?;
    let mut consts: BTreeMap<String, Tensor> = BTreeMap::new();
    for t in &gp.initializers {
        consts.insert(t.name.clone(), tensor_from_proto(t)?);
    }
    let mut g = Graph {
        name: gp.name.clone(),
        ..Graph::default()
    };
    for v in &gp.inputs {
        if !consts.contains_key(&v.name) {
            g.inputs.push(value_info(v)?);
        }
    }
    for v in &gp.outputs {
        g.outputs.push(value_info(v)?);
    }
    for (i, n) in gp.nodes.iter().enumerate() {
        let name = if n.name.is_empty() {
            format!("{}_{i}", n.op_type)
        } else {
            n.name.clone()
        };
        if n.op_type == "Constant" && (n.domain.is_empty() || n.domain == "ai.onnx") {
            let out = n
                .outputs
                .first()
                .ok_or_else(|| malformed(format!("Constant `{name}` has no output")))?;
            consts.insert(out.clone(), constant_node_value(n, &name)?);
            continue;
        }
        let node = convert_node(n, &name, &consts, opset)?;
        // Propagate constants through the import so later nodes can read e.g. a folded shape.
        let all_const = node
            .inputs
            .iter()
            .all(|s| s.is_empty() || consts.contains_key(s));
        let small = crate::compiler::shape_infer::const_output_elements(&node, &consts)
            .is_some_and(|e| e <= crate::compiler::const_fold::MAX_FOLD_ELEMENTS);
        if all_const && small && !node.inputs.is_empty() {
            let ins: Vec<Option<&Tensor>> = node
                .inputs
                .iter()
                .map(|s| if s.is_empty() { None } else { consts.get(s) })
                .collect();
            let outs = exec::eval_node(&node, &ins)?;
            for (o, t) in node.outputs.iter().zip(outs) {
                consts.insert(o.clone(), t);
            }
            continue;
        }
        g.nodes.push(node);
    }
    // Keep only the constants something uses.
    let used: std::collections::BTreeSet<&String> = g
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter())
        .chain(g.outputs.iter().map(|o| &o.name))
        .collect();
    g.initializers = consts
        .into_iter()
        .filter(|(k, _)| used.contains(k))
        .collect();
    g.validate_and_sort()?;
    Ok(g)
}
