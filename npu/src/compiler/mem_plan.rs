//! Pass: liveness-based device memory plan. Every activation gets an offset in one arena;
//! buffers whose lifetimes do not overlap share memory (greedy best-offset, largest first).
//! View ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) alias their input. The plan fails
//! when weights + arena exceed the device memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shape_infer::Shapes;
use crate::device::DeviceProfile;
use crate::error::{NpuError, Result};
use crate::ir::{DType, Graph, Precision};

/// Alignment of every buffer in bytes.
pub const ALIGN: u64 = 64;

/// One planned buffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffer {
    /// Value name.
    pub value: String,
    /// Offset in the arena.
    pub offset: u64,
    /// Size in bytes (aligned).
    pub size: u64,
    /// First step alive (0 = graph input).
    pub first: usize,
    /// Last step alive.
    pub last: usize,
}

/// Memory plan of one gear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemPlan {
    /// Batch gear.
    pub gear: usize,
    /// Bytes of constants.
    pub weight_bytes: u64,
    /// Peak activation arena.
    pub arena_bytes: u64,
    /// Sum of all activation sizes without reuse (for comparison).
    pub naive_bytes: u64,
    /// weights + arena.
    pub total_bytes: u64,
    /// Planned buffers.
    pub buffers: Vec<Buffer>,
}

fn align(v: u64) -> u64 {
    v.div_ceil(ALIGN) * ALIGN
}

fn elem_bytes(d: DType, prec: Precision) -> u64 {
    match d {
        DType::F32 | DType::F16 => prec.act_bytes(),
        other => other.size_bytes() as u64,
    }
}

/// Plans device memory for the given shapes (one gear).
pub fn plan_memory(
    g: &Graph,
    shapes: &Shapes,
    prec: Precision,
    gear: usize,
    profile: &DeviceProfile,
) -> Result<MemPlan> {
    let weight_bytes: u64 = g
        .initializers
        .values()
        .map(|t| {
            align((t.len() as u64) * elem_bytes(t.dtype(), prec).min(t.dtype().size_bytes() as u64))
        })
        .sum();
    // Alias views to their source buffer.
    let mut root: BTreeMap<String, String> = BTreeMap::new();
    let mut interval: BTreeMap<String, (usize, usize, u64)> = BTreeMap::new();
    let size_of = |v: &str| -> u64 {
        shapes
            .get(v)
            .map_or(0, |t| align(t.len() as u64 * elem_bytes(t.dtype, prec)))
    };
    for i in &g.inputs {
        root.insert(i.name.clone(), i.name.clone());
        interval.insert(i.name.clone(), (0, 0, size_of(&i.name)));
    }
    let end = g.nodes.len() + 1;
    for (step, n) in g.nodes.iter().enumerate() {
        let step = step + 1;
        for inp in &n.inputs {
            if let Some(r) = root.get(inp) {
                if let Some(iv) = interval.get_mut(r) {
                    iv.1 = iv.1.max(step);
                }
            }
        }
        let is_view = crate::ops::family(&n.op).is_view(&n.op);
        for o in &n.outputs {
            let src = n.inputs.first().and_then(|i| root.get(i)).cloned();
            match (is_view, src) {
                (true, Some(r)) => {
                    root.insert(o.clone(), r);
                }
                _ => {
                    root.insert(o.clone(), o.clone());
                    interval.insert(o.clone(), (step, step, size_of(o)));
                }
            }
        }
    }
    for o in &g.outputs {
        if let Some(r) = root.get(&o.name) {
            if let Some(iv) = interval.get_mut(r) {
                iv.1 = end;
            }
        }
    }
    let mut items: Vec<(String, (usize, usize, u64))> = interval.into_iter().collect();
    items.sort_by(|a, b| {
        b.1 .2
            .cmp(&a.1 .2)
            .then(a.1 .0.cmp(&b.1 .0))
            .then(a.0.cmp(&b.0))
    });
    let mut placed: Vec<Buffer> = Vec::with_capacity(items.len());
    for (value, (first, last, size)) in items {
        let mut busy: Vec<(u64, u64)> = placed
            .iter()
            .filter(|b| b.first <= last && first <= b.last)
            .map(|b| (b.offset, b.offset + b.size))
            .collect();
        busy.sort_unstable();
        let mut off = 0u64;
        for (s, e) in busy {
            if s >= off + size {
                break;
            }
            off = off.max(e);
        }
        placed.push(Buffer {
            value,
            offset: off,
            size,
            first,
            last,
        });
    }
    placed.sort_by(|a, b| a.first.cmp(&b.first).then(a.value.cmp(&b.value)));
    let arena_bytes = placed.iter().map(|b| b.offset + b.size).max().unwrap_or(0);
    let naive_bytes = placed.iter().map(|b| b.size).sum();
    let total = weight_bytes + arena_bytes;
    if total > profile.soc_info.memory_size_bytes {
        return Err(NpuError::OutOfMemory {
            device: profile.name.clone(),
            needed: total,
            available: profile.soc_info.memory_size_bytes,
            batch: gear,
        });
    }
    Ok(MemPlan {
        gear,
        weight_bytes,
        arena_bytes,
        naive_bytes,
        total_bytes: total,
        buffers: placed,
    })
}
