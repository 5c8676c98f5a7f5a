//! `minesim run` as a user meets it: bad output paths fail before the run, Ctrl-C leaves a
//! report of what ran, `--fail-on` makes the exit code mean something, site errors carry
//! line and column, negative numbers are refused with a message about the value.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn minesim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args(args)
        .output()
        .expect("minesim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("minesim-cli-run-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn report_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/schemas/report.schema.json"
    ))
    .expect("report schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn a_bad_report_path_fails_before_the_run_starts() {
    let dir = scratch("badpath");
    for (report, says) in [
        (dir.join("no/such/folder/r.json"), "does not exist"),
        (dir.clone(), "is a folder"),
    ] {
        #[allow(clippy::disallowed_methods)] // measuring the binary's own fail-fast
        let t0 = std::time::Instant::now();
        // a full default shift (100 trucks, 1 h) would take many minutes
        let (code, out, err) = minesim(&["run", "--report", report.to_str().expect("utf-8")]);
        let took = t0.elapsed().as_secs_f64();
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--report") && err.contains(says), "{err}");
        assert!(out.is_empty(), "nothing was simulated: {out}");
        assert!(took < 10.0, "failing took {took:.1} s");
    }
    assert!(
        !dir.join("no").exists(),
        "the check creates no folders on the way"
    );
}

#[test]
fn sigint_ends_the_run_with_a_valid_report_marked_interrupted() {
    let dir = scratch("sigint");
    let report = dir.join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args([
            "run",
            "--trucks",
            "10",
            "--duration",
            "3h",
            "--transport",
            "memory",
            "--report",
        ])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("minesim starts");
    // Without a terminal the progress is one line on stderr every 10 % or 10 s of wall
    // clock; wait for one that shows a few simulated minutes.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .expect("a progress line before the end")
            .expect("utf-8");
        seen.push(line.clone());
        let simulated: u64 = line
            .strip_prefix("minesim run: ")
            .and_then(|l| l.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if simulated >= 180 {
            assert!(line.contains("ETA"), "{line}");
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().expect("minesim ends");
    assert_eq!(out.status.code(), Some(130), "{seen:?} {rest:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("interrupted") && table.contains("yes"),
        "{table}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("a report was written"))
            .expect("the report is JSON");
    assert_eq!(r["interrupted"], true);
    let sim = r["sim_seconds"].as_f64().unwrap_or(0.0);
    assert!((180.0..10_800.0).contains(&sim), "covers what ran: {sim} s");
    let schema = report_schema();
    assert!(
        schema.is_valid(&r),
        "the interrupted report is a valid report"
    );
    assert_eq!(r["config"]["duration_s"], 10_800.0);
    assert_eq!(r["config"]["transport"], "memory");
    assert_eq!(r["config"]["site_file"], "(embedded default site)");
    assert_eq!(r["config"]["site_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn fail_on_turns_what_the_run_showed_into_exit_code_1() {
    // A rock dropped 90 m ahead of the one truck of seed 4 once it drives (as in
    // tests/obstacle_stop.rs): without perception it drives into it.
    let site = std::sync::Arc::new(site::default_site::load().expect("default site"));
    let cfg = sim_world::SimConfig {
        trucks: 1,
        seed: 4,
        ..sim_world::SimConfig::default()
    };
    let mut w = sim_world::SimWorld::new(site, cfg).expect("world");
    let rock = loop {
        let secs = w.now.as_secs_f64() + 1.0;
        while w.now.as_secs_f64() < secs {
            w.step();
        }
        let tr = &w.trucks[0];
        if w.physics.state(tr.body).speed > 3.0 {
            let r = tr.brain.route().expect("a moving truck has a route");
            let p = r.point_at(tr.brain.progress() + 90.0, &w.site.roads);
            break (p.pos, w.now.0);
        }
        assert!(w.now.as_secs_f64() < 120.0, "the truck never got going");
    };
    let dir = scratch("failon");
    let obstacles = dir.join("rock.toml");
    std::fs::write(
        &obstacles,
        format!(
            "[[obstacle]]\nclass = \"rock\"\nx = {}\ny = {}\nyaw = 0.4\nlength = 2.0\nwidth = 1.8\nheight = 1.5\nappear_at_us = {}\n",
            rock.0[0], rock.0[1], rock.1
        ),
    )
    .expect("obstacle file");
    let report = dir.join("r.json");
    let end = format!("{}s", rock.1 / 1_000_000 + 60);
    let common = [
        "run",
        "--trucks",
        "1",
        "--seed",
        "4",
        "--transport",
        "memory",
        "--auto-rearm",
        "off",
        "--duration",
        &end,
        "--obstacles",
        obstacles.to_str().expect("utf-8"),
        "--report",
        report.to_str().expect("utf-8"),
    ];
    let mut args = common.to_vec();
    args.extend(["--fail-on", "collisions,violations,obstacle-collisions"]);
    let (code, out, err) = minesim(&args);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("truck–obstacle collisions"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("JSON");
    assert!(r["obstacle_collisions"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_eq!(r["config"]["obstacles"], 1);
    assert_eq!(r["config"]["auto_rearm_s"], serde_json::Value::Null);

    // The same run is a pass when obstacle contacts are not an expectation.
    let mut args = common.to_vec();
    args.extend(["--fail-on", "none"]);
    let (code, _, err) = minesim(&args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_misspelt_radio_key_fails_site_check_and_run_with_its_line_and_column() {
    let text = site::default_site::TEXT;
    let dir = scratch("radio");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!("{text}\n[radio.carrier]\nbandwith_hz = 20e6\n"),
    )
    .expect("write");
    let line = text.lines().count() + 3;
    let want = format!("bad.toml:{line}:1: radio.carrier.bandwith_hz: unknown field `bandwith_hz`");
    for cmd in [
        vec!["site", "check", bad.to_str().expect("utf-8")],
        vec![
            "run",
            "--site",
            bad.to_str().expect("utf-8"),
            "--trucks",
            "2",
        ],
    ] {
        let (code, out, err) = minesim(&cmd);
        assert_eq!(code, 2, "{cmd:?}: {out}{err}");
        assert!(err.contains(&want), "{cmd:?}: {err}");
    }
}

#[test]
fn negative_numbers_are_refused_with_a_message_about_the_value() {
    for (args, says) in [
        (vec!["run", "--seed", "-1"], "a seed is a whole number"),
        (vec!["run", "--trucks", "-3"], "at least one truck, got -3"),
        (vec!["run", "--duration", "-5m"], "negative duration"),
        (
            vec!["coverage", "--step", "-10", "-o", "x.png"],
            "grid step",
        ),
        (vec!["run", "--dust", "-0.5"], "dust must be in 0–1"),
    ] {
        let (code, _, err) = minesim(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

#[test]
fn the_default_site_is_embedded_not_read_from_the_source_tree() {
    // run from a folder with no assets/: the binary still has its default site
    let dir = scratch("elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args([
            "run",
            "--trucks",
            "2",
            "--duration",
            "5s",
            "--transport",
            "memory",
        ])
        .current_dir(&dir)
        .output()
        .expect("minesim runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("tonnes hauled"));
}

#[test]
fn real_mode_names_a_bad_dispatcher_address_and_hints_at_starting_one() {
    let (code, _, err) = minesim(&[
        "run",
        "--transport",
        "real",
        "--trucks",
        "2",
        "--duration",
        "5s",
        "--dispatcher",
        "0.0.0.0:4433",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--dispatcher 0.0.0.0:4433") && err.contains("loopback"),
        "the address as given, not a socket of our own: {err}"
    );
    // nothing listens on this port: the run says how to start a dispatcher
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    let (code, _, err) = minesim(&[
        "run",
        "--transport",
        "real",
        "--trucks",
        "2",
        "--duration",
        "5s",
        "--dispatcher",
        &addr,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("dispatcher --listen {addr} --trucks 2")),
        "{err}"
    );
}
