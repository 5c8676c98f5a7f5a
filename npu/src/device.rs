//! Device profiles: data files shaped like CANN's platform config, embedded at build time.

use serde::{Deserialize, Serialize};

use crate::error::{NpuError, Result};

/// SoC-level information.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocInfo {
    /// Number of AI cores.
    pub ai_core_cnt: u32,
    /// Memory technology.
    pub memory_type: String,
    /// Device memory in bytes.
    pub memory_size_bytes: u64,
}

/// AI-core micro-architecture parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AiCoreSpec {
    /// Core clock in MHz.
    pub cube_freq_mhz: f64,
    /// Cube fractal M.
    pub cube_m: u64,
    /// Cube fractal N.
    pub cube_n: u64,
    /// Cube fractal K for fp16.
    pub cube_k_fp16: u64,
    /// Cube fractal K for int8.
    pub cube_k_int8: u64,
    /// fp32 cube throughput as a fraction of fp16.
    pub fp32_cube_ratio: f64,
    /// fp16 lanes of the vector unit (fp32 gets half, int8 twice).
    pub vector_lanes_fp16: u64,
    /// L0A buffer bytes.
    pub l0_a_size: u64,
    /// L0B buffer bytes.
    pub l0_b_size: u64,
    /// L0C buffer bytes.
    pub l0_c_size: u64,
    /// L1 buffer bytes.
    pub l1_size: u64,
    /// Unified buffer bytes.
    pub ub_size: u64,
    /// Pipeline fill/drain cycles per L0 tile block.
    pub block_overhead_cycles: u64,
}

/// Memory rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryRates {
    /// Device memory bandwidth in GB/s (1e9 bytes).
    pub ddr_bandwidth_gbps: f64,
}

/// Runtime overheads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeSpec {
    /// Per-kernel launch overhead in microseconds.
    pub kernel_launch_us: f64,
}

/// Achievable fraction of peak per op class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Cube unit.
    pub cube: f64,
    /// Vector unit.
    pub vector: f64,
    /// Memory bandwidth.
    pub memory: f64,
    /// Optional per-op-type compute efficiency (e.g. `Softmax = 0.4`), replacing the cube or
    /// vector figure for kernels of that op type.
    #[serde(default)]
    pub op_type: std::collections::BTreeMap<String, f64>,
}

impl Efficiency {
    /// Cube and vector efficiency for one op type.
    pub fn compute_for(&self, op_type: &str) -> (f64, f64) {
        match self.op_type.get(op_type) {
            Some(&e) => (e, e),
            None => (self.cube, self.vector),
        }
    }
}

/// Where the figures come from and which are estimates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Source statement.
    pub source: String,
    /// Fields not confirmed by a vendor document.
    pub unverified: Vec<String>,
}

/// A device profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceProfile {
    /// Short name used on the command line and in compiled models.
    pub name: String,
    /// CANN SoC version string.
    pub soc_version: String,
    /// One-line description.
    pub description: String,
    /// SoC info.
    pub soc_info: SocInfo,
    /// AI-core spec.
    pub ai_core_spec: AiCoreSpec,
    /// Memory rates.
    pub memory_rates: MemoryRates,
    /// Runtime overheads.
    pub runtime: RuntimeSpec,
    /// Efficiencies.
    pub efficiency: Efficiency,
    /// Provenance.
    pub provenance: Provenance,
}

const BUILTIN: [(&str, &str); 3] = [
    ("ascend310", include_str!("../profiles/ascend310.toml")),
    ("ascend310p", include_str!("../profiles/ascend310p.toml")),
    ("ascend910b", include_str!("../profiles/ascend910b.toml")),
];

impl DeviceProfile {
    /// Parses and validates a profile from TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: DeviceProfile =
            toml::from_str(text).map_err(|e| NpuError::Profile(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// One of the built-in profiles by name.
    pub fn builtin(name: &str) -> Result<Self> {
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                NpuError::Profile(format!(
                    "unknown device `{name}` (known: {})",
                    Self::builtin_names().join(", ")
                ))
            })?;
        Self::from_toml(text)
    }

    /// Names of the built-in profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    fn validate(&self) -> Result<()> {
        let s = &self.ai_core_spec;
        let e = &self.efficiency;
        let positive = [
            s.cube_freq_mhz,
            s.fp32_cube_ratio,
            self.memory_rates.ddr_bandwidth_gbps,
            e.cube,
            e.vector,
            e.memory,
        ];
        if positive.iter().any(|v| !(v.is_finite() && *v > 0.0))
            || e.op_type
                .values()
                .any(|v| !(v.is_finite() && *v > 0.0 && *v <= 1.0))
            || [e.cube, e.vector, e.memory, s.fp32_cube_ratio]
                .iter()
                .any(|v| *v > 1.0)
            || self.soc_info.ai_core_cnt == 0
            || [
                s.cube_m,
                s.cube_n,
                s.cube_k_fp16,
                s.cube_k_int8,
                s.vector_lanes_fp16,
            ]
            .contains(&0)
            || self.runtime.kernel_launch_us < 0.0
        {
            return Err(NpuError::Profile(format!(
                "profile `{}` has a zero, negative or out-of-range figure",
                self.name
            )));
        }
        Ok(())
    }

    /// Core clock in Hz.
    pub fn freq_hz(&self) -> f64 {
        self.ai_core_spec.cube_freq_mhz * 1e6
    }

    /// Peak fp16 cube throughput in FLOP/s (2 flops per MAC).
    pub fn peak_fp16_flops(&self) -> f64 {
        let s = &self.ai_core_spec;
        2.0 * (s.cube_m * s.cube_n * s.cube_k_fp16) as f64
            * f64::from(self.soc_info.ai_core_cnt)
            * self.freq_hz()
    }

    /// Peak int8 cube throughput in OP/s.
    pub fn peak_int8_ops(&self) -> f64 {
        let s = &self.ai_core_spec;
        2.0 * (s.cube_m * s.cube_n * s.cube_k_int8) as f64
            * f64::from(self.soc_info.ai_core_cnt)
            * self.freq_hz()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_match_published_peaks() {
        let p = DeviceProfile::builtin("ascend310").unwrap();
        assert!((p.peak_fp16_flops() / 1e12 - 8.0).abs() < 0.01);
        assert!((p.peak_int8_ops() / 1e12 - 16.0).abs() < 0.02);
        let p = DeviceProfile::builtin("ascend310p").unwrap();
        assert!((p.peak_fp16_flops() / 1e12 - 70.0).abs() < 2.0);
        let p = DeviceProfile::builtin("ascend910b").unwrap();
        let t = p.peak_fp16_flops() / 1e12;
        assert!((320.0..=360.0).contains(&t), "{t}");
        assert!(!p.provenance.unverified.is_empty());
        assert!(DeviceProfile::builtin("gpu").is_err());
        assert!(DeviceProfile::from_toml("name = 3").is_err());
    }
}
