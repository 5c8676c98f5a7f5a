//! Any text given as a site file gives a site or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(file) = site::file::parse("fuzz.toml", text) {
            let _ = site::file::build("fuzz.toml", &file);
        }
    }
});
