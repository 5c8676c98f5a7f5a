//! ONNX importer on arbitrary bytes: must return a typed error, never panic. When a graph
//! imports, compiling and writing it back must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = npu::onnx::import_onnx(data) {
        let _ = npu::onnx::export_onnx(&g);
        if let Ok(p) = npu::device::DeviceProfile::builtin("ascend310") {
            let opts = npu::compiler::CompileOptions {
                gears: vec![1],
                ..Default::default()
            };
            let _ = npu::compiler::compile(&g, &p, &opts);
        }
    }
});
