//! The viewer renders the default site with 100 trucks (software Vulkan under Xvfb) and saves
//! three screenshots: the overview, a followed truck with its overlays, and the SINR coverage
//! heatmap; then, with 10 trucks and perception on, a followed truck with a rock on its road
//! ahead and its perception overlays. The pictures are checked: not blank, truck paint where
//! the trucks project, the heatmap's colours over the terrain, the point cloud's height ramp.
//!
//! Needs `Xvfb` and a Vulkan driver (Mesa llvmpipe): `scripts/test` installs them. The test
//! starts its own Xvfb on a free display and stops it.
#![cfg(feature = "viewer")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

struct Xvfb {
    child: Child,
    display: String,
    runtime: PathBuf,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime);
    }
}

/// The next display number to try: the tests of this file run in parallel threads, and two
/// of them that looked for a free number at the same moment took the same one (the second
/// Xvfb could not start, both drew on the first, and the first test's teardown killed the
/// other's display mid-run). Each call now starts from its own number.
static NEXT_DISPLAY: AtomicU32 = AtomicU32::new(90);

fn start_xvfb() -> Xvfb {
    for _ in 0..110 {
        let n = NEXT_DISPLAY.fetch_add(1, Ordering::SeqCst);
        if Path::new(&format!("/tmp/.X{n}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let mut child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb must be installed (scripts/test installs it: apt-get install xvfb)");
        for _ in 0..100 {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Another process may have taken the number meanwhile: then this Xvfb has exited.
        if !matches!(child.try_wait(), Ok(None)) {
            continue;
        }
        let runtime = std::env::temp_dir().join(format!("minesim-xdg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        return Xvfb {
            child,
            display,
            runtime,
        };
    }
    panic!("no free X display number from :90");
}

struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    side: serde_json::Value,
}

impl Shot {
    fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
    fn all(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|c| [c[0], c[1], c[2]])
    }
}

fn is_truck_paint(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    r > 150 && g > 95 && b < 90 && r - b > 100 && g - b > 60
}

fn is_heatmap(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    let hi = r.max(g).max(b);
    let lo = r.min(g).min(b);
    hi - lo > 40
}

/// A pixel of the point cloud's height ramp (blue at the ground, cyan, green, yellow, red):
/// saturated, which neither the terrain, the sky nor the trucks are, and near the ramp.
fn is_ramp(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    let ramp_low = b > 170 && r < 90 && b - r > 110;
    let ramp_mid = g > 170 && r < 110 && g - r > 90;
    ramp_low || ramp_mid
}

fn shoot(x: &Xvfb, dir: &Path, name: &str, args: &[&str]) -> Shot {
    shoot_fleet(x, dir, name, 100, args)
}

fn shoot_fleet(x: &Xvfb, dir: &Path, name: &str, trucks: usize, args: &[&str]) -> Shot {
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let out = Command::new(env!("CARGO_BIN_EXE_minesim"))
        .args(["view", "--trucks", &trucks.to_string(), "--seed", "1"])
        .arg("--screenshot")
        .arg(&png)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("DISPLAY", &x.display)
        .env("XDG_RUNTIME_DIR", &x.runtime)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run minesim view");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "minesim view {name} failed: {}\nstdout:\n{stdout}\nstderr (tail):\n{}",
        out.status,
        stderr
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for line in stdout.lines().filter(|l| l.starts_with("frame time")) {
        eprintln!("{name}: {line}");
    }
    let file = std::fs::File::open(&png).expect("the screenshot exists");
    let mut dec = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; dec.output_buffer_size().expect("buffer size")];
    let info = dec.next_frame(&mut buf).expect("PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb, "{name}: RGB PNG");
    buf.truncate(info.buffer_size());
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(png.with_extension("json")).expect("sidecar"),
    )
    .expect("sidecar JSON");
    Shot {
        width: info.width as usize,
        height: info.height as usize,
        rgb: buf,
        side,
    }
}

fn assert_not_blank(s: &Shot, name: &str) {
    let mut colours = std::collections::HashSet::new();
    let (mut sum, mut sum2, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for p in s.all() {
        colours.insert([p[0] >> 3, p[1] >> 3, p[2] >> 3]);
        let l = 0.3 * p[0] as f64 + 0.59 * p[1] as f64 + 0.11 * p[2] as f64;
        sum += l;
        sum2 += l * l;
        n += 1.0;
    }
    let sd = (sum2 / n - (sum / n).powi(2)).max(0.0).sqrt();
    assert!(
        colours.len() > 300,
        "{name}: only {} colours",
        colours.len()
    );
    assert!(sd > 12.0, "{name}: luminance deviation {sd:.1}");
}

/// Share of projected truck positions with truck paint within `r` pixels.
fn truck_hits(s: &Shot, r: i64) -> (usize, usize) {
    let pts = s.side["projected"].as_array().expect("projected");
    let mut hit = 0;
    for p in pts {
        let (x, y) = (
            p[0].as_f64().expect("x") as i64,
            p[1].as_f64().expect("y") as i64,
        );
        let found = (-r..=r).any(|dy| {
            (-r..=r).any(|dx| {
                let (px, py) = (x + dx, y + dy);
                px >= 0
                    && py >= 0
                    && (px as usize) < s.width
                    && (py as usize) < s.height
                    && is_truck_paint(s.px(px as usize, py as usize))
            })
        });
        if found {
            hit += 1;
        }
    }
    (hit, pts.len())
}

#[test]
fn viewer_screenshots_show_the_mine() {
    let x = start_xvfb();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("viewer-shots");
    std::fs::create_dir_all(&dir).expect("shot dir");

    let overview = shoot(
        &x,
        &dir,
        "overview",
        &["--at", "40s", "--camera", "overview"],
    );
    assert_eq!((overview.width, overview.height), (1280, 720));
    assert_not_blank(&overview, "overview");
    let (hit, n) = truck_hits(&overview, 4);
    eprintln!("overview: truck paint at {hit} of {n} projected trucks");
    assert!(n >= 50, "overview: only {n} trucks in view");
    assert!(hit * 10 >= n * 7, "overview: truck paint at {hit} of {n}");
    // Where no truck projects, the paint is rare: the check is not fooled by the terrain.
    let paint = overview.all().filter(|p| is_truck_paint(*p)).count();
    assert!(
        paint < overview.width * overview.height / 20,
        "overview: {paint} paint pixels"
    );

    let follow = shoot(
        &x,
        &dir,
        "follow",
        &[
            "--at",
            "40s",
            "--camera",
            "follow:7",
            "--overlays",
            "routes,claims,queues,links",
        ],
    );
    assert_not_blank(&follow, "follow");
    assert_eq!(follow.side["selected"].as_u64(), Some(7));
    // The followed truck sits in the middle third of the picture, in its paint.
    let (w, h) = (follow.width, follow.height);
    let centre_paint = (h / 3..2 * h / 3)
        .flat_map(|y| (w / 3..2 * w / 3).map(move |x| (x, y)))
        .filter(|&(x, y)| is_truck_paint(follow.px(x, y)))
        .count();
    assert!(
        centre_paint > 400,
        "follow: {centre_paint} paint pixels in the centre"
    );

    let cover = shoot(
        &x,
        &dir,
        "coverage",
        &[
            "--at",
            "40s",
            "--camera",
            "overview",
            "--overlays",
            "coverage",
        ],
    );
    assert_not_blank(&cover, "coverage");
    let frac =
        |s: &Shot| s.all().filter(|p| is_heatmap(*p)).count() as f64 / (s.width * s.height) as f64;
    let (f0, f1) = (frac(&overview), frac(&cover));
    eprintln!("saturated pixels: overview {f0:.3}, coverage {f1:.3}");
    assert!(
        f1 > f0 + 0.2,
        "coverage heatmap not visible: {f0:.3} -> {f1:.3}"
    );

    // Perception, 3 trucks: truck ROCK_TRUCK followed, a rock on its road ahead (a point on
    // the truck's route found with a headless run of the same fleet and seed).
    let perceive = shoot_fleet(
        &x,
        &dir,
        "perception",
        3,
        &[
            "--at",
            SHOT_AT,
            "--camera",
            &format!("follow:{ROCK_TRUCK}"),
            "--perception",
            "on",
            "--obstacle",
            ROCK,
            "--overlays",
            "points,detections,tracks",
        ],
    );
    assert_not_blank(&perceive, "perception");
    let p = &perceive.side["perception"];
    eprintln!("perception: {p}");
    assert_eq!(p["watched"].as_bool(), Some(true), "{p}");
    assert_eq!(p["obstacles_in_world"].as_u64(), Some(1), "{p}");
    assert!(p["points"].as_u64().unwrap_or(0) > 1000, "{p}");
    assert!(
        p["tracks"].as_u64().unwrap_or(0) >= 1,
        "the rock is tracked: {p}"
    );
    let ramp = |s: &Shot| s.all().filter(|p| is_ramp(*p)).count();
    let (r0, r1) = (ramp(&overview), ramp(&perceive));
    eprintln!("height-ramp pixels: overview {r0}, perception {r1}");
    assert!(
        r1 > 3000 && r1 > 10 * r0,
        "point cloud not visible: {r0} -> {r1}"
    );
    eprintln!("screenshots in {}", dir.display());
}

/// The perception shot: the truck followed, the rock and the time of the picture. Truck 1 of
/// 3 (seed 1) drives east along y ≈ 750 from (-98, 751); at 7 s it is near (-80, 750) and the
/// rock 25 m ahead of it on its lane (found stepping a headless world of the same config).
const ROCK_TRUCK: u32 = 1;
const ROCK: &str = "rock@-55,748";
const SHOT_AT: &str = "7s";

/// A pixel of the candidates' green end (the cheaper half of the non-lethal candidates).
fn is_candidate_green(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    g > 180 && r < 140 && b < 140 && g - r > 70 && g - b > 70
}

/// A pixel of the cost ramp's blue end or its amber end.
fn is_cost(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(i32::from);
    let blue = b > 200 && r < 90 && g < 140 && b - g > 90;
    let amber = r > 200 && (90..190).contains(&g) && b < 60;
    blue || amber
}

/// With planning on, the selected truck's plan is drawn: the candidate trajectories, slice 0
/// of its cost volume, its supervisor ring. The same scene is shot without and with each
/// overlay and the overlay's colours must appear where they were not.
#[test]
fn viewer_screenshots_show_the_selected_trucks_plan() {
    let x = start_xvfb();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("viewer-shots");
    std::fs::create_dir_all(&dir).expect("shot dir");
    let base = |overlays: &str| {
        vec![
            "--at".to_string(),
            PLAN_AT.to_string(),
            "--camera".to_string(),
            format!("follow:{PLAN_TRUCK}"),
            "--perception".to_string(),
            "on".to_string(),
            "--planning".to_string(),
            "on".to_string(),
            "--overlays".to_string(),
            overlays.to_string(),
        ]
    };
    let shot = |name: &str, overlays: &str| {
        let v = base(overlays);
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        shoot_fleet(&x, &dir, name, 3, &a)
    };
    let plain = shot("plan-none", "");
    let cand = shot("plan-candidates", "candidates");
    let cost = shot("plan-costs", "costs,supervisor");
    for s in [&plain, &cand, &cost] {
        assert_not_blank(s, "plan");
    }
    let p = &cand.side["planning"];
    eprintln!("planning: {p}");
    assert!(p["plans"].as_u64().unwrap_or(0) > 10, "{p}");
    assert_eq!(
        p["candidates"].as_u64(),
        Some(56),
        "7 offsets x 8 profiles: {p}"
    );
    assert!(
        p["plan_age_s"].as_f64().is_some_and(|a| a < 1.0),
        "the plan is fresh: {p}"
    );
    assert!(p["cost_cells"].as_u64().unwrap_or(0) > 100, "{p}");
    assert!(p["supervisor_level"].is_string(), "{p}");
    let count = |s: &Shot, f: fn([u8; 3]) -> bool| s.all().filter(|p| f(*p)).count();
    let (g0, g1) = (
        count(&plain, is_candidate_green),
        count(&cand, is_candidate_green),
    );
    let (c0, c1) = (count(&plain, is_cost), count(&cost, is_cost));
    eprintln!("candidate pixels {g0} -> {g1}, cost pixels {c0} -> {c1}");
    assert!(g1 > g0 + 300, "candidates not visible: {g0} -> {g1}");
    assert!(c1 > c0 + 1000, "cost volume not visible: {c0} -> {c1}");
    eprintln!("screenshots in {}", dir.display());
}

/// The plan shot: truck 1 of 3 (seed 1), followed by the chase camera while it drives its
/// first haul at speed.
const PLAN_TRUCK: u32 = 1;
const PLAN_AT: &str = "20s";
