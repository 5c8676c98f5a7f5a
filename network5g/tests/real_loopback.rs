//! Real mode on loopback: a dispatcher endpoint and 20 trucks over UDP with mutual TLS;
//! every truck completes three work cycles; a truck whose certificate comes from another CA
//! is refused.

use network5g::quic::real::{master_key, serve, server_endpoint, ServeStats, TruckLink};
use network5g::quic::SitePki;
use site::ids::{DumpId, RouteId};
use site::protocol::{DispatchMsg, DownMsg, MissionState, Task, Telemetry, TruckMsg, UpMsg};
use site::{Route, SimTime, TruckId};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn reply(m: UpMsg) -> Vec<DownMsg> {
    let body = match m.body {
        TruckMsg::WorkRequest => DispatchMsg::Assignment {
            task: Task::Park,
            route: Route {
                id: RouteId(m.seq as u32),
                lanes: vec![],
                start_s: 0.0,
                end_s: 10.0,
            },
        },
        TruckMsg::DumpDone { .. } => DispatchMsg::ReArm,
        TruckMsg::Heartbeat => DispatchMsg::Heartbeat,
        _ => return vec![],
    };
    vec![DownMsg {
        truck: m.truck,
        seq: m.seq,
        sent: SimTime(0),
        body,
    }]
}

fn up(truck: u32, seq: u64, body: TruckMsg) -> UpMsg {
    UpMsg {
        truck: TruckId(truck),
        seq,
        sent: SimTime(0),
        body,
    }
}

async fn work(mut link: TruckLink) -> u32 {
    let t = link.truck;
    let mut seq = 0;
    let mut cycles = 0;
    for _ in 0..3 {
        seq += 1;
        let tele = TruckMsg::Telemetry(Telemetry {
            pos: [0.0; 3],
            heading: 0.0,
            speed: 0.0,
            route: None,
            progress_m: 0.0,
            payload_t: 0.0,
            state: MissionState::Idle,
        });
        link.send(&up(t, seq, tele)).await.expect("telemetry");
        seq += 1;
        link.send(&up(t, seq, TruckMsg::WorkRequest))
            .await
            .expect("send");
        loop {
            let m = link.recv().await.expect("assignment");
            if matches!(m.body, DispatchMsg::Assignment { .. }) {
                break;
            }
        }
        seq += 1;
        let done = TruckMsg::DumpDone {
            dump: DumpId(0),
            tonnes: 200.0,
        };
        link.send(&up(t, seq, done)).await.expect("send");
        loop {
            let m = link.recv().await.expect("re-arm");
            if m.body == DispatchMsg::ReArm {
                break;
            }
        }
        cycles += 1;
    }
    link.close().await;
    cycles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_trucks_work_over_loopback_and_a_foreign_ca_is_refused() {
    let pki = Arc::new(SitePki::generate(21, "site CA", 20).expect("pki"));
    let master = master_key(21);
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let endpoint = server_endpoint(&pki, addr).expect("server");
    let server_addr = endpoint.local_addr().expect("bound");
    let stats = Arc::new(Mutex::new(ServeStats::default()));
    let server = tokio::spawn(serve(
        endpoint.clone(),
        pki.clone(),
        master,
        reply,
        stats.clone(),
    ));
    let trucks = (0..20u32).map(|i| {
        let pki = pki.clone();
        tokio::spawn(async move {
            let link = TruckLink::connect(&pki, i, master, server_addr)
                .await
                .expect("connect");
            work(link).await
        })
    });
    let all = async {
        let mut total = 0;
        for t in trucks {
            total += t.await.expect("truck task");
        }
        total
    };
    let total = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("all trucks finish in time");
    assert_eq!(total, 60, "every truck completed three cycles");

    // a truck certificate from another CA (it trusts the site CA, but the site does not
    // trust its CA)
    let rogue = SitePki::generate(99, "rogue CA", 1).expect("pki");
    let mixed = SitePki {
        ca: pki.ca.clone(),
        dispatcher: pki.dispatcher.clone(),
        trucks: rogue.trucks.clone(),
    };
    let attempt = async {
        let mut link = TruckLink::connect(&mixed, 0, master, server_addr).await?;
        link.send(&up(0, 1, TruckMsg::WorkRequest)).await?;
        Ok::<Option<DownMsg>, network5g::quic::real::RealError>(link.recv().await)
    };
    let r = tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .expect("refusal is prompt");
    assert!(
        !matches!(r, Ok(Some(_))),
        "the rogue truck got an answer: {r:?}"
    );
    let s = stats.lock().expect("stats").clone();
    println!("{s:?}");
    assert_eq!(s.connections, 20);
    assert!(s.refused >= 1, "refused at the handshake");
    assert_eq!(s.safety.rejected(), 0);
    endpoint.close(quinn::VarInt::from_u32(0), b"done");
    server.abort();
}
