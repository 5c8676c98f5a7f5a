//! Rust builder API for graphs made in code.

use crate::error::Result;
use crate::ir::{
    Activation, BinaryOp, ConvAttrs, DType, Dim, GemmAttrs, Graph, Layout, Node, Op, PoolAttrs,
    Tensor, TensorInfo,
};

/// Builds a [`Graph`] node by node; value names are generated unless given.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    g: Graph,
    counter: usize,
}

impl GraphBuilder {
    /// Empty graph with a name.
    pub fn new(name: &str) -> Self {
        GraphBuilder {
            g: Graph {
                name: name.to_string(),
                ..Graph::default()
            },
            counter: 0,
        }
    }

    fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("{stem}_{}", self.counter)
    }

    /// Declares an f32 input with a dynamic batch dimension `N` followed by `dims`.
    pub fn input_batched(&mut self, name: &str, dims: &[usize]) -> String {
        let mut shape = vec![Dim::Dynamic("N".into())];
        shape.extend(dims.iter().map(|&d| Dim::Fixed(d)));
        self.g.inputs.push(TensorInfo {
            name: name.to_string(),
            dtype: DType::F32,
            layout: if shape.len() == 4 {
                Layout::Nchw
            } else {
                Layout::Nd
            },
            shape,
        });
        name.to_string()
    }

    /// Declares an input with a static shape.
    pub fn input(&mut self, name: &str, dtype: DType, dims: &[usize]) -> String {
        self.g.inputs.push(TensorInfo::fixed(name, dtype, dims));
        name.to_string()
    }

    /// Adds a constant tensor and returns its name.
    pub fn constant(&mut self, stem: &str, t: Tensor) -> String {
        let name = self.fresh(stem);
        self.g.initializers.insert(name.clone(), t);
        name
    }

    /// Adds a node with one output and returns the output name.
    pub fn node(&mut self, op: Op, inputs: &[&str]) -> String {
        let stem = op.type_name().to_lowercase();
        let name = self.fresh(&stem);
        let out = format!("{name}_out");
        self.g.nodes.push(Node {
            name,
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![out.clone()],
            fused_from: Vec::new(),
        });
        out
    }

    /// Conv with constant weight and optional bias.
    pub fn conv(&mut self, x: &str, w: Tensor, b: Option<Tensor>, attrs: ConvAttrs) -> String {
        let mut a = attrs;
        if let [_, _, kh, kw] = w.shape() {
            a.kernel = [*kh, *kw];
        }
        let wn = self.constant("w", w);
        let mut ins = vec![x.to_string(), wn];
        if let Some(b) = b {
            ins.push(self.constant("b", b));
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        self.node(Op::Conv(a), &refs)
    }

    /// Gemm `x · Wᵀ + b` with a constant [out, in] weight (PyTorch Linear layout).
    pub fn linear(&mut self, x: &str, w: Tensor, b: Tensor) -> String {
        let wn = self.constant("w", w);
        let bn = self.constant("b", b);
        self.node(
            Op::Gemm(GemmAttrs {
                trans_b: true,
                ..GemmAttrs::default()
            }),
            &[x, &wn, &bn],
        )
    }

    /// Activation.
    pub fn act(&mut self, x: &str, a: Activation) -> String {
        self.node(Op::Act(a), &[x])
    }

    /// Binary op.
    pub fn binary(&mut self, op: BinaryOp, a: &str, b: &str) -> String {
        self.node(Op::Binary(op), &[a, b])
    }

    /// Max pooling.
    pub fn max_pool(&mut self, x: &str, k: usize, s: usize, p: usize) -> String {
        self.node(
            Op::MaxPool(PoolAttrs {
                kernel: [k, k],
                strides: [s, s],
                pads: [p; 4],
                dilations: [1, 1],
                auto_pad: crate::ir::AutoPad::NotSet,
                ceil_mode: false,
                count_include_pad: false,
            }),
            &[x],
        )
    }

    /// Marks a value as a graph output (f32 unless given) and returns its name.
    pub fn output(&mut self, name: &str, dtype: DType) -> String {
        self.g.outputs.push(TensorInfo {
            name: name.to_string(),
            dtype,
            shape: Vec::new(),
            layout: Layout::Nd,
        });
        name.to_string()
    }

    /// Validates and returns the graph.
    pub fn build(self) -> Result<Graph> {
        let mut g = self.g;
        g.validate_and_sort()?;
        Ok(g)
    }
}

/// Small deterministic pseudo-random generator (SplitMix64) for weights and test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-a, a).
    pub fn sym(&mut self, a: f32) -> f32 {
        (self.uniform() * 2.0 - 1.0) * a
    }

    /// Tensor of uniform values in [-a, a).
    pub fn tensor(&mut self, shape: &[usize], a: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.sym(a)).collect();
        Tensor::F32(
            ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v)
                .unwrap_or_else(|_| ndarray::ArrayD::zeros(ndarray::IxDyn(shape))),
        )
    }
}
