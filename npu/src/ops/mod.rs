//! Operator kernels on `ndarray`, one file per op family. Every kernel is deterministic: the
//! same input always gives bit-identical output (no threads, fixed loop order).
//!
//! | file | ops |
//! |---|---|
//! | `conv` | Conv (im2col + GEMM, f32 or int8), ConvTranspose |
//! | `matmul` | MatMul, Gemm, the exact i8×i8→i32 GEMMs |
//! | `elementwise` | broadcasting Add/Sub/Mul/Div/Pow/Max/Min/PRelu/Mod, comparisons and logic (bool as int8 0/1), Sum/Mean/Max/Min, Where |
//! | `activation` | Relu, LeakyRelu, Sigmoid, Tanh, Clip, Softmax, LogSoftmax (and their pre-13 2-D coercion) |
//! | `unary` | Neg, Abs, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Sign, Erf, Sin, Cos, Softsign, Softplus, Elu, Selu, HardSigmoid, HardSwish, Shrink, Mish, Gelu, Not |
//! | `movement` | Expand, Tile, Slice, Split, Pad, Cast |
//! | `pool` | MaxPool, AveragePool, GlobalAveragePool |
//! | `convnd` | 1-D / 3-D (N-D) Conv, MaxPool, AveragePool |
//! | `norm` | BatchNormalization, InstanceNormalization, LayerNormalization, LRN |
//! | `shape` | Concat, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape, Identity |
//! | `reduce` | ReduceMin, ReduceSum, ReduceMax/Mean/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMin, ArgMax |
//! | `gather` | Gather |
//! | `quant` | QuantizeLinear, DequantizeLinear, symmetric int8 rounding |
//! | `resize` | nearest Resize |
//! | `window` | sliding-window geometry shared by conv and pool |
//! | `fast` | contiguous fast paths: broadcasting binaries by blocks, strided and block copies |
//!
//! Each family file also holds the family's [`OpFamily`] impl: its ONNX import and export,
//! shape inference, executor kernel and cost-model work, so an op's knowledge lives in one
//! place (the seam is described in the `family` module).
//!
//! The kernels are re-exported here, so `ops::conv2d` and `ops::conv::conv2d` are the same.

pub mod activation;
pub mod conv;
pub mod convnd;
pub mod elementwise;
pub mod family;
pub(crate) mod fast;
pub mod gather;
pub mod matmul;
pub mod movement;
pub mod norm;
pub mod pool;
pub mod quant;
pub mod reduce;
pub mod resize;
pub mod shape;
pub mod unary;
pub mod window;

pub use activation::{activation, log_softmax, softmax, softmax_coerced};
pub use conv::{conv2d, conv_geom, conv_transpose2d, conv_transpose_out, ConvGeom, Weights};
pub use convnd::{conv_nd, pool_nd, window_nd_geom};
pub use elementwise::{binary, broadcast_shape, compare, nary, where_select};
pub use family::{family, onnx_family, OpFamily, FAMILIES};
pub use gather::gather;
pub use matmul::{gemm, gemm_i8, gemm_i8_scalar, matmul, matmul_shape, EXACT_F32_K_BLOCK};
pub use movement::{cast, expand, pad, slice_indices, split_sizes, tile};
pub use norm::{batch_norm, instance_norm, layer_norm, lrn};
pub use pool::{global_avg_pool, pool2d, pool_geom};
pub use quant::{dequantize_linear, quantize_linear, quantize_sym};
pub use reduce::{arg_reduce, reduce, reduce_kind, reduce_shape};
pub use resize::{resize_nearest, resize_shape};
pub use shape::{
    concat, perm_or_reverse, reshape, reshape_target, squeeze_shape, transpose, unsqueeze_shape,
};
pub use unary::{erf64, unary, unary_f32};
pub use window::{resolve_pads, window_out};

use ndarray::ArrayD;

use crate::error::{NpuError, Result};

/// Normalises a possibly negative axis.
pub fn norm_axis(axis: i64, rank: usize, ctx: &str) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(NpuError::shape(
            ctx,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}

/// The four dims of an NCHW shape, or a shape error naming `what`.
pub(crate) fn dims4(shape: &[usize], ctx: &str, what: &str) -> Result<[usize; 4]> {
    match shape {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        _ => Err(NpuError::shape(
            ctx,
            format!("{what} must be 4-D (NCHW), got {shape:?}"),
        )),
    }
}

/// Elements in logical (row-major) order.
pub(crate) fn std_vec<T: Copy>(a: &ArrayD<T>) -> Vec<T> {
    a.iter().copied().collect()
}
