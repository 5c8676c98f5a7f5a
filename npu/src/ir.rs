//! Graph IR: tensors, typed operator attributes, nodes and graphs.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::error::{NpuError, Result};

/// Element type of a tensor. `F16` values are held as `f32` rounded to half precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// IEEE single precision.
    F32,
    /// IEEE half precision (emulated: stored as `f32` rounded to f16).
    F16,
    /// Signed 8-bit integer.
    I8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer (ONNX indices and shapes).
    I64,
}

impl DType {
    /// Bytes per element on the device.
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::I8 => 1,
            DType::I64 => 8,
        }
    }
}

/// Memory layout of an activation tensor (metadata: the executor always works in NCHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Layout {
    /// Batch, channels, height, width.
    #[default]
    Nchw,
    /// Batch, height, width, channels.
    Nhwc,
    /// Plain N-dimensional row-major.
    Nd,
}

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    /// Known size.
    Fixed(usize),
    /// Dynamic (symbolic) size, e.g. the batch; bound to a gear at compile time.
    Dynamic(String),
}

/// Declared type of a graph input or output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    /// Value name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape, possibly with dynamic dims.
    pub shape: Vec<Dim>,
    /// Layout tag.
    pub layout: Layout,
}

impl TensorInfo {
    /// A fully static tensor description.
    pub fn fixed(name: &str, dtype: DType, shape: &[usize]) -> Self {
        TensorInfo {
            name: name.to_string(),
            dtype,
            shape: shape.iter().map(|&d| Dim::Fixed(d)).collect(),
            layout: if shape.len() == 4 {
                Layout::Nchw
            } else {
                Layout::Nd
            },
        }
    }

    /// Concrete shape with every dynamic dimension bound to `batch`.
    pub fn concrete_shape(&self, batch: usize) -> Vec<usize> {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => *v,
                Dim::Dynamic(_) => batch,
            })
            .collect()
    }

    /// Whether the first dimension is dynamic (a batch dimension).
    pub fn has_dynamic_batch(&self) -> bool {
        matches!(self.shape.first(), Some(Dim::Dynamic(_)))
    }
}

/// A tensor with data.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    /// f32 (or f16-rounded f32) data.
    F32(ArrayD<f32>),
    /// int8 data.
    I8(ArrayD<i8>),
    /// int32 data.
    I32(ArrayD<i32>),
    /// int64 data.
    I64(ArrayD<i64>),
}

/// Applies an expression to the array inside any tensor variant, rebuilding the same variant.
#[macro_export]
macro_rules! map_tensor {
    ($t:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::ir::Tensor::F32($a) => $crate::ir::Tensor::F32($body),
            $crate::ir::Tensor::I8($a) => $crate::ir::Tensor::I8($body),
            $crate::ir::Tensor::I32($a) => $crate::ir::Tensor::I32($body),
            $crate::ir::Tensor::I64($a) => $crate::ir::Tensor::I64($body),
        }
    };
}

impl Tensor {
    /// Element type (F32 for f32 storage).
    pub fn dtype(&self) -> DType {
        match self {
            Tensor::F32(_) => DType::F32,
            Tensor::I8(_) => DType::I8,
            Tensor::I32(_) => DType::I32,
            Tensor::I64(_) => DType::I64,
        }
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::F32(a) => a.shape(),
            Tensor::I8(a) => a.shape(),
            Tensor::I32(a) => a.shape(),
            Tensor::I64(a) => a.shape(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds an f32 tensor from a shape and data.
    pub fn from_f32(shape: &[usize], data: Vec<f32>) -> Result<Self> {
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map(Tensor::F32)
            .map_err(|e| NpuError::shape("tensor", e.to_string()))
    }

    /// Builds an i64 tensor from a shape and data.
    pub fn from_i64(shape: &[usize], data: Vec<i64>) -> Result<Self> {
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map(Tensor::I64)
            .map_err(|e| NpuError::shape("tensor", e.to_string()))
    }

    /// Borrow as f32, or a dtype error naming `ctx`.
    pub fn as_f32(&self, ctx: &str) -> Result<&ArrayD<f32>> {
        match self {
            Tensor::F32(a) => Ok(a),
            other => Err(NpuError::DTypeMismatch {
                node: ctx.to_string(),
                detail: format!("expected f32, got {:?}", other.dtype()),
            }),
        }
    }

    /// Converts to f32 (integer values cast).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            Tensor::F32(a) => a.clone(),
            Tensor::I8(a) => a.mapv(f32::from),
            Tensor::I32(a) => a.mapv(|v| v as f32),
            Tensor::I64(a) => a.mapv(|v| v as f32),
        }
    }

    /// Integer values as i64 (for shapes, axes and indices); floats are refused.
    pub fn to_i64_vec(&self, ctx: &str) -> Result<Vec<i64>> {
        match self {
            Tensor::I8(a) => Ok(a.iter().map(|&v| i64::from(v)).collect()),
            Tensor::I32(a) => Ok(a.iter().map(|&v| i64::from(v)).collect()),
            Tensor::I64(a) => Ok(a.iter().copied().collect()),
            Tensor::F32(_) => Err(NpuError::DTypeMismatch {
                node: ctx.to_string(),
                detail: "expected an integer tensor".into(),
            }),
        }
    }

    /// Float values as f32 scalars list (any dtype cast).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.to_f32().iter().copied().collect()
    }

    /// Bytes of the data on the device for a given element size.
    pub fn size_bytes(&self) -> usize {
        self.len() * self.dtype().size_bytes()
    }
}

/// How `auto_pad` resolves the padding of a window op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AutoPad {
    /// Use the explicit pads.
    #[default]
    NotSet,
    /// Output = ceil(input / stride), extra padding at the end.
    SameUpper,
    /// Output = ceil(input / stride), extra padding at the start.
    SameLower,
    /// No padding.
    Valid,
}

/// Activation, either as a standalone op or fused into a Conv/Gemm epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// x if x >= 0 else alpha * x.
    LeakyRelu(f32),
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// tanh(x).
    Tanh,
    /// Clamp to [min, max].
    Clip(f32, f32),
}

impl Activation {
    /// Applies the activation to a scalar.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::Clip(lo, hi) => x.max(lo).min(hi),
        }
    }

    /// Vector-unit operations per element (cost model).
    pub fn vector_ops(self) -> u64 {
        match self {
            Activation::Relu | Activation::LeakyRelu(_) => 1,
            Activation::Clip(..) => 2,
            Activation::Sigmoid | Activation::Tanh => 4,
        }
    }
}

/// Attributes of a 2-D convolution (also used by ConvTranspose).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvAttrs {
    /// Kernel size (kh, kw); informational, the weight shape rules.
    pub kernel: [usize; 2],
    /// Strides (h, w).
    pub strides: [usize; 2],
    /// Pads (top, left, bottom, right), ONNX order.
    pub pads: [usize; 4],
    /// Dilations (h, w).
    pub dilations: [usize; 2],
    /// Group count.
    pub group: usize,
    /// Auto padding mode.
    pub auto_pad: AutoPad,
    /// Output padding (ConvTranspose only).
    pub output_padding: [usize; 2],
    /// Fused epilogue activation.
    pub activation: Option<Activation>,
    /// INT8 quantisation parameters when compiled for int8.
    pub quant: Option<QuantParams>,
}

impl Default for ConvAttrs {
    fn default() -> Self {
        ConvAttrs {
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
            group: 1,
            auto_pad: AutoPad::NotSet,
            output_padding: [0, 0],
            activation: None,
            quant: None,
        }
    }
}

/// INT8 parameters of a quantised Conv/Gemm: symmetric int8 activations per tensor,
/// symmetric int8 weights per output channel, i32 accumulation, f32 bias and epilogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantParams {
    /// Scale of the input activation (real = q * scale).
    pub input_scale: f32,
    /// Per-output-channel weight scales.
    pub weight_scales: Vec<f32>,
}

/// Attributes of a 2-D pooling op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolAttrs {
    /// Window (kh, kw).
    pub kernel: [usize; 2],
    /// Strides.
    pub strides: [usize; 2],
    /// Pads (top, left, bottom, right).
    pub pads: [usize; 4],
    /// Dilations (MaxPool).
    pub dilations: [usize; 2],
    /// Auto padding mode.
    pub auto_pad: AutoPad,
    /// Use ceil instead of floor for the output size.
    pub ceil_mode: bool,
    /// AveragePool: count padded cells in the divisor.
    pub count_include_pad: bool,
}

/// Gemm attributes: Y = alpha * A' * B' + beta * C.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GemmAttrs {
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of C.
    pub beta: f32,
    /// Transpose A.
    pub trans_a: bool,
    /// Transpose B.
    pub trans_b: bool,
    /// Fused epilogue activation.
    pub activation: Option<Activation>,
    /// INT8 parameters when compiled for int8 (B is then an int8 [K, N] weight).
    pub quant: Option<QuantParams>,
}

impl Default for GemmAttrs {
    fn default() -> Self {
        GemmAttrs {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
            activation: None,
            quant: None,
        }
    }
}

/// Elementwise binary operation with numpy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b
    Div,
    /// a ^ b (ONNX Pow; integer exponents of integer bases are exact).
    Pow,
    /// max(a, b) (NaN propagates).
    Max,
    /// min(a, b) (NaN propagates).
    Min,
    /// x if x >= 0 else slope * x (ONNX PRelu: input 1 is the slope, broadcast).
    PRelu,
    /// Remainder (ONNX Mod, fmod = 0: the sign of the divisor, integers; fmod = 1: C fmod).
    Mod {
        /// C-style fmod (sign of the dividend).
        fmod: bool,
    },
}

/// Elementwise comparison or logic op; the result is a bool tensor (held as int8 0/1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// a == b
    Equal,
    /// a < b
    Less,
    /// a <= b
    LessOrEqual,
    /// a > b
    Greater,
    /// a >= b
    GreaterOrEqual,
    /// a && b (bool inputs)
    And,
    /// a || b (bool inputs)
    Or,
    /// a ^ b (bool inputs)
    Xor,
}

/// N-ary elementwise op with broadcasting over all inputs (ONNX Sum, Mean, Max, Min).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NaryOp {
    /// Sum of all inputs.
    Sum,
    /// Mean of all inputs.
    Mean,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
}

/// Elementwise unary maths (f32; Neg, Abs and Sign also on integers; Not on bools).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// -x
    Neg,
    /// |x|
    Abs,
    /// e^x
    Exp,
    /// ln x
    Log,
    /// sqrt x
    Sqrt,
    /// 1 / x
    Reciprocal,
    /// floor
    Floor,
    /// ceil
    Ceil,
    /// round half to even
    Round,
    /// -1, 0 or 1
    Sign,
    /// Gauss error function
    Erf,
    /// sin
    Sin,
    /// cos
    Cos,
    /// x / (1 + |x|)
    Softsign,
    /// ln(1 + e^x)
    Softplus,
    /// x if x >= 0 else alpha (e^x - 1)
    Elu(f32),
    /// gamma (x if x > 0 else alpha (e^x - 1)); (alpha, gamma)
    Selu(f32, f32),
    /// max(0, min(1, alpha x + beta)); (alpha, beta)
    HardSigmoid(f32, f32),
    /// x * HardSigmoid(x) with alpha 1/6, beta 1/2
    HardSwish,
    /// x - bias if x > lambd, x + bias if x < -lambd, else 0; (bias, lambd)
    Shrink(f32, f32),
    /// x * tanh(softplus(x))
    Mish,
    /// x * Phi(x), exact erf form (ONNX Gelu, opset 20, approximate = none)
    Gelu,
    /// logical not (bool)
    Not,
}

/// Kind of a reduction over axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceKind {
    /// max
    Max,
    /// mean
    Mean,
    /// product
    Prod,
    /// sum of |x|
    L1,
    /// sqrt of the sum of squares
    L2,
    /// ln of the sum
    LogSum,
    /// ln of the sum of e^x (max-shifted)
    LogSumExp,
    /// sum of squares
    SumSquare,
}

/// Pad mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    /// Constant value.
    Constant,
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Edge,
    /// Wrap around (opset 19).
    Wrap,
}

/// Attributes of an N-D (1-D, 3-D, ...) convolution or pooling window; 2-D windows use
/// [`ConvAttrs`] / [`PoolAttrs`] (the fused and int8 paths).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowNd {
    /// Kernel size per spatial axis (pools; a conv takes it from the weight).
    pub kernel: Vec<usize>,
    /// Strides.
    pub strides: Vec<usize>,
    /// Pads: begins then ends (ONNX order).
    pub pads: Vec<usize>,
    /// Dilations.
    pub dilations: Vec<usize>,
    /// Auto padding mode.
    pub auto_pad: AutoPad,
    /// Conv group count (1 for pools).
    pub group: usize,
    /// Pools: ceil instead of floor for the output size.
    pub ceil_mode: bool,
    /// AveragePool: count padded cells in the divisor.
    pub count_include_pad: bool,
}

/// Resize coordinate transformation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordMode {
    /// (x + 0.5) / scale - 0.5
    HalfPixel,
    /// x / scale
    Asymmetric,
    /// x * (in - 1) / (out - 1)
    AlignCorners,
}

/// Resize nearest rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NearestMode {
    /// Round half down.
    RoundPreferFloor,
    /// Round half up.
    RoundPreferCeil,
    /// Floor.
    Floor,
    /// Ceil.
    Ceil,
}

/// Operator with its typed attributes. Inputs follow ONNX order; inputs that ONNX passes
/// as constant tensors (shapes, axes, clip bounds, scales) are resolved into attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Inputs: X, W, optional B.
    Conv(ConvAttrs),
    /// Inputs: X, W, optional B. Weight is [C_in, C_out/group, kh, kw].
    ConvTranspose(ConvAttrs),
    /// Nearest-neighbour resize by per-axis output sizes or scales (input: X).
    Resize {
        /// Per-axis scales (empty when sizes are given).
        scales: Vec<f32>,
        /// Per-axis output sizes (empty when scales are given).
        sizes: Vec<usize>,
        /// Coordinate transformation.
        coord: CoordMode,
        /// Rounding.
        nearest: NearestMode,
    },
    /// Numpy matmul (inputs A, B).
    MatMul,
    /// Inputs A, B, optional C.
    Gemm(GemmAttrs),
    /// Broadcasting binary op.
    Binary(BinaryOp),
    /// Elementwise activation.
    Act(Activation),
    /// Inputs: X.
    MaxPool(PoolAttrs),
    /// Inputs: X.
    AveragePool(PoolAttrs),
    /// Inputs: X.
    GlobalAveragePool,
    /// Inputs: X, scale, bias, mean, var.
    BatchNormalization {
        /// Epsilon.
        epsilon: f32,
    },
    /// Concatenation of all inputs.
    Concat {
        /// Axis (may be negative).
        axis: i64,
    },
    /// Reshape to a constant shape (0 copies, -1 infers).
    Reshape {
        /// Target shape.
        shape: Vec<i64>,
    },
    /// Flatten to 2-D at `axis`.
    Flatten {
        /// Axis.
        axis: i64,
    },
    /// Permute axes (empty = reverse).
    Transpose {
        /// Permutation.
        perm: Vec<usize>,
    },
    /// Remove size-1 axes (empty = all).
    Squeeze {
        /// Axes.
        axes: Vec<i64>,
    },
    /// Insert size-1 axes.
    Unsqueeze {
        /// Axes in the output.
        axes: Vec<i64>,
    },
    /// Softmax along one axis (opset 13 semantics).
    Softmax {
        /// Axis.
        axis: i64,
    },
    /// Minimum over axes (empty = all).
    ReduceMin {
        /// Axes.
        axes: Vec<i64>,
        /// Keep reduced dims.
        keepdims: bool,
    },
    /// Sum over axes (empty = all unless noop).
    ReduceSum {
        /// Axes.
        axes: Vec<i64>,
        /// Keep reduced dims.
        keepdims: bool,
    },
    /// Index of the minimum along an axis (i64 output).
    ArgMin {
        /// Axis.
        axis: i64,
        /// Keep reduced dim.
        keepdims: bool,
    },
    /// Index of the maximum along an axis (i64 output).
    ArgMax {
        /// Axis.
        axis: i64,
        /// Keep reduced dim.
        keepdims: bool,
    },
    /// Inputs: data, indices.
    Gather {
        /// Axis.
        axis: i64,
    },
    /// Inputs: x, scale, optional zero_point; int8 output.
    QuantizeLinear {
        /// Axis for per-axis scales.
        axis: i64,
    },
    /// Inputs: x, scale, optional zero_point; f32 output.
    DequantizeLinear {
        /// Axis for per-axis scales.
        axis: i64,
    },
    /// Shape of the input as an i64 vector.
    Shape,
    /// Elementwise unary maths.
    Unary(UnaryOp),
    /// Broadcasting comparison / logic (bool output held as int8 0/1).
    Compare(CompareOp),
    /// Broadcasting N-ary op over all inputs.
    Nary(NaryOp),
    /// Inputs: condition (bool), X, Y; broadcasting select.
    Where,
    /// LogSoftmax along one axis (opset 13 semantics).
    LogSoftmax {
        /// Axis.
        axis: i64,
    },
    /// Softmax / LogSoftmax before opset 13: the input is coerced to 2-D at `axis` and the
    /// normalisation runs over the flattened trailing dims.
    SoftmaxCoerced {
        /// Axis.
        axis: i64,
        /// LogSoftmax instead of Softmax.
        log: bool,
    },
    /// Reduction over axes (empty = all).
    Reduce {
        /// Kind.
        kind: ReduceKind,
        /// Axes.
        axes: Vec<i64>,
        /// Keep reduced dims.
        keepdims: bool,
    },
    /// Broadcast to a constant shape (numpy rules, ONNX Expand).
    Expand {
        /// Target shape.
        shape: Vec<i64>,
    },
    /// Repeat along each axis.
    Tile {
        /// Repeats per axis.
        repeats: Vec<usize>,
    },
    /// Strided slice with constant starts/ends/axes/steps.
    Slice {
        /// Starts.
        starts: Vec<i64>,
        /// Ends.
        ends: Vec<i64>,
        /// Axes (same length as starts).
        axes: Vec<i64>,
        /// Steps (non-zero).
        steps: Vec<i64>,
    },
    /// Split along an axis into constant sizes (one output each).
    Split {
        /// Axis.
        axis: i64,
        /// Sizes (empty: equal parts, one per output).
        split: Vec<usize>,
    },
    /// Pad with constant pads (begins then ends, one per axis).
    Pad {
        /// Pads.
        pads: Vec<i64>,
        /// Mode.
        mode: PadMode,
        /// Constant value.
        value: f32,
    },
    /// Element type conversion.
    Cast {
        /// Target type (bool is int8 0/1).
        to: DType,
        /// Cast to bool: nonzero becomes 1.
        to_bool: bool,
    },
    /// Inputs: X, scale, bias; per-channel normalisation over the spatial axes.
    InstanceNormalization {
        /// Epsilon.
        epsilon: f32,
    },
    /// Inputs: X, scale, optional bias; normalisation over the axes from `axis` on.
    LayerNormalization {
        /// First normalised axis.
        axis: i64,
        /// Epsilon.
        epsilon: f32,
    },
    /// Local response normalisation across channels.
    Lrn {
        /// Window size.
        size: usize,
        /// alpha.
        alpha: f32,
        /// beta.
        beta: f32,
        /// bias.
        bias: f32,
    },
    /// N-D convolution (1-D, 3-D...); inputs X, W, optional B.
    ConvNd(WindowNd),
    /// N-D max pooling.
    MaxPoolNd(WindowNd),
    /// N-D average pooling.
    AveragePoolNd(WindowNd),
    /// Copy of the input.
    Identity,
}

impl Op {
    /// ONNX-style op type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::Resize { .. } => "Resize",
            Op::MatMul => "MatMul",
            Op::Gemm(_) => "Gemm",
            Op::Binary(BinaryOp::Add) => "Add",
            Op::Binary(BinaryOp::Sub) => "Sub",
            Op::Binary(BinaryOp::Mul) => "Mul",
            Op::Binary(BinaryOp::Div) => "Div",
            Op::Binary(BinaryOp::Pow) => "Pow",
            Op::Binary(BinaryOp::Max) => "Max",
            Op::Binary(BinaryOp::Min) => "Min",
            Op::Binary(BinaryOp::PRelu) => "PRelu",
            Op::Binary(BinaryOp::Mod { .. }) => "Mod",
            Op::Act(Activation::Relu) => "Relu",
            Op::Act(Activation::LeakyRelu(_)) => "LeakyRelu",
            Op::Act(Activation::Sigmoid) => "Sigmoid",
            Op::Act(Activation::Tanh) => "Tanh",
            Op::Act(Activation::Clip(..)) => "Clip",
            Op::MaxPool(_) => "MaxPool",
            Op::AveragePool(_) => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::BatchNormalization { .. } => "BatchNormalization",
            Op::Concat { .. } => "Concat",
            Op::Reshape { .. } => "Reshape",
            Op::Flatten { .. } => "Flatten",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze { .. } => "Squeeze",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Softmax { .. } => "Softmax",
            Op::ReduceMin { .. } => "ReduceMin",
            Op::ReduceSum { .. } => "ReduceSum",
            Op::ArgMin { .. } => "ArgMin",
            Op::ArgMax { .. } => "ArgMax",
            Op::Gather { .. } => "Gather",
            Op::QuantizeLinear { .. } => "QuantizeLinear",
            Op::DequantizeLinear { .. } => "DequantizeLinear",
            Op::Shape => "Shape",
            Op::Unary(u) => u.type_name(),
            Op::Compare(c) => match c {
                CompareOp::Equal => "Equal",
                CompareOp::Less => "Less",
                CompareOp::LessOrEqual => "LessOrEqual",
                CompareOp::Greater => "Greater",
                CompareOp::GreaterOrEqual => "GreaterOrEqual",
                CompareOp::And => "And",
                CompareOp::Or => "Or",
                CompareOp::Xor => "Xor",
            },
            Op::Nary(NaryOp::Sum) => "Sum",
            Op::Nary(NaryOp::Mean) => "Mean",
            Op::Nary(NaryOp::Max) => "Max",
            Op::Nary(NaryOp::Min) => "Min",
            Op::Where => "Where",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::SoftmaxCoerced { log: false, .. } => "Softmax",
            Op::SoftmaxCoerced { log: true, .. } => "LogSoftmax",
            Op::Reduce { kind, .. } => match kind {
                ReduceKind::Max => "ReduceMax",
                ReduceKind::Mean => "ReduceMean",
                ReduceKind::Prod => "ReduceProd",
                ReduceKind::L1 => "ReduceL1",
                ReduceKind::L2 => "ReduceL2",
                ReduceKind::LogSum => "ReduceLogSum",
                ReduceKind::LogSumExp => "ReduceLogSumExp",
                ReduceKind::SumSquare => "ReduceSumSquare",
            },
            Op::Expand { .. } => "Expand",
            Op::Tile { .. } => "Tile",
            Op::Slice { .. } => "Slice",
            Op::Split { .. } => "Split",
            Op::Pad { .. } => "Pad",
            Op::Cast { .. } => "Cast",
            Op::InstanceNormalization { .. } => "InstanceNormalization",
            Op::LayerNormalization { .. } => "LayerNormalization",
            Op::Lrn { .. } => "LRN",
            Op::ConvNd(_) => "Conv",
            Op::MaxPoolNd(_) => "MaxPool",
            Op::AveragePoolNd(_) => "AveragePool",
            Op::Identity => "Identity",
        }
    }
}

impl UnaryOp {
    /// ONNX op type.
    pub fn type_name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "Neg",
            UnaryOp::Abs => "Abs",
            UnaryOp::Exp => "Exp",
            UnaryOp::Log => "Log",
            UnaryOp::Sqrt => "Sqrt",
            UnaryOp::Reciprocal => "Reciprocal",
            UnaryOp::Floor => "Floor",
            UnaryOp::Ceil => "Ceil",
            UnaryOp::Round => "Round",
            UnaryOp::Sign => "Sign",
            UnaryOp::Erf => "Erf",
            UnaryOp::Sin => "Sin",
            UnaryOp::Cos => "Cos",
            UnaryOp::Softsign => "Softsign",
            UnaryOp::Softplus => "Softplus",
            UnaryOp::Elu(_) => "Elu",
            UnaryOp::Selu(..) => "Selu",
            UnaryOp::HardSigmoid(..) => "HardSigmoid",
            UnaryOp::HardSwish => "HardSwish",
            UnaryOp::Shrink(..) => "Shrink",
            UnaryOp::Mish => "Mish",
            UnaryOp::Gelu => "Gelu",
            UnaryOp::Not => "Not",
        }
    }
}

/// One operator application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Unique node name.
    pub name: String,
    /// Operator.
    pub op: Op,
    /// Input value names; an empty string marks an absent optional input.
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Names of the original nodes merged into this one by compiler passes.
    pub fused_from: Vec<String>,
}

/// A dataflow graph with constant initializers; nodes are kept in topological order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    /// Graph name.
    pub name: String,
    /// Runtime inputs.
    pub inputs: Vec<TensorInfo>,
    /// Outputs.
    pub outputs: Vec<TensorInfo>,
    /// Constant tensors (weights).
    pub initializers: BTreeMap<String, Tensor>,
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Checks names are unique, every input is produced before use, and sorts the nodes
    /// topologically (stable). Fails on cycles or dangling values.
    pub fn validate_and_sort(&mut self) -> Result<()> {
        let mut available: BTreeSet<String> = self.initializers.keys().cloned().collect();
        for i in &self.inputs {
            if !available.insert(i.name.clone()) && !self.initializers.contains_key(&i.name) {
                return Err(NpuError::InvalidGraph(format!(
                    "duplicate input `{}`",
                    i.name
                )));
            }
        }
        let mut produced: BTreeSet<String> = BTreeSet::new();
        for n in &self.nodes {
            if n.outputs.first().is_none_or(|o| o.is_empty()) {
                return Err(NpuError::InvalidGraph(format!(
                    "node `{}` ({}) has no output",
                    n.name,
                    n.op.type_name()
                )));
            }
            for o in &n.outputs {
                if o.is_empty() {
                    continue;
                }
                if available.contains(o) || !produced.insert(o.clone()) {
                    return Err(NpuError::InvalidGraph(format!(
                        "value `{o}` is produced twice (node `{}`)",
                        n.name
                    )));
                }
            }
        }
        let mut pending: Vec<Node> = std::mem::take(&mut self.nodes);
        let mut sorted = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for n in pending {
                if n.inputs
                    .iter()
                    .all(|i| i.is_empty() || available.contains(i))
                {
                    for o in &n.outputs {
                        available.insert(o.clone());
                    }
                    sorted.push(n);
                } else {
                    rest.push(n);
                }
            }
            if rest.len() == before {
                let n_name = rest[0].name.clone();
                let n_type = rest[0].op.type_name();
                let missing = rest[0]
                    .inputs
                    .iter()
                    .find(|i| !i.is_empty() && !available.contains(*i))
                    .cloned()
                    .unwrap_or_default();
                let why = if produced.contains(&missing) {
                    "a cycle"
                } else {
                    "a value nobody produces"
                };
                self.nodes = sorted;
                self.nodes.extend(rest);
                return Err(NpuError::InvalidGraph(format!(
                    "node `{n_name}` ({n_type}) uses `{missing}`, {why}"
                )));
            }
            pending = rest;
        }
        self.nodes = sorted;
        for o in &self.outputs {
            if !available.contains(&o.name) {
                return Err(NpuError::InvalidGraph(format!(
                    "graph output `{}` is never produced",
                    o.name
                )));
            }
        }
        Ok(())
    }

    /// Number of consumers of each value (graph outputs count as one consumer).
    pub fn use_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for n in &self.nodes {
            for i in &n.inputs {
                if !i.is_empty() {
                    *m.entry(i.clone()).or_insert(0) += 1;
                }
            }
        }
        for o in &self.outputs {
            *m.entry(o.name.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Index of the node producing `value`.
    pub fn producer(&self, value: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.outputs.iter().any(|o| o == value))
    }

    /// Total number of parameters (elements of all initializers).
    pub fn parameter_count(&self) -> usize {
        self.initializers.values().map(Tensor::len).sum()
    }

    /// Whether the graph inputs have a dynamic batch dimension.
    pub fn has_dynamic_batch(&self) -> bool {
        self.inputs.iter().any(TensorInfo::has_dynamic_batch)
    }
}

/// Precision mode of a compiled model (ATC `--precision_mode` analogue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Precision {
    /// Full f32.
    #[default]
    Fp32,
    /// Half precision, emulated by rounding every weight and result to f16.
    Fp16,
    /// INT8 Conv/Gemm (per-channel weights, per-tensor activations), fp16 elsewhere.
    Int8,
}

impl Precision {
    /// Bytes per activation element on the device.
    pub fn act_bytes(self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            Precision::Fp16 | Precision::Int8 => 2,
        }
    }

    /// Parses `fp32`, `fp16` or `int8`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Some(Precision::Fp32),
            "fp16" | "f16" => Some(Precision::Fp16),
            "int8" | "i8" => Some(Precision::Int8),
            _ => None,
        }
    }
}
