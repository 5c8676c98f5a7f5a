//! Compiled-model loader on arbitrary bytes: typed error or a model that re-serialises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = npu::om::read(data) {
        let _ = npu::om::to_bytes(&m);
    }
});
