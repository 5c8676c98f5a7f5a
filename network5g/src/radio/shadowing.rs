//! Spatially correlated log-normal shadowing.
//!
//! Each cell owns one zero-mean, unit-variance Gaussian-like random field over the site,
//! built as a sum of `N` random plane waves (spectral / "sum of sinusoids" method). The wave
//! numbers are drawn from the isotropic 2-D spectrum whose Fourier transform is
//! e^(−r/d_corr), so the field's autocorrelation is the Gudmundson exponential
//! ρ(Δd) = e^(−Δd/d_corr) (TR 38.901 §7.5 / §7.6.3.1). The shadowing of a link is
//! σ·field(x, y), with σ chosen by the link's LOS state.
//!
//! The field is a pure function of (seed, position): every UE at the same place sees the
//! same shadowing from a cell, whatever the step size or the order of calls, and the
//! coverage map agrees with the UEs.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Number of plane waves per field. The ensemble autocorrelation is exact; one realisation
/// deviates from it by about 1/√(2N).
pub const SHADOWING_COMPONENTS: usize = 128;

/// One plane wave: wave-vector and phase.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wave {
    kx: f64,
    ky: f64,
    phase: f64,
}

/// A unit-variance correlated random field with exponential autocorrelation.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowingField {
    waves: Vec<Wave>,
    amplitude: f64,
}

impl ShadowingField {
    /// A field with decorrelation distance `correlation_distance_m`, drawn from `seed`.
    pub fn new(seed: u64, correlation_distance_m: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = correlation_distance_m.max(1e-6);
        let waves = (0..SHADOWING_COMPONENTS)
            .map(|_| {
                // Radial CDF of |k|: F(k) = 1 − (1 + k²d²)^(−1/2); inverted.
                let u: f64 = rng.random::<f64>().min(1.0 - 1e-9);
                let k = ((1.0 - u).powi(-2) - 1.0).sqrt() / d;
                let theta = rng.random::<f64>() * std::f64::consts::TAU;
                let phase = rng.random::<f64>() * std::f64::consts::TAU;
                Wave {
                    kx: k * theta.cos(),
                    ky: k * theta.sin(),
                    phase,
                }
            })
            .collect();
        Self {
            waves,
            amplitude: (2.0 / SHADOWING_COMPONENTS as f64).sqrt(),
        }
    }

    /// Field value at `(x, y)`: zero mean, unit variance (multiply by σ in dB).
    pub fn value(&self, x: f64, y: f64) -> f64 {
        self.amplitude
            * self
                .waves
                .iter()
                .map(|w| (w.kx * x + w.ky * y + w.phase).cos())
                .sum::<f64>()
    }
}
