//! The selected truck's planning and safety supervisor in the viewer. The overlays (systems
//! gated by `overlay_on`, registered in `overlays`) draw the truck's latest plan as the
//! planner made it, in the route frame it was made in (route distance `s`, lateral offset `d`,
//! positive left) moved onto the truck's route:
//! - candidates (`C`): every candidate of the lattice (lateral offsets × speed profiles) over
//!   its horizon and braking tail; non-lethal ones shaded by rank from [`CHEAPEST`] to
//!   [`DEAREST`], lethal ones (an obstacle cell or past the stopping boundary) in [`LETHAL`];
//!   the chosen one in [`CHOSEN`], drawn higher with a post at its end (at its rest point
//!   for a stopping profile);
//! - costs (`V`): slice 0 of the cost volume the model computed on the NPU, a cross per cell
//!   with cost, coloured by [`cost_colour`] (soft costs blue to amber, lethal cells red);
//! - supervisor (`S`): a ring over the truck in its level's colour ([`level_colour`]: clear,
//!   slow, stop, brake; latched stops violet), the permission end as a bar across the lane,
//!   the supervisor's own stop point (a track in the corridor) as a red bar.
//!
//! A plan is drawn only while it is the one the truck follows (made on its current route).

use super::camera::Selection;
use super::to_bevy;
use crate::app::World as SimRes;
use bevy::prelude::*;
use site::road::RoadNetwork;
use site::route::RoutePath;
use vehicle::planner::{col_d, row_s, Plan, D_CELLS, LETHAL_THRESHOLD, S_CELLS};
use vehicle::supervisor::Level;

/// The cheapest non-lethal candidate's colour (sRGB), and the dearest one's.
pub const CHEAPEST: [f32; 3] = [0.10, 1.00, 0.25];
pub const DEAREST: [f32; 3] = [0.95, 0.95, 0.10];
/// Lethal candidates.
pub const LETHAL: [f32; 3] = [0.80, 0.10, 0.10];
/// The chosen candidate.
pub const CHOSEN: [f32; 3] = [1.00, 1.00, 1.00];
/// Height of the candidates above the ground, m (the chosen one [`CHOSEN_LIFT_M`] higher).
const CANDIDATE_LIFT_M: f64 = 0.6;
const CHOSEN_LIFT_M: f64 = 0.4;
/// Height of the cost crosses above the ground, m.
const COST_LIFT_M: f64 = 0.25;
/// A cell is drawn from this cost on.
pub const COST_MIN: f32 = 0.05;
/// The soft-cost colour ramp ends here (the largest proximity plus lane-edge costs).
pub const COST_SCALE: f32 = 12.0;
/// Soft-cost ramp: low, high (sRGB).
pub const COST_LOW: [f32; 3] = [0.15, 0.35, 1.00];
pub const COST_HIGH: [f32; 3] = [1.00, 0.60, 0.05];
/// Lethal cells.
pub const COST_LETHAL: [f32; 3] = [1.00, 0.05, 0.05];

fn rgb(c: [f32; 3]) -> Color {
    Color::srgb(c[0], c[1], c[2])
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // exact at the ends (t = 0 or 1)
    [
        a[0] * (1.0 - t) + b[0] * t,
        a[1] * (1.0 - t) + b[1] * t,
        a[2] * (1.0 - t) + b[2] * t,
    ]
}

/// Colour of a cell of the cost volume: `None` below [`COST_MIN`] (and for non-finite costs),
/// [`COST_LETHAL`] from [`LETHAL_THRESHOLD`], else the soft ramp over [`COST_SCALE`].
pub fn cost_colour(c: f32) -> Option<[f32; 3]> {
    if !c.is_finite() || c < COST_MIN {
        None
    } else if c >= LETHAL_THRESHOLD {
        Some(COST_LETHAL)
    } else {
        Some(mix(COST_LOW, COST_HIGH, c / COST_SCALE))
    }
}

/// Colour of a supervisor level (sRGB); a latched stop (e-stop, link loss) is violet whatever
/// the level.
pub fn level_colour(level: Level, latched: bool) -> [f32; 3] {
    if latched {
        return [0.65, 0.20, 1.00];
    }
    match level {
        Level::Clear => [0.10, 0.90, 0.30],
        Level::Slow => [1.00, 0.75, 0.05],
        Level::Stop => [1.00, 0.20, 0.10],
        Level::Brake => [1.00, 0.00, 0.60],
    }
}

/// The candidates' order by cost: rank `0..n` of every candidate among the non-lethal ones
/// (`None` for lethal ones) and the number of non-lethal ones.
pub fn ranks(plan: &Plan) -> (Vec<Option<usize>>, usize) {
    let mut ok: Vec<(usize, f64)> = plan
        .candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.lethal)
        .map(|(i, c)| (i, c.cost))
        .collect();
    ok.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut out = vec![None; plan.candidates.len()];
    for (r, (i, _)) in ok.iter().enumerate() {
        out[*i] = Some(r);
    }
    (out, ok.len())
}

/// A route-frame point (route distance `s`, offset `d` left) in the site frame, `lift` m over
/// the ground.
fn route_point(
    route: &RoutePath,
    net: &RoadNetwork,
    site: &site::Site,
    s: f64,
    d: f64,
    lift: f64,
) -> Vec3 {
    let p = route.point_at(s, net);
    let (sn, cs) = p.heading.sin_cos();
    let (x, y) = (p.pos[0] - sn * d, p.pos[1] + cs * d);
    to_bevy([x, y, site.terrain.height_at(x, y) + lift])
}

/// The selected truck, its route and the plan it follows (made on that route).
fn followed<'a>(w: &'a crate::SimWorld, sel: &Selection) -> Option<(usize, &'a Plan)> {
    let i = sel.0? as usize;
    let t = w.trucks.get(i)?;
    let plan = w.planning.as_ref()?.trucks.get(i)?.latest.as_ref()?;
    let f = t.brain.plan()?;
    (f.made == plan.time && Some(f.route) == t.brain.route_id()).then_some((i, plan))
}

pub(super) fn draw_candidates(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let w = &sim.0;
    let Some((i, plan)) = followed(w, &sel) else {
        return;
    };
    let Some(route) = w.trucks[i].brain.route() else {
        return;
    };
    let (net, site) = (&w.site.roads, &*w.site);
    let (rank, n_ok) = ranks(plan);
    for (k, c) in plan.candidates.iter().enumerate() {
        if k == plan.chosen {
            continue;
        }
        let colour = match rank[k] {
            None => rgb(LETHAL).with_alpha(0.6),
            Some(r) => rgb(mix(CHEAPEST, DEAREST, r as f32 / (n_ok.max(2) - 1) as f32)),
        };
        gizmos.linestrip(
            c.points
                .iter()
                .map(|p| route_point(route, net, site, p.s_m, p.d_m, CANDIDATE_LIFT_M)),
            colour,
        );
    }
    let Some(c) = plan.chosen_candidate() else {
        return;
    };
    let lift = CANDIDATE_LIFT_M + CHOSEN_LIFT_M;
    let white = rgb(CHOSEN);
    gizmos.linestrip(
        c.points
            .iter()
            .map(|p| route_point(route, net, site, p.s_m, p.d_m, lift)),
        white,
    );
    let end_s = if c.profile.is_stop() {
        c.stop_s_m
    } else {
        c.points.last().map_or(c.stop_s_m, |p| p.s_m)
    };
    let end_d = c.points.last().map_or(c.offset_m, |p| p.d_m);
    let base = route_point(route, net, site, end_s, end_d, lift);
    gizmos.line(base, base + Vec3::Y * 4.0, white);
}

pub(super) fn draw_costs(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let w = &sim.0;
    let Some((i, plan)) = followed(w, &sel) else {
        return;
    };
    let Some(route) = w.trucks[i].brain.route() else {
        return;
    };
    let (net, site) = (&w.site.roads, &*w.site);
    if plan.cost_slice0.len() != S_CELLS * D_CELLS {
        return;
    }
    for si in 0..S_CELLS {
        let s = row_s(plan.grid_origin_m, si);
        if s < 0.0 || s > route.length {
            continue;
        }
        for dj in 0..D_CELLS {
            let Some(c) = cost_colour(plan.cost_slice0[si * D_CELLS + dj]) else {
                continue;
            };
            let d = col_d(dj);
            let colour = rgb(c);
            // a cross over the cell: 1 m along the road, 0.5 m across
            gizmos.line(
                route_point(route, net, site, s - 0.45, d, COST_LIFT_M),
                route_point(route, net, site, s + 0.45, d, COST_LIFT_M),
                colour,
            );
            gizmos.line(
                route_point(route, net, site, s, d - 0.22, COST_LIFT_M),
                route_point(route, net, site, s, d + 0.22, COST_LIFT_M),
                colour,
            );
        }
    }
}

/// A bar across the lane at route distance `s`, `half` m each side, with posts.
fn bar(gizmos: &mut Gizmos, w: &crate::SimWorld, route: &RoutePath, s: f64, half: f64, c: Color) {
    let (net, site) = (&w.site.roads, &*w.site);
    let a = route_point(route, net, site, s, half, 0.5);
    let b = route_point(route, net, site, s, -half, 0.5);
    gizmos.line(a, b, c);
    gizmos.line(a, a + Vec3::Y * 3.0, c);
    gizmos.line(b, b + Vec3::Y * 3.0, c);
    gizmos.line(a + Vec3::Y * 3.0, b + Vec3::Y * 3.0, c);
}

pub(super) fn draw_supervisor(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let w = &sim.0;
    let Some(t) = sel.0.and_then(|i| w.trucks.get(i as usize)) else {
        return;
    };
    let v = t.brain.verdict();
    let latched = t.brain.supervisor().latched();
    let colour = rgb(level_colour(v.level, latched));
    let p = w.physics.state(t.body).pos;
    let g = w.site.terrain.height_at(p[0], p[1]);
    for (r, h) in [(9.0, 7.5), (9.5, 7.7)] {
        gizmos.circle(
            Isometry3d::new(
                to_bevy([p[0], p[1], g + h]),
                Quat::from_rotation_x(std::f32::consts::FRAC_PI_2),
            ),
            r,
            colour,
        );
    }
    let Some(route) = t.brain.route() else {
        return;
    };
    let half = 0.5 * t.brain.params.width_m + 1.5;
    let end = t.brain.progress() + t.brain.permission_left();
    if end.is_finite() && end <= route.length {
        bar(
            &mut gizmos,
            w,
            route,
            end,
            half,
            Color::srgb(0.1, 1.0, 0.25),
        );
    }
    if let Some(s) = v.stop_point.filter(|s| s.is_finite()) {
        bar(&mut gizmos, w, route, s, half, Color::srgb(1.0, 0.05, 0.05));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_colours_skip_free_cells_and_mark_lethal_ones() {
        assert_eq!(cost_colour(0.0), None);
        assert_eq!(cost_colour(f32::NAN), None);
        assert_eq!(cost_colour(LETHAL_THRESHOLD), Some(COST_LETHAL));
        assert_eq!(cost_colour(COST_SCALE), Some(COST_HIGH));
        let low = cost_colour(COST_MIN).unwrap_or_default();
        assert!(low[2] > 0.9 && low[0] < 0.2, "{low:?}");
    }

    fn candidate(cost: f64, lethal: bool) -> vehicle::planner::Candidate {
        vehicle::planner::Candidate {
            offset_m: 0.0,
            profile: vehicle::planner::SpeedProfile::Hold,
            points: Vec::new(),
            stop_s_m: 0.0,
            volume_cost: 0.0,
            cost,
            lethal,
        }
    }

    #[test]
    fn ranks_order_the_non_lethal_candidates_by_cost() {
        let plan = Plan {
            time: site::SimTime(0),
            chosen: 2,
            target_offset_m: 0.0,
            target_speed_mps: 0.0,
            points: Vec::new(),
            candidates: vec![
                candidate(5.0, false),
                candidate(-100.0, true),
                candidate(-1.0, false),
                candidate(5.0, false),
            ],
            cost_slice0: Vec::new(),
            grid_origin_m: 0.0,
            slice0_offset_s: 0.0,
        };
        // a lethal candidate has no rank however cheap; ties keep lattice order
        assert_eq!(ranks(&plan), (vec![Some(1), None, Some(0), Some(2)], 3));
    }

    #[test]
    fn levels_have_distinct_colours_and_latched_stops_read_apart() {
        let all = [Level::Clear, Level::Slow, Level::Stop, Level::Brake];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(level_colour(*a, false), level_colour(*b, false));
            }
            assert_ne!(level_colour(*a, false), level_colour(*a, true));
        }
    }
}
