//! Routing on the lane graph by travel time: A* with a straight-line heuristic.
//!
//! **The graph.** One node per lane; an edge `l → n` for every successor `n` of `l`, costing
//! `T(n) = length(n) / max(speed_limit(n), 0.1)`, the time to drive all of lane `n`. A path
//! `from → … → to` thus costs the travel time of every lane entered after `from`, the target
//! lane counted whole.
//!
//! **The heuristic** is admissible and consistent. Let `e(n)` be the end point of lane `n`
//! (plan view) and `V` the network's top speed: the highest speed limit, or, if higher, the
//! highest crow-flight speed of one edge `|e(l) − e(n)| / T(n)` (the two agree where lanes
//! join end to start: a lane's chord is at most its length; the second only covers lanes that
//! do not start exactly where their predecessor ends), raised by 1e-9 against rounding. Then
//! `h(n) = |e(n) − e(to)| / V`, and for every edge `n → m`:
//! `h(n) ≤ (|e(n) − e(m)| + |e(m) − e(to)|) / V ≤ T(m) + h(m)` (triangle inequality, and
//! `|e(n) − e(m)| ≤ V·T(m)` by the choice of `V`), with `h(to) = 0`. Summed along any path
//! from `n` to the target, `h(n)` never exceeds its cost, so A* (`petgraph::algo::astar`)
//! returns a cheapest path, the one Dijkstra finds (the tests compare the two on the default
//! site).

use petgraph::algo::astar;
use petgraph::graph::{DiGraph, NodeIndex};
use site::ids::LaneId;
use site::RoadNetwork;

/// The lane graph with travel-time weights.
pub struct Router {
    graph: DiGraph<LaneId, f64>,
    /// Travel time of each whole lane at its speed limit, s.
    time: Vec<f64>,
    /// End point of each lane, plan view (the heuristic).
    end: Vec<[f64; 2]>,
    /// The top speed of the heuristic, m/s (module docs).
    top_speed: f64,
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
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
        let end: Vec<[f64; 2]> = net
            .lanes
            .iter()
            .map(|l| l.points.last().map_or([0.0, 0.0], |p| [p[0], p[1]]))
            .collect();
        let mut top_speed = net
            .lanes
            .iter()
            .map(|l| l.speed_limit_ms.max(0.1))
            .fold(0.1, f64::max);
        for l in &net.lanes {
            for &n in net.successors(l.id) {
                let (i, j) = (l.id.index(), n.index());
                graph.add_edge(idx[i], idx[j], time[j]);
                if time[j] > 0.0 {
                    top_speed = top_speed.max(dist(end[i], end[j]) / time[j]);
                }
            }
        }
        Router {
            graph,
            time,
            end,
            top_speed: top_speed * (1.0 + 1e-9),
        }
    }

    /// The A* heuristic towards lane `goal`: a lower bound of the travel time from the end of
    /// lane `n` to the end of `goal` (module docs).
    fn estimate(&self, n: NodeIndex, goal: NodeIndex) -> f64 {
        dist(self.end[n.index()], self.end[goal.index()]) / self.top_speed
    }

    /// Lanes from `(from, s0)` to `(to, s1)`, fastest first; `None` if unreachable. The route
    /// may run through `from` again (around a loop) when `to == from` and `s1 < s0`.
    pub fn route(&self, from: LaneId, s0: f64, to: LaneId, s1: f64) -> Option<(f64, Vec<LaneId>)> {
        self.route_with(from, s0, to, s1, |n, goal| self.estimate(n, goal))
    }

    /// [`route`](Self::route) with a given heuristic `h(node, goal)`: one search from each
    /// successor of `from` (so that a route can leave `from` and come back to it), the
    /// cheapest kept, the first of equals.
    fn route_with(
        &self,
        from: LaneId,
        s0: f64,
        to: LaneId,
        s1: f64,
        h: impl Fn(NodeIndex, NodeIndex) -> f64,
    ) -> Option<(f64, Vec<LaneId>)> {
        if from.index() >= self.time.len() || to.index() >= self.time.len() {
            return None;
        }
        if from == to && s1 >= s0 {
            return Some((0.0, vec![from]));
        }
        let goal = NodeIndex::new(to.index());
        let mut best: Option<(f64, Vec<LaneId>)> = None;
        let start = NodeIndex::new(from.index());
        for next in self.graph.neighbors(start) {
            let found = astar(
                &self.graph,
                next,
                |n| n == goal,
                |e| *e.weight(),
                |n| h(n, goal),
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{crossroad, default_site};
    use site::ids::LaneId;

    /// Plain Dijkstra over the lanes (an independent reference): the cheapest cost from the
    /// end of `from` to the end of every lane, each lane entered costing its whole travel time.
    fn dijkstra(net: &RoadNetwork, from: LaneId) -> Vec<f64> {
        let time: Vec<f64> = net
            .lanes
            .iter()
            .map(|l| l.length() / l.speed_limit_ms.max(0.1))
            .collect();
        let mut cost = vec![f64::INFINITY; net.lanes.len()];
        let mut done = vec![false; net.lanes.len()];
        for &n in net.successors(from) {
            cost[n.index()] = cost[n.index()].min(time[n.index()]);
        }
        loop {
            let next = (0..cost.len())
                .filter(|&i| !done[i] && cost[i].is_finite())
                .min_by(|&a, &b| cost[a].total_cmp(&cost[b]));
            let Some(i) = next else { break };
            done[i] = true;
            for &n in net.successors(LaneId(i as u32)) {
                let c = cost[i] + time[n.index()];
                if c < cost[n.index()] {
                    cost[n.index()] = c;
                }
            }
        }
        cost
    }

    /// Deterministic lane pairs spread over the network (a xorshift, seed fixed).
    fn pairs(lanes: usize, n: usize) -> Vec<(LaneId, LaneId)> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % lanes as u64) as u32
        };
        (0..n).map(|_| (LaneId(next()), LaneId(next()))).collect()
    }

    #[test]
    fn fastest_by_travel_time_not_by_distance() {
        let site = crossroad();
        let r = Router::new(&site.roads);
        let (cost, lanes) = r
            .route(LaneId(9), 10.0, LaneId(2), 100.0)
            .expect("reachable");
        // the 30 m/s detour (6, 7) beats the shorter straight lane 0 at 10 m/s
        assert_eq!(lanes, [9, 6, 7, 1, 2].map(LaneId));
        let t = |l: u32| {
            let lane = site.roads.lane(LaneId(l));
            lane.length() / lane.speed_limit_ms
        };
        assert!((cost - (t(6) + t(7) + t(1) + t(2))).abs() < 1e-9, "{cost}");
        assert!(t(6) + t(7) < t(0));
        // straight on when the detour does not help: from lane 0 to the end of the crossing
        let (_, lanes) = r
            .route(LaneId(0), 10.0, LaneId(2), 100.0)
            .expect("reachable");
        assert_eq!(lanes, [0, 1, 2].map(LaneId));
        // already there
        assert_eq!(
            r.route(LaneId(9), 10.0, LaneId(9), 50.0),
            Some((0.0, vec![LaneId(9)]))
        );
    }

    #[test]
    fn unreachable_targets_give_none() {
        let r = Router::new(&crossroad().roads);
        // the island
        assert_eq!(r.route(LaneId(9), 0.0, LaneId(8), 10.0), None);
        // E is a dead end: nothing leads back
        assert_eq!(r.route(LaneId(2), 0.0, LaneId(0), 10.0), None);
        // behind the truck on its own lane, with no loop to come round
        assert_eq!(r.route(LaneId(0), 100.0, LaneId(0), 50.0), None);
        // lanes the network does not have
        assert_eq!(r.route(LaneId(99), 0.0, LaneId(0), 10.0), None);
        assert_eq!(r.route(LaneId(0), 0.0, LaneId(99), 10.0), None);
    }

    #[test]
    fn the_heuristic_never_overestimates() {
        for site in [crossroad(), default_site()] {
            let r = Router::new(&site.roads);
            let top = site
                .roads
                .lanes
                .iter()
                .map(|l| l.speed_limit_ms)
                .fold(0.0, f64::max);
            assert!(r.top_speed >= top);
            let n = site.roads.lanes.len();
            for (from, _) in pairs(n, 60) {
                let cost = dijkstra(&site.roads, from);
                for (goal, c) in cost.iter().enumerate() {
                    let goal = NodeIndex::new(goal);
                    let h = r.estimate(NodeIndex::new(from.index()), goal);
                    assert!(h <= *c, "h {h} > cost {c} from {from} to {goal:?}");
                }
            }
        }
    }

    #[test]
    fn astar_agrees_with_dijkstra_on_the_default_site() {
        let site = default_site();
        let r = Router::new(&site.roads);
        let mut found = 0;
        for (from, to) in pairs(site.roads.lanes.len(), 400) {
            let reference = dijkstra(&site.roads, from)[to.index()];
            let got = r.route(from, 5.0, to, 1.0);
            if from == to {
                // round a loop back onto the same lane
                let cost = got.map_or(f64::INFINITY, |g| g.0);
                assert!(cost == reference || (cost - reference).abs() <= 1e-9 * reference);
                continue;
            }
            match got {
                Some((cost, lanes)) => {
                    assert!(
                        (cost - reference).abs() <= 1e-9 * reference.max(1.0),
                        "{from} → {to}: A* {cost} s, Dijkstra {reference} s"
                    );
                    assert_eq!((lanes[0], lanes[lanes.len() - 1]), (from, to));
                    for w in lanes.windows(2) {
                        assert!(site.roads.successors(w[0]).contains(&w[1]));
                    }
                    found += 1;
                }
                None => assert!(reference.is_infinite(), "{from} → {to} is reachable"),
            }
        }
        assert!(found > 300, "only {found} routes");
    }

    /// The heuristic changes how much of the graph is searched, not what is chosen: the same
    /// routes as the search without a heuristic (Dijkstra order, what the router did before).
    #[test]
    fn astar_chooses_the_routes_dijkstra_chose_on_the_default_site() {
        let site = default_site();
        let r = Router::new(&site.roads);
        for (from, to) in pairs(site.roads.lanes.len(), 400) {
            let astar = r.route(from, 5.0, to, 1.0);
            let plain = r.route_with(from, 5.0, to, 1.0, |_, _| 0.0);
            match (astar, plain) {
                (Some((a, la)), Some((b, lb))) => {
                    assert_eq!(la, lb, "{from} → {to}");
                    assert!(
                        (a - b).abs() <= 1e-9 * b.max(1.0),
                        "{from} → {to}: {a} / {b}"
                    );
                }
                (a, b) => assert_eq!(a, b, "{from} → {to}"),
            }
        }
    }
}
