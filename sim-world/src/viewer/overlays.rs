//! Overlays: a resource of toggles and one system per overlay, each drawing real data with
//! gizmos. To add an overlay: add a variant to [`OverlayKind`] (its key and name) and one
//! system gated by `overlay_on(kind)` in [`plugin`].
//!
//! - routes (`R`): each truck's assigned route from its position to the route's end;
//! - claims (`G`): the road each truck holds from the dispatcher (its block permission);
//! - queues (`Q`): trucks waiting at or being served by each loader and dump;
//! - links (`L`): each truck's serving gNB, coloured by downlink SINR;
//! - coverage (`H`): the best-server SINR heatmap (a mesh, see `radio`);
//! - points (`P`), detections (`D`), tracks (`K`): what the selected truck perceives (its
//!   last sweep coloured by height, its last detections, its tracks and the obstacle it
//!   stops for; the systems are in `perception`);
//! - candidates (`C`), costs (`V`), supervisor (`S`): the selected truck's plan (every
//!   candidate trajectory and the chosen one), slice 0 of its cost volume, and its safety
//!   supervisor's state (the systems are in `plan`).

use super::camera::Selection;
use super::perception;
use super::plan;
use super::radio::Radio;
use super::{to_bevy, ViewerSystems};
use crate::app::World as SimRes;
use bevy::prelude::*;
use site::protocol::{MissionState, Task};
use std::collections::BTreeSet;

/// The overlays there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OverlayKind {
    Routes,
    Claims,
    Queues,
    Links,
    Coverage,
    Points,
    Detections,
    Tracks,
    Candidates,
    Costs,
    Supervisor,
}

impl OverlayKind {
    pub const ALL: [OverlayKind; 11] = [
        OverlayKind::Routes,
        OverlayKind::Claims,
        OverlayKind::Queues,
        OverlayKind::Links,
        OverlayKind::Coverage,
        OverlayKind::Points,
        OverlayKind::Detections,
        OverlayKind::Tracks,
        OverlayKind::Candidates,
        OverlayKind::Costs,
        OverlayKind::Supervisor,
    ];

    /// The overlays of the selected truck's planning and supervisor.
    pub const PLANNING: [OverlayKind; 3] = [
        OverlayKind::Candidates,
        OverlayKind::Costs,
        OverlayKind::Supervisor,
    ];

    /// The overlays of the selected truck's perception.
    pub const PERCEPTION: [OverlayKind; 3] = [
        OverlayKind::Points,
        OverlayKind::Detections,
        OverlayKind::Tracks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OverlayKind::Routes => "routes",
            OverlayKind::Claims => "claims",
            OverlayKind::Queues => "queues",
            OverlayKind::Links => "links",
            OverlayKind::Coverage => "coverage",
            OverlayKind::Points => "points",
            OverlayKind::Detections => "detections",
            OverlayKind::Tracks => "tracks",
            OverlayKind::Candidates => "candidates",
            OverlayKind::Costs => "costs",
            OverlayKind::Supervisor => "supervisor",
        }
    }

    pub fn key(self) -> KeyCode {
        match self {
            OverlayKind::Routes => KeyCode::KeyR,
            OverlayKind::Claims => KeyCode::KeyG,
            OverlayKind::Queues => KeyCode::KeyQ,
            OverlayKind::Links => KeyCode::KeyL,
            OverlayKind::Coverage => KeyCode::KeyH,
            OverlayKind::Points => KeyCode::KeyP,
            OverlayKind::Detections => KeyCode::KeyD,
            // `T` is the top-down camera
            OverlayKind::Tracks => KeyCode::KeyK,
            OverlayKind::Candidates => KeyCode::KeyC,
            OverlayKind::Costs => KeyCode::KeyV,
            OverlayKind::Supervisor => KeyCode::KeyS,
        }
    }

    pub fn key_name(self) -> char {
        match self {
            OverlayKind::Routes => 'R',
            OverlayKind::Claims => 'G',
            OverlayKind::Queues => 'Q',
            OverlayKind::Links => 'L',
            OverlayKind::Coverage => 'H',
            OverlayKind::Points => 'P',
            OverlayKind::Detections => 'D',
            OverlayKind::Tracks => 'K',
            OverlayKind::Candidates => 'C',
            OverlayKind::Costs => 'V',
            OverlayKind::Supervisor => 'S',
        }
    }

    /// Parses a comma-separated list (`routes,claims,...`, `all`, or empty for none).
    pub fn parse_list(s: &str) -> Result<Vec<OverlayKind>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(OverlayKind::ALL);
                continue;
            }
            let k = OverlayKind::ALL
                .into_iter()
                .find(|k| k.name() == part)
                .ok_or_else(|| {
                    let names: Vec<&str> = OverlayKind::ALL.iter().map(|k| k.name()).collect();
                    format!("unknown overlay '{part}' ({}, all)", names.join(", "))
                })?;
            out.push(k);
        }
        Ok(out)
    }
}

/// Which overlays are on.
#[derive(Resource, Clone, Debug, Default)]
pub struct Overlays {
    on: BTreeSet<OverlayKind>,
}

impl Overlays {
    pub fn with(kinds: &[OverlayKind]) -> Overlays {
        Overlays {
            on: kinds.iter().copied().collect(),
        }
    }
    pub fn is_on(&self, k: OverlayKind) -> bool {
        self.on.contains(&k)
    }
    pub fn toggle(&mut self, k: OverlayKind) {
        if !self.on.remove(&k) {
            self.on.insert(k);
        }
    }
}

/// Run condition: the overlay is on.
pub fn overlay_on(k: OverlayKind) -> impl Fn(Res<Overlays>) -> bool + Clone {
    move |o: Res<Overlays>| o.is_on(k)
}

fn keys(keys: Res<ButtonInput<KeyCode>>, mut overlays: ResMut<Overlays>) {
    for k in OverlayKind::ALL {
        if keys.just_pressed(k.key()) {
            overlays.toggle(k);
        }
    }
}

const LIFT: f64 = 2.0;

fn lifted(p: [f64; 3], dz: f64) -> Vec3 {
    to_bevy([p[0], p[1], p[2] + dz])
}

/// Empty trucks' routes cyan, loaded ones orange; the selected truck's brighter and higher.
fn draw_routes(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let net = &sim.0.site.roads;
    for t in &sim.0.trucks {
        let Some(route) = t.brain.route() else {
            continue;
        };
        let selected = sel.0 == Some(t.id.0);
        let loaded = t.payload_t > 1.0;
        let colour = match (loaded, selected) {
            (_, true) => Color::srgb(1.0, 0.2, 1.0),
            (true, false) => Color::srgba(1.0, 0.55, 0.1, 0.8),
            (false, false) => Color::srgba(0.2, 0.85, 1.0, 0.8),
        };
        let lift = if selected { LIFT + 1.0 } else { LIFT };
        let from = t.brain.progress().max(0.0);
        let to = route.length;
        let n = ((to - from) / 10.0).ceil().max(1.0) as usize;
        gizmos.linestrip(
            (0..=n).map(|k| {
                let d = from + (to - from) * k as f64 / n as f64;
                lifted(route.point_at(d, net).pos, lift)
            }),
            colour,
        );
    }
}

/// Each truck's claim: the stretches of lane it holds. Green, red when the truck is lost.
fn draw_claims(sim: Res<SimRes>, mut gizmos: Gizmos) {
    let net = &sim.0.site.roads;
    for v in sim.0.dispatcher.trucks().values() {
        let colour = if v.lost {
            Color::srgb(1.0, 0.1, 0.1)
        } else {
            Color::srgb(0.1, 1.0, 0.25)
        };
        for (lane, a, b) in &v.claim.stretches {
            let lane = net.lane(*lane);
            let (a, b) = (a.min(*b), a.max(*b));
            let n = ((b - a) / 4.0).ceil().max(1.0) as usize;
            gizmos.linestrip(
                (0..=n).map(|k| {
                    lifted(
                        lane.point_at(a + (b - a) * k as f64 / n as f64).pos,
                        LIFT + 0.5,
                    )
                }),
                colour,
            );
        }
    }
}

/// Who waits where: per loader and dump, a line from every truck queued for it or being
/// served to the machine, and a column whose height is the queue length.
pub fn queues(sim: &crate::SimWorld) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut at_loader = vec![Vec::new(); sim.site.loaders.len()];
    let mut at_dump = vec![Vec::new(); sim.site.dumps.len()];
    for (i, t) in sim.trucks.iter().enumerate() {
        match (t.brain.state(), t.brain.task()) {
            (
                MissionState::QueueLoader | MissionState::Spotting | MissionState::Loading,
                Some(Task::Load { loader }),
            ) => {
                if let Some(q) = at_loader.get_mut(loader.0 as usize) {
                    q.push(i);
                }
            }
            (MissionState::QueueDump | MissionState::Dumping, Some(Task::Dump { dump })) => {
                if let Some(q) = at_dump.get_mut(dump.0 as usize) {
                    q.push(i);
                }
            }
            _ => {}
        }
    }
    (at_loader, at_dump)
}

fn draw_queues(sim: Res<SimRes>, mut gizmos: Gizmos) {
    let w = &sim.0;
    let (at_loader, at_dump) = queues(w);
    let site = &w.site;
    let mut draw = |anchor: [f64; 3], trucks: &[usize], colour: Color| {
        let top = lifted(anchor, 12.0 + 8.0 * trucks.len() as f64);
        gizmos.line(lifted(anchor, 0.0), top, colour);
        for k in 0..trucks.len() {
            gizmos.sphere(
                Isometry3d::from_translation(lifted(anchor, 16.0 + 8.0 * k as f64)),
                2.5,
                colour,
            );
        }
        for &i in trucks {
            let p = w.physics.state(w.trucks[i].body).pos;
            gizmos.line(lifted(p, 8.0), lifted(anchor, 12.0), colour);
        }
    };
    for (l, q) in site.loaders.iter().zip(&at_loader) {
        let z = site.terrain.height_at(l.pos[0], l.pos[1]);
        draw([l.pos[0], l.pos[1], z], q, Color::srgb(1.0, 0.3, 0.1));
    }
    for (d, q) in site.dumps.iter().zip(&at_dump) {
        let s = d.spots_s.first().copied().unwrap_or(0.0);
        let p = site.roads.lane(d.lane).point_at(s).pos;
        draw(p, q, Color::srgb(0.7, 0.3, 1.0));
    }
}

/// SINR colour of a link.
fn sinr_colour(radio: &Radio, sinr_db: f64) -> Color {
    let c = radio.scale.colour(sinr_db as f32);
    Color::srgb_u8(c[0], c[1], c[2])
}

fn draw_links(sim: Res<SimRes>, radio: Res<Radio>, sel: Res<Selection>, mut gizmos: Gizmos) {
    for (i, l) in radio.links.iter().enumerate() {
        let (Some(l), Some(t)) = (l, sim.0.trucks.get(i)) else {
            continue;
        };
        let p = sim.0.physics.state(t.body).pos;
        let ground = sim.0.site.terrain.height_at(p[0], p[1]);
        let from = to_bevy([p[0], p[1], ground + 8.0]);
        let to = to_bevy(l.antenna);
        let c = sinr_colour(&radio, l.sinr_db);
        gizmos.line(from, to, c);
        if sel.0 == Some(i as u32) {
            gizmos.sphere(Isometry3d::from_translation(to), 6.0, c);
        }
    }
}

/// The selected truck is ringed in every view.
fn draw_selection(sim: Res<SimRes>, sel: Res<Selection>, mut gizmos: Gizmos) {
    let Some(t) = sel.0.and_then(|i| sim.0.trucks.get(i as usize)) else {
        return;
    };
    let p = sim.0.physics.state(t.body).pos;
    let g = sim.0.site.terrain.height_at(p[0], p[1]);
    gizmos.circle(
        Isometry3d::new(
            to_bevy([p[0], p[1], g + 1.0]),
            Quat::from_rotation_x(std::f32::consts::FRAC_PI_2),
        ),
        12.0,
        Color::srgb(1.0, 0.2, 1.0),
    );
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Overlays>();
    app.add_systems(Update, keys.in_set(ViewerSystems::Input));
    app.add_systems(
        Update,
        (
            draw_routes.run_if(overlay_on(OverlayKind::Routes)),
            draw_claims.run_if(overlay_on(OverlayKind::Claims)),
            draw_queues.run_if(overlay_on(OverlayKind::Queues)),
            draw_links.run_if(overlay_on(OverlayKind::Links)),
            perception::draw_points.run_if(overlay_on(OverlayKind::Points)),
            perception::draw_detections.run_if(overlay_on(OverlayKind::Detections)),
            perception::draw_tracks.run_if(overlay_on(OverlayKind::Tracks)),
            plan::draw_costs.run_if(overlay_on(OverlayKind::Costs)),
            plan::draw_candidates.run_if(overlay_on(OverlayKind::Candidates)),
            plan::draw_supervisor.run_if(overlay_on(OverlayKind::Supervisor)),
            draw_selection,
        )
            .in_set(ViewerSystems::Draw),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lists_parse() {
        assert_eq!(
            OverlayKind::parse_list("routes, links"),
            Ok(vec![OverlayKind::Routes, OverlayKind::Links])
        );
        assert_eq!(
            OverlayKind::parse_list("points,detections, tracks"),
            Ok(OverlayKind::PERCEPTION.to_vec())
        );
        let all = OverlayKind::parse_list("all").unwrap_or_default();
        assert_eq!(all.len(), 11);
        assert_eq!(
            OverlayKind::parse_list("candidates,costs,supervisor"),
            Ok(OverlayKind::PLANNING.to_vec())
        );
        for k in OverlayKind::PERCEPTION
            .into_iter()
            .chain(OverlayKind::PLANNING)
        {
            assert!(all.contains(&k), "{k:?} not in all");
        }
        assert_eq!(OverlayKind::parse_list(""), Ok(vec![]));
        let e = OverlayKind::parse_list("roads").unwrap_err();
        assert!(e.contains("points, detections, tracks"), "{e}");
    }

    #[test]
    fn overlay_keys_are_distinct_and_leave_the_camera_keys_alone() {
        let keys: BTreeSet<char> = OverlayKind::ALL.iter().map(|k| k.key_name()).collect();
        assert_eq!(keys.len(), OverlayKind::ALL.len());
        // camera and clock keys
        for camera in ['F', 'T', 'O', 'N'] {
            assert!(!keys.contains(&camera), "{camera} is a camera key");
        }
    }

    #[test]
    fn toggles_flip() {
        let mut o = Overlays::default();
        o.toggle(OverlayKind::Claims);
        assert!(o.is_on(OverlayKind::Claims));
        o.toggle(OverlayKind::Claims);
        assert!(!o.is_on(OverlayKind::Claims));
    }
}
