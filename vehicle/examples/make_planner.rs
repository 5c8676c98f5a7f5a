//! Writes the planner's cost-volume model, `assets/models/planner.onnx`, from
//! `vehicle::planner::build_model` (hand-set weights; the bytes are deterministic), then
//! prints its FLOPs and simulated latency on ascend310 at each precision.
//!
//! `cargo run -p vehicle --example make_planner [-- OUT.onnx]`

use std::path::PathBuf;
use vehicle::planner::{model_onnx_bytes, Planner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let root = crate_dir.parent().map(PathBuf::from).unwrap_or(crate_dir);
            root.join("assets/models/planner.onnx")
        });
    let bytes = model_onnx_bytes()?;
    std::fs::write(&out, &bytes)?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    for precision in [
        npu::ir::Precision::Fp32,
        npu::ir::Precision::Fp16,
        npu::ir::Precision::Int8,
    ] {
        let p = Planner::from_onnx(&out, &bytes, precision)?;
        let b64 = p.model.latency_us(64, &p.profile)?;
        println!(
            "{precision:?}: {} FLOPs per plan, {} µs at batch 1, {} µs at batch 64 on {} ({} kernels, {} quantised)",
            p.flops(),
            p.latency_us(),
            b64,
            p.profile.name,
            p.model.graph.nodes.len(),
            p.model.report.quantized_nodes
        );
        for k in p.model.kernel_costs(1, &p.profile)? {
            println!(
                "  {:<14} {:<6} {:>9} FLOPs {:>7.2} µs ({:?}-bound)",
                k.node, k.op_type, k.flops, k.total_us, k.bound
            );
        }
    }
    Ok(())
}
