//! Pass: fold an inference BatchNormalization into the preceding Conv's weights and bias:
//! W' = W·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β.

use crate::error::Result;
use crate::ir::{Graph, Op, Tensor};

use super::fuse::{provenance, sole_consumer};

/// Folds every foldable Conv→BatchNormalization pair; returns how many were folded.
pub fn bn_fold(g: &mut Graph) -> Result<usize> {
    let mut count = 0;
    loop {
        let mut found = None;
        for (ci, conv) in g.nodes.iter().enumerate() {
            let Op::Conv(a) = &conv.op else { continue };
            if a.activation.is_some() || a.quant.is_some() {
                continue;
            }
            if !conv
                .inputs
                .iter()
                .skip(1)
                .all(|i| i.is_empty() || g.initializers.contains_key(i))
            {
                continue;
            }
            let Some(bi) = sole_consumer(g, &conv.outputs[0]) else {
                continue;
            };
            let bn = &g.nodes[bi];
            if !matches!(bn.op, Op::BatchNormalization { .. })
                || bn.inputs.first() != Some(&conv.outputs[0])
            {
                continue;
            }
            if bn.inputs.len() < 5
                || !bn.inputs[1..5]
                    .iter()
                    .all(|i| g.initializers.contains_key(i))
            {
                continue;
            }
            found = Some((ci, bi));
            break;
        }
        let Some((ci, bi)) = found else { break };
        let bn = g.nodes[bi].clone();
        let Op::BatchNormalization { epsilon } = bn.op else {
            break;
        };
        let p: Vec<Vec<f32>> = bn.inputs[1..5]
            .iter()
            .map(|n| {
                g.initializers
                    .get(n)
                    .map(Tensor::to_f32_vec)
                    .unwrap_or_default()
            })
            .collect();
        let conv = g.nodes[ci].clone();
        let Some(Tensor::F32(w)) = conv
            .inputs
            .get(1)
            .and_then(|n| g.initializers.get(n))
            .cloned()
        else {
            break;
        };
        let m = w.shape()[0];
        if p.iter().any(|v| v.len() != m) {
            break;
        }
        let old_b: Vec<f32> = conv
            .inputs
            .get(2)
            .filter(|s| !s.is_empty())
            .and_then(|s| g.initializers.get(s))
            .map(Tensor::to_f32_vec)
            .unwrap_or_else(|| vec![0.0; m]);
        let k: Vec<f32> = (0..m)
            .map(|c| p[0][c] / (p[3][c] + epsilon).sqrt())
            .collect();
        let mut w2 = w.clone();
        for (c, mut sub) in w2.outer_iter_mut().enumerate() {
            sub.mapv_inplace(|v| v * k[c]);
        }
        let b2: Vec<f32> = (0..m)
            .map(|c| (old_b[c] - p[2][c]) * k[c] + p[1][c])
            .collect();
        let wn = format!("{}_w_bnfold", conv.name);
        let bname = format!("{}_b_bnfold", conv.name);
        g.initializers.insert(wn.clone(), Tensor::F32(w2));
        g.initializers
            .insert(bname.clone(), Tensor::from_f32(&[m], b2)?);
        let fused = provenance(&conv, &bn);
        let node = &mut g.nodes[ci];
        node.inputs = vec![conv.inputs[0].clone(), wn, bname];
        node.outputs = bn.outputs.clone();
        node.fused_from = fused;
        g.nodes.remove(bi);
        count += 1;
    }
    Ok(count)
}
