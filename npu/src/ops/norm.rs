//! Normalisation family: inference BatchNormalization over the channel axis.

use ndarray::{ArrayD, Axis};

use crate::error::{NpuError, Result};

/// Inference batch normalisation over channel axis 1.
pub fn batch_norm(
    x: &ArrayD<f32>,
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    ctx: &str,
) -> Result<ArrayD<f32>> {
    if x.ndim() < 2 {
        return Err(NpuError::shape(ctx, "BatchNormalization needs rank >= 2"));
    }
    let c = x.shape()[1];
    if [scale.len(), bias.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != c)
    {
        return Err(NpuError::shape(ctx, "BatchNormalization parameter length"));
    }
    let mut y = x.clone();
    for (ci, mut lane) in y.axis_iter_mut(Axis(1)).enumerate() {
        let k = scale[ci] / (var[ci] + eps).sqrt();
        let b = bias[ci] - mean[ci] * k;
        lane.mapv_inplace(|v| v * k + b);
    }
    Ok(y)
}
