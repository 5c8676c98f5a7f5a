//! ONNX → IR importer (opsets 11–23 of the default domain). An op's semantics follow the
//! model's opset where the spec changed them (attributes that became inputs: Split `split`,
//! Squeeze/Unsqueeze `axes` and ReduceSum `axes` at 13, the other reductions' `axes` at 18,
//! Softmax/LogSoftmax's 2-D coercion before 13...).

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use super::wire::{AttributeProto, DimProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};
use crate::compiler::shape_infer::{infer_outputs, Shapes, ValueType};
use crate::error::{NpuError, Result};
use crate::exec;
use crate::ir::{AutoPad, DType, Dim, Graph, Layout, Node, Tensor, TensorInfo};
use crate::ops;

/// Lowest and highest default-domain opsets accepted.
pub const OPSET_RANGE: (i64, i64) = (11, 23);

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
        // bool is held as int8 0/1
        3 | 9 => DType::I8,
        6 => DType::I32,
        7 => DType::I64,
        other => {
            return Err(NpuError::unsupported(
                ctx,
                format!(
                "ONNX element type {other} (supported: float, float16, double, int8, bool, int32, int64)"
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
        3 | 9 => {
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

/// What an op family's importer sees of one ONNX node: its attributes, the constants known
/// so far (constant operand inputs become attributes) and the inputs and outputs the IR node
/// will keep.
pub struct ImportCx<'a> {
    proto: &'a NodeProto,
    name: &'a str,
    map: BTreeMap<&'a str, &'a AttributeProto>,
    consts: &'a BTreeMap<String, Tensor>,
    opset: i64,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl<'a> ImportCx<'a> {
    fn new(
        proto: &'a NodeProto,
        name: &'a str,
        consts: &'a BTreeMap<String, Tensor>,
        opset: i64,
    ) -> Self {
        ImportCx {
            proto,
            name,
            map: proto
                .attributes
                .iter()
                .map(|a| (a.name.as_str(), a))
                .collect(),
            consts,
            opset,
            inputs: proto.inputs.clone(),
            outputs: proto.outputs.clone(),
        }
    }

    /// Node name (the context of every error).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The ONNX node.
    pub fn proto(&self) -> &'a NodeProto {
        self.proto
    }

    /// Default-domain opset of the model.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// Keeps only the first `k` inputs (the rest were constants turned into attributes).
    pub fn keep_inputs(&mut self, k: usize) {
        self.inputs.truncate(k);
    }

    /// Keeps only the first `k` outputs (optional outputs the IR does not produce).
    pub fn keep_outputs(&mut self, k: usize) {
        self.outputs.truncate(k);
    }

    /// Whether attribute `k` is set.
    pub fn has(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// Integer attribute `k`, or `d`.
    pub fn i(&self, k: &str, d: i64) -> i64 {
        self.map.get(k).and_then(|a| a.i).unwrap_or(d)
    }

    /// Float attribute `k`, or `d`.
    pub fn f(&self, k: &str, d: f32) -> f32 {
        self.map.get(k).and_then(|a| a.f).unwrap_or(d)
    }

    /// Integer list attribute `k`.
    pub fn ints(&self, k: &str) -> Option<Vec<i64>> {
        self.map.get(k).map(|a| a.ints.clone())
    }

    /// String attribute `k`, or `d`.
    pub fn s(&self, k: &str, d: &str) -> String {
        self.map
            .get(k)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_else(|| d.to_string())
    }

    /// Non-negative integer list attribute `k` of exactly `len` values, or `len` times `d`.
    pub fn usizes(&self, k: &str, len: usize, d: usize) -> Result<Vec<usize>> {
        match self.ints(k) {
            None => Ok(vec![d; len]),
            Some(v) => {
                if v.len() != len {
                    return Err(NpuError::unsupported(
                        self.name,
                        format!(
                            "attribute `{k}` has {} values, expected {len} (only 2-D windows)",
                            v.len()
                        ),
                    ));
                }
                v.iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| malformed(format!("negative `{k}` in `{}`", self.name)))
                    })
                    .collect()
            }
        }
    }

    /// The `auto_pad` attribute.
    pub fn auto_pad(&self) -> Result<AutoPad> {
        Ok(match self.s("auto_pad", "NOTSET").as_str() {
            "NOTSET" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            o => return Err(NpuError::unsupported(self.name, format!("auto_pad {o}"))),
        })
    }

    /// 2-D window attributes: kernel, strides, pads, dilations, auto_pad.
    #[allow(clippy::type_complexity)]
    pub fn window_attrs(
        &self,
    ) -> Result<([usize; 2], [usize; 2], [usize; 4], [usize; 2], AutoPad)> {
        let k = self.usizes("kernel_shape", 2, 1)?;
        let s = self.usizes("strides", 2, 1)?;
        let p = self.usizes("pads", 4, 0)?;
        let d = self.usizes("dilations", 2, 1)?;
        Ok((arr2(&k), arr2(&s), arr4(&p), arr2(&d), self.auto_pad()?))
    }

    /// Input `idx` as a constant (`None` when absent); a runtime value is refused.
    pub fn const_input(&self, idx: usize) -> Result<Option<&'a Tensor>> {
        let n = self.proto;
        match n.inputs.get(idx) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => self.consts.get(s).map(Some).ok_or_else(|| {
                NpuError::unsupported(
                    self.name,
                    format!("{} input #{idx} (`{s}`) must be a constant", n.op_type),
                )
            }),
        }
    }

    /// Constant input `idx` as integers (`None` when absent).
    pub fn const_i64s(&self, idx: usize) -> Result<Option<Vec<i64>>> {
        self.const_input(idx)?
            .map(|t| t.to_i64_vec(self.name))
            .transpose()
    }

    /// A malformed-model error.
    pub fn malformed(&self, detail: impl Into<String>) -> NpuError {
        malformed(detail)
    }

    /// The error for an op type (or domain) the importer does not support.
    pub fn unsupported_op(&self) -> NpuError {
        let n = self.proto;
        NpuError::UnsupportedOp {
            op_type: if n.domain.is_empty() || n.domain == "ai.onnx" {
                n.op_type.clone()
            } else {
                format!("{}:{}", n.domain, n.op_type)
            },
            node: self.name.to_string(),
        }
    }
}

/// The first two values (the caller checked the length).
pub(crate) fn arr2(v: &[usize]) -> [usize; 2] {
    [v[0], v[1]]
}
fn arr4(v: &[usize]) -> [usize; 4] {
    [v[0], v[1], v[2], v[3]]
}

/// Converts one ONNX node with the op family that claims its type; constant operand inputs
/// (shapes, axes, bounds, scales) are resolved from `consts` and dropped from the node
/// inputs.
fn convert_node(
    n: &NodeProto,
    name: &str,
    consts: &BTreeMap<String, Tensor>,
    opset: i64,
) -> Result<Node> {
    let mut cx = ImportCx::new(n, name, consts, opset);
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(cx.unsupported_op());
    }
    let family = ops::onnx_family(&n.op_type).ok_or_else(|| cx.unsupported_op())?;
    let op = family.import(&n.op_type, &mut cx)?;
    Ok(Node {
        name: name.to_string(),
        op,
        inputs: cx.inputs,
        outputs: cx.outputs,
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

/// ConstantOfShape and Range, evaluated while importing: their operands must be constants
/// (shape-driven subgraphs fold to constants first), and the result is capped at
/// `MAX_FOLD_ELEMENTS`.
fn fold_generator(n: &NodeProto, name: &str, consts: &BTreeMap<String, Tensor>) -> Result<Tensor> {
    let cap = crate::compiler::const_fold::MAX_FOLD_ELEMENTS;
    let input = |i: usize| -> Result<&Tensor> {
        let s = n
            .inputs
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed(format!("{} `{name}` lacks input #{i}", n.op_type)))?;
        consts.get(s).ok_or_else(|| {
            NpuError::unsupported(
                name,
                format!(
                    "{} input #{i} (`{s}`) must be a constant (it is folded at compile time)",
                    n.op_type
                ),
            )
        })
    };
    let too_big =
        || NpuError::unsupported(name, format!("{} result above {cap} elements", n.op_type));
    if n.op_type == "ConstantOfShape" {
        let dims = input(0)?.to_i64_vec(name)?;
        let shape: Vec<usize> = dims
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| malformed(format!("negative dim in `{name}`")))
            })
            .collect::<Result<_>>()?;
        let len = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&l| l <= cap)
            .ok_or_else(too_big)?;
        let value = match n.attributes.iter().find(|a| a.name == "value") {
            Some(a) => tensor_from_proto(
                a.t.as_ref()
                    .ok_or_else(|| malformed(format!("`{name}` value is not a tensor")))?,
            )?,
            None => Tensor::from_f32(&[1], vec![0.0])?,
        };
        if value.len() != 1 {
            return Err(malformed(format!("`{name}` value must hold one element")));
        }
        let arr_err = |e: ndarray::ShapeError| malformed(format!("`{name}`: {e}"));
        return Ok(match value {
            Tensor::F32(a) => Tensor::F32(
                ArrayD::from_shape_vec(
                    IxDyn(&shape),
                    vec![a.iter().copied().next().unwrap_or(0.0); len],
                )
                .map_err(arr_err)?,
            ),
            Tensor::I8(a) => Tensor::I8(
                ArrayD::from_shape_vec(
                    IxDyn(&shape),
                    vec![a.iter().copied().next().unwrap_or(0); len],
                )
                .map_err(arr_err)?,
            ),
            Tensor::I32(a) => Tensor::I32(
                ArrayD::from_shape_vec(
                    IxDyn(&shape),
                    vec![a.iter().copied().next().unwrap_or(0); len],
                )
                .map_err(arr_err)?,
            ),
            Tensor::I64(a) => Tensor::I64(
                ArrayD::from_shape_vec(
                    IxDyn(&shape),
                    vec![a.iter().copied().next().unwrap_or(0); len],
                )
                .map_err(arr_err)?,
            ),
        });
    }
    // Range(start, limit, delta): ceil((limit - start) / delta) elements.
    let (s, l, d) = (input(0)?, input(1)?, input(2)?);
    match s {
        Tensor::F32(_) => {
            let (s, l, d) = (s.to_f32_vec(), l.to_f32_vec(), d.to_f32_vec());
            let (s, l, d) = (
                s.first().copied().unwrap_or(0.0),
                l.first().copied().unwrap_or(0.0),
                d.first().copied().unwrap_or(0.0),
            );
            let count = ((l - s) / d).ceil();
            if !count.is_finite() || d == 0.0 {
                return Err(malformed(format!("Range `{name}` with delta {d}")));
            }
            let count = count.max(0.0) as usize;
            if count > cap {
                return Err(too_big());
            }
            Tensor::from_f32(&[count], (0..count).map(|i| s + i as f32 * d).collect())
        }
        _ => {
            let first = |t: &Tensor| -> Result<i64> {
                t.to_i64_vec(name)?
                    .first()
                    .copied()
                    .ok_or_else(|| malformed(format!("empty Range operand in `{name}`")))
            };
            let (s0, l0, d0) = (first(s)?, first(l)?, first(d)?);
            if d0 == 0 {
                return Err(malformed(format!("Range `{name}` with delta 0")));
            }
            let span = i128::from(l0) - i128::from(s0);
            let count =
                usize::try_from((span + i128::from(d0) - i128::from(d0.signum())) / i128::from(d0))
                    .unwrap_or(0);
            if count > cap {
                return Err(too_big());
            }
            let v: Vec<i64> = (0..count as i64).map(|i| s0 + i * d0).collect();
            let t = Tensor::from_i64(&[count], v)?;
            Ok(match s {
                Tensor::I32(_) => crate::ops::cast(&t, DType::I32, false),
                _ => t,
            })
        }
    }
}

fn ir_node(name: String, op: crate::ir::Op, inputs: Vec<String>, outputs: Vec<String>) -> Node {
    Node {
        name,
        op,
        inputs,
        outputs,
        fused_from: Vec::new(),
    }
}

/// Sequence ops lowered at import: a sequence whose length is known while importing is a
/// list of tensor values (`None`: an element whose value is not computable statically, e.g.
/// a split by runtime sizes). SequenceAt becomes an Identity, ConcatFromSequence a Concat
/// (of Unsqueezes with `new_axis`), SplitToSequence a Split (and Squeezes without
/// `keepdims`), SequenceLength a constant. Returns the IR nodes to add.
fn lower_sequence(
    n: &NodeProto,
    name: &str,
    seqs: &mut BTreeMap<String, Vec<Option<String>>>,
    consts: &mut BTreeMap<String, Tensor>,
    known: &Shapes,
) -> Result<Vec<Node>> {
    let op = n.op_type.as_str();
    let out = n
        .outputs
        .first()
        .cloned()
        .ok_or_else(|| malformed(format!("{op} `{name}` has no output")))?;
    let arg = |i: usize| n.inputs.get(i).filter(|s| !s.is_empty());
    let seq_in = |seqs: &BTreeMap<String, Vec<Option<String>>>| -> Result<Vec<Option<String>>> {
        let s = arg(0).ok_or_else(|| malformed(format!("{op} `{name}` lacks its sequence")))?;
        seqs.get(s).cloned().ok_or_else(|| {
            NpuError::unsupported(
                name,
                format!("{op} of `{s}`, a sequence not known at compile time"),
            )
        })
    };
    let const_pos = |i: usize, consts: &BTreeMap<String, Tensor>| -> Result<Option<i64>> {
        match arg(i) {
            None => Ok(None),
            Some(s) => {
                let t = consts.get(s).ok_or_else(|| {
                    NpuError::unsupported(name, format!("{op} position `{s}` must be a constant"))
                })?;
                Ok(t.to_i64_vec(name)?.first().copied())
            }
        }
    };
    // Position `p` (negative from the end) in a sequence of `len`; an insert may also
    // append (p == len).
    let at = |len: usize, p: i64, insert: bool| -> Result<usize> {
        let n = len as i64;
        let q = if p < 0 { p + n } else { p };
        let limit = if insert { n } else { n - 1 };
        if q < 0 || q > limit {
            return Err(NpuError::shape(
                name,
                format!("{op} position {p} out of range for length {len}"),
            ));
        }
        Ok(q as usize)
    };
    let attr_i = |k: &str, d: i64| {
        n.attributes
            .iter()
            .find(|a| a.name == k)
            .and_then(|a| a.i)
            .unwrap_or(d)
    };
    match op {
        "SequenceEmpty" => {
            seqs.insert(out, Vec::new());
            Ok(vec![])
        }
        "SequenceConstruct" => {
            seqs.insert(out, n.inputs.iter().map(|s| Some(s.clone())).collect());
            Ok(vec![])
        }
        "SequenceInsert" => {
            let mut v = seq_in(seqs)?;
            let t = arg(1).ok_or_else(|| malformed(format!("{op} `{name}` lacks its tensor")))?;
            let p = match const_pos(2, consts)? {
                Some(p) => at(v.len(), p, true)?,
                None => v.len(),
            };
            v.insert(p, Some(t.clone()));
            seqs.insert(out, v);
            Ok(vec![])
        }
        "SequenceErase" => {
            let mut v = seq_in(seqs)?;
            if v.is_empty() {
                return Err(NpuError::shape(name, "SequenceErase of an empty sequence"));
            }
            let p = match const_pos(1, consts)? {
                Some(p) => at(v.len(), p, false)?,
                None => v.len() - 1,
            };
            v.remove(p);
            seqs.insert(out, v);
            Ok(vec![])
        }
        "SequenceLength" => {
            let v = seq_in(seqs)?;
            consts.insert(out, Tensor::from_i64(&[], vec![v.len() as i64])?);
            Ok(vec![])
        }
        "SequenceAt" => {
            let v = seq_in(seqs)?;
            let p = const_pos(1, consts)?
                .ok_or_else(|| malformed(format!("SequenceAt `{name}` lacks its position")))?;
            let e = v[at(v.len(), p, false)?].clone().ok_or_else(|| {
                NpuError::unsupported(name, "SequenceAt of an element split by runtime sizes")
            })?;
            Ok(vec![ir_node(
                name.to_string(),
                crate::ir::Op::Identity,
                vec![e],
                vec![out],
            )])
        }
        "ConcatFromSequence" => {
            let v = seq_in(seqs)?;
            let elems: Vec<String> = v.into_iter().collect::<Option<_>>().ok_or_else(|| {
                NpuError::unsupported(
                    name,
                    "ConcatFromSequence of elements split by runtime sizes",
                )
            })?;
            if elems.is_empty() {
                return Err(NpuError::shape(
                    name,
                    "ConcatFromSequence of an empty sequence",
                ));
            }
            let axis = attr_i("axis", 0);
            let mut nodes = Vec::new();
            let ins = if attr_i("new_axis", 0) != 0 {
                elems
                    .iter()
                    .enumerate()
                    .map(|(k, e)| {
                        let o = format!("{out}__unsq{k}");
                        nodes.push(ir_node(
                            format!("{name}__unsq{k}"),
                            crate::ir::Op::Unsqueeze { axes: vec![axis] },
                            vec![e.clone()],
                            vec![o.clone()],
                        ));
                        o
                    })
                    .collect()
            } else {
                elems
            };
            nodes.push(ir_node(
                name.to_string(),
                crate::ir::Op::Concat { axis },
                ins,
                vec![out],
            ));
            Ok(nodes)
        }
        "SplitToSequence" => {
            let x = arg(0).ok_or_else(|| malformed(format!("{op} `{name}` lacks its input")))?;
            let axis = attr_i("axis", 0);
            let keep = attr_i("keepdims", 1) != 0;
            let split = match arg(1) {
                Some(s) => match consts.get(s) {
                    Some(t) => Some((t.shape().is_empty(), t.to_i64_vec(name)?)),
                    None => {
                        // Runtime sizes: only the count is known (the length of `split`).
                        let count = known
                            .get(s)
                            .filter(|t| t.shape.len() == 1)
                            .map(|t| t.shape[0])
                            .ok_or_else(|| {
                                NpuError::unsupported(
                                    name,
                                    "SplitToSequence by runtime sizes of unknown count",
                                )
                            })?;
                        seqs.insert(out, vec![None; count]);
                        return Ok(vec![]);
                    }
                },
                None => None,
            };
            let shape = known
                .get(x)
                .map(|t| t.shape.clone())
                .or_else(|| consts.get(x).map(|t| t.shape().to_vec()));
            let dim = |shape: &Option<Vec<usize>>| -> Result<usize> {
                let s = shape.as_ref().ok_or_else(|| {
                    NpuError::unsupported(
                        name,
                        format!("SplitToSequence of `{x}` whose shape is not static"),
                    )
                })?;
                Ok(s[crate::ops::norm_axis(axis, s.len(), name)?])
            };
            let squeeze = split.is_none() && !keep;
            let sizes: Vec<usize> = match split {
                Some((false, v)) => v
                    .iter()
                    .map(|&d| {
                        usize::try_from(d)
                            .map_err(|_| malformed(format!("negative split in `{name}`")))
                    })
                    .collect::<Result<_>>()?,
                Some((true, v)) => {
                    let c = v.first().copied().filter(|&c| c > 0).ok_or_else(|| {
                        malformed(format!(
                            "SplitToSequence `{name}` chunk size must be positive"
                        ))
                    })? as usize;
                    let d = dim(&shape)?;
                    (0..d.div_ceil(c)).map(|k| c.min(d - k * c)).collect()
                }
                None => vec![1; dim(&shape)?],
            };
            let parts: Vec<String> = (0..sizes.len())
                .map(|k| format!("{out}__part{k}"))
                .collect();
            let mut nodes = vec![ir_node(
                name.to_string(),
                crate::ir::Op::Split { axis, split: sizes },
                vec![x.clone()],
                parts.clone(),
            )];
            let elems: Vec<Option<String>> = if squeeze {
                parts
                    .iter()
                    .enumerate()
                    .map(|(k, p)| {
                        let o = format!("{out}__elem{k}");
                        nodes.push(ir_node(
                            format!("{name}__sq{k}"),
                            crate::ir::Op::Squeeze { axes: vec![axis] },
                            vec![p.clone()],
                            vec![o.clone()],
                        ));
                        Some(o)
                    })
                    .collect()
            } else {
                parts.into_iter().map(Some).collect()
            };
            seqs.insert(out, elems);
            Ok(nodes)
        }
        _ => Err(NpuError::UnsupportedOp {
            op_type: op.to_string(),
            node: name.to_string(),
        }),
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
    let gp = m.graph.ok_or_else(|| malformed("model has no graph"))?;
    if opset < OPSET_RANGE.0 || opset > OPSET_RANGE.1 {
        // Name the first op the model would need at that opset, so the error says what and
        // at which version (the whole model shares one default-domain opset).
        let (op, node) = gp
            .nodes
            .first()
            .map(|n| (n.op_type.as_str(), n.name.as_str()))
            .unwrap_or(("model", "model"));
        let node = if node.is_empty() { op } else { node };
        return Err(NpuError::unsupported(
            node,
            format!(
                "{op} at default-domain opset {opset} (supported {}..={}; convert older models with onnx.version_converter)",
                OPSET_RANGE.0, OPSET_RANGE.1
            ),
        ));
    }
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
    // Static types known while importing (graph inputs without dynamic dims, then every
    // node output they determine): `Shape` of such a value folds to a constant, and
    // sequences are lowered with them.
    let mut known = Shapes::new();
    for i in &g.inputs {
        if i.shape.iter().all(|d| matches!(d, Dim::Fixed(_))) {
            known.insert(
                i.name.clone(),
                ValueType {
                    dtype: i.dtype,
                    shape: i.concrete_shape(1),
                },
            );
        }
    }
    let mut seqs: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
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
        if (n.domain.is_empty() || n.domain == "ai.onnx")
            && matches!(n.op_type.as_str(), "ConstantOfShape" | "Range")
        {
            let out = n
                .outputs
                .first()
                .ok_or_else(|| malformed(format!("{} `{name}` has no output", n.op_type)))?;
            let t = fold_generator(n, &name, &consts)?;
            consts.insert(out.clone(), t);
            continue;
        }
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        let sequence_op = n.op_type.starts_with("Sequence")
            || matches!(n.op_type.as_str(), "ConcatFromSequence" | "SplitToSequence");
        let nodes = if default_domain && sequence_op {
            lower_sequence(n, &name, &mut seqs, &mut consts, &known)?
        } else {
            vec![convert_node(n, &name, &consts, opset)?]
        };
        for node in nodes {
            add_node(node, &mut g, &mut consts, &mut known)?;
        }
    }
    finish(g, consts)
}

/// Adds one converted node: folded into `consts` when its inputs are constants (or, for
/// `Shape`, when its input's shape is static), else appended to the graph; its output types
/// are recorded in `known` when they follow from known inputs.
fn add_node(
    node: Node,
    g: &mut Graph,
    consts: &mut BTreeMap<String, Tensor>,
    known: &mut Shapes,
) -> Result<()> {
    {
        let consts = &mut *consts;
        if let (crate::ir::Op::Shape, Some(x)) = (&node.op, node.inputs.first()) {
            if let Some(t) = known.get(x) {
                let s: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                if let Some(o) = node.outputs.first() {
                    consts.insert(o.clone(), Tensor::from_i64(&[s.len()], s)?);
                }
                return Ok(());
            }
        }
        // Propagate constants through the import so later nodes can read e.g. a folded shape.
        let all_const = node
            .inputs
            .iter()
            .all(|s| s.is_empty() || consts.contains_key(s));
        let small = crate::compiler::shape_infer::const_output_elements(&node, consts)
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
            return Ok(());
        }
    }
    let mut s = Shapes::new();
    let mut all_known = true;
    for i in node.inputs.iter().filter(|i| !i.is_empty()) {
        if let Some(t) = consts.get(i) {
            s.insert(
                i.clone(),
                ValueType {
                    dtype: t.dtype(),
                    shape: t.shape().to_vec(),
                },
            );
        } else if let Some(v) = known.get(i) {
            s.insert(i.clone(), v.clone());
        } else {
            all_known = false;
        }
    }
    if all_known && !node.inputs.is_empty() {
        if let Ok(ts) = infer_outputs(&node, &s) {
            for (k, o) in node.outputs.iter().enumerate() {
                if let Some(t) = ts.get(k).or_else(|| ts.first().filter(|_| ts.len() == 1)) {
                    known.insert(o.clone(), t.clone());
                }
            }
        }
    }
    g.nodes.push(node);
    Ok(())
}

/// Keeps the constants the graph uses as initializers, then validates and sorts it.
fn finish(mut g: Graph, consts: BTreeMap<String, Tensor>) -> Result<Graph> {
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
