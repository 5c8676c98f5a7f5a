//! Routes: a sequence of lanes from a start offset on the first lane to an end offset on the
//! last. Route distance `d` is measured from the start point; trucks and dispatcher both use
//! [`RoutePath`] to turn distances into lane positions and back, so they agree exactly.

use crate::ids::{IntersectionId, LaneId, RouteId};
use crate::road::{PathPoint, RoadNetwork};
use serde::{Deserialize, Serialize};

/// A route as sent to a truck.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub id: RouteId,
    pub lanes: Vec<LaneId>,
    /// Offset on the first lane where route distance 0 lies.
    pub start_s: f64,
    /// Offset on the last lane where the route ends (the truck's centre stops there).
    pub end_s: f64,
}

/// Stretch of a route inside an intersection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZoneSpan {
    pub intersection: IntersectionId,
    pub lane: LaneId,
    pub d_in: f64,
    pub d_out: f64,
}

/// A route resolved against the road network.
#[derive(Clone, Debug, PartialEq)]
pub struct RoutePath {
    pub route: Route,
    /// Route distance at `s = 0` of each lane.
    pub offsets: Vec<f64>,
    pub length: f64,
    pub zones: Vec<ZoneSpan>,
}

/// Why a route does not fit the network.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("route has no lanes")]
    Empty,
    #[error("route names lane {0}, which the site does not have")]
    UnknownLane(LaneId),
    #[error("lane {1} does not follow lane {0}")]
    NotConnected(LaneId, LaneId),
    #[error("route offsets lie outside their lanes or run backwards")]
    BadOffsets,
}

impl RoutePath {
    pub fn new(route: Route, net: &RoadNetwork) -> Result<RoutePath, RouteError> {
        if route.lanes.is_empty() {
            return Err(RouteError::Empty);
        }
        for &l in &route.lanes {
            if l.index() >= net.lanes.len() {
                return Err(RouteError::UnknownLane(l));
            }
        }
        for w in route.lanes.windows(2) {
            if !net.successors(w[0]).contains(&w[1]) {
                return Err(RouteError::NotConnected(w[0], w[1]));
            }
        }
        let first = net.lane(route.lanes[0]);
        let last = net.lane(route.lanes[route.lanes.len() - 1]);
        let ok_start = route.start_s.is_finite() && (0.0..=first.length()).contains(&route.start_s);
        let ok_end = route.end_s.is_finite() && (0.0..=last.length()).contains(&route.end_s);
        if !ok_start || !ok_end || (route.lanes.len() == 1 && route.end_s < route.start_s) {
            return Err(RouteError::BadOffsets);
        }
        let mut offsets = Vec::with_capacity(route.lanes.len());
        let mut acc = -route.start_s;
        let mut zones = Vec::new();
        for &l in &route.lanes {
            offsets.push(acc);
            let lane = net.lane(l);
            if let Some(x) = lane.intersection {
                zones.push(ZoneSpan {
                    intersection: x,
                    lane: l,
                    d_in: acc.max(0.0),
                    d_out: acc + lane.length(),
                });
            }
            acc += lane.length();
        }
        let length = offsets[offsets.len() - 1] + route.end_s;
        Ok(RoutePath {
            route,
            offsets,
            length,
            zones,
        })
    }

    /// Index of the lane holding route distance `d` (clamped to the route).
    pub fn lane_index(&self, d: f64) -> usize {
        let d = d.clamp(0.0, self.length);
        match self.offsets.binary_search_by(|o| o.total_cmp(&d)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// `(lane, s)` at route distance `d`.
    pub fn locate(&self, d: f64) -> (LaneId, f64) {
        let i = self.lane_index(d);
        (
            self.route.lanes[i],
            d.clamp(0.0, self.length) - self.offsets[i],
        )
    }

    pub fn point_at(&self, d: f64, net: &RoadNetwork) -> PathPoint {
        let (l, s) = self.locate(d);
        net.lane(l).point_at(s)
    }

    /// Projects a plan-view position onto the route, searching `[d_lo, d_hi]`.
    pub fn project(&self, xy: [f64; 2], d_lo: f64, d_hi: f64, net: &RoadNetwork) -> (f64, f64) {
        let d_lo = d_lo.clamp(0.0, self.length);
        let d_hi = d_hi.clamp(d_lo, self.length);
        let mut best = (d_lo, f64::INFINITY);
        for i in self.lane_index(d_lo)..=self.lane_index(d_hi) {
            let o = self.offsets[i];
            let lane = net.lane(self.route.lanes[i]);
            let (s, d2) = lane.project(xy, d_lo - o, d_hi - o);
            if d2 < best.1 {
                best = (o + s, d2);
            }
        }
        best
    }

    /// The lane stretches covered by route distances `[a, b]`: `(lane, s0, s1)`. Parts before
    /// the route start or after its end are cut off.
    pub fn stretches(&self, a: f64, b: f64, net: &RoadNetwork) -> Vec<(LaneId, f64, f64)> {
        let mut out = Vec::new();
        for (i, &l) in self.route.lanes.iter().enumerate() {
            let o = self.offsets[i];
            let len = net.lane(l).length();
            let lo = (a - o)
                .max(0.0)
                .max(if i == 0 { self.route.start_s } else { 0.0 });
            let hi = (b - o).min(len);
            if hi > lo + 1e-6 {
                out.push((l, lo, hi));
            }
        }
        out
    }
}
