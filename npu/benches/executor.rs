//! Executor throughput on a conv-heavy model at batch 1 and batch 32 (host CPU GFLOP/s of
//! the real inference, not simulated device time). Run with `cargo bench -p npu`.
//!
//! This is the one place of the crate that reads the wall clock: it measures the host.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use npu::compiler::{compile, CompileOptions};
use npu::device::DeviceProfile;
use npu::ir::Precision;
use npu::zoo;

#[allow(clippy::disallowed_methods)] // benchmarks measure host wall time by design
fn time_it(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let start = Instant::now();
    let mut iters = 0u32;
    while iters < 3 || start.elapsed() < Duration::from_millis(1500) {
        f();
        iters += 1;
    }
    start.elapsed() / iters
}

fn main() -> Result<(), npu::NpuError> {
    let profile = DeviceProfile::builtin("ascend310")?;
    let g = zoo::conv_heavy(1)?;
    let calib = vec![BTreeMap::from([(
        "image".to_string(),
        zoo::synthetic_images(1, 4, 64, 64),
    )])];
    println!("executor benchmark: conv_heavy [N,3,64,64], 5 conv layers");
    for prec in [Precision::Fp32, Precision::Int8] {
        let opts = CompileOptions {
            precision: prec,
            gears: vec![1, 32],
            calibration: calib.clone(),
            ..Default::default()
        };
        let m = compile(&g, &profile, &opts)?;
        for batch in [1usize, 32] {
            let x =
                BTreeMap::from([("image".to_string(), zoo::synthetic_images(7, batch, 64, 64))]);
            let flops = m.flops(batch, &profile)? as f64;
            let mut err = None;
            let t = time_it(|| {
                if let Err(e) = m.run(&x) {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            let secs = t.as_secs_f64();
            println!(
                "{prec:?} batch {batch:>2}: {:.2} ms/iter, {:.2} GFLOP/iter, {:.2} GFLOP/s (simulated {} latency {} us)",
                secs * 1e3,
                flops / 1e9,
                flops / secs / 1e9,
                profile.name,
                m.latency_us(batch, &profile)?
            );
        }
    }
    Ok(())
}
