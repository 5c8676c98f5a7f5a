//! Pass: operator fusion. MatMul + constant bias becomes Gemm; Conv/ConvTranspose/Gemm absorb
//! a following constant bias Add and then a following activation into their epilogue. Every
//! fused node keeps the names of the original nodes in `fused_from`.

use crate::error::Result;
use crate::ir::{BinaryOp, GemmAttrs, Graph, Node, Op, Tensor};

/// Index of the only node reading `value`, if exactly one does and it is not a graph output.
pub fn sole_consumer(g: &Graph, value: &str) -> Option<usize> {
    if g.outputs.iter().any(|o| o.name == value) {
        return None;
    }
    let mut found = None;
    for (i, n) in g.nodes.iter().enumerate() {
        let uses = n.inputs.iter().filter(|x| *x == value).count();
        if uses > 0 {
            if found.is_some() || uses > 1 {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

/// Provenance list after merging `b` into `a`.
pub fn provenance(a: &Node, b: &Node) -> Vec<String> {
    let mut v = if a.fused_from.is_empty() {
        vec![a.name.clone()]
    } else {
        a.fused_from.clone()
    };
    if b.fused_from.is_empty() {
        v.push(b.name.clone());
    } else {
        v.extend(b.fused_from.iter().cloned());
    }
    v
}

/// Per-channel bias values when `t` broadcasts only along the channel axis `axis_from_end`.
fn channel_bias(t: &Tensor, channels: usize, conv: bool) -> Option<Vec<f32>> {
    let s = t.shape();
    let ok = if conv {
        matches!(s, [c, 1, 1] | [1, c, 1, 1] if *c == channels)
    } else {
        matches!(s, [c] | [1, c] if *c == channels)
    };
    ok.then(|| t.to_f32_vec())
}

fn try_fuse_once(g: &mut Graph) -> Result<bool> {
    let shapes = super::shape_infer::infer_shapes(g, 1)?;
    for pi in 0..g.nodes.len() {
        let prod = g.nodes[pi].clone();
        let Some(ci) = sole_consumer(g, &prod.outputs[0]) else {
            continue;
        };
        let cons = g.nodes[ci].clone();
        let other_input = |n: &Node| -> Option<String> {
            n.inputs.iter().find(|i| **i != prod.outputs[0]).cloned()
        };
        // MatMul(x, W const 2-D) + Add(const [N]) -> Gemm.
        if let (Op::MatMul, Op::Binary(BinaryOp::Add)) = (&prod.op, &cons.op) {
            let w = prod.inputs.get(1).and_then(|n| g.initializers.get(n));
            let b = other_input(&cons).and_then(|n| g.initializers.get(&n).map(|t| (n, t)));
            let a_rank = prod
                .inputs
                .first()
                .and_then(|n| shapes.get(n))
                .map_or(0, |v| v.shape.len());
            if let (Some(w), Some((bn, b))) = (w, b) {
                if a_rank == 2
                    && w.shape().len() == 2
                    && channel_bias(b, w.shape()[1], false).is_some()
                {
                    let node = &mut g.nodes[pi];
                    node.op = Op::Gemm(GemmAttrs::default());
                    node.inputs.push(bn);
                    node.outputs = cons.outputs.clone();
                    node.fused_from = provenance(&prod, &cons);
                    g.nodes.remove(ci);
                    return Ok(true);
                }
            }
        }
        // Conv/ConvTranspose/Gemm + Add(constant per-channel bias).
        if let Op::Binary(BinaryOp::Add) = cons.op {
            let bias = other_input(&cons).and_then(|n| g.initializers.get(&n).cloned());
            let (channels, conv_like, no_epilogue) = match &prod.op {
                Op::Conv(a) | Op::ConvTranspose(a) => {
                    let w = prod.inputs.get(1).and_then(|n| g.initializers.get(n));
                    let m = match (&prod.op, w) {
                        (Op::Conv(_), Some(w)) => w.shape()[0],
                        (_, Some(w)) if w.shape().len() == 4 => w.shape()[1] * a.group.max(1),
                        _ => 0,
                    };
                    (m, true, a.activation.is_none() && a.quant.is_none())
                }
                Op::Gemm(ga) => {
                    let w = prod.inputs.get(1).and_then(|n| g.initializers.get(n));
                    let n = w.map_or(0, |w| {
                        if ga.trans_b {
                            w.shape()[0]
                        } else {
                            w.shape()[1]
                        }
                    });
                    (
                        n,
                        false,
                        ga.activation.is_none() && ga.quant.is_none() && ga.beta == 1.0,
                    )
                }
                _ => (0, false, false),
            };
            if let (Some(b), true) = (bias, no_epilogue && channels > 0) {
                if let Some(vals) = channel_bias(&b, channels, conv_like) {
                    let old: Vec<f32> = prod
                        .inputs
                        .get(2)
                        .filter(|s| !s.is_empty())
                        .and_then(|s| g.initializers.get(s))
                        .map(Tensor::to_f32_vec)
                        .unwrap_or_else(|| vec![0.0; channels]);
                    if old.len() == channels {
                        let sum: Vec<f32> = old.iter().zip(&vals).map(|(a, b)| a + b).collect();
                        let name = format!("{}_bias_fused", prod.name);
                        g.initializers
                            .insert(name.clone(), Tensor::from_f32(&[channels], sum)?);
                        let node = &mut g.nodes[pi];
                        node.inputs.truncate(2);
                        node.inputs.push(name);
                        node.outputs = cons.outputs.clone();
                        node.fused_from = provenance(&prod, &cons);
                        g.nodes.remove(ci);
                        return Ok(true);
                    }
                }
            }
        }
        // Conv/ConvTranspose/Gemm + activation.
        if let Op::Act(act) = cons.op {
            let node = &mut g.nodes[pi];
            let slot = match &mut node.op {
                Op::Conv(a) | Op::ConvTranspose(a) => Some(&mut a.activation),
                Op::Gemm(ga) => Some(&mut ga.activation),
                _ => None,
            };
            if let Some(slot) = slot {
                if slot.is_none() {
                    *slot = Some(act);
                    node.outputs = cons.outputs.clone();
                    node.fused_from = provenance(&prod, &cons);
                    g.nodes.remove(ci);
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Rewrites MatMul(2-D x, constant 2-D W) into Gemm so it gets Gemm fusions and int8.
fn matmul_to_gemm(g: &mut Graph) -> Result<()> {
    let shapes = super::shape_infer::infer_shapes(g, 1)?;
    for n in &mut g.nodes {
        if !matches!(n.op, Op::MatMul) {
            continue;
        }
        let a_rank = n
            .inputs
            .first()
            .and_then(|i| shapes.get(i))
            .map_or(0, |v| v.shape.len());
        let w_rank = n
            .inputs
            .get(1)
            .and_then(|i| g.initializers.get(i))
            .map_or(0, |t| t.shape().len());
        if a_rank == 2 && w_rank == 2 {
            n.op = Op::Gemm(GemmAttrs::default());
        }
    }
    Ok(())
}

/// Applies fusions until none applies; returns how many were made.
pub fn fuse(g: &mut Graph) -> Result<usize> {
    let mut n = 0;
    matmul_to_gemm(g)?;
    while try_fuse_once(g)? {
        n += 1;
    }
    Ok(n)
}
