//! Any bytes given to the message decoder give a message or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = site::protocol::decode::<site::protocol::UpMsg>(data);
    let _ = site::protocol::decode::<site::protocol::DownMsg>(data);
});
