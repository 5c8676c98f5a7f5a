//! CPU use of the real-mode dispatcher server (`dispatcher`, a child process) while N trucks
//! (this process, one `quinn` connection each, mutual TLS) send M messages per second each:
//! half telemetry, half heartbeats, as datagrams, sealed by the safety layer. Prints the
//! server's CPU time over a measured window (from /proc), messages it received and CPU per
//! message. `cargo bench -p fleet --bench server_cpu [-- TRUCKS RATE SECONDS]`
//! (default 200 trucks × 20 messages/s for 10 s).

use network5g::quic::real::{master_key, TruckLink};
use network5g::quic::SitePki;
use site::protocol::{MissionState, Telemetry, TruckInfo, TruckMsg, UpMsg};
use site::{SimTime, TruckId};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// utime + stime of a process, seconds (Linux /proc).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the command name, which is in parentheses
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or(47_433)
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock and CPU time
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let trucks: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rate: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let warmup = 3u64;
    let port = free_port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/sites/default.toml");
    let child = match Command::new(env!("CARGO_BIN_EXE_dispatcher"))
        .args([
            "--site",
            site,
            "--listen",
            &addr.to_string(),
            "--trucks",
            &trucks.to_string(),
            "--duration",
            &format!("{}s", warmup + secs + 5),
            "--no-roster",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the dispatcher: {e}");
            std::process::exit(1);
        }
    };
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(1500));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    let pki = match SitePki::generate(1, "site CA", trucks) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("pki: {e}");
            std::process::exit(1);
        }
    };
    let master = master_key(1);
    let measured = rt.block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..trucks {
            let pki = pki.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut link) = TruckLink::connect(&pki, i, master, addr).await else {
                    return 0u64;
                };
                let mut seq = 0u64;
                let mut sent = 0u64;
                let origin = tokio::time::Instant::now();
                let tick_every = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
                let mut tick = tokio::time::interval(tick_every);
                let end = origin + Duration::from_secs(warmup + secs);
                let hello = TruckMsg::Hello(TruckInfo {
                    length_m: 15.5,
                    width_m: 9.5,
                    capacity_t: 290.0,
                });
                while tokio::time::Instant::now() < end {
                    tick.tick().await;
                    seq += 1;
                    let now = SimTime(origin.elapsed().as_micros() as u64);
                    let body = if seq == 1 {
                        hello.clone()
                    } else if seq.is_multiple_of(2) {
                        TruckMsg::Telemetry(Telemetry {
                            pos: [0.0, 0.0, 0.0],
                            heading: 0.0,
                            speed: 0.0,
                            route: None,
                            progress_m: 0.0,
                            payload_t: 0.0,
                            state: MissionState::Parked,
                        })
                    } else {
                        TruckMsg::Heartbeat
                    };
                    let m = UpMsg {
                        truck: TruckId(i),
                        seq,
                        sent: now,
                        body,
                    };
                    if link.send(&m).await.is_err() {
                        break;
                    }
                    sent += 1;
                    while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, link.recv()).await
                    {
                    }
                }
                link.close().await;
                sent
            }));
        }
        tokio::time::sleep(Duration::from_secs(warmup)).await;
        let c0 = cpu_seconds(pid);
        let t0 = std::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let c1 = cpu_seconds(pid);
        let wall = t0.elapsed().as_secs_f64();
        let mut sent = 0;
        for t in tasks {
            sent += t.await.unwrap_or(0);
        }
        (c0.zip(c1).map(|(a, b)| b - a), wall, sent)
    });
    let out = child.wait_with_output();
    let (cpu, wall, sent) = measured;
    let summary: serde_json::Value = out
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or(serde_json::Value::Null);
    let received = summary["messages_in"].as_u64().unwrap_or(0);
    let connections = summary["connections"].as_u64().unwrap_or(0);
    println!(
        "dispatcher server: {trucks} trucks × {rate} messages/s offered, {connections} connections"
    );
    println!(
        "  messages sent by trucks {sent}, received by the dispatcher {received}, rejected {}",
        summary["frames_rejected"]
    );
    match cpu {
        Some(cpu) => {
            let per_s = f64::from(trucks * rate);
            println!(
                "  dispatcher CPU {:.2} s over {:.1} s = {:.1}% of one core; {:.1} µs CPU per message",
                cpu,
                wall,
                100.0 * cpu / wall,
                1e6 * cpu / (per_s * wall)
            );
        }
        None => println!("  dispatcher CPU: /proc not readable here"),
    }
}
