//! Reduction family: ReduceMin / ReduceSum over axes and ArgMin / ArgMax along one axis.

use ndarray::{ArrayD, Axis};

use super::norm_axis;
use crate::error::{NpuError, Result};

fn reduce_axes(rank: usize, axes: &[i64], ctx: &str) -> Result<Vec<usize>> {
    let mut v: Vec<usize> = if axes.is_empty() {
        (0..rank).collect()
    } else {
        axes.iter()
            .map(|&a| norm_axis(a, rank, ctx))
            .collect::<Result<_>>()?
    };
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Output shape of a reduction.
pub fn reduce_shape(x: &[usize], axes: &[i64], keep: bool, ctx: &str) -> Result<Vec<usize>> {
    let ax = reduce_axes(x.len(), axes, ctx)?;
    Ok(x.iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if ax.contains(&i) {
                keep.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect())
}

/// ReduceMin (min == true) or ReduceSum.
pub fn reduce(
    x: &ArrayD<f32>,
    axes: &[i64],
    keep: bool,
    min: bool,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    let ax = reduce_axes(x.ndim(), axes, ctx)?;
    if min && ax.iter().any(|&a| x.shape()[a] == 0) {
        return Err(NpuError::shape(ctx, "ReduceMin over an empty axis"));
    }
    let mut y = x.clone();
    for &a in ax.iter().rev() {
        y = if min {
            y.fold_axis(Axis(a), f32::INFINITY, |&acc, &v| acc.min(v))
        } else {
            y.sum_axis(Axis(a))
        };
        if keep {
            y = y.insert_axis(Axis(a));
        }
    }
    Ok(y)
}

/// ArgMax (max == true) or ArgMin, first index on ties; i64 output.
pub fn arg_reduce(
    x: &ArrayD<f32>,
    axis: i64,
    keep: bool,
    max: bool,
    ctx: &str,
) -> Result<ArrayD<i64>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    if x.shape()[ax] == 0 {
        return Err(NpuError::shape(ctx, "arg-reduction over an empty axis"));
    }
    let y = x.map_axis(Axis(ax), |lane| {
        let mut best = 0usize;
        let mut bv = lane[0];
        for (i, &v) in lane.iter().enumerate().skip(1) {
            if (max && v > bv) || (!max && v < bv) {
                best = i;
                bv = v;
            }
        }
        best as i64
    });
    Ok(if keep { y.insert_axis(Axis(ax)) } else { y })
}
