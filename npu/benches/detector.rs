//! Host wall time of the perception detector (`assets/models/detector.onnx`, a small conv
//! net over the BEV grid) at fp32, fp16 and int8, batch 1 and 64: the real numerics the
//! executor computes, not the simulated device latency. Run with
//! `cargo bench -p npu --bench detector`.
//!
//! Like `executor.rs`, this reads the wall clock: it measures the host.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use npu::compiler::{compile, CompileOptions};
use npu::device::DeviceProfile;
use npu::ir::{Dim, Precision};
use npu::Tensor;

/// Gears the perception crate compiles the detector for.
const GEARS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// Fastest of repeated runs (at least 3, for at least 1.5 s): the machine is shared, and the
/// minimum is the figure least disturbed by other work.
#[allow(clippy::disallowed_methods)] // benchmarks measure host wall time by design
fn time_it(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let start = Instant::now();
    let mut iters = 0u32;
    let mut best = Duration::MAX;
    while iters < 3 || start.elapsed() < Duration::from_millis(1500) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        iters += 1;
    }
    best
}

/// Deterministic BEV-like grids: mostly empty cells, a few occupied clusters with heights
/// and intensities in [0, 1] (64-bit LCG, fixed seed).
fn bev_grids(seed: u64, n: usize, c: usize, h: usize, w: usize) -> npu::Result<Tensor> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 40) as f32) / (1u64 << 24) as f32
    };
    let mut v = vec![0f32; n * c * h * w];
    for ni in 0..n {
        for y in 0..h {
            for x in 0..w {
                // Ground returns almost everywhere near the truck, obstacles rarely.
                let occupied = next() < 0.08;
                let ground = next() < 0.5;
                for ci in 0..c {
                    let r = next();
                    let val = if occupied {
                        0.3 + 0.7 * r
                    } else if ground && ci == 0 {
                        0.1 * r
                    } else {
                        0.0
                    };
                    v[((ni * c + ci) * h + y) * w + x] = val;
                }
            }
        }
    }
    Tensor::from_f32(&[n, c, h, w], v)
}

fn main() -> Result<(), npu::NpuError> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/models/detector.onnx"
    );
    let bytes = std::fs::read(path).map_err(|e| npu::NpuError::Runtime(format!("{path}: {e}")))?;
    let g = npu::onnx::import::import_onnx(&bytes)?;
    let input = g
        .inputs
        .first()
        .ok_or_else(|| npu::NpuError::InvalidGraph("detector has no input".into()))?;
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
            "detector input is not NCHW: {dims:?}"
        )));
    };
    let name = input.name.clone();
    let profile = DeviceProfile::builtin("ascend310")?;
    let calib = (0..8)
        .map(|i| {
            Ok(BTreeMap::from([(
                name.clone(),
                bev_grids(100 + i, 1, c, h, w)?,
            )]))
        })
        .collect::<npu::Result<Vec<_>>>()?;
    println!("detector benchmark: {path} [N,{c},{h},{w}], host ms/frame");
    // Optional filter: `detector fp32 int8` runs only those precisions.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_lowercase())
        .collect();
    for prec in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
        if !only.is_empty() && !only.contains(&format!("{prec:?}").to_lowercase()) {
            continue;
        }
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
        for batch in [1usize, 64] {
            let x = BTreeMap::from([(name.clone(), bev_grids(7, batch, c, h, w)?)]);
            let mut err = None;
            let t = time_it(|| {
                if let Err(e) = m.run(&x) {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            println!(
                "{prec:?} batch {batch:>2}: {:.3} ms/frame ({:.2} ms/iter; simulated {} latency {} us)",
                t.as_secs_f64() * 1e3 / batch as f64,
                t.as_secs_f64() * 1e3,
                profile.name,
                m.latency_us(batch, &profile)?
            );
        }
    }
    Ok(())
}
