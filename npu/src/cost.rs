//! Analytical cost model of one fused kernel on an Ascend-class AI core.
//!
//! * **Cube work** (Conv, ConvTranspose, Gemm, MatMul) is expressed as M×K×N matrix products
//!   and tiled in cube fractals (16×16×16 fp16, 16×32×16 int8): dimensions are padded up to
//!   the fractal, and the padding is counted as waste. Fractals are grouped into blocks that
//!   fit L0A/L0B/L0C; each block pays a pipeline fill cost; blocks are spread over the AI
//!   cores (load imbalance counted). fp32 runs at `fp32_cube_ratio` of the fp16 rate.
//! * **Vector work** (activations, pooling, normalisation, depthwise convolutions, epilogues)
//!   runs on the vector unit at `vector_lanes_fp16` lanes (half for fp32, twice for int8).
//! * **Memory traffic** counts inputs, weights and outputs once at the precision's element
//!   size; when a weight does not fit half of L1 the activations are streamed once per weight
//!   chunk.
//! * time = max(cube, vector, memory) + launch overhead. Each term is divided by its
//!   configurable efficiency (per unit, optionally overridden per op type). Pure views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) are
//!   free. The model is analytical and structure-faithful, not cycle-accurate.

use serde::Serialize;

use crate::compiler::shape_infer::Shapes;
use crate::device::DeviceProfile;
use crate::error::Result;
use crate::ir::{Activation, Graph, Node, Precision};
use crate::ops;

/// Which resource bounds a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Bound {
    /// Cube (matrix) unit.
    Cube,
    /// Vector unit.
    Vector,
    /// Memory bandwidth.
    Memory,
    /// Launch overhead only (no work).
    Overhead,
}

impl Bound {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Bound::Cube => "cube",
            Bound::Vector => "vector",
            Bound::Memory => "memory",
            Bound::Overhead => "overhead",
        }
    }
}

/// Estimated cost of one kernel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KernelCost {
    /// Node name.
    pub node: String,
    /// Op type.
    pub op_type: String,
    /// Original nodes fused into this kernel.
    pub fused_from: Vec<String>,
    /// Input shapes (runtime inputs and weights).
    pub input_shapes: Vec<Vec<usize>>,
    /// Output shapes.
    pub output_shapes: Vec<Vec<usize>>,
    /// Useful arithmetic (2 per multiply-accumulate, 1 per vector element-op).
    pub flops: u64,
    /// Bytes moved to and from device memory.
    pub bytes: u64,
    /// Cube cycles per core, padding included.
    pub cube_cycles: u64,
    /// Fraction of cube work spent on fractal padding.
    pub padding_waste: f64,
    /// Cube tiling, for cube kernels.
    pub tiling: Option<CubeTiling>,
    /// Cube time (µs).
    pub cube_us: f64,
    /// Vector time (µs).
    pub vector_us: f64,
    /// Memory time (µs).
    pub memory_us: f64,
    /// Launch overhead (µs).
    pub overhead_us: f64,
    /// max(cube, vector, memory) + overhead (µs).
    pub total_us: f64,
    /// Limiting resource.
    pub bound: Bound,
}

/// One matrix-product workload: `groups` independent M×K×N products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CubeWork {
    /// Independent products (conv groups, matmul batch).
    pub groups: u64,
    /// Rows (output pixels for a conv).
    pub m: u64,
    /// Depth.
    pub k: u64,
    /// Columns (output channels per group for a conv).
    pub n: u64,
}

/// Which unit an op family runs on, as far as operand sizes and launch go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostClass {
    /// Cube op (Conv, ConvTranspose, Gemm, MatMul): int8 kernels read int8 activations and
    /// weights.
    Cube,
    /// Vector op: operands at the activation size.
    Vector,
    /// Free: no memory traffic and no launch (views, Shape).
    Free,
}

/// What one kernel asks of the AI core before tiling and timing (from its op family).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Cube matrix products (`None`: no cube work, e.g. a depthwise conv on the vector unit).
    pub cube: Option<CubeWork>,
    /// Vector element-ops (depthwise MACs and fused epilogues included).
    pub vector_ops: u64,
    /// Useful multiply-accumulates (2 flops each).
    pub macs: u64,
}

/// What an op family's cost model sees of one node: its input and output shapes.
pub struct CostCx<'a> {
    node: &'a Node,
    input_shapes: &'a [Vec<usize>],
    output_shapes: &'a [Vec<usize>],
    out_elems: u64,
}

impl CostCx<'_> {
    /// Shape of present input `i` (absent inputs skipped; empty when unknown).
    pub fn input_shape(&self, i: usize) -> Vec<usize> {
        self.input_shapes.get(i).cloned().unwrap_or_default()
    }

    /// Shape of output `i` (empty when unknown).
    pub fn output_shape(&self, i: usize) -> Vec<usize> {
        self.output_shapes.get(i).cloned().unwrap_or_default()
    }

    /// Elements of the first input.
    pub fn in_elems(&self) -> u64 {
        prod(&self.input_shape(0))
    }

    /// Elements of all outputs.
    pub fn out_elems(&self) -> u64 {
        self.out_elems
    }

    /// Number of present inputs.
    pub fn has_inputs(&self) -> usize {
        self.node.inputs.iter().filter(|s| !s.is_empty()).count()
    }

    /// Whether declared input `i` is present.
    pub fn has(&self, i: usize) -> bool {
        self.node.inputs.get(i).is_some_and(|s| !s.is_empty())
    }

    /// Vector ops of a fused epilogue: bias add (when input `bias` is present) + activation.
    pub fn epilogue(&self, act: Option<Activation>, bias: usize) -> u64 {
        self.out_elems * (u64::from(self.has(bias)) + act.map_or(0, Activation::vector_ops))
    }
}

/// How a cube workload was tiled: fractals per L0 block and block counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CubeTiling {
    /// Fractal depth K (16 for fp16/fp32, 32 for int8).
    pub k0: u64,
    /// Bytes per input element on the cube.
    pub in_bytes: u64,
    /// Fractals along M per block.
    pub bm: u64,
    /// Fractals along K per block.
    pub bk: u64,
    /// Fractals along N per block.
    pub bn: u64,
    /// Output blocks (all groups).
    pub out_blocks: u64,
    /// K blocks per output block.
    pub k_blocks: u64,
    /// Output blocks per AI core (the busiest core).
    pub blocks_per_core: u64,
}

struct CubeResult {
    cycles_per_core: u64,
    padded_macs: u64,
    reread: u64,
    tiling: CubeTiling,
}

fn cube_cost(mm: CubeWork, p: &DeviceProfile, prec: Precision) -> CubeResult {
    let s = &p.ai_core_spec;
    let (k0, in_bytes) = match prec {
        Precision::Int8 => (s.cube_k_int8, 1),
        Precision::Fp16 => (s.cube_k_fp16, 2),
        Precision::Fp32 => (s.cube_k_fp16, 4),
    };
    let mt = mm.m.div_ceil(s.cube_m).max(1);
    let kt = mm.k.div_ceil(k0).max(1);
    let nt = mm.n.div_ceil(s.cube_n).max(1);
    let frac_a = s.cube_m * k0 * in_bytes;
    let frac_b = k0 * s.cube_n * in_bytes;
    let frac_c = s.cube_m * s.cube_n * 4;
    // Largest square-ish block fitting the local buffers (double-buffered L0A/L0B).
    let mut bm = mt.min(16);
    let mut bn = nt.min(16);
    let mut bk = kt.min(8);
    loop {
        let fits = bm * bk * frac_a * 2 <= s.l0_a_size
            && bk * bn * frac_b * 2 <= s.l0_b_size
            && bm * bn * frac_c <= s.l0_c_size;
        if fits || (bm == 1 && bn == 1 && bk == 1) {
            break;
        }
        if bk > 1 && bk >= bm.max(bn) / 2 {
            bk = bk.div_ceil(2);
        } else if bm >= bn && bm > 1 {
            bm = bm.div_ceil(2);
        } else if bn > 1 {
            bn = bn.div_ceil(2);
        } else {
            bk = bk.div_ceil(2);
        }
    }
    let out_blocks = mm.groups * mt.div_ceil(bm) * nt.div_ceil(bn);
    let k_blocks = kt.div_ceil(bk);
    let cycles_per_out_block = k_blocks * (bm * bk * bn + s.block_overhead_cycles);
    let cores = u64::from(p.soc_info.ai_core_cnt);
    let per_core_blocks = out_blocks.div_ceil(cores);
    let mut cycles = per_core_blocks * cycles_per_out_block;
    if prec == Precision::Fp32 {
        cycles = (cycles as f64 / s.fp32_cube_ratio).ceil() as u64;
    }
    let weight_bytes = mm.groups * mm.k * mm.n * in_bytes;
    let reread = weight_bytes.div_ceil((s.l1_size / 2).max(1)).max(1);
    CubeResult {
        cycles_per_core: cycles,
        padded_macs: mm.groups * mt * kt * nt * s.cube_m * k0 * s.cube_n,
        reread,
        tiling: CubeTiling {
            k0,
            in_bytes,
            bm,
            bk,
            bn,
            out_blocks,
            k_blocks,
            blocks_per_core: per_core_blocks,
        },
    }
}

fn prod(v: &[usize]) -> u64 {
    v.iter().product::<usize>() as u64
}

/// Estimates the cost of one node given the inferred shapes.
pub fn kernel_cost(
    g: &Graph,
    node: &Node,
    shapes: &Shapes,
    p: &DeviceProfile,
    prec: Precision,
) -> Result<KernelCost> {
    let shape_of = |name: &String| {
        shapes
            .get(name)
            .map(|v| v.shape.clone())
            .unwrap_or_default()
    };
    let input_shapes: Vec<Vec<usize>> = node
        .inputs
        .iter()
        .filter(|i| !i.is_empty())
        .map(shape_of)
        .collect();
    let output_shapes: Vec<Vec<usize>> = node.outputs.iter().map(shape_of).collect();
    let out_elems: u64 = output_shapes.iter().map(|s| prod(s)).sum();
    let act_b = prec.act_bytes();
    let family = ops::family(&node.op);
    let class = family.cost_class(&node.op);
    let is_cube_op = class == CostClass::Cube;
    let view = class == CostClass::Free;
    let weight_b = match (prec, is_cube_op) {
        (Precision::Int8, true) => 1,
        _ => act_b,
    };
    let cx = CostCx {
        node,
        input_shapes: &input_shapes,
        output_shapes: &output_shapes,
        out_elems,
    };
    let Work {
        cube: mm,
        vector_ops: vec_ops,
        macs: useful_macs,
    } = if view {
        Work::default()
    } else {
        family.work(&node.op, &cx)
    };
    let freq = p.freq_hz();
    let cores = f64::from(p.soc_info.ai_core_cnt);
    // Bytes: runtime inputs at activation size, constants at weight size, outputs at act size.
    let mut act_in_bytes = 0u64;
    let mut const_bytes = 0u64;
    for (name, s) in node
        .inputs
        .iter()
        .filter(|i| !i.is_empty())
        .zip(&input_shapes)
    {
        if g.initializers.contains_key(name) {
            const_bytes += prod(s) * weight_b;
        } else {
            let b = if prec == Precision::Int8 && is_cube_op {
                1
            } else {
                act_b
            };
            act_in_bytes += prod(s) * b;
        }
    }
    let (cube_cycles, padded, reread, tiling) = match mm {
        Some(m) => {
            let r = cube_cost(m, p, prec);
            (r.cycles_per_core, r.padded_macs, r.reread, Some(r.tiling))
        }
        None => (0, 0, 1, None),
    };
    let bytes = if view {
        0
    } else {
        act_in_bytes * reread + const_bytes + out_elems * act_b
    };
    let (eff_cube, eff_vec) = p.efficiency.compute_for(node.op.type_name());
    let cube_us = cube_cycles as f64 / freq / eff_cube * 1e6;
    let lanes = match prec {
        Precision::Fp32 => p.ai_core_spec.vector_lanes_fp16 / 2,
        Precision::Fp16 | Precision::Int8 => p.ai_core_spec.vector_lanes_fp16,
    } as f64;
    let vector_us = vec_ops as f64 / (lanes * cores * freq) / eff_vec * 1e6;
    let memory_us =
        bytes as f64 / (p.memory_rates.ddr_bandwidth_gbps * 1e9) / p.efficiency.memory * 1e6;
    let overhead_us = if view {
        0.0
    } else {
        p.runtime.kernel_launch_us
    };
    let busy = cube_us.max(vector_us).max(memory_us);
    let bound = if busy == 0.0 {
        Bound::Overhead
    } else if busy == cube_us {
        Bound::Cube
    } else if busy == vector_us {
        Bound::Vector
    } else {
        Bound::Memory
    };
    // Depthwise MACs sit in `vec_ops`; count each as 2 flops like cube MACs.
    let vec_only = if mm.is_none() {
        vec_ops.saturating_sub(useful_macs)
    } else {
        vec_ops
    };
    let flops = 2 * useful_macs + vec_only;
    Ok(KernelCost {
        node: node.name.clone(),
        op_type: node.op.type_name().to_string(),
        fused_from: node.fused_from.clone(),
        input_shapes,
        output_shapes,
        flops,
        bytes,
        cube_cycles,
        padding_waste: if padded == 0 {
            0.0
        } else {
            1.0 - useful_macs as f64 / padded as f64
        },
        tiling,
        cube_us,
        vector_us,
        memory_us,
        overhead_us,
        total_us: busy + overhead_us,
        bound,
    })
}

/// Costs of every kernel of a graph at the given shapes.
pub fn graph_cost(
    g: &Graph,
    shapes: &Shapes,
    p: &DeviceProfile,
    prec: Precision,
) -> Result<Vec<KernelCost>> {
    g.nodes
        .iter()
        .map(|n| kernel_cost(g, n, shapes, p, prec))
        .collect()
}

/// Total latency in whole microseconds (rounded up) of a kernel list.
pub fn total_latency_us(costs: &[KernelCost]) -> u64 {
    costs.iter().map(|c| c.total_us).sum::<f64>().ceil() as u64
}
