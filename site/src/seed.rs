//! The one seed scheme of a run.
//!
//! A run has one seed (`minesim run --seed`, `dispatcher --seed`). Every random generator
//! in the workspace is seeded from it through [`derive`], with a named [`Stream`] saying what
//! draws from it and an index saying which one (truck `i`, loader `i`, cell `i`, ...). No
//! other derivation (XOR constants, `seed + 1000 + i`, raw seeds) is used anywhere, so two
//! streams never collide, and two runs with different seeds never share a stream.
//!
//! The derivation is a SplitMix64 finaliser over the seed, the stream's label and the index:
//! a bijection of the seed for a fixed `(stream, index)`, and well mixed across streams and
//! indices. The labels are part of the file format of a run: changing one changes every
//! report made with that stream. The radio streams keep the labels they had before the scheme
//! was unified (1 and 2), so radio draws are unchanged.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What draws from a generator. Each stream has a fixed, distinct label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// Correlated shadowing field of one cell (index: cell).
    RadioShadowing,
    /// HARQ and per-packet draws of one radio UE (index: UE id).
    RadioUe,
    /// Which truck starts in which parking slot (index: 0).
    FleetStart,
    /// A truck's sensor noise, GNSS today (index: truck).
    TruckSensors,
    /// A loader's pass times (index: loader).
    Loader,
    /// Loss draws of the fixed-delay channel (index: 0).
    FixedChannel,
    /// Key pairs of the site PKI: CA, dispatcher, trucks (index: 0).
    Pki,
    /// The site master key of the safety layer (index: 64-bit word of the key).
    SafetyKey,
    /// A QUIC endpoint's RNG: index 0 the dispatcher, `1 + truck` a truck's first
    /// endpoint; a reconnecting truck's endpoint uses [`Stream::QuicReconnect`].
    QuicEndpoint,
    /// A truck's QUIC endpoint after its `generation`-th reconnect
    /// (index: `generation << 32 | truck`).
    QuicReconnect,
    /// A truck's lidar draws: noise, dropout, dust (index: truck).
    Lidar,
    /// Where random obstacles are placed (index: scene or 0).
    Obstacles,
    /// Which trucks and moments a dataset samples (index: 0).
    Dataset,
    /// A manned vehicle's driver: where it starts, where it goes, how long it stays
    /// (index: vehicle).
    Traffic,
}

impl Stream {
    /// The label mixed into the seed. Distinct per stream; never reuse a retired one.
    pub const fn label(self) -> u64 {
        match self {
            Stream::RadioShadowing => 1,
            Stream::RadioUe => 2,
            Stream::FleetStart => 3,
            Stream::TruckSensors => 4,
            Stream::Loader => 5,
            Stream::FixedChannel => 6,
            Stream::Pki => 7,
            Stream::SafetyKey => 8,
            Stream::QuicEndpoint => 9,
            Stream::QuicReconnect => 10,
            Stream::Lidar => 11,
            Stream::Obstacles => 12,
            Stream::Dataset => 13,
            Stream::Traffic => 14,
        }
    }

    /// Every stream, for tests and documentation.
    pub const ALL: [Stream; 14] = [
        Stream::RadioShadowing,
        Stream::RadioUe,
        Stream::FleetStart,
        Stream::TruckSensors,
        Stream::Loader,
        Stream::FixedChannel,
        Stream::Pki,
        Stream::SafetyKey,
        Stream::QuicEndpoint,
        Stream::QuicReconnect,
        Stream::Lidar,
        Stream::Obstacles,
        Stream::Dataset,
        Stream::Traffic,
    ];
}

/// The seed of generator `index` of `stream` in a run seeded with `seed`.
pub fn derive(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut z = seed
        ^ stream.label().wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(29);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A ChaCha8 generator for `(stream, index)` of the run seeded with `seed`.
pub fn rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive(seed, stream, index))
}

/// 32 seed bytes for `(stream, index)` (for APIs that take a byte seed, such as a QUIC
/// endpoint's RNG): four derived words, little-endian.
pub fn bytes32(seed: u64, stream: Stream, index: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    let base = derive(seed, stream, index);
    for (k, chunk) in out.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&derive(base, stream, k as u64).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn labels_are_distinct() {
        let labels: BTreeSet<u64> = Stream::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), Stream::ALL.len());
    }

    #[test]
    fn streams_and_indices_do_not_collide() {
        // Many seeds × every stream × many indices: all derived seeds distinct.
        let mut seen = BTreeSet::new();
        for seed in 0..20u64 {
            for s in Stream::ALL {
                for i in 0..200u64 {
                    assert!(
                        seen.insert(derive(seed, s, i)),
                        "collision {seed} {s:?} {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn neighbouring_seeds_do_not_share_streams() {
        // The old `seed + 1000 + i` scheme made run 1's loader 0 equal run 1001's raw seed.
        let a: BTreeSet<u64> = (0..2000).map(|i| derive(1, Stream::Loader, i)).collect();
        let b: BTreeSet<u64> = (0..2000).map(|s| derive(s, Stream::Loader, 0)).collect();
        assert_eq!(a.intersection(&b).count(), 1, "only (1, Loader, 0) itself");
    }

    #[test]
    fn bytes_are_deterministic_and_distinct() {
        assert_eq!(
            bytes32(5, Stream::QuicEndpoint, 3),
            bytes32(5, Stream::QuicEndpoint, 3)
        );
        assert_ne!(
            bytes32(5, Stream::QuicEndpoint, 3),
            bytes32(5, Stream::QuicEndpoint, 4)
        );
        assert_ne!(bytes32(5, Stream::Pki, 0), bytes32(5, Stream::SafetyKey, 0));
    }
}
