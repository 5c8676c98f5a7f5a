//! Activation family: elementwise activations (Relu, LeakyRelu, Sigmoid, Tanh, Clip; the
//! same functions serve as fused Conv/Gemm epilogues) and Softmax.

use ndarray::{ArrayD, Axis};

use super::norm_axis;
use crate::error::Result;
use crate::ir::Activation;

/// Applies an activation elementwise.
pub fn activation(x: &ArrayD<f32>, act: Activation) -> ArrayD<f32> {
    x.mapv(|v| act.apply(v))
}
/// Softmax along one axis.
pub fn softmax(x: &ArrayD<f32>, axis: i64, ctx: &str) -> Result<ArrayD<f32>> {
    let ax = norm_axis(axis, x.ndim(), ctx)?;
    let mut y = x.clone();
    for mut lane in y.lanes_mut(Axis(ax)) {
        let m = lane.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s: f32 = lane.iter().sum();
        lane.mapv_inplace(|v| v / s);
    }
    Ok(y)
}
