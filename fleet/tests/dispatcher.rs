//! Dispatcher behaviour: assignment by material, watchdog, operator commands.

use fleet::{Dispatcher, DispatcherConfig, FleetEventKind};
use site::generate::{generate, GenParams};
use site::ids::TruckId;
use site::protocol::{
    DispatchMsg, MissionState, StopReason, Task, Telemetry, TruckInfo, TruckMsg, UpMsg,
};
use site::{DumpKind, SimDuration, SimTime, Site};
use std::sync::Arc;

fn site() -> Arc<Site> {
    Arc::new(
        site::file::build("generated", &generate(&GenParams::default()))
            .expect("default site builds"),
    )
}

fn up(seq: u64, now: SimTime, body: TruckMsg) -> UpMsg {
    UpMsg {
        truck: TruckId(0),
        seq,
        sent: now,
        body,
    }
}

fn telemetry(site: &Site) -> TruckMsg {
    let slot = site.spread_slots(1).expect("room")[0];
    let p = site.roads.lane(slot.lane).point_at(slot.s);
    TruckMsg::Telemetry(Telemetry {
        pos: p.pos,
        heading: p.heading,
        speed: 0.0,
        route: None,
        progress_m: 0.0,
        payload_t: 0.0,
        state: MissionState::Idle,
    })
}

/// Truck 0 says hello, reports where it stands and asks for work; the dispatcher ticks.
fn join_and_ask_for_work(d: &mut Dispatcher, site: &Site, now: SimTime) {
    d.handle(
        now,
        &up(
            1,
            now,
            TruckMsg::Hello(TruckInfo {
                length_m: 15.5,
                width_m: 9.5,
                capacity_t: 290.0,
            }),
        ),
    );
    d.handle(now, &up(2, now, telemetry(site)));
    d.handle(now, &up(3, now, TruckMsg::WorkRequest));
    d.tick(now);
}

/// Moves truck 0 along its route up to its grants, 1.5 m per 100 ms tick, to the route end.
fn drive_to_route_end(d: &mut Dispatcher, site: &Site, t: SimTime, seq: u64) -> (SimTime, u64) {
    drive_to_short_of_end(d, site, t, seq, 0.0)
}

/// Moves truck 0 along its route up to its grants to `short_m` before the route end.
fn drive_to_short_of_end(
    d: &mut Dispatcher,
    site: &Site,
    mut t: SimTime,
    mut seq: u64,
    short_m: f64,
) -> (SimTime, u64) {
    let route = d.trucks()[&TruckId(0)].route.clone().expect("a route");
    let mut p = d.trucks()[&TruckId(0)].progress;
    let end = route.length - short_m;
    for _ in 0..100_000 {
        let granted = d.trucks()[&TruckId(0)].granted;
        let next = (p + 1.5).min(granted).min(end);
        let speed = (next - p) / 0.1;
        p = next;
        let pt = route.point_at(p, &site.roads);
        let tm = Telemetry {
            pos: pt.pos,
            heading: pt.heading,
            speed,
            route: Some(route.route.id),
            progress_m: p,
            payload_t: 0.0,
            state: MissionState::ToLoader,
        };
        d.handle(t, &up(seq, t, TruckMsg::Telemetry(tm)));
        seq += 1;
        d.tick(t);
        d.poll_outbox();
        t += SimDuration::from_millis(100);
        if p >= end - 1e-6 && speed == 0.0 {
            return (t, seq);
        }
    }
    panic!(
        "never reached the end of its route (at {p} of {})",
        route.length
    );
}

#[test]
fn work_then_haul_to_a_dump_of_the_loaders_material() {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let now = SimTime::ZERO;
    join_and_ask_for_work(&mut d, &site, now);
    let out = d.poll_outbox();
    let loader = out
        .iter()
        .find_map(|m| match &m.body {
            DispatchMsg::Assignment {
                task: Task::Load { loader },
                route,
            } => {
                let l = &site.loaders[loader.index()];
                assert_eq!(route.lanes.last(), Some(&l.lane));
                assert!((route.end_s - l.spot_s).abs() < 1e-9);
                Some(*loader)
            }
            _ => None,
        })
        .expect("an assignment to a loader");
    // a permission follows the assignment
    assert!(out
        .iter()
        .any(|m| matches!(m.body, DispatchMsg::Permission(g) if g.until_m > 0.0)));
    // A repeated work request while on the task gets no second route.
    d.handle(now, &up(4, now, TruckMsg::WorkRequest));
    d.tick(now);
    assert!(!d
        .poll_outbox()
        .iter()
        .any(|m| matches!(m.body, DispatchMsg::Assignment { .. })));
    // The truck drives to the spot as its grants allow, reporting as it goes.
    let (t, seq) = drive_to_route_end(&mut d, &site, now, 5);
    d.handle(
        t,
        &up(
            seq,
            t,
            TruckMsg::LoadDone {
                loader,
                tonnes: 290.0,
            },
        ),
    );
    d.tick(t);
    let dump = d
        .poll_outbox()
        .iter()
        .find_map(|m| match m.body {
            DispatchMsg::Assignment {
                task: Task::Dump { dump },
                ..
            } => Some(dump),
            _ => None,
        })
        .expect("a haul assignment");
    let kind = site.dumps[dump.index()].kind;
    assert!(
        kind.accepts(site.loaders[loader.index()].material),
        "{kind:?}"
    );
    assert!(matches!(kind, DumpKind::Crusher | DumpKind::Waste));
}

/// A truck loaded on its spot gets its haul also when it stands short of the route's end (a
/// planner's stopping margin, a localisation error): before, the road granted ahead of it
/// (more than 1 m) kept it from any new route, and it stood loaded at the loader for ever.
#[test]
fn a_loaded_truck_standing_short_of_its_spot_gets_its_haul() {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let now = SimTime::ZERO;
    join_and_ask_for_work(&mut d, &site, now);
    let loader = d
        .poll_outbox()
        .iter()
        .find_map(|m| match m.body {
            DispatchMsg::Assignment {
                task: Task::Load { loader },
                ..
            } => Some(loader),
            _ => None,
        })
        .expect("an assignment to a loader");
    let (t, seq) = drive_to_short_of_end(&mut d, &site, now, 5, 1.4);
    let v = &d.trucks()[&TruckId(0)];
    assert!(v.granted > v.progress + 1.0, "road granted ahead of it");
    d.handle(
        t,
        &up(
            seq,
            t,
            TruckMsg::LoadDone {
                loader,
                tonnes: 290.0,
            },
        ),
    );
    d.tick(t);
    assert!(
        d.poll_outbox().iter().any(|m| matches!(
            m.body,
            DispatchMsg::Assignment {
                task: Task::Dump { .. },
                ..
            }
        )),
        "no haul assignment"
    );
}

#[test]
fn a_silent_truck_is_lost_and_its_road_frozen_until_heard_again() {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let mut now = SimTime::ZERO;
    join_and_ask_for_work(&mut d, &site, now);
    let granted = d.trucks()[&TruckId(0)].granted;
    d.poll_outbox();
    for _ in 0..25 {
        now += SimDuration::from_millis(100);
        d.tick(now);
    }
    let events = d.drain_events();
    assert!(
        events.iter().any(|e| e.kind == FleetEventKind::Lost),
        "not marked lost after 2.5 s"
    );
    assert!(d.trucks()[&TruckId(0)].lost);
    // no new grants while lost
    assert!(!d
        .poll_outbox()
        .iter()
        .any(|m| matches!(m.body, DispatchMsg::Permission(g) if g.until_m > granted + 1e-9)));
    d.handle(now, &up(4, now, telemetry(&site)));
    assert!(!d.trucks()[&TruckId(0)].lost);
    assert!(d
        .drain_events()
        .iter()
        .any(|e| e.kind == FleetEventKind::Found));
}

#[test]
fn operator_estop_and_rearm_reach_the_truck_and_replays_are_dropped() {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let now = SimTime::ZERO;
    d.handle(
        now,
        &up(
            1,
            now,
            TruckMsg::Hello(TruckInfo {
                length_m: 15.5,
                width_m: 9.5,
                capacity_t: 290.0,
            }),
        ),
    );
    d.estop(now, TruckId(0), StopReason::Operator);
    d.rearm(now, TruckId(0));
    let out = d.poll_outbox();
    assert!(matches!(
        out[0].body,
        DispatchMsg::EStop(StopReason::Operator)
    ));
    assert!(matches!(out[1].body, DispatchMsg::ReArm));
    assert!(out[1].seq > out[0].seq);
    // a replayed (old sequence number) message is dropped and counted
    d.handle(now, &up(1, now, TruckMsg::WorkRequest));
    assert_eq!(d.rejected, 1);
    // a message from a truck that never said hello is dropped and counted
    d.handle(
        now,
        &UpMsg {
            truck: TruckId(5),
            seq: 1,
            sent: now,
            body: TruckMsg::WorkRequest,
        },
    );
    assert_eq!(d.rejected, 2);
}

/// Truck 0 reports itself `Stopped` every 100 ms from `from` for `secs`; returns the times
/// at which the dispatcher sent it a re-arm, and the next sequence number.
fn report_stopped(
    d: &mut Dispatcher,
    site: &Site,
    from: SimTime,
    secs: f64,
    mut seq: u64,
) -> (Vec<SimTime>, u64) {
    let mut rearms = Vec::new();
    let steps = (secs * 10.0).round() as u64;
    for k in 0..steps {
        let now = from + SimDuration::from_millis(100 * k);
        let TruckMsg::Telemetry(mut tm) = telemetry(site) else {
            unreachable!()
        };
        tm.state = MissionState::Stopped;
        seq += 1;
        d.handle(now, &up(seq, now, TruckMsg::Telemetry(tm)));
        d.tick(now);
        for m in d.poll_outbox() {
            if m.truck == TruckId(0) && m.body == DispatchMsg::ReArm {
                rearms.push(now);
            }
        }
    }
    (rearms, seq)
}

#[test]
fn a_self_stopped_truck_is_re_armed_by_the_policy_after_its_delay_and_only_then() {
    let site = site();
    let cfg = DispatcherConfig {
        auto_rearm_after: Some(SimDuration::from_secs(5)),
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(site.clone(), cfg);
    join_and_ask_for_work(&mut d, &site, SimTime::ZERO);
    let t0 = SimTime::ZERO + SimDuration::from_secs(1);
    let (rearms, seq) = report_stopped(&mut d, &site, t0, 8.0, 10);
    assert_eq!(rearms.len(), 1, "{rearms:?}");
    let after = rearms[0].since(t0).as_secs_f64();
    assert!((5.0..5.2).contains(&after), "re-armed after {after} s");
    assert!(d
        .drain_events()
        .iter()
        .any(|e| e.kind == FleetEventKind::AutoReArmed));
    // still reporting stopped: the policy waits its delay again before another try
    let (again, _) = report_stopped(&mut d, &site, t0 + SimDuration::from_secs(8), 6.0, seq);
    assert_eq!(again.len(), 1, "{again:?}");
    let gap = again[0].since(rearms[0]).as_secs_f64();
    assert!(gap >= 5.0, "retried after {gap} s");
}

#[test]
fn the_policy_never_re_arms_an_operator_estop_and_is_off_by_default() {
    let site = site();
    // operator e-stop, policy on
    let cfg = DispatcherConfig {
        auto_rearm_after: Some(SimDuration::from_secs(2)),
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(site.clone(), cfg);
    join_and_ask_for_work(&mut d, &site, SimTime::ZERO);
    d.estop(SimTime::ZERO, TruckId(0), StopReason::Operator);
    let (rearms, _) = report_stopped(&mut d, &site, SimTime::ZERO, 20.0, 10);
    assert!(
        rearms.is_empty(),
        "an operator e-stop was re-armed: {rearms:?}"
    );
    // policy off (the default): a self-stopped truck waits for an operator
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    join_and_ask_for_work(&mut d, &site, SimTime::ZERO);
    let (rearms, _) = report_stopped(&mut d, &site, SimTime::ZERO, 20.0, 10);
    assert!(rearms.is_empty(), "{rearms:?}");
}

#[test]
fn the_policy_counts_only_time_heard_a_lost_truck_starts_over() {
    let site = site();
    let cfg = DispatcherConfig {
        auto_rearm_after: Some(SimDuration::from_secs(5)),
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(site.clone(), cfg);
    join_and_ask_for_work(&mut d, &site, SimTime::ZERO);
    // 4 s stopped and heard, then 3 s silent (lost after 2 s), then heard again
    let (r1, seq) = report_stopped(&mut d, &site, SimTime::ZERO, 4.0, 10);
    assert!(r1.is_empty());
    for k in 40..70 {
        let now = SimTime::ZERO + SimDuration::from_millis(100 * k);
        d.tick(now);
        let _ = d.poll_outbox();
    }
    assert!(d.trucks()[&TruckId(0)].lost);
    let back = SimTime::ZERO + SimDuration::from_secs(7);
    let (r2, _) = report_stopped(&mut d, &site, back, 7.0, seq);
    assert_eq!(r2.len(), 1, "{r2:?}");
    let after = r2[0].since(back).as_secs_f64();
    assert!(
        after >= 5.0,
        "the clock restarted when it was heard again: {after} s"
    );
}

/// The permissions sent to truck 0: `(sent, until_m, expires)`.
fn grants(out: &[site::protocol::DownMsg]) -> Vec<(SimTime, f64, SimTime)> {
    out.iter()
        .filter_map(|m| match m.body {
            DispatchMsg::Permission(g) if m.truck == TruckId(0) => {
                Some((m.sent, g.until_m, g.expires))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_grant_expires_after_its_ttl_and_is_renewed_while_the_truck_is_heard() {
    let site = site();
    let cfg = DispatcherConfig::default();
    let mut d = Dispatcher::new(site.clone(), cfg.clone());
    let mut now = SimTime::ZERO;
    join_and_ask_for_work(&mut d, &site, now);
    let mut sent = grants(&d.poll_outbox());
    assert_eq!(sent.len(), 1, "one grant with the assignment");
    // the truck stands and reports for 5 s: its unchanged grant is re-sent with a new expiry
    for seq in 4..54 {
        now += SimDuration::from_millis(100);
        d.handle(now, &up(seq, now, telemetry(&site)));
        d.tick(now);
        sent.extend(grants(&d.poll_outbox()));
        let last = sent.last().expect("a grant");
        assert!(now < last.2, "the grant in force expired at {now}");
    }
    for &(at, until, expires) in &sent {
        assert_eq!(expires, at + cfg.grant_ttl);
        assert_eq!(
            until, sent[0].1,
            "the grant of a standing truck does not change"
        );
    }
    for w in sent.windows(2) {
        assert_eq!(w[1].0.since(w[0].0), cfg.regrant_period);
    }
    assert_eq!(sent.len(), 6);
}

#[test]
fn a_lost_truck_gets_no_renewal_so_its_grant_runs_out() {
    let site = site();
    let cfg = DispatcherConfig::default();
    let mut d = Dispatcher::new(site.clone(), cfg.clone());
    let mut now = SimTime::ZERO;
    join_and_ask_for_work(&mut d, &site, now);
    let heard = now;
    let mut sent = grants(&d.poll_outbox());
    let mut lost_at = None;
    for _ in 0..100 {
        now += SimDuration::from_millis(100);
        d.tick(now);
        let new = grants(&d.poll_outbox());
        if d.drain_events()
            .iter()
            .any(|e| e.kind == FleetEventKind::Lost)
        {
            lost_at = Some(now);
        }
        if lost_at.is_some() {
            assert!(new.is_empty(), "a grant to a lost truck at {now}");
        }
        sent.extend(new);
    }
    let lost_at = lost_at.expect("lost");
    assert_eq!(lost_at.since(heard), cfg.lost_after);
    let last = sent.last().expect("a grant");
    assert!(last.2 <= heard + cfg.lost_after + cfg.grant_ttl);
    assert!(last.2 < now, "its last grant has expired by {now}");
}
