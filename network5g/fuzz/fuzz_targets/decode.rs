//! Fuzz the receive path: stream framing, the safety layer, the message decoders.
//! Run with `cargo +nightly fuzz run decode` in `network5g/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use network5g::quic::{split_frames, TruckKey, Verifier, Way};
use site::protocol::{decode, DownMsg, UpMsg};

fuzz_target!(|data: &[u8]| {
    let key = TruckKey::derive(&[1; 32], 2);
    let mut up = Verifier::new(key.clone(), Way::Up, 2);
    let mut down = Verifier::new(key, Way::Down, 2);
    let mut buf = data.to_vec();
    let (frames, _) = split_frames(&mut buf);
    for f in frames.iter().map(Vec::as_slice).chain(std::iter::once(data)) {
        assert!(up.open(0, f).is_err(), "garbage accepted");
        assert!(down.open(0, f).is_err(), "garbage accepted");
        let _ = decode::<UpMsg>(f);
        let _ = decode::<DownMsg>(f);
    }
});
