//! Pass: constant folding. A node whose inputs are all constants is evaluated at compile
//! time and its outputs become initializers.

use crate::error::Result;
use crate::exec;
use crate::ir::{Graph, Tensor};

/// Largest constant (elements) the pass will materialise.
pub const MAX_FOLD_ELEMENTS: usize = 1 << 24;

/// Folds constant nodes; returns how many were folded.
pub fn const_fold(g: &mut Graph) -> Result<usize> {
    let mut folded = 0;
    let nodes = std::mem::take(&mut g.nodes);
    let mut kept = Vec::with_capacity(nodes.len());
    for n in nodes {
        let all_const = !n.inputs.is_empty()
            && n.inputs
                .iter()
                .all(|i| i.is_empty() || g.initializers.contains_key(i));
        // Never materialise huge constants at compile time.
        let small = super::shape_infer::const_output_elements(&n, &g.initializers)
            .is_some_and(|e| e <= MAX_FOLD_ELEMENTS);
        if !all_const || !small {
            kept.push(n);
            continue;
        }
        let ins: Vec<Option<&Tensor>> = n
            .inputs
            .iter()
            .map(|i| {
                if i.is_empty() {
                    None
                } else {
                    g.initializers.get(i)
                }
            })
            .collect();
        let outs = exec::eval_node(&n, &ins)?;
        for (name, t) in n.outputs.iter().zip(outs) {
            g.initializers.insert(name.clone(), t);
        }
        folded += 1;
    }
    g.nodes = kept;
    Ok(folded)
}
