//! Simulated QUIC over a fixed-delay channel: handshakes, ordered reliable commands,
//! datagram telemetry, the safety layer, garbage, determinism.

use network5g::quic::safety::SafetyLayer;
use network5g::quic::{FixedChannel, SimQuicConfig, SimQuicTransport};
use network5g::transport::Transport;
use site::protocol::{DispatchMsg, DownMsg, MissionState, Telemetry, TruckMsg, UpMsg};
use site::{SimDuration, SimTime, TruckId};

fn telemetry(truck: u32, seq: u64, now: SimTime) -> UpMsg {
    UpMsg {
        truck: TruckId(truck),
        seq,
        sent: now,
        body: TruckMsg::Telemetry(Telemetry {
            pos: [1.0, 2.0, 3.0],
            heading: 0.0,
            speed: 5.0,
            route: None,
            progress_m: 0.0,
            payload_t: 0.0,
            state: MissionState::Idle,
        }),
    }
}

struct Run {
    up: Vec<UpMsg>,
    down: Vec<DownMsg>,
    hash: u64,
}

/// `trucks` trucks for `secs` seconds: each sends telemetry at 10 Hz and a work request
/// every second; the dispatcher sends heartbeats at 10 Hz and a ReArm command every 200 ms.
fn drive(t: &mut SimQuicTransport<FixedChannel>, trucks: u32, secs: u64) -> Run {
    let mut up = Vec::new();
    let mut down = Vec::new();
    let mut seq = vec![0u64; trucks as usize];
    let mut dseq = vec![0u64; trucks as usize];
    let steps = secs * 50;
    for k in 0..steps {
        let now = SimTime(k * 20_000);
        down.extend(t.recv_down(now));
        for i in 0..trucks {
            if k % 5 == 0 {
                seq[i as usize] += 1;
                t.send_up(now, &telemetry(i, seq[i as usize], now));
            }
            if k % 50 == 7 {
                seq[i as usize] += 1;
                let m = UpMsg {
                    truck: TruckId(i),
                    seq: seq[i as usize],
                    sent: now,
                    body: TruckMsg::WorkRequest,
                };
                t.send_up(now, &m);
            }
        }
        if k % 5 == 0 {
            up.extend(t.recv_up(now));
            for i in 0..trucks {
                dseq[i as usize] += 1;
                let body = if k % 10 == 0 {
                    DispatchMsg::ReArm
                } else {
                    DispatchMsg::Heartbeat
                };
                t.send_down(
                    now,
                    &DownMsg {
                        truck: TruckId(i),
                        seq: dseq[i as usize],
                        sent: now,
                        body,
                    },
                );
            }
        }
    }
    let hash = t.kpis().expect("kpis").trace_hash;
    Run { up, down, hash }
}

fn transport(trucks: usize, loss: f64, seed: u64) -> SimQuicTransport<FixedChannel> {
    SimQuicTransport::new(
        trucks,
        FixedChannel::new(10_000, loss, seed),
        SimQuicConfig {
            seed,
            ..SimQuicConfig::default()
        },
    )
    .expect("transport")
}

#[test]
fn commands_in_order_under_loss_and_telemetry_as_datagrams() {
    let mut t = transport(5, 0.01, 3);
    let r = drive(&mut t, 5, 20);
    let k = t.kpis().expect("kpis");
    println!("{k:#?}");
    // every truck connected
    for i in 0..5 {
        assert!(t.is_connected(i), "truck {i} connected");
    }
    // commands: 5 trucks * 100 rearm commands; all but those sent in the last RTT delivered
    assert_eq!(k.commands_sent, 500);
    assert!(k.commands_delivered >= 495, "{}", k.commands_delivered);
    assert_eq!(k.commands_out_of_order, 0);
    for i in 0..5u32 {
        let seqs: Vec<u64> = r
            .down
            .iter()
            .filter(|m| m.truck == TruckId(i) && m.body == DispatchMsg::ReArm)
            .map(|m| m.seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
    }
    // telemetry: datagrams, ~1% lost, none retransmitted
    assert!(k.telemetry_delivery_ratio > 0.95 && k.telemetry_delivery_ratio <= 1.0);
    // work requests all arrive (reliable stream)
    let work =
        r.up.iter()
            .filter(|m| m.body == TruckMsg::WorkRequest)
            .count();
    assert!(work >= 5 * 19, "{work}");
    // 20 ms RTT measured by QUIC
    let rep = t.link_report();
    for l in &rep {
        let rtt = l.rtt_ms.expect("rtt");
        assert!((19.0..60.0).contains(&rtt), "rtt {rtt}");
    }
    let safety = t.safety();
    assert_eq!(safety.safety_at_trucks.rejected(), 0);
    assert_eq!(safety.safety_at_dispatcher.rejected(), 0);
    println!(
        "command latency p50 {:.1} ms p99 {:.1} ms",
        k.command_latency_p50_ms, k.command_latency_p99_ms
    );
    assert!(k.command_latency_p50_ms >= 10.0 && k.command_latency_p50_ms < 15.0);
}

#[test]
fn same_seed_same_trace() {
    let a = drive(&mut transport(4, 0.02, 9), 4, 5);
    let b = drive(&mut transport(4, 0.02, 9), 4, 5);
    let c = drive(&mut transport(4, 0.02, 10), 4, 5);
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.up, b.up);
    assert_eq!(a.down, b.down);
    assert_ne!(a.hash, c.hash);
}

#[test]
fn garbage_and_replays_are_counted_and_dropped() {
    let mut t = transport(2, 0.0, 5);
    drive(&mut t, 2, 2);
    let now = SimTime(2_000_000);
    assert!(t.inject_datagram(now, 0, vec![0xff; 100]));
    assert!(t.inject_datagram(now, 0, vec![]));
    assert!(t.inject_stream_bytes(now, 1, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    t.inject_udp(now, 0, vec![0x42; 1300]);
    t.inject_udp(now, 1, vec![0x00; 3]);
    // a replayed heartbeat: sealed once, sent twice
    let hb = DownMsg {
        truck: TruckId(0),
        seq: 999,
        sent: now,
        body: DispatchMsg::Heartbeat,
    };
    let sealed = t
        .seal_down(0, &hb, now.0, now.0 + 1_000_000)
        .expect("known truck");
    assert!(t.inject_down_datagram(now, 0, sealed.clone()));
    assert!(t.inject_down_datagram(now + SimDuration::from_millis(30), 0, sealed.clone()));
    // altered
    let mut bad = sealed.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x80;
    assert!(t.inject_down_datagram(now + SimDuration::from_millis(40), 0, bad));
    // expired
    let old = t.seal_down(0, &hb, 0, 1_000).expect("known truck");
    assert!(t.inject_down_datagram(now + SimDuration::from_millis(50), 0, old));
    // misaddressed: truck 1's frame sent to truck 0
    let hb1 = DownMsg {
        truck: TruckId(1),
        ..hb.clone()
    };
    let other = t
        .seal_down(1, &hb1, now.0, now.0 + 1_000_000)
        .expect("known truck");
    assert!(t.inject_down_datagram(now + SimDuration::from_millis(60), 0, other));
    let r = t.recv_down(SimTime(2_500_000));
    assert_eq!(
        r.iter().filter(|m| m.seq == 999).count(),
        1,
        "replay delivered once"
    );
    let k = t.kpis().expect("kpis");
    let safety = t.safety();
    println!("{k:#?} {safety:#?}");
    assert!(
        safety.safety_at_dispatcher.undecodable >= 2,
        "garbage datagrams"
    );
    assert!(k.garbage_dropped >= 3, "stream garbage too");
    assert_eq!(safety.safety_at_trucks.replayed, 1);
    assert_eq!(safety.safety_at_trucks.expired, 1);
    // altered, and truck 1's frame (truck 1's key) presented to truck 0
    assert_eq!(safety.safety_at_trucks.bad_mac, 2);
    // the links still work afterwards
    let after = drive(&mut t, 2, 1);
    let _ = after;
    assert!(t.is_connected(0) && t.is_connected(1));
}

/// An e-stop goes as a priority stream and repeated datagrams: under 30% loss it still
/// arrives within 60 ms, and the truck is handed it once.
#[test]
fn estop_arrives_fast_under_heavy_loss_and_once() {
    let mut lossy = SimQuicTransport::new(
        1,
        FixedChannel::new(10_000, 0.3, 8),
        SimQuicConfig {
            seed: 8,
            ..SimQuicConfig::default()
        },
    )
    .expect("transport");
    let mut fast = 0;
    let mut base = 0u64;
    for round in 0..20u64 {
        // keep the connection alive and learn the RTT
        let r = drive_from(&mut lossy, base, 1);
        base = r;
        let now = SimTime(base);
        let stop = DownMsg {
            truck: TruckId(0),
            seq: 10_000 + round,
            sent: now,
            body: DispatchMsg::EStop(site::protocol::StopReason::Operator),
        };
        lossy.send_down(now, &stop);
        let mut got = Vec::new();
        for k in 1..=50u64 {
            let at = SimTime(base + k * 2_000);
            got.extend(
                lossy
                    .recv_down(at)
                    .into_iter()
                    .filter(|m| m.seq == stop.seq)
                    .map(|_| at),
            );
        }
        base += 100_000;
        assert!(got.len() <= 1, "delivered {} times", got.len());
        if got.first().is_some_and(|at| at.0 - now.0 <= 60_000) {
            fast += 1;
        }
    }
    assert!(fast >= 19, "e-stops within 60 ms: {fast} of 20");
}

/// Heartbeats both ways for `secs` seconds starting at `from_us`; returns the end time.
fn drive_from(t: &mut SimQuicTransport<FixedChannel>, from_us: u64, secs: u64) -> u64 {
    let mut end = from_us;
    for k in 0..secs * 10 {
        let now = SimTime(from_us + k * 100_000);
        end = now.0;
        let _ = t.recv_down(now);
        let _ = t.recv_up(now);
        t.send_up(
            now,
            &UpMsg {
                truck: TruckId(0),
                seq: k + 1,
                sent: now,
                body: TruckMsg::Heartbeat,
            },
        );
        t.send_down(
            now,
            &DownMsg {
                truck: TruckId(0),
                seq: k + 1,
                sent: now,
                body: DispatchMsg::Heartbeat,
            },
        );
    }
    end + 100_000
}
