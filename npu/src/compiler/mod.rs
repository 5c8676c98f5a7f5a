//! The model compiler (what ATC does): one module per pass.
//!
//! Pipeline: shape/dtype check → constant folding → dead-node removal → BN folding →
//! Conv/Gemm + bias + activation fusion → dead-node removal → precision (fp16 rounding or
//! INT8 calibration + quantisation with an accuracy report) → batch gears → memory plan per
//! gear (fails when the model does not fit the device).

pub mod bn_fold;
pub mod const_fold;
pub mod dce;
pub mod fuse;
pub mod gears;
pub mod mem_plan;
pub mod precision;
pub mod quantize;
pub mod shape_infer;

use std::collections::BTreeMap;

use ndarray::{Axis, Slice};
use serde::{Deserialize, Serialize};

use crate::cost::{self, KernelCost};
use crate::device::DeviceProfile;
use crate::error::{NpuError, Result};
use crate::exec::{self, ExecOptions};
use crate::ir::{Graph, Precision, Tensor};
use crate::map_tensor;
pub use mem_plan::MemPlan;
pub use quantize::{AccuracyReport, CalibMethod, Sample};

/// Options of one compilation.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Precision mode.
    pub precision: Precision,
    /// Batch gears for a dynamic batch (empty = defaults).
    pub gears: Vec<usize>,
    /// Calibration samples (required for INT8).
    pub calibration: Vec<Sample>,
    /// Calibration method.
    pub calib_method: Option<CalibMethod>,
    /// Evaluation samples for the INT8 accuracy report (empty = none).
    pub evaluation: Vec<Sample>,
}

/// What the compiler did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompileReport {
    /// Nodes before optimisation.
    pub nodes_before: usize,
    /// Nodes after.
    pub nodes_after: usize,
    /// Constant nodes folded.
    pub folded_constants: usize,
    /// Dead nodes removed.
    pub removed_nodes: usize,
    /// BatchNormalizations folded into Conv.
    pub bn_folded: usize,
    /// Fusions made.
    pub fusions: usize,
    /// Nodes quantised to int8.
    pub quantized_nodes: usize,
    /// INT8 accuracy against fp32 on the evaluation set.
    pub accuracy: Option<AccuracyReport>,
}

/// A compiled model bound to one device profile.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledModel {
    /// Device profile name it was compiled for.
    pub device: String,
    /// Precision mode.
    pub precision: Precision,
    /// Batch gears.
    pub gears: Vec<usize>,
    /// Optimised graph.
    pub graph: Graph,
    /// Memory plan per gear.
    pub mem_plans: Vec<MemPlan>,
    /// Compilation report.
    pub report: CompileReport,
}

/// Compiles a graph for a device.
pub fn compile(
    graph: &Graph,
    profile: &DeviceProfile,
    opts: &CompileOptions,
) -> Result<CompiledModel> {
    let mut g = graph.clone();
    g.validate_and_sort()?;
    let gears = gears::resolve_gears(&g, &opts.gears)?;
    shape_infer::infer_shapes(&g, gears[0])?;
    let mut report = CompileReport {
        nodes_before: g.nodes.len(),
        ..CompileReport::default()
    };
    report.folded_constants = const_fold::const_fold(&mut g)?;
    report.removed_nodes = dce::dce(&mut g);
    report.bn_folded = bn_fold::bn_fold(&mut g)?;
    report.fusions = fuse::fuse(&mut g)?;
    report.removed_nodes += dce::dce(&mut g);
    match opts.precision {
        Precision::Fp32 => {}
        Precision::Fp16 => {
            precision::to_fp16(&mut g);
        }
        Precision::Int8 => {
            let method = opts.calib_method.unwrap_or(CalibMethod::MinMax);
            let scales = quantize::calibrate(&g, &opts.calibration, method)?;
            let fp32 = g.clone();
            report.quantized_nodes = quantize::quantize_graph(&mut g, &scales)?;
            if !opts.evaluation.is_empty() {
                report.accuracy = Some(quantize::accuracy_report(
                    &fp32,
                    &g,
                    ExecOptions { fp16: true },
                    &opts.evaluation,
                )?);
            }
        }
    }
    report.nodes_after = g.nodes.len();
    let mut mem_plans = Vec::with_capacity(gears.len());
    for &gear in &gears {
        let shapes = shape_infer::infer_shapes(&g, gear)?;
        mem_plans.push(mem_plan::plan_memory(
            &g,
            &shapes,
            opts.precision,
            gear,
            profile,
        )?);
    }
    Ok(CompiledModel {
        device: profile.name.clone(),
        precision: opts.precision,
        gears,
        graph: g,
        mem_plans,
        report,
    })
}

/// Whether every sample of a batch is computed independently of the others, so that running
/// a batch without the gear's zero padding gives the real samples' outputs bit for bit: every
/// graph input has a dynamic batch (axis 0) and every node is one whose kernels loop over the
/// batch axis without mixing it — 2-D Conv (per sample), activations, Slice and Concat off
/// axis 0, and broadcasting binaries whose runtime operands have the output's rank (batch on
/// axis 0) and whose constant operands do not span the batch. Anything else is padded.
pub fn batch_separable(g: &Graph) -> bool {
    use crate::ir::Op;
    if g.inputs.is_empty() || !g.inputs.iter().all(|i| i.has_dynamic_batch()) {
        return false;
    }
    let Ok(shapes) = shape_infer::infer_shapes(g, 2) else {
        return false;
    };
    let rank = |v: &str| shapes.get(v).map(|t| t.shape.len());
    let off_batch = |axis: i64, r: usize| {
        let a = if axis < 0 { axis + r as i64 } else { axis };
        a > 0 && (a as usize) < r
    };
    g.nodes.iter().all(|n| {
        let Some(out_rank) = n.outputs.first().and_then(|o| rank(o)) else {
            return false;
        };
        let runtime = |v: &String| !v.is_empty() && !g.initializers.contains_key(v);
        let runtime_in_rank = n
            .inputs
            .iter()
            .filter(|v| runtime(v))
            .all(|v| rank(v) == Some(out_rank));
        match &n.op {
            Op::Conv(_) | Op::Act(_) => {
                out_rank == 4
                    && runtime_in_rank
                    && n.inputs.first().is_some_and(runtime)
                    && !n.inputs.iter().skip(1).any(runtime)
            }
            Op::Binary(_) => {
                runtime_in_rank
                    && n.inputs.iter().filter(|v| !runtime(v)).all(|v| {
                        g.initializers.get(v).is_some_and(|t| {
                            t.shape().len() < out_rank || t.shape().first() == Some(&1)
                        })
                    })
            }
            Op::Slice { axes, .. } => {
                runtime_in_rank && axes.iter().all(|&a| off_batch(a, out_rank))
            }
            Op::Concat { axis } => {
                runtime_in_rank && off_batch(*axis, out_rank) && n.inputs.iter().all(runtime)
            }
            _ => false,
        }
    })
}

impl CompiledModel {
    /// Executor options implied by the precision.
    pub fn exec_options(&self) -> ExecOptions {
        ExecOptions {
            fp16: self.precision != Precision::Fp32,
        }
    }

    /// Smallest gear holding `batch`.
    pub fn gear_for(&self, batch: usize) -> Result<usize> {
        gears::choose_gear(&self.gears, batch)
    }

    /// Per-kernel costs at a gear on a profile.
    pub fn kernel_costs(&self, gear: usize, profile: &DeviceProfile) -> Result<Vec<KernelCost>> {
        let shapes = shape_infer::infer_shapes(&self.graph, gear)?;
        cost::graph_cost(&self.graph, &shapes, profile, self.precision)
    }

    /// Estimated latency of one execution at a gear, in whole microseconds.
    pub fn latency_us(&self, gear: usize, profile: &DeviceProfile) -> Result<u64> {
        Ok(cost::total_latency_us(&self.kernel_costs(gear, profile)?))
    }

    /// Total FLOPs at a gear.
    pub fn flops(&self, gear: usize, profile: &DeviceProfile) -> Result<u64> {
        Ok(self
            .kernel_costs(gear, profile)?
            .iter()
            .map(|k| k.flops)
            .sum())
    }

    /// Runs one request (any batch up to the largest gear) and returns its outputs.
    pub fn run(&self, inputs: &Sample) -> Result<BTreeMap<String, Tensor>> {
        let mut v = self.run_batch(std::slice::from_ref(inputs))?;
        v.pop().ok_or_else(|| NpuError::Runtime("no result".into()))
    }

    /// Batch of all requests in one execution (dynamic-batch models): inputs are concatenated
    /// along axis 0, padded with zeros to the gear, run once and split back. Returns the
    /// outputs per request and the gear used.
    pub fn run_batch_with_gear(
        &self,
        requests: &[Sample],
    ) -> Result<(Vec<BTreeMap<String, Tensor>>, usize)> {
        if requests.is_empty() {
            return Ok((Vec::new(), self.gears.first().copied().unwrap_or(1)));
        }
        let opts = self.exec_options();
        if !self.graph.has_dynamic_batch() {
            let outs = requests
                .iter()
                .map(|r| exec::run_graph(&self.graph, r, opts))
                .collect::<Result<Vec<_>>>()?;
            return Ok((outs, self.gears.first().copied().unwrap_or(1)));
        }
        let mut sizes = Vec::with_capacity(requests.len());
        for r in requests {
            let info = &self.graph.inputs[0];
            let t = r.get(&info.name).ok_or_else(|| NpuError::ShapeMismatch {
                node: info.name.clone(),
                detail: "graph input not provided".into(),
            })?;
            let b = t.shape().first().copied().unwrap_or(0);
            sizes.push(b);
        }
        let total: usize = sizes.iter().sum();
        let gear = self.gear_for(total)?;
        // The batch the graph is executed at: the gear, zero-padded; or exactly the requests
        // when no sample can see another (the padding rows would only be thrown away, and the
        // real rows come out the same to the bit).
        let run_at = if gear > total && batch_separable(&self.graph) {
            total
        } else {
            gear
        };
        let fills_gear = requests.len() == 1
            && run_at == total
            && self.graph.inputs.iter().all(|info| {
                requests[0]
                    .get(&info.name)
                    .is_some_and(|t| t.shape().first() == Some(&total))
            });
        if fills_gear {
            // One request that fills its gear: nothing to concatenate, pad or split.
            let outs = exec::run_graph(&self.graph, &requests[0], opts)?;
            return Ok((vec![outs], gear));
        }
        let mut batched = BTreeMap::new();
        for info in &self.graph.inputs {
            let mut parts = Vec::with_capacity(requests.len() + 1);
            for (r, &b) in requests.iter().zip(&sizes) {
                let t = r.get(&info.name).ok_or_else(|| NpuError::ShapeMismatch {
                    node: info.name.clone(),
                    detail: "graph input not provided".into(),
                })?;
                exec::check_input(info, t)?;
                if t.shape().first() != Some(&b) {
                    return Err(NpuError::shape(
                        &info.name,
                        "inputs of one request differ in batch",
                    ));
                }
                parts.push(t.clone());
            }
            if run_at > total {
                let mut shape = info.concrete_shape(run_at - total);
                shape[0] = run_at - total;
                let n: usize = shape.iter().product();
                let pad = match parts[0].dtype() {
                    crate::ir::DType::F32 | crate::ir::DType::F16 => {
                        Tensor::from_f32(&shape, vec![0.0; n])?
                    }
                    _ => Tensor::from_i64(&shape, vec![0; n])?,
                };
                parts.push(pad);
            }
            let refs: Vec<&Tensor> = parts.iter().collect();
            batched.insert(info.name.clone(), crate::ops::concat(&refs, 0, &info.name)?);
        }
        let outs = exec::run_graph(&self.graph, &batched, opts)?;
        let mut result = vec![BTreeMap::new(); requests.len()];
        for (name, t) in outs {
            let batched_out = t.shape().first() == Some(&run_at);
            let mut start = 0;
            for (i, &b) in sizes.iter().enumerate() {
                let part = if batched_out {
                    map_tensor!(&t, a => a.slice_axis(Axis(0), Slice::from(start..start + b)).to_owned())
                } else {
                    t.clone()
                };
                result[i].insert(name.clone(), part);
                start += b;
            }
        }
        Ok((result, gear))
    }

    /// Like [`Self::run_batch_with_gear`] without the gear.
    pub fn run_batch(&self, requests: &[Sample]) -> Result<Vec<BTreeMap<String, Tensor>>> {
        Ok(self.run_batch_with_gear(requests)?.0)
    }
}
