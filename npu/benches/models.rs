//! Host CPU time per inference of the two models every truck runs on its simulated NPU:
//! the perception detector (`assets/models/detector.onnx`, `[N,C,H,W]` BEV grid) and the
//! planner (`assets/models/planner.onnx`, `[N,8,160,33]` raster), compiled the way
//! `perception::detector` and `vehicle::planner` compile them (ascend310, gears 1..128) at
//! fp32, fp16 and int8, at batch 1 and batch 50 (100 trucks split over 2 host threads: one
//! execution on the 64 gear). Prints host CPU µs per inference (per frame or plan).
//!
//! `cargo bench -p npu --bench models [-- FILTER... [iters=N]]`: a filter word (`planner`,
//! `detector`, `fp32`, `fp16`, `int8`, `b1`, `b50`) keeps the cases that name it; `iters=N`
//! runs each case exactly N times after one warm-up (for `valgrind --tool=callgrind`, whose
//! instruction counts are stable on a shared machine) and prints the mean. Times are the
//! thread's CPU time (`/proc/thread-self/schedstat`), not wall time: on a shared machine a
//! long run is preempted, and its wall time says more about the other work than this one.
//!
//! Like `executor.rs`, this reads the wall clock: it measures the host.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use npu::compiler::{compile, CompileOptions};
use npu::device::DeviceProfile;
use npu::ir::{Dim, Precision};
use npu::Tensor;

/// Gears both crates compile for.
const GEARS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns on the CPU; Linux),
/// or `None` where that file is absent.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Host time of one call of `f`: the thread's CPU time per run (mean over at least 3 runs and
/// 1 s of CPU, or exactly `iters` runs), which a machine shared with other work disturbs far
/// less than wall time; wall time where the CPU clock is unavailable.
#[allow(clippy::disallowed_methods)] // benchmarks measure host time by design
fn time_it(iters: Option<u32>, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let wall = Instant::now();
    let clock = || thread_cpu().unwrap_or_else(|| wall.elapsed());
    let start = clock();
    let mut runs = 0u32;
    loop {
        f();
        runs += 1;
        let spent = clock().saturating_sub(start);
        let done = match iters {
            Some(n) => runs >= n,
            None => runs >= 3 && spent >= Duration::from_millis(1000),
        };
        if done {
            return spent / runs.max(1);
        }
    }
}

/// 64-bit LCG in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// BEV-like grids: mostly empty cells, a few occupied ones with values in [0, 1].
fn bev_grids(seed: u64, n: usize, dims: [usize; 3]) -> npu::Result<Tensor> {
    let [c, h, w] = dims;
    let mut r = Lcg(seed);
    let mut v = vec![0f32; n * c * h * w];
    for ni in 0..n {
        for y in 0..h {
            for x in 0..w {
                let occupied = r.next() < 0.08;
                let ground = r.next() < 0.5;
                for ci in 0..c {
                    let u = r.next();
                    v[((ni * c + ci) * h + y) * w + x] = if occupied {
                        0.3 + 0.7 * u
                    } else if ground && ci == 0 {
                        0.1 * u
                    } else {
                        0.0
                    };
                }
            }
        }
    }
    Tensor::from_f32(&[n, c, h, w], v)
}

/// Planner-like rasters `[n, 8, s, d]`: sparse 0/1 occupancy in channels 0..6, a lane-edge
/// distance (0 in the lane, up to 10 m outside) in channel 6, a 0/1 stopping boundary in 7.
fn plan_rasters(seed: u64, n: usize, dims: [usize; 3]) -> npu::Result<Tensor> {
    let [c, s, d] = dims;
    let mut r = Lcg(seed);
    let mut v = vec![0f32; n * c * s * d];
    for ni in 0..n {
        let stop_row = (r.next() * s as f32) as usize;
        for ci in 0..c {
            for si in 0..s {
                for di in 0..d {
                    let lateral = (di as f32 - (d / 2) as f32).abs() * 0.5;
                    v[((ni * c + ci) * s + si) * d + di] = match ci {
                        6 => (lateral - 3.0).clamp(0.0, 10.0),
                        7 => f32::from(u8::from(si >= stop_row)),
                        _ => f32::from(u8::from(r.next() < 0.03)),
                    };
                }
            }
        }
    }
    Tensor::from_f32(&[n, c, s, d], v)
}

type MakeInput = fn(u64, usize, [usize; 3]) -> npu::Result<Tensor>;

fn main() -> Result<(), npu::NpuError> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_lowercase())
        .collect();
    let iters: Option<u32> = args
        .iter()
        .find_map(|a| a.strip_prefix("iters=").and_then(|v| v.parse().ok()));
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.contains('='))
        .map(String::as_str)
        .collect();
    // A case runs when, in each category, no word is given or its own word is.
    let wanted = |word: &str, category: &[&str]| {
        !filters.iter().any(|f| category.contains(f)) || filters.contains(&word)
    };
    let profile = DeviceProfile::builtin("ascend310")?;
    let models: [(&str, &str, MakeInput); 2] = [
        ("detector", "detector.onnx", bev_grids),
        ("planner", "planner.onnx", plan_rasters),
    ];
    println!("models benchmark: host µs per inference (ascend310 compile, gears 1..128)");
    for (model, file, make) in models {
        if !wanted(model, &["planner", "detector"]) {
            continue;
        }
        let path = format!("{}/../assets/models/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes =
            std::fs::read(&path).map_err(|e| npu::NpuError::Runtime(format!("{path}: {e}")))?;
        let g = npu::onnx::import::import_onnx(&bytes)?;
        let input = g
            .inputs
            .first()
            .ok_or_else(|| npu::NpuError::InvalidGraph(format!("{file} has no input")))?;
        let dims: Vec<usize> = input
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => *v,
                Dim::Dynamic(_) => 1,
            })
            .collect();
        let [_, c, h, w] = dims[..] else {
            return Err(npu::NpuError::InvalidGraph(format!(
                "{file} input is not 4-D: {dims:?}"
            )));
        };
        let name = input.name.clone();
        let calib = (0..8)
            .map(|i| {
                Ok(BTreeMap::from([(
                    name.clone(),
                    make(100 + i, 1, [c, h, w])?,
                )]))
            })
            .collect::<npu::Result<Vec<_>>>()?;
        for prec in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
            let pname = format!("{prec:?}").to_lowercase();
            let opts = CompileOptions {
                precision: prec,
                gears: GEARS.to_vec(),
                calibration: if prec == Precision::Int8 {
                    calib.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            let m = compile(&g, &profile, &opts)?;
            for batch in [1usize, 50] {
                let bname = format!("b{batch}");
                if !wanted(&pname, &["fp32", "fp16", "int8"]) || !wanted(&bname, &["b1", "b50"]) {
                    continue;
                }
                let x = BTreeMap::from([(name.clone(), make(7, batch, [c, h, w])?)]);
                let mut err = None;
                let t = time_it(iters, || {
                    if let Err(e) = m.run(&x) {
                        err = Some(e);
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
                println!(
                    "{model:<8} {pname} batch {batch:>2}: {:>8.1} µs/inference ({:.2} ms/execution, gear {})",
                    t.as_secs_f64() * 1e6 / batch as f64,
                    t.as_secs_f64() * 1e3,
                    m.gear_for(batch)?
                );
            }
        }
    }
    Ok(())
}
