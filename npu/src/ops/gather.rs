//! Gather family: selection along one axis by (possibly negative) integer indices.

use ndarray::Axis;

use super::norm_axis;
use super::shape::reshape;
use crate::error::{NpuError, Result};
use crate::ir::Tensor;
use crate::map_tensor;

/// Gather along an axis with (possibly negative) integer indices.
pub fn gather(data: &Tensor, indices: &Tensor, axis: i64, ctx: &str) -> Result<Tensor> {
    let ds = data.shape().to_vec();
    let ax = norm_axis(axis, ds.len(), ctx)?;
    let dim = ds[ax] as i64;
    let idx: Vec<usize> = indices
        .to_i64_vec(ctx)?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(NpuError::shape(
                    ctx,
                    format!("Gather index {i} out of range {dim}"),
                ))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_>>()?;
    let mut shape: Vec<usize> = ds[..ax].to_vec();
    shape.extend_from_slice(indices.shape());
    shape.extend_from_slice(&ds[ax + 1..]);
    let sel = map_tensor!(data, a => a.select(Axis(ax), &idx));
    reshape(&sel, &shape, ctx)
}
