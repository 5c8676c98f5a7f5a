//! Pass: INT8 post-training quantisation. Calibration runs the fp32 graph on sample inputs
//! and records the input range of every Conv/Gemm (per tensor; min-max or a percentile of
//! |x|). Weights are quantised symmetrically per output channel. The accuracy report
//! compares the quantised model with fp32 on an evaluation set.

use std::collections::BTreeMap;

use ndarray::{ArrayD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

use crate::error::{NpuError, Result};
use crate::exec::{run_graph, run_graph_observed, ExecOptions};
use crate::ir::{Graph, Op, QuantParams, Tensor};
use crate::ops::quantize_sym;

/// How activation ranges are derived from calibration data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum CalibMethod {
    /// Largest |x| seen.
    MinMax,
    /// The given percentile (e.g. 99.99) of |x|.
    Percentile(f32),
}

/// Named inputs of one calibration or evaluation sample.
pub type Sample = BTreeMap<String, Tensor>;

fn quantisable(g: &Graph, n: &crate::ir::Node) -> bool {
    let w_const = n
        .inputs
        .get(1)
        .is_some_and(|w| matches!(g.initializers.get(w), Some(Tensor::F32(_))));
    match &n.op {
        Op::Conv(a) => w_const && a.quant.is_none(),
        Op::Gemm(ga) => w_const && ga.quant.is_none() && !ga.trans_a,
        _ => false,
    }
}

/// Computes the per-tensor activation scale of every quantisable node's input.
pub fn calibrate(
    g: &Graph,
    samples: &[Sample],
    method: CalibMethod,
) -> Result<BTreeMap<String, f32>> {
    if samples.is_empty() {
        return Err(NpuError::Calibration("no calibration samples".into()));
    }
    let targets: BTreeMap<String, Vec<String>> = {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for n in g.nodes.iter().filter(|n| quantisable(g, n)) {
            m.entry(n.inputs[0].clone())
                .or_default()
                .push(n.name.clone());
        }
        m
    };
    let mut absmax: BTreeMap<String, f32> = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut record = |name: &str, t: &Tensor| {
        if !targets.contains_key(name) {
            return;
        }
        if let Tensor::F32(a) = t {
            let m = a.iter().fold(0f32, |acc, v| acc.max(v.abs()));
            let e = absmax.entry(name.to_string()).or_insert(0.0);
            *e = e.max(m);
            if let CalibMethod::Percentile(_) = method {
                let stride = (a.len() / 65536).max(1);
                values
                    .entry(name.to_string())
                    .or_default()
                    .extend(a.iter().step_by(stride).map(|v| v.abs()));
            }
        }
    };
    for s in samples {
        for (k, t) in s {
            record(k, t);
        }
        run_graph_observed(g, s, ExecOptions::default(), &mut |_, name, t| {
            record(name, t)
        })?;
    }
    let mut scales = BTreeMap::new();
    for (value, nodes) in &targets {
        let range = match method {
            CalibMethod::MinMax => absmax.get(value).copied().unwrap_or(0.0),
            CalibMethod::Percentile(p) => {
                if !(0.0..=100.0).contains(&p) {
                    return Err(NpuError::Calibration(format!(
                        "percentile {p} outside 0..=100"
                    )));
                }
                let mut v = values.get(value).cloned().unwrap_or_default();
                v.sort_by(f32::total_cmp);
                if v.is_empty() {
                    0.0
                } else {
                    let idx = ((p / 100.0) * (v.len() - 1) as f32).round() as usize;
                    v[idx.min(v.len() - 1)]
                }
            }
        };
        let scale = if range > 0.0 && range.is_finite() {
            range / 127.0
        } else {
            1.0
        };
        for n in nodes {
            scales.insert(n.clone(), scale);
        }
    }
    Ok(scales)
}

fn per_channel(rows: &ArrayD<f32>) -> (Vec<f32>, ArrayD<i8>) {
    let scales: Vec<f32> = rows
        .outer_iter()
        .map(|r| {
            let m = r.iter().fold(0f32, |a, v| a.max(v.abs()));
            if m > 0.0 {
                m / 127.0
            } else {
                1.0
            }
        })
        .collect();
    let mut q = ArrayD::<i8>::zeros(rows.raw_dim());
    for (c, (src, mut dst)) in rows.outer_iter().zip(q.outer_iter_mut()).enumerate() {
        for (d, s) in dst.iter_mut().zip(src.iter()) {
            *d = quantize_sym(*s, scales[c]);
        }
    }
    (scales, q)
}

/// Rewrites Conv/Gemm nodes to int8 with the given activation scales; returns the count.
pub fn quantize_graph(g: &mut Graph, act_scales: &BTreeMap<String, f32>) -> Result<usize> {
    let mut count = 0;
    for i in 0..g.nodes.len() {
        if !quantisable(g, &g.nodes[i]) {
            continue;
        }
        let name = g.nodes[i].name.clone();
        let Some(&sx) = act_scales.get(&name) else {
            continue;
        };
        let Some(Tensor::F32(w)) = g.initializers.get(&g.nodes[i].inputs[1]).cloned() else {
            continue;
        };
        let qname = format!("{name}_wq");
        match &mut g.nodes[i].op {
            Op::Conv(a) => {
                let (scales, q) = per_channel(&w);
                a.quant = Some(QuantParams {
                    input_scale: sx,
                    weight_scales: scales,
                });
                g.initializers.insert(qname.clone(), Tensor::I8(q));
            }
            Op::Gemm(ga) => {
                if w.ndim() != 2 {
                    continue;
                }
                // Rows = output columns, for per-channel scales.
                let rows = if ga.trans_b {
                    w.clone()
                } else {
                    w.view().reversed_axes().as_standard_layout().into_owned()
                };
                let (scales, q) = per_channel(&rows);
                // Stored as [K, N].
                let kn = q.view().reversed_axes().as_standard_layout().into_owned();
                ga.trans_b = false;
                ga.quant = Some(QuantParams {
                    input_scale: sx,
                    weight_scales: scales,
                });
                g.initializers.insert(qname.clone(), Tensor::I8(kn));
            }
            _ => continue,
        }
        g.nodes[i].inputs[1] = qname;
        count += 1;
    }
    super::dce::dce(g);
    Ok(count)
}

/// Accuracy of one output of the quantised model against fp32.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputAccuracy {
    /// Output name.
    pub name: String,
    /// Largest absolute error.
    pub max_abs_err: f64,
    /// Mean absolute error.
    pub mean_abs_err: f64,
    /// ‖q − f‖ / ‖f‖.
    pub rel_l2_err: f64,
    /// Cosine similarity.
    pub cosine: f64,
    /// For [N, C] outputs: fraction of rows whose arg-max agrees.
    pub top1_agreement: Option<f64>,
}

/// Accuracy report of a quantised model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// Evaluation samples used.
    pub samples: usize,
    /// Per-output figures.
    pub outputs: Vec<OutputAccuracy>,
}

/// Compares `test` (run with `test_opts`) with `reference` in fp32 on `samples`.
pub fn accuracy_report(
    reference: &Graph,
    test: &Graph,
    test_opts: ExecOptions,
    samples: &[Sample],
) -> Result<AccuracyReport> {
    // max|d|, Σ|d|, Σd², Σx², Σxy, Σy², n, top-1 agreements, rows
    #[allow(clippy::type_complexity)]
    let mut acc: BTreeMap<String, (f64, f64, f64, f64, f64, f64, usize, usize, usize)> =
        BTreeMap::new();
    for s in samples {
        let r = run_graph(reference, s, ExecOptions::default())?;
        let t = run_graph(test, s, test_opts)?;
        for o in &reference.outputs {
            let (Some(Tensor::F32(a)), Some(Tensor::F32(b))) = (r.get(&o.name), t.get(&o.name))
            else {
                continue;
            };
            let e = acc
                .entry(o.name.clone())
                .or_insert((0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0));
            for (x, y) in a.iter().zip(b.iter()) {
                let (x, y) = (f64::from(*x), f64::from(*y));
                let d = (x - y).abs();
                e.0 = e.0.max(d);
                e.1 += d;
                e.2 += d * d;
                e.3 += x * x;
                e.4 += x * y;
                e.5 += y * y;
                e.6 += 1;
            }
            if a.ndim() == 2 {
                let am = |m: &ArrayD<f32>| -> Vec<usize> {
                    m.axis_iter(Axis(0))
                        .map(|row| {
                            row.iter()
                                .enumerate()
                                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                                    if v > best.1 {
                                        (i, v)
                                    } else {
                                        best
                                    }
                                })
                                .0
                        })
                        .collect()
                };
                let (ra, rb) = (am(a), am(b));
                e.7 += ra.iter().zip(&rb).filter(|(x, y)| x == y).count();
                e.8 += ra.len();
            }
        }
    }
    let outputs = acc
        .into_iter()
        .map(|(name, e)| OutputAccuracy {
            name,
            max_abs_err: e.0,
            mean_abs_err: e.1 / e.6.max(1) as f64,
            rel_l2_err: (e.2 / e.3.max(1e-30)).sqrt(),
            cosine: e.4 / (e.3.sqrt() * e.5.sqrt()).max(1e-30),
            top1_agreement: (e.8 > 0).then(|| e.7 as f64 / e.8 as f64),
        })
        .collect();
    Ok(AccuracyReport {
        samples: samples.len(),
        outputs,
    })
}

/// Stacks samples into one batch along axis 0 (helper for tests and tools).
pub fn stack(samples: &[Tensor]) -> Result<Tensor> {
    let views: Vec<&Tensor> = samples.iter().collect();
    if views.is_empty() {
        return Tensor::from_f32(&[0], vec![]);
    }
    let _ = IxDyn(&[0]);
    crate::ops::concat(&views, 0, "stack")
}
