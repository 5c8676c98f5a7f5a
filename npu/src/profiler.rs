//! Profiler in the spirit of msprof: every executed kernel becomes a span on simulated time.
//! Exports a Chrome-trace JSON (one process per device, one thread per stream) and an
//! op-summary CSV (one row per kernel execution).

use std::path::Path;

use serde_json::{json, Value};

use crate::cost::KernelCost;
use crate::error::{NpuError, Result};

/// One model execution on a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpan {
    /// Device index.
    pub device: usize,
    /// Device profile name.
    pub device_name: String,
    /// Stream index.
    pub stream: usize,
    /// Task id.
    pub task: u64,
    /// Model (graph) name.
    pub model: String,
    /// Batch gear used.
    pub gear: usize,
    /// Requests batched in this execution.
    pub requests: usize,
    /// Start (µs, simulated).
    pub start_us: u64,
    /// End (µs, simulated).
    pub end_us: u64,
}

/// One kernel execution.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSpan {
    /// Task it belongs to.
    pub task: u64,
    /// Device index.
    pub device: usize,
    /// Stream index.
    pub stream: usize,
    /// Start (µs, simulated, fractional).
    pub start_us: f64,
    /// Cost estimate (duration = `total_us`).
    pub cost: KernelCost,
}

/// Collected spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profiler {
    /// Tasks.
    pub tasks: Vec<TaskSpan>,
    /// Kernels.
    pub kernels: Vec<KernelSpan>,
}

fn shapes(v: &[Vec<usize>]) -> String {
    v.iter()
        .map(|s| s.iter().map(usize::to_string).collect::<Vec<_>>().join("x"))
        .collect::<Vec<_>>()
        .join(";")
}

impl Profiler {
    /// Records a task and its kernels laid out back to back from the task start.
    pub fn record(&mut self, task: TaskSpan, costs: &[KernelCost]) {
        let mut t = task.start_us as f64;
        for c in costs {
            self.kernels.push(KernelSpan {
                task: task.task,
                device: task.device,
                stream: task.stream,
                start_us: t,
                cost: c.clone(),
            });
            t += c.total_us;
        }
        self.tasks.push(task);
    }

    /// Chrome trace (`chrome://tracing`, Perfetto) JSON.
    pub fn chrome_trace(&self) -> Value {
        let mut ev = Vec::new();
        let mut seen_dev = std::collections::BTreeSet::new();
        let mut seen_stream = std::collections::BTreeSet::new();
        for t in &self.tasks {
            if seen_dev.insert(t.device) {
                ev.push(json!({"name": "process_name", "ph": "M", "pid": t.device,
                    "args": {"name": format!("device {} ({})", t.device, t.device_name)}}));
            }
            if seen_stream.insert((t.device, t.stream)) {
                ev.push(
                    json!({"name": "thread_name", "ph": "M", "pid": t.device, "tid": t.stream,
                    "args": {"name": format!("stream {}", t.stream)}}),
                );
            }
            ev.push(
                json!({"name": t.model, "cat": "model", "ph": "X", "pid": t.device, "tid": t.stream,
                "ts": t.start_us, "dur": t.end_us - t.start_us,
                "args": {"task": t.task, "gear": t.gear, "requests": t.requests}}),
            );
        }
        for k in &self.kernels {
            let c = &k.cost;
            ev.push(
                json!({"name": c.node, "cat": "kernel", "ph": "X", "pid": k.device, "tid": k.stream,
                "ts": k.start_us, "dur": c.total_us,
                "args": {"op_type": c.op_type, "task": k.task, "input_shapes": c.input_shapes,
                    "output_shapes": c.output_shapes, "fused_from": c.fused_from,
                    "bound": c.bound.label(), "flops": c.flops, "bytes": c.bytes,
                    "cube_us": c.cube_us, "vector_us": c.vector_us, "memory_us": c.memory_us,
                    "padding_waste": c.padding_waste, "tiling": c.tiling}}),
            );
        }
        json!({"traceEvents": ev, "displayTimeUnit": "ms"})
    }

    /// Op summary CSV, one row per kernel execution (RFC 4180: fields holding a comma or a
    /// quote are quoted by the `csv` crate).
    pub fn op_summary_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "Device",
            "Stream",
            "Task",
            "Op Name",
            "OP Type",
            "Start(us)",
            "Duration(us)",
            "Bound",
            "FLOPs",
            "Bytes",
            "Cube(us)",
            "Vector(us)",
            "Memory(us)",
            "Overhead(us)",
            "Padding Waste",
            "Input Shapes",
            "Output Shapes",
            "Fused From",
        ];
        // Writing into a Vec cannot fail (no I/O); an error would only drop the row.
        let _ = w.write_record(header);
        for k in &self.kernels {
            let c = &k.cost;
            let _ = w.write_record([
                k.device.to_string(),
                k.stream.to_string(),
                k.task.to_string(),
                c.node.clone(),
                c.op_type.clone(),
                format!("{:.3}", k.start_us),
                format!("{:.3}", c.total_us),
                c.bound.label().to_string(),
                c.flops.to_string(),
                c.bytes.to_string(),
                format!("{:.3}", c.cube_us),
                format!("{:.3}", c.vector_us),
                format!("{:.3}", c.memory_us),
                format!("{:.3}", c.overhead_us),
                format!("{:.4}", c.padding_waste),
                shapes(&c.input_shapes),
                shapes(&c.output_shapes),
                c.fused_from.join("|"),
            ]);
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Writes `trace.json` and `op_summary.csv` into a directory (created if needed).
    pub fn write_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
        let tp = dir.join("trace.json");
        let text = serde_json::to_string_pretty(&self.chrome_trace())
            .map_err(|e| NpuError::Runtime(e.to_string()))?;
        std::fs::write(&tp, text).map_err(|e| NpuError::io(&tp, e))?;
        let cp = dir.join("op_summary.csv");
        std::fs::write(&cp, self.op_summary_csv()).map_err(|e| NpuError::io(&cp, e))?;
        Ok(())
    }
}
