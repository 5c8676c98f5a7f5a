//! On-screen text: the sim clock, the speed asked and achieved (real-time factor), frame time,
//! the overlays and keys; the inspector of the selected truck (state, speed, payload, distance
//! to its permission end, link SINR and RTT, recent events).
//!
//! Recent events are recorded by a system in the `SimStep` schedule (after the pose sync), so
//! that no step is missed however many run per frame: changes of mission state, task, route
//! and permission per truck.

use super::camera::{CameraMode, CameraRig, Selection};
use super::clock::SimClock;
use super::overlays::{queues, OverlayKind, Overlays};
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
         loads {}  dumps {}\nrecent events:",
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
    app.add_systems(Update, update.in_set(ViewerSystems::Ui));
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
    fn clock_reads_hours_minutes_seconds() {
        assert_eq!(clock_text(SimTime(3_723_500_000)), "01:02:03.50");
    }
}
