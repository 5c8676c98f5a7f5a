//! On-screen text: the sim clock, the speed asked and achieved (real-time factor), frame time,
//! the overlays and keys; the inspector of the selected truck (state, speed, payload, distance
//! to its permission end, link SINR and RTT, its perception's figures when perception is on,
//! its plan and supervisor when planning is on, recent events); the colour key of the
//! perception and planning overlays while one of them is on.
//!
//! Recent events are recorded by a system in the `SimStep` schedule (after the pose sync), so
//! that no step is missed however many run per frame: changes of mission state, task, route
//! and permission per truck.

use super::camera::{CameraMode, CameraRig, Selection};
use super::clock::SimClock;
use super::overlays::{queues, OverlayKind, Overlays};
use super::perception::{
    class_colour, class_label, height_colour, ARROW_S, CONFIDENCE_BAR_M, RAMP_MAX_M, RAMP_MIN_M,
};
use super::plan::{
    cost_colour, level_colour, CHEAPEST, CHOSEN, COST_SCALE, DEAREST, LETHAL as LETHAL_CANDIDATE,
};
use super::radio::Radio;
use super::ViewerSystems;
use crate::app::{SimStep, SimSystems, World as SimRes};
use bevy::prelude::*;
use site::protocol::MissionState;
use site::SimTime;
use std::collections::VecDeque;

/// How many events are kept per truck.
pub const EVENTS_KEPT: usize = 8;

/// What each truck last did, as the viewer saw it step by step.
#[derive(Resource, Default)]
pub struct TruckLog {
    last: Vec<(MissionState, Option<u32>, f64)>,
    pub events: Vec<VecDeque<(SimTime, String)>>,
}

fn record(sim: Res<SimRes>, mut log: ResMut<TruckLog>) {
    let w = &sim.0;
    let n = w.trucks.len();
    if log.last.len() != n {
        log.last = w
            .trucks
            .iter()
            .map(|t| (t.brain.state(), t.brain.route_id().map(|r| r.0), 0.0))
            .collect();
        log.events = vec![VecDeque::new(); n];
    }
    for (i, t) in w.trucks.iter().enumerate() {
        let state = t.brain.state();
        let route = t.brain.route_id().map(|r| r.0);
        let until = t.brain.permission().map_or(0.0, |p| p.until_m);
        let (s0, r0, u0) = log.last[i];
        let mut push = |text: String| {
            let q = &mut log.events[i];
            q.push_back((w.now, text));
            while q.len() > EVENTS_KEPT {
                q.pop_front();
            }
        };
        if state != s0 {
            push(format!("{s0} -> {state}"));
        }
        if route != r0 {
            push(match route {
                Some(r) => format!("new route {r}: {}", task_text(t.brain.task())),
                None => "route cleared".to_string(),
            });
        }
        if until > u0 + 25.0 || (until < u0 && route == r0) {
            push(format!("permission to {until:.0} m"));
        }
        let keep_until = if until > u0 + 25.0 || until < u0 || route != r0 {
            until
        } else {
            u0
        };
        log.last[i] = (state, route, keep_until);
    }
}

#[derive(Component)]
struct StatusText;
#[derive(Component)]
struct InspectorText;
/// The colour key of the perception overlays, and its two parts.
#[derive(Component)]
struct KeyPanel;
/// A part of the colour key, shown with its overlays.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum KeyPart {
    Points,
    Classes,
    Plan,
}

/// Mean frame time, smoothed, ms.
#[derive(Resource, Default)]
pub struct FrameTime(pub f64);

fn setup(mut commands: Commands) {
    let font = TextFont {
        font_size: FontSize::Px(15.0),
        ..default()
    };
    commands.spawn((
        StatusText,
        Text::new(""),
        font.clone(),
        TextColor(Color::WHITE),
        Node {
            position_type: PositionType::Absolute,
            top: px(8.0),
            left: px(8.0),
            padding: UiRect::all(px(6.0)),
            ..default()
        },
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
    ));
    commands.spawn((
        InspectorText,
        Text::new(""),
        font,
        TextColor(Color::WHITE),
        Node {
            // below the status panel, which spans most of the width at 1280 px
            position_type: PositionType::Absolute,
            top: px(84.0),
            right: px(8.0),
            padding: UiRect::all(px(6.0)),
            ..default()
        },
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
        Visibility::Hidden,
    ));
    spawn_key(&mut commands);
}

/// The colour key: the height ramp of the points (five stops, m above ground), the class
/// colours of detections, tracks and obstacles, and how to read the marks.
fn spawn_key(commands: &mut Commands) {
    let font = TextFont {
        font_size: FontSize::Px(13.0),
        ..default()
    };
    let swatch = |c: [f32; 3]| {
        (
            Node {
                width: px(22.0),
                height: px(12.0),
                margin: UiRect::right(px(4.0)),
                ..default()
            },
            BackgroundColor(Color::srgb(c[0], c[1], c[2])),
        )
    };
    let row = || Node {
        flex_direction: FlexDirection::Row,
        align_items: AlignItems::Center,
        column_gap: px(6.0),
        ..default()
    };
    let text = |s: String| (Text::new(s), font.clone(), TextColor(Color::WHITE));
    commands
        .spawn((
            KeyPanel,
            Node {
                position_type: PositionType::Absolute,
                bottom: px(8.0),
                left: px(8.0),
                padding: UiRect::all(px(6.0)),
                flex_direction: FlexDirection::Column,
                row_gap: px(4.0),
                ..default()
            },
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
            Visibility::Hidden,
        ))
        .with_children(|p| {
            p.spawn((
                KeyPart::Points,
                Node {
                    flex_direction: FlexDirection::Column,
                    row_gap: px(3.0),
                    ..default()
                },
            ))
            .with_children(|p| {
                p.spawn(text("points: height above ground".into()));
                p.spawn(row()).with_children(|r| {
                    let n = 4;
                    for k in 0..=n {
                        let h = RAMP_MIN_M + (RAMP_MAX_M - RAMP_MIN_M) * k as f32 / n as f32;
                        r.spawn(row()).with_children(|cell| {
                            cell.spawn(swatch(height_colour(h)));
                            let plus = if k == n { "+" } else { "" };
                            cell.spawn(text(format!("{h:.0}{plus} m")));
                        });
                    }
                });
            });
            p.spawn((
                KeyPart::Classes,
                Node {
                    flex_direction: FlexDirection::Column,
                    row_gap: px(3.0),
                    ..default()
                },
            ))
            .with_children(|p| {
                p.spawn(text("detections, tracks, obstacles by class".into()));
                p.spawn(row()).with_children(|r| {
                    for c in perception::ObstacleClass::ALL {
                        r.spawn(row()).with_children(|cell| {
                            cell.spawn(swatch(class_colour(c)));
                            cell.spawn(text(class_label(c).into()));
                        });
                    }
                });
                p.spawn(text(format!(
                    "detection: footprint, bar = confidence ({CONFIDENCE_BAR_M:.0} m = 1.0)\n\
                     track: box (faint = tentative), arrow = {ARROW_S:.0} s of motion\n\
                     red line across the lane: where the truck stops for an obstacle"
                )));
            });
            p.spawn((
                KeyPart::Plan,
                Node {
                    flex_direction: FlexDirection::Column,
                    row_gap: px(3.0),
                    ..default()
                },
            ))
            .with_children(|p| {
                p.spawn(text("candidates (C), cost volume slice 0 (V)".into()));
                p.spawn(row()).with_children(|r| {
                    for (c, label) in [
                        (CHOSEN, "chosen"),
                        (CHEAPEST, "cheapest"),
                        (DEAREST, "dearest"),
                        (LETHAL_CANDIDATE, "lethal"),
                    ] {
                        r.spawn(row()).with_children(|cell| {
                            cell.spawn(swatch(c));
                            cell.spawn(text(label.into()));
                        });
                    }
                });
                p.spawn(row()).with_children(|r| {
                    for (c, label) in [
                        (0.5f32, "cost 0.5"),
                        (COST_SCALE / 2.0, "6"),
                        (COST_SCALE, "12+"),
                        (vehicle::planner::LETHAL, "lethal"),
                    ] {
                        r.spawn(row()).with_children(|cell| {
                            cell.spawn(swatch(cost_colour(c).unwrap_or_default()));
                            cell.spawn(text(label.into()));
                        });
                    }
                });
                p.spawn(text("supervisor (S): ring over the truck".into()));
                p.spawn(row()).with_children(|r| {
                    use vehicle::supervisor::Level;
                    for (l, latched, label) in [
                        (Level::Clear, false, "clear"),
                        (Level::Slow, false, "slow"),
                        (Level::Stop, false, "stop"),
                        (Level::Brake, false, "brake"),
                        (Level::Stop, true, "latched"),
                    ] {
                        r.spawn(row()).with_children(|cell| {
                            cell.spawn(swatch(level_colour(l, latched)));
                            cell.spawn(text(label.into()));
                        });
                    }
                });
                p.spawn(text(
                    "green bar: permission end; red bar: supervisor stop point (a track)".into(),
                ));
            });
        });
}

/// Shows the key while a perception overlay is on, each part with its overlays.
fn update_key(
    overlays: Res<Overlays>,
    mut panel: Query<&mut Visibility, With<KeyPanel>>,
    mut parts: Query<(&KeyPart, &mut Node)>,
) {
    if !overlays.is_changed() {
        return;
    }
    let on = |k| overlays.is_on(k);
    let planning = OverlayKind::PLANNING.into_iter().any(on);
    let any = OverlayKind::PERCEPTION.into_iter().any(on) || planning;
    for mut v in &mut panel {
        *v = if any {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
    }
    for (part, mut n) in &mut parts {
        let shown = match part {
            KeyPart::Points => on(OverlayKind::Points),
            KeyPart::Classes => on(OverlayKind::Detections) || on(OverlayKind::Tracks),
            KeyPart::Plan => planning,
        };
        n.display = if shown { Display::Flex } else { Display::None };
    }
}

/// A duration in µs as us, ms or s (the UI font has no µ).
pub fn duration_text(us: u64) -> String {
    if us < 1_000 {
        format!("{us} us")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// The inspector's perception lines for truck `i` (none without perception).
fn perception_text(w: &crate::SimWorld, i: usize) -> Option<String> {
    let per = w.perception.as_ref()?;
    let p = per.trucks.get(i)?;
    let s = &p.stats;
    let confirmed = p.tracker.confirmed().count();
    let age = if p.detections_pose.is_some() {
        duration_text(w.now.0.saturating_sub(p.detections_frame_us))
    } else {
        "-".into()
    };
    let ahead = p
        .obstacle_ahead_m
        .map_or_else(|| "none".to_string(), |d| format!("{d:.1} m"));
    let mut out = format!(
        "\nperception ({}, dust {:.2}{})\n\
         sweeps {}  points in last sweep {}\n\
         detections {} in last frame, {} so far\n\
         tracks {} ({} confirmed)\n\
         NPU latency {}  detection age {}\n\
         inferences {}  dropped frames {}\n\
         obstacle ahead {}",
        format!("{:?}", per.cfg.sensing).to_lowercase(),
        per.cfg.dust,
        if per.watch == Some(i) {
            ", watched"
        } else {
            ""
        },
        s.sweeps,
        p.last_points.len(),
        p.last_detections.len(),
        s.detections,
        p.tracker.tracks().len(),
        confirmed,
        duration_text(per.detector.latency_us()),
        age,
        s.inferences,
        s.dropped_frames,
        ahead,
    );
    if let Some(e) = &w.perception_error {
        out.push_str(&format!("\nperception error: {e}"));
    }
    Some(out)
}

/// The inspector's planning lines for truck `i` (none without planning).
fn planning_text(w: &crate::SimWorld, i: usize) -> Option<String> {
    let pl = w.planning.as_ref()?;
    let p = pl.trucks.get(i)?;
    let mut out = format!(
        "\nplanning (NPU {}, {})\nplans {}  queued behind detector {}\nlatency {}",
        pl.planner.profile.name,
        format!("{:?}", pl.planner.precision).to_lowercase(),
        p.stats.plans,
        p.stats.queued,
        duration_text(pl.planner.latency_us()),
    );
    match &p.latest {
        Some(plan) => {
            let lethal = plan.candidates.iter().filter(|c| c.lethal).count();
            let chosen = plan
                .chosen_candidate()
                .map_or_else(|| "-".to_string(), |c| c.profile.name().to_string());
            out.push_str(&format!(
                "  plan age {}\nchosen {} at {:+.1} m, {:.1} km/h\ncandidates {} ({} lethal)",
                duration_text(w.now.0.saturating_sub(plan.time.0)),
                chosen,
                plan.target_offset_m,
                plan.target_speed_mps * 3.6,
                plan.candidates.len(),
                lethal,
            ));
        }
        None => out.push_str("  no plan yet"),
    }
    if let Some(e) = &w.planning_error {
        out.push_str(&format!("\nplanning error: {e}"));
    }
    Some(out)
}

/// The inspector's supervisor lines: level, reason, speed cap, TTC, interventions.
fn supervisor_text(t: &vehicle::Truck) -> String {
    let v = t.verdict();
    let sup = t.supervisor();
    let reason = v.reason.map_or("", |r| r.name());
    let level = format!("{:?}", v.level).to_lowercase();
    let cap = if v.speed_cap.is_finite() {
        format!("{:.1} km/h", v.speed_cap * 3.6)
    } else {
        "none".into()
    };
    let ttc = v
        .ttc_s
        .filter(|s| s.is_finite())
        .map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"));
    let counts: Vec<String> = sup
        .interventions()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect();
    format!(
        "\nsupervisor {level}{}{}  cap {cap}  TTC {ttc}\ninterventions {}{}",
        if reason.is_empty() {
            String::new()
        } else {
            format!(" ({reason})")
        },
        if sup.latched() {
            ", LATCHED until re-armed"
        } else {
            ""
        },
        sup.interventions().total(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
    )
}

fn clock_text(t: SimTime) -> String {
    let s = t.as_secs_f64();
    let h = (s / 3600.0).floor();
    let m = ((s - h * 3600.0) / 60.0).floor();
    format!(
        "{:02}:{:02}:{:05.2}",
        h as u64,
        m as u64,
        s - h * 3600.0 - m * 60.0
    )
}

#[allow(clippy::too_many_arguments)]
fn update(
    time: Res<Time>,
    sim: Res<SimRes>,
    clock: Res<SimClock>,
    overlays: Res<Overlays>,
    rig: Res<CameraRig>,
    sel: Res<Selection>,
    radio: Res<Radio>,
    log: Res<TruckLog>,
    mut frame: ResMut<FrameTime>,
    mut status: Query<&mut Text, (With<StatusText>, Without<InspectorText>)>,
    mut inspector: Query<(&mut Text, &mut Visibility), With<InspectorText>>,
) {
    let dt_ms = time.delta_secs_f64() * 1000.0;
    frame.0 = if frame.0 == 0.0 {
        dt_ms
    } else {
        0.9 * frame.0 + 0.1 * dt_ms
    };
    let w = &sim.0;
    let (ql, qd) = queues(w);
    let waiting: usize = ql.iter().chain(&qd).map(|q| q.len()).sum();
    let run = if clock.paused {
        "PAUSED".to_string()
    } else {
        format!("{:.0}x asked, {:.1}x achieved", clock.speed, clock.achieved)
    };
    let ov: Vec<String> = OverlayKind::ALL
        .iter()
        .map(|k| {
            let mark = if overlays.is_on(*k) { "on" } else { "off" };
            format!("{} {} {}", k.key_name(), k.name(), mark)
        })
        .collect();
    let mode = match rig.mode {
        CameraMode::Orbit => "orbit",
        CameraMode::Chase => "chase",
        CameraMode::TopDown => "top-down",
    };
    if let Ok(mut t) = status.single_mut() {
        t.0 = format!(
            "sim {} | {} | frame {:.1} ms | {} trucks | {:.0} t moved | {} at loaders/dumps\n\
             camera {} | {}\n\
             Space pause  . step  1/2/3 = 1x/10x/100x  click truck  F chase  T top  O orbit  Esc deselect",
            clock_text(w.now),
            run,
            frame.0,
            w.trucks.len(),
            w.metrics.tonnes,
            waiting,
            mode,
            ov.join("  "),
        );
    }
    let Ok((mut text, mut vis)) = inspector.single_mut() else {
        return;
    };
    let Some(i) = sel.0.map(|i| i as usize).filter(|i| *i < w.trucks.len()) else {
        *vis = Visibility::Hidden;
        return;
    };
    *vis = Visibility::Inherited;
    let t = &w.trucks[i];
    let st = w.physics.state(t.body);
    // the transport's own link state when it has one (simulated QUIC over the radio model),
    // else the viewer's radio model at the truck's position
    let reported = w
        .transport
        .link_report()
        .into_iter()
        .find(|r| r.truck == t.id.0);
    let los =
        radio.links.get(i).copied().flatten().map(
            |l| {
                if l.line_of_sight {
                    " LOS"
                } else {
                    " NLOS"
                }
            },
        );
    let link = match (&reported, radio.links.get(i).copied().flatten()) {
        (Some(r), _) if r.sinr_db.is_some() => format!(
            "cell {} SINR {:.1} dB{}, {} handovers",
            r.serving_cell
                .map_or_else(|| "none".to_string(), |c| c.to_string()),
            r.sinr_db.unwrap_or(f64::NAN),
            los.unwrap_or(""),
            r.handovers
        ),
        (_, Some(l)) => format!(
            "cell {} SINR {:.1} dB{}",
            l.cell.0,
            l.sinr_db,
            los.unwrap_or("")
        ),
        _ => "no radio model".into(),
    };
    let rtt = match &reported {
        Some(r) => match r.rtt_ms {
            Some(ms) => format!("{ms:.1} ms ({}, measured)", w.transport.name()),
            None => format!("- (not connected, {})", w.transport.name()),
        },
        None => format!(
            "{:.0} ms (in-memory transport, fixed)",
            2.0 * w.cfg.link_latency.micros() as f64 / 1000.0
        ),
    };
    let view = w.dispatcher.trucks().get(&t.id);
    let claim_m: f64 = view.map_or(0.0, |v| {
        v.claim
            .stretches
            .iter()
            .map(|(_, a, b)| (b - a).abs())
            .sum()
    });
    let mut s = format!(
        "truck {}\nstate {}\ntask {}\nspeed {:.1} km/h\npayload {:.0} t\n\
         to permission end {:.0} m\nclaim held {:.0} m{}\nlink {}\nRTT {}\n\
         loads {}  dumps {}{}{}{}\nrecent events:",
        t.id.0,
        t.brain.state(),
        task_text(t.brain.task()),
        // -0.0 km/h reads as a bug
        if (st.speed * 3.6).abs() < 0.05 {
            0.0
        } else {
            st.speed * 3.6
        },
        t.payload_t,
        t.brain.permission_left(),
        claim_m,
        if view.is_some_and(|v| v.lost) {
            " (LOST)"
        } else {
            ""
        },
        link,
        rtt,
        t.metrics.loads,
        t.metrics.dumps,
        perception_text(w, i).unwrap_or_default(),
        planning_text(w, i).unwrap_or_default(),
        supervisor_text(&t.brain),
    );
    if let Some(q) = log.events.get(i) {
        for (at, e) in q.iter().rev() {
            s.push_str(&format!("\n {} {}", clock_text(*at), e));
        }
    }
    text.0 = s;
}

/// The inspector's words for a truck's task: `Load at loader 6`, or `none`.
fn task_text(task: Option<site::protocol::Task>) -> String {
    task.map_or_else(|| "none".to_string(), |t| t.to_string())
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<TruckLog>();
    app.init_resource::<FrameTime>();
    app.add_systems(SimStep, record.after(SimSystems::Sync));
    app.add_systems(Startup, setup);
    app.add_systems(Update, (update, update_key).in_set(ViewerSystems::Ui));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspector_names_tasks_in_words() {
        let t = site::protocol::Task::Load {
            loader: site::LoaderId(6),
        };
        assert_eq!(task_text(Some(t)), "Load at loader 6");
        assert_eq!(task_text(None), "none");
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(duration_text(850), "850 us");
        assert_eq!(duration_text(12_340), "12.3 ms");
        assert_eq!(duration_text(2_500_000), "2.50 s");
    }

    #[test]
    fn clock_reads_hours_minutes_seconds() {
        assert_eq!(clock_text(SimTime(3_723_500_000)), "01:02:03.50");
    }
}
