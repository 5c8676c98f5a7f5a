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

    /// Refuses zero, negative, non-finite or out-of-range figures; the error names every
    /// offending field with its value and the accepted range.
    fn validate(&self) -> Result<()> {
        let s = &self.ai_core_spec;
        let e = &self.efficiency;
        let mut bad: Vec<String> = Vec::new();
        for (field, v) in [
            ("ai_core_spec.cube_freq_mhz", s.cube_freq_mhz),
            (
                "memory_rates.ddr_bandwidth_gbps",
                self.memory_rates.ddr_bandwidth_gbps,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad.push(format!("{field} = {v} (must be > 0)"));
            }
        }
        let fractions = [
            (
                "ai_core_spec.fp32_cube_ratio".to_string(),
                s.fp32_cube_ratio,
            ),
            ("efficiency.cube".to_string(), e.cube),
            ("efficiency.vector".to_string(), e.vector),
            ("efficiency.memory".to_string(), e.memory),
        ]
        .into_iter()
        .chain(
            e.op_type
                .iter()
                .map(|(k, &v)| (format!("efficiency.op_type.{k}"), v)),
        );
        for (field, v) in fractions {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                bad.push(format!("{field} = {v} (must be in (0, 1])"));
            }
        }
        for (field, v) in [
            ("soc_info.ai_core_cnt", u64::from(self.soc_info.ai_core_cnt)),
            ("ai_core_spec.cube_m", s.cube_m),
            ("ai_core_spec.cube_n", s.cube_n),
            ("ai_core_spec.cube_k_fp16", s.cube_k_fp16),
            ("ai_core_spec.cube_k_int8", s.cube_k_int8),
            ("ai_core_spec.vector_lanes_fp16", s.vector_lanes_fp16),
        ] {
            if v == 0 {
                bad.push(format!("{field} = 0 (must be at least 1)"));
            }
        }
        let launch = self.runtime.kernel_launch_us;
        if !(launch.is_finite() && launch >= 0.0) {
            bad.push(format!(
                "runtime.kernel_launch_us = {launch} (must be >= 0)"
            ));
        }
        if !bad.is_empty() {
            return Err(NpuError::Profile(format!(
                "profile `{}`: {}",
                self.name,
                bad.join("; ")
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

    #[test]
    fn invalid_figures_are_named_with_their_value() {
        let mut p = DeviceProfile::builtin("ascend310").unwrap();
        p.soc_info.ai_core_cnt = 0;
        p.efficiency.vector = 1.5;
        p.runtime.kernel_launch_us = f64::NAN;
        p.efficiency.op_type.insert("Softmax".into(), -0.5);
        let e = p.validate().unwrap_err().to_string();
        for want in [
            "profile `ascend310`",
            "soc_info.ai_core_cnt = 0 (must be at least 1)",
            "efficiency.vector = 1.5 (must be in (0, 1])",
            "efficiency.op_type.Softmax = -0.5",
            "runtime.kernel_launch_us = NaN",
        ] {
            assert!(e.contains(want), "missing `{want}` in: {e}");
        }
        assert!(DeviceProfile::builtin("ascend310")
            .unwrap()
            .validate()
            .is_ok());
    }
}
