//! The road network: nodes joined by directed lanes. A lane is the driving line of one
//! direction of a road (or of a connector inside an intersection, or of a one-way loop);
//! lanes meet exactly at nodes, so a route is a continuous path.

use crate::ids::{IntersectionId, LaneId, NodeId};
use crate::terrain::Heightfield;

/// A point where lanes meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    pub pos: [f64; 2],
}

/// A sampled point of a lane's driving line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathPoint {
    pub pos: [f64; 3],
    /// Heading, radians, counter-clockwise from +x.
    pub heading: f64,
    /// Grade (rise over run) of the segment, positive uphill in the driving direction.
    pub grade: f64,
    /// Signed curvature, 1/m, positive turning left.
    pub curvature: f64,
}

/// What a lane is, apart from its geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneDef {
    pub id: LaneId,
    pub from: NodeId,
    pub to: NodeId,
    pub width_m: f64,
    pub speed_limit_ms: f64,
    pub intersection: Option<IntersectionId>,
}

/// A directed lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub id: LaneId,
    pub from: NodeId,
    pub to: NodeId,
    pub width_m: f64,
    pub speed_limit_ms: f64,
    /// Intersection this lane is a connector of, if any.
    pub intersection: Option<IntersectionId>,
    /// The driving line with heights taken from the carved terrain.
    pub points: Vec<[f64; 3]>,
    /// Cumulative horizontal distance at each point.
    pub s: Vec<f64>,
    /// Curvature at each point (smoothed over ±`CURVATURE_BASE_M`).
    pub curvature: Vec<f64>,
}

/// Half the chord used to estimate curvature, metres.
const CURVATURE_BASE_M: f64 = 6.0;

impl Lane {
    /// Builds a lane from its plan-view points, taking heights from `terrain`.
    pub fn new(def: LaneDef, xy: &[[f64; 2]], terrain: &Heightfield) -> Lane {
        let LaneDef {
            id,
            from,
            to,
            width_m,
            speed_limit_ms,
            intersection,
        } = def;
        let points: Vec<[f64; 3]> = xy
            .iter()
            .map(|p| [p[0], p[1], terrain.height_at(p[0], p[1])])
            .collect();
        let mut s = Vec::with_capacity(points.len());
        let mut acc = 0.0;
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                let q = points[i - 1];
                acc += ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
            }
            s.push(acc);
        }
        let mut lane = Lane {
            id,
            from,
            to,
            width_m,
            speed_limit_ms,
            intersection,
            points,
            s,
            curvature: Vec::new(),
        };
        lane.curvature = (0..lane.points.len())
            .map(|i| {
                let si = lane.s[i];
                let a = lane.heading_at((si - CURVATURE_BASE_M).max(0.0));
                let b = lane.heading_at((si + CURVATURE_BASE_M).min(lane.length()));
                let ds =
                    (si + CURVATURE_BASE_M).min(lane.length()) - (si - CURVATURE_BASE_M).max(0.0);
                if ds > 1e-6 {
                    wrap_angle(b - a) / ds
                } else {
                    0.0
                }
            })
            .collect();
        lane
    }

    pub fn length(&self) -> f64 {
        self.s.last().copied().unwrap_or(0.0)
    }

    fn segment(&self, s: f64) -> usize {
        let n = self.points.len();
        if n < 2 {
            return 0;
        }
        match self.s.binary_search_by(|v| v.total_cmp(&s)) {
            Ok(i) => i.min(n - 2),
            Err(i) => i.saturating_sub(1).min(n - 2),
        }
    }

    fn heading_at(&self, s: f64) -> f64 {
        let i = self.segment(s);
        let (p, q) = (self.points[i], self.points[i + 1]);
        (q[1] - p[1]).atan2(q[0] - p[0])
    }

    /// The driving line at distance `s` (clamped to the lane).
    pub fn point_at(&self, s: f64) -> PathPoint {
        let s = s.clamp(0.0, self.length());
        let i = self.segment(s);
        let (p, q) = (self.points[i], self.points[i + 1]);
        let seg = (self.s[i + 1] - self.s[i]).max(1e-9);
        let t = ((s - self.s[i]) / seg).clamp(0.0, 1.0);
        let pos = [
            p[0] + (q[0] - p[0]) * t,
            p[1] + (q[1] - p[1]) * t,
            p[2] + (q[2] - p[2]) * t,
        ];
        PathPoint {
            pos,
            heading: (q[1] - p[1]).atan2(q[0] - p[0]),
            grade: (q[2] - p[2]) / seg,
            curvature: self.curvature[i] + (self.curvature[i + 1] - self.curvature[i]) * t,
        }
    }

    /// Projects a plan-view point onto the lane within `[s_lo, s_hi]`: `(s, squared distance)`.
    pub fn project(&self, xy: [f64; 2], s_lo: f64, s_hi: f64) -> (f64, f64) {
        let mut best = (s_lo.clamp(0.0, self.length()), f64::INFINITY);
        for i in 0..self.points.len().saturating_sub(1) {
            if self.s[i + 1] < s_lo || self.s[i] > s_hi {
                continue;
            }
            let (p, q) = (self.points[i], self.points[i + 1]);
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let len2 = (dx * dx + dy * dy).max(1e-12);
            let t = (((xy[0] - p[0]) * dx + (xy[1] - p[1]) * dy) / len2).clamp(0.0, 1.0);
            let cx = p[0] + t * dx;
            let cy = p[1] + t * dy;
            let d2 = (xy[0] - cx).powi(2) + (xy[1] - cy).powi(2);
            let s = (self.s[i] + t * (self.s[i + 1] - self.s[i])).clamp(s_lo, s_hi);
            if d2 < best.1 {
                best = (s, d2);
            }
        }
        best
    }

    /// True for a one-way loop (starts and ends at the same node).
    pub fn is_loop(&self) -> bool {
        self.from == self.to
    }
}

/// Wraps an angle to (-π, π].
pub fn wrap_angle(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    } else if a <= -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    }
    a
}

/// Nodes, lanes and the lane graph.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadNetwork {
    pub nodes: Vec<Node>,
    pub lanes: Vec<Lane>,
    /// For each lane, the lanes a vehicle may continue onto at its end.
    pub successors: Vec<Vec<LaneId>>,
}

impl RoadNetwork {
    /// Builds the lane graph. A lane continues onto every lane that starts at its end node,
    /// except its own reverse (no U-turns on a two-way road; loops turn vehicles around).
    pub fn new(nodes: Vec<Node>, lanes: Vec<Lane>) -> RoadNetwork {
        let mut starting: Vec<Vec<LaneId>> = vec![Vec::new(); nodes.len()];
        for l in &lanes {
            if let Some(v) = starting.get_mut(l.from.index()) {
                v.push(l.id);
            }
        }
        let successors = lanes
            .iter()
            .map(|l| {
                starting
                    .get(l.to.index())
                    .map(|v| {
                        v.iter()
                            .copied()
                            .filter(|&n| {
                                let m = &lanes[n.index()];
                                l.is_loop() || !(m.to == l.from && m.from == l.to)
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        RoadNetwork {
            nodes,
            lanes,
            successors,
        }
    }

    pub fn lane(&self, id: LaneId) -> &Lane {
        &self.lanes[id.index()]
    }

    pub fn successors(&self, id: LaneId) -> &[LaneId] {
        &self.successors[id.index()]
    }

    /// Lanes from which every lane can be reached and which reach every lane (the lane
    /// graph is strongly connected) — `Err(lane)` names one that is not.
    pub fn check_strongly_connected(&self) -> Result<(), LaneId> {
        let n = self.lanes.len();
        if n == 0 {
            return Ok(());
        }
        let reach = |forward: bool| {
            let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
            if !forward {
                for (i, s) in self.successors.iter().enumerate() {
                    for &j in s {
                        preds[j.index()].push(i);
                    }
                }
            }
            let mut seen = vec![false; n];
            let mut stack = vec![0usize];
            seen[0] = true;
            while let Some(i) = stack.pop() {
                let next: Vec<usize> = if forward {
                    self.successors[i].iter().map(|l| l.index()).collect()
                } else {
                    preds[i].clone()
                };
                for j in next {
                    if !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            seen
        };
        for seen in [reach(true), reach(false)] {
            if let Some(i) = seen.iter().position(|s| !s) {
                return Err(LaneId(i as u32));
            }
        }
        Ok(())
    }
}
