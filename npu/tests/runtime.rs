//! Compiled-file round trip, runtime scheduling on simulated time, profiler output.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use npu::compiler::{compile, CompileOptions, CompiledModel};
use npu::device::DeviceProfile;
use npu::ir::{Precision, Tensor};
use npu::runtime::Runtime;
use npu::{om, zoo, NpuError};

fn sample(seed: u64, n: usize) -> BTreeMap<String, Tensor> {
    BTreeMap::from([("image".to_string(), zoo::synthetic_images(seed, n, 32, 32))])
}

fn model(device: &str, prec: Precision) -> CompiledModel {
    let p = DeviceProfile::builtin(device).unwrap();
    let opts = CompileOptions {
        precision: prec,
        gears: vec![1, 4, 8],
        calibration: vec![sample(1, 4)],
        evaluation: vec![sample(2, 4)],
        ..Default::default()
    };
    compile(&zoo::small_cnn(5).unwrap(), &p, &opts).unwrap()
}

#[test]
fn compiled_file_round_trips_identically() {
    for prec in [Precision::Fp32, Precision::Fp16, Precision::Int8] {
        let m = model("ascend310", prec);
        let bytes = om::to_bytes(&m).unwrap();
        let back = om::load(&bytes, &DeviceProfile::builtin("ascend310").unwrap()).unwrap();
        assert_eq!(back, m, "{prec:?}");
        assert_eq!(om::to_bytes(&back).unwrap(), bytes);
        let x = sample(3, 2);
        assert_eq!(back.run(&x).unwrap(), m.run(&x).unwrap());
    }
}

#[test]
fn compiled_file_for_another_device_is_refused() {
    let m = model("ascend310", Precision::Fp16);
    let bytes = om::to_bytes(&m).unwrap();
    let e = om::load(&bytes, &DeviceProfile::builtin("ascend910b").unwrap()).unwrap_err();
    assert!(matches!(e, NpuError::DeviceMismatch { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("ascend310") && msg.contains("ascend910b") && msg.contains("recompile"),
        "{msg}"
    );
    let mut rt = Runtime::new();
    let d = rt.set_device(DeviceProfile::builtin("ascend310p").unwrap());
    let c = rt.create_context(d).unwrap();
    assert!(matches!(
        rt.load_model_from_bytes(c, &bytes),
        Err(NpuError::DeviceMismatch { .. })
    ));
    assert!(matches!(
        rt.load_model(c, m),
        Err(NpuError::DeviceMismatch { .. })
    ));
}

#[test]
fn truncated_or_corrupt_compiled_files_are_typed_errors() {
    let bytes = om::to_bytes(&model("ascend310", Precision::Int8)).unwrap();
    for cut in (0..bytes.len()).step_by(331) {
        let e = om::read(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, NpuError::Truncated { .. } | NpuError::Malformed { .. }),
            "{e}"
        );
    }
    let mut state = 11u64;
    for _ in 0..200 {
        let mut b = bytes.clone();
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = (state >> 33) as usize % b.len();
        b[i] ^= 0x5a;
        assert!(om::read(&b).is_err(), "flipped byte {i} accepted");
    }
    assert!(om::read(b"not a model at all, just some text!!").is_err());
}

#[test]
fn requests_queue_on_a_busy_device_in_simulated_time() {
    let m = model("ascend310", Precision::Fp16);
    let p = DeviceProfile::builtin("ascend310").unwrap();
    let mut rt = Runtime::new();
    let d = rt.set_device(p.clone());
    let c = rt.create_context(d).unwrap();
    let id = rt.load_model(c, m.clone()).unwrap();
    let l1 = rt.model_latency_us(id, 1).unwrap();
    let l4 = rt.model_latency_us(id, 4).unwrap();
    assert_eq!(l1, m.latency_us(1, &p).unwrap());
    assert!(l1 > 0 && l4 > l1);
    let s1 = rt.create_stream(c).unwrap();
    let s2 = rt.create_stream(c).unwrap();
    // Two trucks submit at t=1000 on different streams: the second waits for the device.
    rt.execute_async(s1, id, &[sample(10, 1)], 1000).unwrap();
    rt.execute_async(s2, id, &[sample(11, 1)], 1000).unwrap();
    let r1 = rt.synchronize_stream(s1).unwrap();
    let r2 = rt.synchronize_stream(s2).unwrap();
    assert_eq!((r1[0].start_us, r1[0].end_us), (1000, 1000 + l1));
    assert_eq!((r2[0].start_us, r2[0].end_us), (1000 + l1, 1000 + 2 * l1));
    // Batched: three requests in one execution use gear 4.
    let reqs: Vec<_> = (0..3).map(|i| sample(20 + i, 1)).collect();
    let r = rt.execute(c, id, &reqs, 0).unwrap();
    assert_eq!(r.gear, 4);
    assert_eq!(r.outputs.len(), 3);
    assert_eq!(r.start_us, 1000 + 2 * l1, "queued behind earlier work");
    assert_eq!(r.end_us, r.start_us + l4);
    // An idle device starts at the submission time.
    let late = rt.execute(c, id, &[sample(30, 1)], 1_000_000).unwrap();
    assert_eq!(late.start_us, 1_000_000);
    // Same model, inputs and queue on a fresh runtime: same times and bit-identical outputs.
    let mut rt2 = Runtime::new();
    let d2 = rt2.set_device(p);
    let c2 = rt2.create_context(d2).unwrap();
    let id2 = rt2.load_model(c2, m).unwrap();
    let again = rt2.execute(c2, id2, &[sample(10, 1)], 1000).unwrap();
    assert_eq!(again.outputs, r1[0].outputs);
    assert_eq!(again.end_us, r1[0].end_us);
}

#[test]
fn events_order_work_across_streams() {
    let m = model("ascend910b", Precision::Fp16);
    let mut rt = Runtime::new();
    let d = rt.set_device(DeviceProfile::builtin("ascend910b").unwrap());
    let c = rt.create_context(d).unwrap();
    let id = rt.load_model(c, m).unwrap();
    let (s1, s2) = (rt.create_stream(c).unwrap(), rt.create_stream(c).unwrap());
    let ev = rt.create_event();
    assert!(rt.stream_wait_event(s2, ev).is_err(), "unrecorded event");
    rt.execute_async(s1, id, &[sample(1, 1)], 500).unwrap();
    rt.record_event(ev, s1).unwrap();
    let t = rt.event_time(ev).unwrap().unwrap();
    assert_eq!(t, rt.device_busy_until(d).unwrap());
    rt.stream_wait_event(s2, ev).unwrap();
    rt.execute_async(s2, id, &[sample(2, 1)], 0).unwrap();
    let r = rt.synchronize_stream(s2).unwrap();
    assert!(r[0].start_us >= t);
    let big: Vec<_> = (0..9).map(|i| sample(i, 1)).collect();
    assert!(matches!(
        rt.execute_async(s1, id, &big, 0),
        Err(NpuError::NoGear { .. })
    ));
}

#[test]
fn profiler_emits_chrome_trace_and_op_summary() {
    let m = model("ascend310", Precision::Int8);
    let mut rt = Runtime::new();
    let d = rt.set_device(DeviceProfile::builtin("ascend310").unwrap());
    let c = rt.create_context(d).unwrap();
    let id = rt.load_model(c, m.clone()).unwrap();
    let s = rt.create_stream(c).unwrap();
    rt.execute_async(s, id, &[sample(1, 1)], 0).unwrap();
    rt.execute(c, id, &[sample(2, 2)], 0).unwrap();
    let prof = rt.profiler();
    assert_eq!(prof.tasks.len(), 2);
    assert_eq!(prof.kernels.len(), 2 * m.graph.nodes.len());
    let trace = prof.chrome_trace();
    let events = trace["traceEvents"].as_array().unwrap();
    let kernels: Vec<_> = events.iter().filter(|e| e["cat"] == "kernel").collect();
    assert_eq!(kernels.len(), prof.kernels.len());
    let tids: std::collections::BTreeSet<_> =
        kernels.iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(tids.len(), 2, "one track per stream");
    let first = kernels[0];
    assert_eq!(first["args"]["op_type"], "Conv");
    assert_eq!(first["args"]["fused_from"].as_array().unwrap().len(), 3);
    assert!(["cube", "vector", "memory"].contains(&first["args"]["bound"].as_str().unwrap()));
    assert!(first["args"]["input_shapes"].is_array());
    let csv = prof.op_summary_csv();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + prof.kernels.len());
    let cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols));
    // Kernels of a task lie inside the task span.
    for k in &prof.kernels {
        let t = prof.tasks.iter().find(|t| t.task == k.task).unwrap();
        assert!(
            k.start_us >= t.start_us as f64
                && k.start_us + k.cost.total_us <= t.end_us as f64 + 1e-6
        );
    }
    // A node name holding a comma and a quote round-trips through a CSV reader.
    let mut odd = prof.clone();
    odd.kernels[0].cost.node = "conv,1 \"a\"".into();
    let text = odd.op_summary_csv();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), odd.kernels.len());
    assert_eq!(&rows[0][3], "conv,1 \"a\"");
    assert!(rows.iter().all(|r| r.len() == cols));
    let dir = std::env::temp_dir().join(format!("npu-prof-{}", std::process::id()));
    prof.write_dir(&dir).unwrap();
    assert!(dir.join("trace.json").exists() && dir.join("op_summary.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loaded_models_share_device_memory() {
    let m = model("ascend310", Precision::Fp16);
    let need = m.mem_plans.iter().map(|p| p.total_bytes).max().unwrap();
    let mut p = DeviceProfile::builtin("ascend310").unwrap();
    p.soc_info.memory_size_bytes = 2 * need + need / 2;
    let mut rt = Runtime::new();
    let d = rt.set_device(p);
    let c = rt.create_context(d).unwrap();
    let a = rt.load_model(c, m.clone()).unwrap();
    rt.load_model(c, m.clone()).unwrap();
    assert_eq!(rt.device_used_bytes(d).unwrap(), 2 * need);
    assert!(matches!(
        rt.load_model(c, m.clone()),
        Err(NpuError::OutOfMemory { .. })
    ));
    rt.unload_model(a).unwrap();
    assert!(rt.unload_model(a).is_err(), "double unload");
    assert!(
        rt.execute(c, a, &[sample(1, 1)], 0).is_err(),
        "unloaded model"
    );
    rt.load_model(c, m).unwrap();
    assert_eq!(rt.device_used_bytes(d).unwrap(), 2 * need);
}

/// Rebuilds an `.om` file around an edited JSON header (layout documented in `om`).
fn reseal(original: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let fnv = |parts: &[&[u8]]| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for &b in *p {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    };
    let hlen = u32::from_le_bytes(original[12..16].try_into().unwrap()) as usize;
    let woff = u64::from_le_bytes(original[16..24].try_into().unwrap()) as usize;
    let mut v: serde_json::Value = serde_json::from_slice(&original[32..32 + hlen]).unwrap();
    edit(&mut v);
    let json = serde_json::to_vec(&v).unwrap();
    let weights = &original[woff..];
    let nwoff = (32 + json.len()).div_ceil(64) * 64;
    let mut out = original[..12].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&(nwoff as u64).to_le_bytes());
    out.extend_from_slice(&fnv(&[&json, weights]).to_le_bytes());
    out.extend_from_slice(&json);
    out.resize(nwoff, 0);
    out.extend_from_slice(weights);
    out
}

#[test]
fn crafted_headers_with_a_valid_checksum_are_still_checked() {
    let p = DeviceProfile::builtin("ascend310").unwrap();
    let bytes = om::to_bytes(&model("ascend310", Precision::Fp32)).unwrap();
    // Unchanged header: loads.
    assert!(om::load(&reseal(&bytes, |_| {}), &p).is_ok());
    // Huge padding: the stored memory plan no longer matches what the graph needs.
    let padded = reseal(&bytes, |v| {
        v["nodes"][0]["op"]["Conv"]["pads"] = serde_json::json!([1, 1, 1, 100000])
    });
    assert!(om::read(&padded).is_ok(), "structurally valid");
    let e = om::load(&padded, &p).unwrap_err();
    assert!(
        matches!(e, NpuError::Malformed { .. } | NpuError::OutOfMemory { .. }),
        "{e}"
    );
    // A weight name that does not exist.
    let dangling = reseal(&bytes, |v| {
        v["nodes"][0]["inputs"][1] = serde_json::json!("nope")
    });
    assert!(matches!(
        om::read(&dangling),
        Err(NpuError::InvalidGraph(_))
    ));
    // Absurd gear.
    let gear = reseal(&bytes, |v| v["gears"] = serde_json::json!([1usize << 40]));
    assert!(om::read(&gear).is_err());
}

#[test]
fn static_batch_models_run_once_per_request() {
    use npu::builder::GraphBuilder;
    use npu::ir::{Activation, DType};
    let mut b = GraphBuilder::new("static");
    let x = b.input("x", DType::F32, &[1, 8]);
    let y = b.act(&x, Activation::Tanh);
    b.output(&y, DType::F32);
    let p = DeviceProfile::builtin("ascend310").unwrap();
    let m = compile(&b.build().unwrap(), &p, &CompileOptions::default()).unwrap();
    assert_eq!(m.gears, vec![1]);
    let mut rt = Runtime::new();
    let d = rt.set_device(p);
    let c = rt.create_context(d).unwrap();
    let id = rt.load_model(c, m).unwrap();
    let one = rt.model_latency_us(id, 1).unwrap();
    let req = |v: f32| {
        BTreeMap::from([(
            "x".to_string(),
            Tensor::from_f32(&[1, 8], vec![v; 8]).unwrap(),
        )])
    };
    let r = rt
        .execute(c, id, &[req(0.1), req(0.2), req(0.3)], 10)
        .unwrap();
    assert_eq!(r.end_us - r.start_us, 3 * one);
    assert_eq!(r.outputs.len(), 3);
    assert!((r.outputs[2][&y].to_f32_vec()[0] - 0.3f32.tanh()).abs() < 1e-6);
    assert_eq!(rt.profiler().kernels.len(), 3);
}

#[test]
fn devices_have_independent_queues() {
    let m = model("ascend310", Precision::Fp16);
    let mut rt = Runtime::new();
    let p = DeviceProfile::builtin("ascend310").unwrap();
    let (d0, d1) = (rt.set_device(p.clone()), rt.set_device(p));
    let (c0, c1) = (
        rt.create_context(d0).unwrap(),
        rt.create_context(d1).unwrap(),
    );
    let (m0, m1) = (
        rt.load_model(c0, m.clone()).unwrap(),
        rt.load_model(c1, m).unwrap(),
    );
    let a = rt.execute(c0, m0, &[sample(1, 1)], 100).unwrap();
    let b = rt.execute(c1, m1, &[sample(2, 1)], 100).unwrap();
    assert_eq!((a.start_us, b.start_us), (100, 100));
    let s0 = rt.create_stream(c0).unwrap();
    assert!(
        rt.execute_async(s0, m1, &[sample(3, 1)], 0).is_err(),
        "model of another device"
    );
    let trace = rt.profiler().chrome_trace();
    let pids: std::collections::BTreeSet<_> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "kernel")
        .map(|e| e["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
}
