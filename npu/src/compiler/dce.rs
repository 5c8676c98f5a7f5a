//! Pass: dead-node removal. Nodes that no graph output depends on are dropped, and so are
//! initializers nothing reads.

use std::collections::BTreeSet;

use crate::ir::Graph;

/// Removes dead nodes and unused initializers; returns the number of nodes removed.
pub fn dce(g: &mut Graph) -> usize {
    let mut live: BTreeSet<String> = g.outputs.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate().rev() {
        if n.outputs.iter().any(|o| live.contains(o)) {
            keep[i] = true;
            for inp in &n.inputs {
                if !inp.is_empty() {
                    live.insert(inp.clone());
                }
            }
        }
    }
    let before = g.nodes.len();
    let mut it = keep.iter();
    g.nodes.retain(|_| it.next().copied().unwrap_or(false));
    g.initializers.retain(|k, _| live.contains(k));
    before - g.nodes.len()
}
