//! `.npy` reader on arbitrary bytes: typed error or a tensor that round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = npu::npy::read_npy(data) {
        let back = npu::npy::read_npy(&npu::npy::write_npy(&t));
        assert!(back.is_ok());
    }
});
