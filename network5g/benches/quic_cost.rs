//! Cost of simulated QUIC per truck per simulated second (prints figures; no harness).
//!
//! Traffic per truck as in a run: telemetry and heartbeat up at 10 Hz (datagrams), a
//! heartbeat down at 10 Hz (datagram), a permission command down at 5 Hz (stream) and a
//! work request up every 2 s (stream); the transport is stepped at 50 Hz.
//! `cargo bench -p network5g --bench quic_cost [-- TRUCKS SECONDS]`

use network5g::quic::{Channel, FixedChannel, RadioChannel, SimQuicConfig, SimQuicTransport};
use network5g::transport::Transport;
use network5g::{CellSiteConfig, FlatTerrain, RadioConfig};
use site::ids::RouteId;
use site::protocol::{
    DispatchMsg, DownMsg, MissionState, PermissionGrant, Telemetry, TruckMsg, UpMsg,
};
use site::{SimTime, TruckId};

fn drive<C: Channel>(t: &mut SimQuicTransport<C>, trucks: u32, secs: u64) -> u64 {
    let mut seq = 0u64;
    let mut delivered = 0u64;
    for k in 0..secs * 50 {
        let now = SimTime(k * 20_000);
        let pos: Vec<[f64; 2]> = (0..trucks)
            .map(|i| [200.0 + 10.0 * f64::from(i), 300.0 + 0.2 * k as f64])
            .collect();
        t.step(now, &pos);
        delivered += t.recv_down(now).len() as u64;
        for i in 0..trucks {
            seq += 1;
            let tele = TruckMsg::Telemetry(Telemetry {
                pos: [1.0, 2.0, 3.0],
                heading: 0.1,
                speed: 8.0,
                route: Some(RouteId(1)),
                progress_m: 100.0,
                payload_t: 200.0,
                state: MissionState::Hauling,
            });
            let mut bodies = Vec::new();
            if k % 5 == u64::from(i) % 5 {
                bodies.push(tele);
                bodies.push(TruckMsg::Heartbeat);
            }
            if k % 100 == u64::from(i) % 100 {
                bodies.push(TruckMsg::WorkRequest);
            }
            for body in bodies {
                t.send_up(
                    now,
                    &UpMsg {
                        truck: TruckId(i),
                        seq,
                        sent: now,
                        body,
                    },
                );
            }
        }
        if k % 5 == 0 {
            delivered += t.recv_up(now).len() as u64;
            for i in 0..trucks {
                let mut bodies = vec![DispatchMsg::Heartbeat];
                if k % 10 == 0 {
                    bodies.push(DispatchMsg::Permission(PermissionGrant {
                        route: RouteId(1),
                        until_m: 300.0,
                        expires: SimTime(now.0 + 3_000_000),
                    }));
                }
                for body in bodies {
                    t.send_down(
                        now,
                        &DownMsg {
                            truck: TruckId(i),
                            seq,
                            sent: now,
                            body,
                        },
                    );
                }
            }
        }
    }
    delivered
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn measure<C: Channel>(name: &str, mut t: SimQuicTransport<C>, trucks: u32, secs: u64) {
    let start = std::time::Instant::now();
    let msgs = drive(&mut t, trucks, secs);
    let wall = start.elapsed().as_secs_f64();
    let per = wall / (f64::from(trucks) * secs as f64) * 1e6;
    let k = t.kpis().unwrap_or_default();
    println!(
        "{name}: {trucks} trucks x {secs} s simulated in {wall:.2} s wall -> {per:.0} us per truck per simulated second \
         (transport alone {:.1}x real time); {msgs} messages delivered, commands {}/{}, p50 {:.1} ms p99 {:.1} ms",
        secs as f64 / wall,
        k.commands_delivered,
        k.commands_sent,
        k.command_latency_p50_ms,
        k.command_latency_p99_ms
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let trucks: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(100);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let cfg = SimQuicConfig::default();
    let fixed = SimQuicTransport::new(
        trucks as usize,
        FixedChannel::new(10_000, 0.0, 1),
        cfg.clone(),
    )
    .expect("transport");
    measure("fixed 10 ms channel", fixed, trucks, secs);
    let radio_cfg = RadioConfig {
        cells: vec![
            CellSiteConfig::at(0.0, 0.0),
            CellSiteConfig::at(1500.0, 0.0),
            CellSiteConfig::at(750.0, 1300.0),
        ],
        ..RadioConfig::default()
    };
    let radio = RadioChannel::new(radio_cfg, FlatTerrain::default(), 1).expect("radio");
    let t = SimQuicTransport::new(trucks as usize, radio, cfg).expect("transport");
    measure("radio model (flat terrain, 3 cells)", t, trucks, secs);
}
