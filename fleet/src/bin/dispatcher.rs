//! `dispatcher`: the fleet dispatcher as a server. Trucks (a `minesim run --transport real`
//! process) connect over QUIC on loopback UDP with mutual TLS; the dispatcher assigns work,
//! routes, grants road and watches heartbeats exactly as in the simulation.

use anyhow::Context;
use clap::Parser;
use fleet::server::{bind, run, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "dispatcher",
    version,
    about = "Fleet dispatcher server: QUIC over loopback UDP, mutual TLS with the site CA"
)]
struct Cli {
    /// Site file (TOML). Default: the default site.
    #[arg(long)]
    site: Option<PathBuf>,
    /// UDP address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:4433")]
    listen: SocketAddr,
    /// Fleet size and seed: the roster of where each truck starts, as in the simulation.
    #[arg(long, default_value_t = 100, value_parser = parse_trucks, allow_hyphen_values = true)]
    trucks: u32,
    #[arg(long, default_value_t = 1, value_parser = site::cli::seed, allow_hyphen_values = true)]
    seed: u64,
    /// Seed of the site PKI (CA, certificates) and of the safety-layer keys; the trucks'
    /// side must use the same.
    #[arg(long, default_value_t = 1, value_parser = site::cli::seed, allow_hyphen_values = true)]
    pki_seed: u64,
    /// Do not enter the fleet in the roster at its start slots: trucks join when they
    /// announce themselves (the road under a silent truck is then not held for it).
    #[arg(long)]
    no_roster: bool,
    /// Re-arm a truck that stopped itself (link watchdog, expired grant; never an operator
    /// e-stop) once it has reported `Stopped` over a working link this long, as a remote
    /// operator would; `off` never re-arms. Same syntax and default as `minesim run`.
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    auto_rearm: site::DelayOrOff,
    /// Stop after this much wall-clock time, e.g. 90s, 15m, 1h (the `minesim run --duration`
    /// syntax; default: run until Ctrl-C). `--seconds` is a hidden alias.
    #[arg(long, alias = "seconds", allow_hyphen_values = true, value_parser = site::cli::duration)]
    duration: Option<site::SimDuration>,
    /// Write the exit summary as JSON here.
    #[arg(long)]
    summary: Option<PathBuf>,
}

fn parse_trucks(s: &str) -> Result<u32, String> {
    site::cli::count_in(s, "the fleet size", 1, 2000).map(|n| n as u32)
}

fn main_inner(cli: Cli) -> anyhow::Result<()> {
    let (path, site) = match &cli.site {
        Some(p) => (
            p.display().to_string(),
            network5g::radio::site::load_site(p)?,
        ),
        None => (
            site::default_site::NAME.to_string(),
            network5g::radio::site::load_site_str(
                site::default_site::NAME,
                site::default_site::TEXT,
            )?,
        ),
    };
    let site = Arc::new(site);
    let cfg = ServerConfig {
        trucks: cli.trucks as usize,
        seed: cli.seed,
        pki_seed: cli.pki_seed,
        roster: !cli.no_roster,
        ..ServerConfig::new(site, cli.listen)
    };
    let cfg = ServerConfig {
        dispatcher: fleet::DispatcherConfig {
            auto_rearm_after: cli.auto_rearm.0,
            ..cfg.dispatcher.clone()
        },
        ..cfg
    };
    cfg.check()
        .with_context(|| format!("cannot dispatch on {path}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let duration = cli.duration;
    let summary = rt.block_on(async {
        let endpoint = bind(&cfg).with_context(|| format!("cannot listen on {}", cfg.listen))?;
        eprintln!(
            "dispatcher listening on {} (QUIC, mutual TLS) for {} trucks of {}",
            endpoint.local_addr()?,
            cfg.trucks,
            path
        );
        let stop = async move {
            match duration {
                Some(d) => tokio::time::sleep(std::time::Duration::from_micros(d.micros())).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        Ok::<_, anyhow::Error>(run(cfg, endpoint, stop).await?)
    })?;
    let json = serde_json::to_string_pretty(&summary)?;
    println!("{json}");
    if let Some(out) = cli.summary {
        std::fs::write(&out, &json).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match main_inner(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
