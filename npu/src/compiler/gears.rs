//! Pass: batch gears. A model with a dynamic batch dimension is compiled for a fixed set of
//! batch sizes ("gears", like ATC's `--dynamic_batch_size`); a request runs on the smallest
//! gear that holds it, padded with zeros.

use crate::error::{NpuError, Result};
use crate::ir::{Dim, Graph};

/// Default gears when none are given for a dynamic-batch model.
pub const DEFAULT_GEARS: [usize; 4] = [1, 4, 8, 32];

/// Normalises the requested gears: sorted, unique, non-zero. A static model has one gear,
/// its own batch.
pub fn resolve_gears(g: &Graph, requested: &[usize]) -> Result<Vec<usize>> {
    if !g.has_dynamic_batch() {
        let b = g
            .inputs
            .first()
            .and_then(|i| i.shape.first())
            .map_or(1, |d| match d {
                Dim::Fixed(v) => *v,
                Dim::Dynamic(_) => 1,
            });
        if !requested.is_empty() && requested != [b] {
            return Err(NpuError::InvalidGraph(format!(
                "batch gears {requested:?} requested but the model has a static batch {b}"
            )));
        }
        return Ok(vec![b]);
    }
    for i in &g.inputs {
        if i.shape.iter().skip(1).any(|d| matches!(d, Dim::Dynamic(_))) {
            return Err(NpuError::unsupported(
                &i.name,
                "only the first (batch) dimension may be dynamic",
            ));
        }
    }
    let mut v: Vec<usize> = if requested.is_empty() {
        DEFAULT_GEARS.to_vec()
    } else {
        requested.to_vec()
    };
    if v.contains(&0) {
        return Err(NpuError::InvalidGraph("batch gear 0".into()));
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Smallest gear holding `batch`.
pub fn choose_gear(gears: &[usize], batch: usize) -> Result<usize> {
    gears
        .iter()
        .copied()
        .find(|&g| g >= batch)
        .ok_or(NpuError::NoGear {
            requested: batch,
            max: gears.last().copied().unwrap_or(0),
        })
}
