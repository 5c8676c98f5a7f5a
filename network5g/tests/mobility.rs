//! Handover with hysteresis and time-to-trigger; handover interruption; radio-link failure.
#![allow(clippy::unwrap_used)] // integration-test crate: helpers outside #[test] unwrap too

mod common;

use common::{config_no_shadowing, config_with_cells, Ridge};
use network5g::{
    CellId, Delivery, Direction, FlatTerrain, LinkEventKind, LinkState, LossReason, RadioSim,
};

const STEP_US: u64 = 10_000;

#[test]
fn ue_moving_from_a_to_b_hands_over_once_and_interruption_delays_packets() {
    let cfg = config_no_shadowing(&[(0.0, 0.0), (2000.0, 0.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 5).unwrap();
    let ue = sim.add_ue();
    let speed = 15.0; // m/s
    let mut events = Vec::new();
    let mut deliveries = Vec::new();
    let mut t = 0u64;
    loop {
        let x = 100.0 + speed * t as f64 * 1e-6;
        if x > 1900.0 {
            break;
        }
        sim.step(ue, t, x, 20.0).unwrap();
        events.extend(sim.take_events(ue));
        let d = sim.transmit(t, ue, Direction::Uplink, 1000);
        deliveries.push((t, d));
        t += STEP_US;
    }
    let started: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, LinkEventKind::HandoverStarted { .. }))
        .collect();
    let completed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, LinkEventKind::HandoverCompleted { .. }))
        .collect();
    assert!(matches!(
        events[0].kind,
        LinkEventKind::Attached { cell: CellId(0) }
    ));
    assert_eq!(started.len(), 1, "events: {events:?}");
    assert_eq!(completed.len(), 1);
    assert_eq!(
        started[0].kind,
        LinkEventKind::HandoverStarted {
            from: CellId(0),
            to: CellId(1)
        }
    );
    // With 3 dB hysteresis the handover happens past the midpoint, where B is 3 dB up.
    let t_ho = started[0].at_us;
    let x_ho = 100.0 + speed * t_ho as f64 * 1e-6;
    assert!(x_ho > 1000.0 && x_ho < 1400.0, "handover at x = {x_ho}");
    let t_done = completed[0].at_us;
    assert_eq!(t_done - t_ho, 40_000, "default 40 ms interruption");
    let m = sim.metrics(ue).unwrap();
    assert_eq!(m.handovers, 1);
    assert_eq!(m.serving_cell, Some(CellId(1)));

    // Packets sent during the interruption leave only after it.
    let during: Vec<_> = deliveries
        .iter()
        .filter(|(ts, _)| *ts >= t_ho && *ts < t_done)
        .collect();
    assert!(!during.is_empty());
    for (ts, d) in &during {
        match d {
            Delivery::Delivered { at_us, .. } => {
                assert!(
                    *at_us >= t_done,
                    "sent {ts}, delivered {at_us} before {t_done}"
                )
            }
            Delivery::Lost { .. } => {}
        }
    }
    let normal: Vec<u64> = deliveries
        .iter()
        .filter(|(ts, _)| *ts + 1_000_000 < t_ho)
        .filter_map(|(ts, d)| match d {
            Delivery::Delivered { at_us, .. } => Some(at_us - ts),
            Delivery::Lost { .. } => None,
        })
        .collect();
    let normal_max = normal.iter().copied().max().unwrap();
    let (ts0, d0) = during[0];
    let Delivery::Delivered { at_us, .. } = d0 else {
        panic!("first packet of the interruption lost: {d0:?}")
    };
    assert!(at_us - ts0 > normal_max, "interruption must delay packets");
}

fn handovers_when_dithering(shadowing: bool, hysteresis_db: f64, ttt_us: u64) -> u32 {
    // UE wanders ±40 m around the midpoint for 60 s.
    let mut cfg = config_with_cells(&[(0.0, 0.0), (2000.0, 0.0)]);
    cfg.propagation.shadowing_enabled = shadowing;
    cfg.mobility.hysteresis_db = hysteresis_db;
    cfg.mobility.time_to_trigger_us = ttt_us;
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 11).unwrap();
    let ue = sim.add_ue();
    let mut t = 0;
    while t < 60_000_000 {
        let phase = t as f64 * 1e-6 * 0.3;
        sim.step(ue, t, 1000.0 + 40.0 * phase.sin(), 0.0).unwrap();
        t += STEP_US;
    }
    sim.metrics(ue).unwrap().handovers
}

#[test]
fn hysteresis_and_ttt_prevent_ping_pong() {
    let with = handovers_when_dithering(false, 3.0, 160_000);
    let without = handovers_when_dithering(false, 0.0, 0);
    assert!(
        without >= 4,
        "no hysteresis / TTT should ping-pong: {without}"
    );
    assert!(with <= 1, "3 dB / 160 ms should not ping-pong: {with}");
}

#[test]
fn hysteresis_and_ttt_reduce_handovers_under_shadowing() {
    let with = handovers_when_dithering(true, 3.0, 160_000);
    let without = handovers_when_dithering(true, 0.0, 0);
    eprintln!("handovers with shadowing: {with} (3 dB, 160 ms) vs {without} (0 dB, 0 ms)");
    assert!(with * 3 <= without, "{with} vs {without}");
}

/// Single cell at the origin, a 150 m ridge at x = 1500 m; positions behind it are deep in
/// the shadow.
fn rlf_sim() -> RadioSim<Ridge> {
    let cfg = config_no_shadowing(&[(0.0, 0.0)]);
    let ridge = Ridge {
        x_m: 1500.0,
        height_m: 150.0,
        half_width_m: 200.0,
    };
    RadioSim::new(cfg, ridge, 3).unwrap()
}

#[test]
fn radio_link_failure_after_one_second_below_minus_6_db_then_reestablishment() {
    let mut sim = rlf_sim();
    let ue = sim.add_ue();
    let good = (500.0, 0.0);
    let bad = (2500.0, 0.0);
    let mut t = 0;
    let mut first_below = None;
    let mut rlf_at = None;
    let mut events = Vec::new();
    // 2 s in coverage, then 4 s behind the ridge, then back.
    while t <= 10_000_000 {
        let (x, y) = if (2_000_000..6_000_000).contains(&t) {
            bad
        } else {
            good
        };
        let state = sim.step(ue, t, x, y).unwrap();
        let m = sim.metrics(ue).unwrap();
        if matches!(state, LinkState::Connected { .. }) && m.sinr_db < -6.0 {
            first_below.get_or_insert(t);
        }
        let ev = sim.take_events(ue);
        for e in &ev {
            if matches!(e.kind, LinkEventKind::RadioLinkFailure { .. }) {
                rlf_at = Some(e.at_us);
            }
        }
        events.extend(ev);
        if (3_500_000..6_000_000).contains(&t) {
            assert!(
                matches!(state, LinkState::RadioLinkFailure { .. }),
                "{state:?}"
            );
            assert_eq!(
                sim.transmit(t, ue, Direction::Downlink, 200),
                Delivery::Lost {
                    reason: LossReason::NoLink
                }
            );
        }
        t += STEP_US;
    }
    let first_below = first_below.expect("SINR must drop below -6 dB behind the ridge");
    assert_eq!(first_below, 2_000_000);
    let rlf_at = rlf_at.expect("radio-link failure");
    assert!(
        rlf_at >= first_below + 1_000_000 && rlf_at <= first_below + 1_000_000 + STEP_US,
        "RLF at {rlf_at}, below since {first_below}"
    );
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            LinkEventKind::Attached { cell: CellId(0) },
            LinkEventKind::RadioLinkFailure { cell: CellId(0) },
            LinkEventKind::Reestablished { cell: CellId(0) },
        ]
    );
    // Back in coverage at 6 s; attempts every 500 ms from the failure at 3 s.
    let re = events[2].at_us;
    assert!(
        (6_000_000..=6_500_000).contains(&re),
        "re-established at {re}"
    );
    let m = sim.metrics(ue).unwrap();
    assert_eq!(m.radio_link_failures, 1);
    assert!(m.outage_us >= re - rlf_at);
    assert!(
        sim.transmit(re, ue, Direction::Downlink, 200)
            != Delivery::Lost {
                reason: LossReason::NoLink
            }
    );
}

#[test]
fn short_fades_below_threshold_do_not_trigger_rlf() {
    let mut sim = rlf_sim();
    let ue = sim.add_ue();
    let mut t = 0;
    // Alternate 0.8 s behind the ridge and 0.4 s in coverage for 12 s.
    while t <= 12_000_000 {
        let in_fade = t >= 1_000_000 && (t - 1_000_000) % 1_200_000 < 800_000;
        let x = if in_fade { 2500.0 } else { 500.0 };
        let state = sim.step(ue, t, x, 0.0).unwrap();
        if in_fade {
            assert!(sim.metrics(ue).unwrap().sinr_db < -6.0);
        }
        assert!(state.is_connected(), "{state:?} at {t}");
        t += STEP_US;
    }
    assert_eq!(sim.metrics(ue).unwrap().radio_link_failures, 0);
}

#[test]
fn two_neighbours_taking_turns_as_the_strongest_do_not_hold_off_the_handover() {
    // serving cell A far behind; neighbours B and C either side of the UE's track, which
    // zigzags across their bisector so that the strongest neighbour alternates every step
    let cfg = config_no_shadowing(&[(0.0, 0.0), (3000.0, 500.0), (3000.0, -500.0)]);
    let mut sim = RadioSim::new(cfg, FlatTerrain::default(), 9).unwrap();
    let ue = sim.add_ue();
    sim.step(ue, 0, 100.0, 0.0).unwrap();
    let mut events = sim.take_events(ue);
    assert!(matches!(
        events[0].kind,
        LinkEventKind::Attached { cell: CellId(0) }
    ));
    let jump = STEP_US;
    let mut t = jump;
    for k in 0..200u64 {
        let y = if k % 2 == 0 { 2.0 } else { -2.0 };
        sim.step(ue, t, 2600.0, y).unwrap();
        events.extend(sim.take_events(ue));
        t += STEP_US;
    }
    let started = events
        .iter()
        .find(|e| matches!(e.kind, LinkEventKind::HandoverStarted { .. }))
        .unwrap_or_else(|| panic!("no handover: {events:?}"));
    let after = started.at_us - jump;
    assert!(
        after <= 160_000 + STEP_US,
        "handover {after} µs after the neighbours became stronger"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, LinkEventKind::RadioLinkFailure { .. })),
        "{events:?}"
    );
}
