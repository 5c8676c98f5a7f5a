//! Routing on the lane graph by travel time.

use petgraph::algo::astar;
use petgraph::graph::{DiGraph, NodeIndex};
use site::ids::LaneId;
use site::RoadNetwork;

/// The lane graph with travel-time weights.
pub struct Router {
    graph: DiGraph<LaneId, f64>,
    /// Travel time of each whole lane at its speed limit, s.
    time: Vec<f64>,
}

impl Router {
    pub fn new(net: &RoadNetwork) -> Router {
        let mut graph = DiGraph::new();
        let idx: Vec<NodeIndex> = net.lanes.iter().map(|l| graph.add_node(l.id)).collect();
        let time: Vec<f64> = net
            .lanes
            .iter()
            .map(|l| l.length() / l.speed_limit_ms.max(0.1))
            .collect();
        for l in &net.lanes {
            for &n in net.successors(l.id) {
                graph.add_edge(idx[l.id.index()], idx[n.index()], time[n.index()]);
            }
        }
        Router { graph, time }
    }

    /// Lanes from `(from, s0)` to `(to, s1)`, fastest first; `None` if unreachable. The route
    /// may run through `from` again (around a loop) when `to == from` and `s1 < s0`.
    pub fn route(&self, from: LaneId, s0: f64, to: LaneId, s1: f64) -> Option<(f64, Vec<LaneId>)> {
        if from == to && s1 >= s0 {
            return Some((0.0, vec![from]));
        }
        let goal = NodeIndex::new(to.index());
        let mut best: Option<(f64, Vec<LaneId>)> = None;
        let start = NodeIndex::new(from.index());
        for next in self.graph.neighbors(start) {
            let found = astar(&self.graph, next, |n| n == goal, |e| *e.weight(), |_| 0.0);
            if let Some((cost, path)) = found {
                let cost = cost + self.time[next.index()];
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    let mut lanes = vec![from];
                    lanes.extend(path.iter().map(|n| self.graph[*n]));
                    best = Some((cost, lanes));
                }
            }
        }
        best
    }
}
