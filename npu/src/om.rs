//! Compiled model file (`.om`, like ATC's offline model): a fixed header, a JSON description
//! of the graph, then every constant tensor at a 64-byte aligned offset.
//!
//! Layout (little-endian):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `NPUOM\0\0\0` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | JSON header length `h` |
//! | 16 | 8 | weights offset `w` (64-aligned, ≥ 32 + h) |
//! | 24 | 8 | FNV-1a 64 checksum of the JSON header and the weights |
//! | 32 | h | JSON header |
//! | w | … | weights, each tensor 64-aligned, at offsets listed in the header |

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::compiler::{CompileReport, CompiledModel, MemPlan};
use crate::device::DeviceProfile;
use crate::error::{NpuError, Result};
use crate::ir::{DType, Graph, Node, Precision, Tensor, TensorInfo};

/// File magic.
pub const MAGIC: &[u8; 8] = b"NPUOM\0\0\0";
/// Format version.
pub const VERSION: u32 = 1;
const FIXED: usize = 32;
const ALIGN: usize = 64;

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    offset: u64,
    len: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    device: String,
    precision: Precision,
    gears: Vec<usize>,
    graph_name: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    nodes: Vec<Node>,
    tensors: Vec<TensorEntry>,
    mem_plans: Vec<MemPlan>,
    report: CompileReport,
}

fn corrupt(detail: impl Into<String>) -> NpuError {
    NpuError::Malformed {
        what: "compiled model",
        detail: detail.into(),
    }
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn pad_to(v: &mut Vec<u8>, align: usize) {
    while !v.len().is_multiple_of(align) {
        v.push(0);
    }
}

fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    match t {
        Tensor::F32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Tensor::I8(a) => a.iter().map(|&v| v as u8).collect(),
        Tensor::I32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Tensor::I64(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// Serialises a compiled model.
pub fn to_bytes(m: &CompiledModel) -> Result<Vec<u8>> {
    let mut weights = Vec::new();
    let mut tensors = Vec::new();
    for (name, t) in &m.graph.initializers {
        pad_to(&mut weights, ALIGN);
        let b = tensor_bytes(t);
        tensors.push(TensorEntry {
            name: name.clone(),
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            offset: weights.len() as u64,
            len: b.len() as u64,
        });
        weights.extend_from_slice(&b);
    }
    let header = Header {
        device: m.device.clone(),
        precision: m.precision,
        gears: m.gears.clone(),
        graph_name: m.graph.name.clone(),
        inputs: m.graph.inputs.clone(),
        outputs: m.graph.outputs.clone(),
        nodes: m.graph.nodes.clone(),
        tensors,
        mem_plans: m.mem_plans.clone(),
        report: m.report.clone(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| corrupt(e.to_string()))?;
    let woff = (FIXED + json.len()).div_ceil(ALIGN) * ALIGN;
    let mut out = Vec::with_capacity(woff + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&(woff as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a(&[&json, &weights]).to_le_bytes());
    out.extend_from_slice(&json);
    pad_to(&mut out, ALIGN);
    out.extend_from_slice(&weights);
    Ok(out)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Parses a compiled model without checking the device (for inspection tools).
pub fn read(bytes: &[u8]) -> Result<CompiledModel> {
    if bytes.len() < FIXED {
        return Err(NpuError::Truncated {
            what: "compiled model",
            detail: format!("{} bytes, header needs {FIXED}", bytes.len()),
        });
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt("bad magic (not an .om file from this runtime)"));
    }
    let version = u32_at(bytes, 8);
    if version != VERSION {
        return Err(corrupt(format!(
            "format version {version}, expected {VERSION}"
        )));
    }
    let hlen = u32_at(bytes, 12) as usize;
    let woff = usize::try_from(u64_at(bytes, 16)).map_err(|_| corrupt("weights offset"))?;
    let sum = u64_at(bytes, 24);
    let hend = FIXED
        .checked_add(hlen)
        .ok_or_else(|| corrupt("header length"))?;
    if hend > bytes.len() || woff > bytes.len() {
        return Err(NpuError::Truncated {
            what: "compiled model",
            detail: format!(
                "file has {} bytes, header/weights need {}",
                bytes.len(),
                hend.max(woff)
            ),
        });
    }
    if woff < hend || woff % ALIGN != 0 {
        return Err(corrupt(
            "weights offset overlaps the header or is unaligned",
        ));
    }
    let json = &bytes[FIXED..hend];
    let weights = &bytes[woff..];
    if fnv1a(&[json, weights]) != sum {
        return Err(corrupt("checksum mismatch (file corrupted or truncated)"));
    }
    let h: Header = serde_json::from_slice(json).map_err(|e| corrupt(format!("header: {e}")))?;
    let mut initializers = BTreeMap::new();
    for e in &h.tensors {
        let n = e
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| corrupt(format!("tensor `{}` shape overflows", e.name)))?;
        let unit = e.dtype.size_bytes();
        let start = usize::try_from(e.offset).map_err(|_| corrupt("offset"))?;
        let len = usize::try_from(e.len).map_err(|_| corrupt("length"))?;
        let end = start
            .checked_add(len)
            .ok_or_else(|| corrupt("tensor extent"))?;
        if Some(len) != n.checked_mul(unit) || end > weights.len() || start % ALIGN != 0 {
            return Err(corrupt(format!(
                "tensor `{}` extent is inconsistent",
                e.name
            )));
        }
        let b = &weights[start..end];
        let sh = IxDyn(&e.shape);
        let se = |x: ndarray::ShapeError| corrupt(x.to_string());
        let t = match e.dtype {
            DType::F32 | DType::F16 => Tensor::F32(
                ArrayD::from_shape_vec(
                    sh,
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
                .map_err(se)?,
            ),
            DType::I8 => Tensor::I8(
                ArrayD::from_shape_vec(sh, b.iter().map(|&v| v as i8).collect()).map_err(se)?,
            ),
            DType::I32 => Tensor::I32(
                ArrayD::from_shape_vec(
                    sh,
                    b.chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
                .map_err(se)?,
            ),
            DType::I64 => Tensor::I64(
                ArrayD::from_shape_vec(
                    sh,
                    b.chunks_exact(8).map(|c| u64_at(c, 0) as i64).collect(),
                )
                .map_err(se)?,
            ),
        };
        initializers.insert(e.name.clone(), t);
    }
    let mut graph = Graph {
        name: h.graph_name,
        inputs: h.inputs,
        outputs: h.outputs,
        initializers,
        nodes: h.nodes,
    };
    graph.validate_and_sort()?;
    if h.gears.is_empty() || h.gears.contains(&0) {
        return Err(corrupt("no valid batch gear"));
    }
    // Every node must type-check at the smallest gear.
    crate::compiler::shape_infer::infer_shapes(&graph, h.gears[0])?;
    Ok(CompiledModel {
        device: h.device,
        precision: h.precision,
        gears: h.gears,
        graph,
        mem_plans: h.mem_plans,
        report: h.report,
    })
}

/// Loads a compiled model for a device, refusing one compiled for another profile.
pub fn load(bytes: &[u8], profile: &DeviceProfile) -> Result<CompiledModel> {
    let m = read(bytes)?;
    if m.device != profile.name {
        return Err(NpuError::DeviceMismatch {
            model_device: m.device,
            device: profile.name.clone(),
        });
    }
    // Re-plan memory for every gear: the model must fit this device, and the stored plan must
    // be the one the graph implies (a crafted header cannot smuggle in oversized tensors).
    if m.mem_plans.len() != m.gears.len() {
        return Err(corrupt("one memory plan per gear expected"));
    }
    for (&gear, stored) in m.gears.iter().zip(&m.mem_plans) {
        let shapes = crate::compiler::shape_infer::infer_shapes(&m.graph, gear)?;
        let plan =
            crate::compiler::mem_plan::plan_memory(&m.graph, &shapes, m.precision, gear, profile)?;
        if &plan != stored {
            return Err(corrupt(format!(
                "memory plan of gear {gear} does not match the graph"
            )));
        }
    }
    Ok(m)
}
