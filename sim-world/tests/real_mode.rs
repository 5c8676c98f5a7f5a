//! Real mode end to end: the dispatcher server (fleet's, in this test process) and a
//! `minesim run --transport real` process with 20 trucks talk QUIC over loopback UDP with
//! mutual TLS, every packet through the site's radio model, for 60 s of wall-clock time.

use fleet::server::{bind, run, ServerConfig, ServerSummary};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Starts the dispatcher for `trucks` trucks; returns its address and a handle that stops
/// it after `secs` and yields its summary.
fn dispatcher(
    trucks: usize,
    secs: f64,
) -> (std::net::SocketAddr, std::thread::JoinHandle<ServerSummary>) {
    let site = Arc::new(
        site::file::load(&repo().join("assets/sites/default.toml")).expect("default site"),
    );
    let cfg = ServerConfig {
        trucks,
        ..ServerConfig::new(site, "127.0.0.1:0".parse().expect("addr"))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = rt.block_on(async { bind(&cfg) }).expect("bind");
    let addr = endpoint.local_addr().expect("bound");
    let h = std::thread::spawn(move || {
        rt.block_on(async move {
            let stop = tokio::time::sleep(Duration::from_secs_f64(secs));
            run(cfg, endpoint, stop).await
        })
        .expect("dispatcher runs")
    });
    (addr, h)
}

#[test]
fn twenty_trucks_work_for_a_minute_against_the_dispatcher_server() {
    let (addr, server) = dispatcher(20, 64.0);
    let dir = std::env::temp_dir().join(format!("minesim-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let report = dir.join("real.json");
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args([
            "run",
            "--trucks",
            "20",
            "--duration",
            "60s",
            "--transport",
            "real",
            "--dispatcher",
            &addr.to_string(),
            "--report",
            report.to_str().expect("utf-8"),
        ])
        .current_dir(repo())
        .output()
        .expect("minesim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "minesim failed: {stderr}");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let summary = server.join().expect("server thread");
    println!("dispatcher: {summary:?}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");

    // the dispatcher heard every truck over its own authenticated connection
    assert_eq!(summary.connections, 20);
    assert_eq!(summary.refused, 0);
    assert_eq!(summary.trucks_heard, 20);
    assert_eq!(summary.frames_rejected, 0, "{:?}", summary.safety);
    assert!(summary.assignments >= 20, "{summary:?}");
    assert!(summary.clock_s > 55.0, "{summary:?}");
    // every truck got work and road, and drove it; nothing unsafe happened
    let per_truck = r["per_truck"].as_array().expect("per_truck");
    assert_eq!(per_truck.len(), 20);
    let mut fleet_km = 0.0;
    for t in per_truck {
        let km = t["distance_km"].as_f64().unwrap_or(0.0);
        fleet_km += km;
        assert!(km > 0.02, "truck {} drove only {km} km", t["id"]);
        assert_ne!(t["final_state"], "stopped", "truck {}", t["id"]);
        assert_ne!(t["final_state"], "idle", "truck {} got no work", t["id"]);
    }
    assert!(fleet_km > 4.0, "the fleet drove {fleet_km} km");
    assert_eq!(r["collisions"], 0);
    assert_eq!(r["permission_violations"], 0);
    assert_eq!(r["watchdog_stops"], 0);
    // null: no two trucks ever came within 40 m
    let sep = &r["min_separation_m"];
    assert!(
        sep.is_null() || sep.as_f64().is_some_and(|d| d >= 3.0),
        "{sep}"
    );
    let k = &r["network"]["kpis"];
    assert!(k["commands_delivered"].as_u64().unwrap_or(0) > 1000, "{k}");
    assert_eq!(k["commands_out_of_order"], 0);
    assert_eq!(k["link_downs"], 0);
    for reason in [
        "bad_mac",
        "misaddressed",
        "replayed",
        "expired",
        "undecodable",
    ] {
        let s = &r["network"]["safety_at_trucks"];
        assert_eq!(s[reason], 0, "{reason}: {s}");
    }
    let rtf = r["real_time_factor"].as_f64().unwrap_or(0.0);
    assert!(
        (0.9..=1.05).contains(&rtf),
        "paced to the wall clock: {rtf}"
    );
    let p99 = k["command_latency_p99_ms"].as_f64().unwrap_or(f64::MAX);
    println!("real mode: command latency p99 {p99:.1} ms, real-time factor {rtf:.2}");
}

#[test]
fn trucks_with_another_site_pki_are_refused_with_a_clear_error() {
    let (addr, server) = dispatcher(2, 3.0);
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args([
            "run",
            "--trucks",
            "2",
            "--duration",
            "5s",
            "--transport",
            "real",
            "--dispatcher",
            &addr.to_string(),
            "--pki-seed",
            "99",
        ])
        .current_dir(repo())
        .output()
        .expect("minesim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dispatcher at"), "{stderr}");
    let summary = server.join().expect("server thread");
    assert_eq!(summary.connections, 0, "{summary:?}");
    assert_eq!(summary.trucks_heard, 0);
}
