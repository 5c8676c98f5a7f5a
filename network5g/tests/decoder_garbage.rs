//! The receive path's decoders on arbitrary bytes: stream framing, the safety layer and the
//! message decoders never panic, and garbage is never accepted. (The same path is the
//! cargo-fuzz target `network5g/fuzz/fuzz_targets/decode.rs`.)

use network5g::quic::{frame, split_frames, TruckKey, Verifier, Way, MAX_FRAME};
use proptest::prelude::*;
use site::protocol::{decode, DownMsg, UpMsg};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_are_never_accepted(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let key = TruckKey::derive(&[1; 32], 2);
        let mut v = Verifier::new(key, Way::Up, 2);
        let mut buf = bytes.clone();
        let (frames, _ok) = split_frames(&mut buf);
        for f in frames.iter().chain(std::iter::once(&bytes)) {
            prop_assert!(v.open(0, f).is_err());
            let _ = decode::<UpMsg>(f);
            let _ = decode::<DownMsg>(f);
        }
    }

    #[test]
    fn framing_round_trips_in_any_split(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..6), cut in 0usize..400) {
        let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(p.clone())).collect();
        let cut = cut.min(wire.len());
        let mut buf = wire[..cut].to_vec();
        let (mut got, ok1) = split_frames(&mut buf);
        buf.extend_from_slice(&wire[cut..]);
        let (rest, ok2) = split_frames(&mut buf);
        got.extend(rest);
        prop_assert!(ok1 && ok2);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, payloads);
    }
}

#[test]
fn oversized_length_is_garbage() {
    let mut buf = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
    buf.extend_from_slice(&[0; 16]);
    let (f, ok) = split_frames(&mut buf);
    assert!(f.is_empty());
    assert!(!ok);
}
