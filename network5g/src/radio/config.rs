//! Configuration of the radio network: cell sites, carrier, UE, propagation, mobility and
//! link-layer parameters.
//!
//! Every struct is `serde` (de)serialisable with `#[serde(default)]` on every field, so a
//! scenario file only needs to name what it changes. The defaults are the typical figures
//! of a private 5G n78 deployment; each field's doc says where its default comes from.
//! "Typical" values are typical, not measured at a particular mine: configure them.

use serde::{Deserialize, Serialize};

/// Errors found by [`RadioConfig::validate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric field is out of its allowed range.
    #[error("invalid value for `{field}`: {value} ({reason})")]
    OutOfRange {
        /// Field path, e.g. `carrier.bandwidth_hz`.
        field: &'static str,
        /// The offending value.
        value: f64,
        /// What the allowed range is.
        reason: &'static str,
    },
    /// The TDD pattern holds a character other than `D`, `S` or `U`, is empty, or has no
    /// downlink or no uplink slot.
    #[error("invalid TDD pattern `{0}`: use D, S and U, with at least one D or S and one U")]
    TddPattern(String),
    /// The configuration names no cell.
    #[error("no cell sites configured")]
    NoCells,
    /// The site file's radio settings do not parse (field and reason).
    #[error("{0}")]
    SiteFile(String),
}

/// The whole radio configuration of one site. Embed it in a scenario TOML file as a table,
/// e.g. `[network5g]` with `[[network5g.cells]]` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RadioConfig {
    /// Cell sites (one entry per cell; a three-sector site is three entries at the same
    /// position with different `azimuth_deg`). Default: none.
    pub cells: Vec<CellSiteConfig>,
    /// Carrier and numerology shared by all cells.
    pub carrier: CarrierConfig,
    /// User-equipment (truck modem) parameters.
    pub ue: UeConfig,
    /// Path loss, terrain and shadowing parameters.
    pub propagation: PropagationConfig,
    /// Interference assumptions.
    pub interference: InterferenceConfig,
    /// Cell selection, handover and radio-link-failure parameters.
    pub mobility: MobilityConfig,
    /// Link-layer (scheduling, HARQ, link adaptation) parameters.
    pub link: LinkConfig,
}

/// One cell (one sector or one omni cell) of a gNB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CellSiteConfig {
    /// Free-form name, for reports. Default: empty.
    pub name: String,
    /// Mast position east, metres (site frame). Default 0.
    pub x_m: f64,
    /// Mast position north, metres (site frame). Default 0.
    pub y_m: f64,
    /// Ground height at the mast foot, metres. Default `None`: taken from the terrain
    /// (0 m when the terrain has no height there).
    pub ground_z_m: Option<f64>,
    /// Antenna height above ground, metres. Default 35 m (typical rural macro mast;
    /// TR 38.901 RMa default h_BS = 35 m).
    pub mast_height_m: f64,
    /// Transmit power over the whole carrier, dBm. Default 46 dBm (40 W, TR 38.901 /
    /// TR 38.913 rural macro figure).
    pub tx_power_dbm: f64,
    /// Antenna boresight gain, dBi. Default 15 dBi (typical macro panel).
    pub antenna_gain_dbi: f64,
    /// Electrical + mechanical downtilt, degrees below horizon. Default 10°.
    pub downtilt_deg: f64,
    /// Boresight azimuth, degrees clockwise from north (+y). Default `None`: omnidirectional
    /// in the horizontal plane.
    pub azimuth_deg: Option<f64>,
}

impl Default for CellSiteConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            x_m: 0.0,
            y_m: 0.0,
            ground_z_m: None,
            mast_height_m: 35.0,
            tx_power_dbm: 46.0,
            antenna_gain_dbi: 15.0,
            downtilt_deg: 10.0,
            azimuth_deg: None,
        }
    }
}

impl CellSiteConfig {
    /// A cell with default radio parameters at `(x_m, y_m)`.
    pub fn at(x_m: f64, y_m: f64) -> Self {
        Self {
            x_m,
            y_m,
            ..Self::default()
        }
    }
}

/// Carrier and numerology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarrierConfig {
    /// Carrier centre frequency, Hz. Default 3.5 GHz (band n78, the usual private-5G band).
    pub frequency_hz: f64,
    /// Channel bandwidth, Hz. Default 100 MHz.
    pub bandwidth_hz: f64,
    /// Subcarrier spacing, kHz (15, 30, 60, 120). Default 30 kHz: 0.5 ms slots (TS 38.211
    /// numerology µ = 1).
    pub subcarrier_spacing_khz: u32,
    /// TDD slot pattern, repeated from time 0. Default `DDDSU` (2.5 ms period).
    pub tdd_pattern: String,
    /// Downlink symbols of the special slot `S` (out of 14). Default 10 (10:2:2).
    pub special_slot_dl_symbols: u8,
    /// Uplink symbols of the special slot `S` (out of 14). Default 2 (10:2:2).
    pub special_slot_ul_symbols: u8,
    /// Downlink overhead fraction (control, reference signals). Default 0.14
    /// (TS 38.306 §4.1.2, FR1 DL).
    pub overhead_dl: f64,
    /// Uplink overhead fraction. Default 0.08 (TS 38.306 §4.1.2, FR1 UL).
    pub overhead_ul: f64,
}

impl Default for CarrierConfig {
    fn default() -> Self {
        Self {
            frequency_hz: 3.5e9,
            bandwidth_hz: 100e6,
            subcarrier_spacing_khz: 30,
            tdd_pattern: "DDDSU".to_string(),
            special_slot_dl_symbols: 10,
            special_slot_ul_symbols: 2,
            overhead_dl: 0.14,
            overhead_ul: 0.08,
        }
    }
}

impl CarrierConfig {
    /// Slot duration in microseconds (1000 µs / 2^µ).
    pub fn slot_us(&self) -> u64 {
        let mu_factor = u64::from(self.subcarrier_spacing_khz / 15).max(1);
        1000 / mu_factor
    }

    /// Number of resource blocks in the channel (12 subcarriers each, ignoring guard bands
    /// beyond a 2 % allowance; 273 for 100 MHz at 30 kHz).
    pub fn resource_blocks(&self) -> u32 {
        let scs_hz = f64::from(self.subcarrier_spacing_khz) * 1e3;
        let n = (self.bandwidth_hz * 0.983 / (12.0 * scs_hz)).floor();
        if n < 1.0 {
            1
        } else {
            n as u32
        }
    }

    /// Wavelength, metres.
    pub fn wavelength_m(&self) -> f64 {
        SPEED_OF_LIGHT_M_S / self.frequency_hz
    }
}

/// Speed of light in vacuum, m/s.
pub const SPEED_OF_LIGHT_M_S: f64 = 299_792_458.0;

/// UE (truck modem) parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UeConfig {
    /// Antenna height above ground, metres. Default 5 m (roof of a large haul truck).
    pub antenna_height_m: f64,
    /// Maximum transmit power, dBm. Default 23 dBm (power class 3).
    pub tx_power_dbm: f64,
    /// Antenna gain, dBi. Default 0 dBi.
    pub antenna_gain_dbi: f64,
    /// Receiver noise figure, dB. Default 7 dB (typical UE, TR 38.901 / TR 38.802 figures
    /// use 7–9 dB).
    pub noise_figure_db: f64,
}

impl Default for UeConfig {
    fn default() -> Self {
        Self {
            antenna_height_m: 5.0,
            tx_power_dbm: 23.0,
            antenna_gain_dbi: 0.0,
            noise_figure_db: 7.0,
        }
    }
}

/// How a terrain-obstructed (NLOS) link's path loss is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NlosModel {
    /// TR 38.901 RMa NLOS path loss plus the single knife-edge loss J(ν) of the dominant
    /// obstruction. Conservative (RMa NLOS already holds some clutter loss). Default.
    #[default]
    RmaNlosPlusKnifeEdge,
    /// TR 38.901 RMa LOS path loss plus J(ν) of the dominant obstruction, applied to every
    /// link (also to LOS links whose Fresnel zone is partly obstructed). Continuous across
    /// the LOS/NLOS boundary; closer to a bare open pit without clutter.
    RmaLosPlusKnifeEdge,
}

/// Path loss, terrain and shadowing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PropagationConfig {
    /// TR 38.901 RMa average building height h, metres. Default 5 m (TR 38.901 default).
    pub avg_building_height_m: f64,
    /// TR 38.901 RMa average street width W, metres. Default 20 m (TR 38.901 default).
    pub street_width_m: f64,
    /// Horizontal spacing of the terrain samples of the line-of-sight ray test, metres.
    /// Default 5 m (match it to the heightfield resolution).
    pub los_sample_step_m: f64,
    /// NLOS path-loss model. Default [`NlosModel::RmaNlosPlusKnifeEdge`].
    pub nlos_model: NlosModel,
    /// Whether log-normal shadowing is applied. Default true.
    pub shadowing_enabled: bool,
    /// Shadowing standard deviation on LOS links, dB. Default 4 dB (TR 38.901 RMa LOS
    /// σ_SF before the breakpoint).
    pub shadowing_sigma_los_db: f64,
    /// Shadowing standard deviation on NLOS links, dB. Default 8 dB (TR 38.901 RMa NLOS).
    pub shadowing_sigma_nlos_db: f64,
    /// Shadowing decorrelation distance, metres: the autocorrelation is e^(−Δd/d_corr)
    /// (Gudmundson). Default 50 m (TR 38.901 Table 7.5-6 gives 37 m LOS / 120 m NLOS for
    /// RMa).
    pub correlation_distance_m: f64,
    /// Whether the vertical antenna pattern (TR 38.901 Table 7.3-1 form) is applied.
    /// Default true.
    pub vertical_pattern: bool,
    /// Vertical half-power beamwidth, degrees. Default 65° (TR 38.901 element pattern).
    pub vertical_beamwidth_deg: f64,
    /// Horizontal half-power beamwidth for sectorised cells, degrees. Default 65°.
    pub horizontal_beamwidth_deg: f64,
    /// Maximum pattern attenuation (side-lobe level / front-to-back), dB. Default 30 dB.
    pub max_pattern_attenuation_db: f64,
}

impl Default for PropagationConfig {
    fn default() -> Self {
        Self {
            avg_building_height_m: 5.0,
            street_width_m: 20.0,
            los_sample_step_m: 5.0,
            nlos_model: NlosModel::default(),
            shadowing_enabled: true,
            shadowing_sigma_los_db: 4.0,
            shadowing_sigma_nlos_db: 8.0,
            correlation_distance_m: 50.0,
            vertical_pattern: true,
            vertical_beamwidth_deg: 65.0,
            horizontal_beamwidth_deg: 65.0,
            max_pattern_attenuation_db: 30.0,
        }
    }
}

/// Interference assumptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterferenceConfig {
    /// Fraction of resources in use in the other cells (their received power is weighted by
    /// it as downlink interference). 1.0 = fully loaded worst case. Default 0.5.
    pub neighbour_load: f64,
    /// Uplink interference-over-thermal margin at the gNB, dB. Default 3 dB.
    pub uplink_interference_margin_db: f64,
    /// gNB receiver noise figure, dB. Default 5 dB (TR 38.901 / TR 38.802 BS figure).
    pub gnb_noise_figure_db: f64,
}

impl Default for InterferenceConfig {
    fn default() -> Self {
        Self {
            neighbour_load: 0.5,
            uplink_interference_margin_db: 3.0,
            gnb_noise_figure_db: 5.0,
        }
    }
}

/// Cell selection, handover and radio-link failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MobilityConfig {
    /// A3 handover hysteresis (offset): a neighbour must be this much stronger (RSRP) than
    /// the serving cell. Default 3 dB.
    pub hysteresis_db: f64,
    /// A3 time-to-trigger, µs: the condition must hold this long. Default 160 ms (one of
    /// the TS 38.331 TimeToTrigger values).
    pub time_to_trigger_us: u64,
    /// Handover interruption (no user data), µs. Default 40 ms (typical 30–60 ms).
    pub handover_interruption_us: u64,
    /// Q_out: the serving downlink SINR below which the link is out of sync, dB.
    /// Default −6 dB.
    pub rlf_sinr_threshold_db: f64,
    /// T310: how long the SINR must stay below Q_out before radio-link failure, µs.
    /// Default 1 s.
    pub rlf_timer_us: u64,
    /// Delay from radio-link failure (or a failed attempt) to the next re-establishment
    /// attempt, µs. Default 500 ms.
    pub reestablishment_delay_us: u64,
    /// Q_in: the SINR a cell must offer for (re-)establishment, dB. Default −4 dB.
    pub reestablishment_min_sinr_db: f64,
}

impl Default for MobilityConfig {
    fn default() -> Self {
        Self {
            hysteresis_db: 3.0,
            time_to_trigger_us: 160_000,
            handover_interruption_us: 40_000,
            rlf_sinr_threshold_db: -6.0,
            rlf_timer_us: 1_000_000,
            reestablishment_delay_us: 500_000,
            reestablishment_min_sinr_db: -4.0,
        }
    }
}

/// Link layer: delays, HARQ, link adaptation and the SINR → spectral efficiency mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// One-way core network + backhaul delay (UPF to dispatcher), µs. Default 2 ms.
    pub core_delay_us: u64,
    /// Uplink grant delay after a scheduling request, in slots (k2). Default 2 slots.
    pub grant_delay_slots: u64,
    /// Maximum HARQ transmissions (first try included). Default 4.
    pub harq_max_tries: u32,
    /// Delay added by each HARQ retransmission, µs. Default 2.5 ms (one DDDSU period).
    pub harq_rtt_us: u64,
    /// First-try block error rate targeted by link adaptation. Default 0.1.
    pub bler_target: f64,
    /// SINR of the most robust MCS, dB: above it link adaptation holds the first-try BLER at
    /// the target; below it the BLER rises. Default −7 dB (CQI 1 region).
    pub lowest_mcs_sinr_db: f64,
    /// Steepness of the BLER curve, 1/dB (logistic slope). Default 1.0.
    pub bler_slope_per_db: f64,
    /// Attenuated-Shannon factor α: SE = α·log2(1 + SINR). Default 0.6 (TR 36.942 A.2).
    pub shannon_alpha: f64,
    /// SINR below which no data goes through (SE = 0), dB. Default −10 dB (TR 36.942).
    pub min_sinr_db: f64,
    /// Maximum spectral efficiency, bit/s/Hz. Default 7.4063 (256QAM, CQI 15 of
    /// TS 38.214 Table 5.2.2.1-3), one MIMO layer.
    pub max_spectral_efficiency: f64,
    /// Number of MIMO layers (multiplies the rate). Default 1.
    pub mimo_layers: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            core_delay_us: 2_000,
            grant_delay_slots: 2,
            harq_max_tries: 4,
            harq_rtt_us: 2_500,
            bler_target: 0.1,
            lowest_mcs_sinr_db: -7.0,
            bler_slope_per_db: 1.0,
            shannon_alpha: 0.6,
            min_sinr_db: -10.0,
            max_spectral_efficiency: 7.4063,
            mimo_layers: 1,
        }
    }
}

fn check(
    field: &'static str,
    value: f64,
    ok: bool,
    reason: &'static str,
) -> Result<(), ConfigError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            reason,
        })
    }
}

impl RadioConfig {
    /// Checks ranges and the TDD pattern. [`crate::CellNetwork::new`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cells.is_empty() {
            return Err(ConfigError::NoCells);
        }
        for c in &self.cells {
            check("cells.x_m", c.x_m, true, "finite")?;
            check("cells.y_m", c.y_m, true, "finite")?;
            check(
                "cells.mast_height_m",
                c.mast_height_m,
                c.mast_height_m > 0.0,
                "> 0",
            )?;
            check("cells.tx_power_dbm", c.tx_power_dbm, true, "finite")?;
            check("cells.antenna_gain_dbi", c.antenna_gain_dbi, true, "finite")?;
            check(
                "cells.downtilt_deg",
                c.downtilt_deg,
                c.downtilt_deg.abs() <= 90.0,
                "within ±90°",
            )?;
        }
        let ca = &self.carrier;
        check(
            "carrier.frequency_hz",
            ca.frequency_hz,
            ca.frequency_hz > 0.0,
            "> 0",
        )?;
        check(
            "carrier.bandwidth_hz",
            ca.bandwidth_hz,
            ca.bandwidth_hz > 0.0,
            "> 0",
        )?;
        let scs = f64::from(ca.subcarrier_spacing_khz);
        check(
            "carrier.subcarrier_spacing_khz",
            scs,
            matches!(ca.subcarrier_spacing_khz, 15 | 30 | 60 | 120),
            "15, 30, 60 or 120",
        )?;
        check(
            "carrier.overhead_dl",
            ca.overhead_dl,
            (0.0..1.0).contains(&ca.overhead_dl),
            "in [0, 1)",
        )?;
        check(
            "carrier.overhead_ul",
            ca.overhead_ul,
            (0.0..1.0).contains(&ca.overhead_ul),
            "in [0, 1)",
        )?;
        let s_syms = u32::from(ca.special_slot_dl_symbols) + u32::from(ca.special_slot_ul_symbols);
        check(
            "carrier.special_slot symbols",
            f64::from(s_syms),
            s_syms <= 14,
            "DL + UL <= 14",
        )?;
        let pattern_ok = !ca.tdd_pattern.is_empty()
            && ca.tdd_pattern.chars().all(|c| matches!(c, 'D' | 'S' | 'U'))
            && ca.tdd_pattern.contains('U')
            && (ca.tdd_pattern.contains('D') || ca.tdd_pattern.contains('S'));
        if !pattern_ok {
            return Err(ConfigError::TddPattern(ca.tdd_pattern.clone()));
        }
        let u = &self.ue;
        check(
            "ue.antenna_height_m",
            u.antenna_height_m,
            u.antenna_height_m > 0.0,
            "> 0",
        )?;
        check("ue.tx_power_dbm", u.tx_power_dbm, true, "finite")?;
        check(
            "ue.noise_figure_db",
            u.noise_figure_db,
            u.noise_figure_db >= 0.0,
            ">= 0",
        )?;
        let p = &self.propagation;
        check(
            "propagation.avg_building_height_m",
            p.avg_building_height_m,
            p.avg_building_height_m > 0.0,
            "> 0",
        )?;
        check(
            "propagation.street_width_m",
            p.street_width_m,
            p.street_width_m > 0.0,
            "> 0",
        )?;
        check(
            "propagation.los_sample_step_m",
            p.los_sample_step_m,
            p.los_sample_step_m > 0.0,
            "> 0",
        )?;
        check(
            "propagation.shadowing_sigma_los_db",
            p.shadowing_sigma_los_db,
            p.shadowing_sigma_los_db >= 0.0,
            ">= 0",
        )?;
        check(
            "propagation.shadowing_sigma_nlos_db",
            p.shadowing_sigma_nlos_db,
            p.shadowing_sigma_nlos_db >= 0.0,
            ">= 0",
        )?;
        check(
            "propagation.correlation_distance_m",
            p.correlation_distance_m,
            p.correlation_distance_m > 0.0,
            "> 0",
        )?;
        check(
            "propagation.vertical_beamwidth_deg",
            p.vertical_beamwidth_deg,
            p.vertical_beamwidth_deg > 0.0,
            "> 0",
        )?;
        check(
            "propagation.horizontal_beamwidth_deg",
            p.horizontal_beamwidth_deg,
            p.horizontal_beamwidth_deg > 0.0,
            "> 0",
        )?;
        check(
            "propagation.max_pattern_attenuation_db",
            p.max_pattern_attenuation_db,
            p.max_pattern_attenuation_db >= 0.0,
            ">= 0",
        )?;
        let i = &self.interference;
        check(
            "interference.neighbour_load",
            i.neighbour_load,
            (0.0..=1.0).contains(&i.neighbour_load),
            "in [0, 1]",
        )?;
        check(
            "interference.gnb_noise_figure_db",
            i.gnb_noise_figure_db,
            i.gnb_noise_figure_db >= 0.0,
            ">= 0",
        )?;
        check(
            "interference.uplink_interference_margin_db",
            i.uplink_interference_margin_db,
            i.uplink_interference_margin_db >= 0.0,
            ">= 0",
        )?;
        let m = &self.mobility;
        check(
            "mobility.hysteresis_db",
            m.hysteresis_db,
            m.hysteresis_db >= 0.0,
            ">= 0",
        )?;
        check(
            "mobility.rlf_sinr_threshold_db",
            m.rlf_sinr_threshold_db,
            true,
            "finite",
        )?;
        check(
            "mobility.reestablishment_min_sinr_db",
            m.reestablishment_min_sinr_db,
            true,
            "finite",
        )?;
        let l = &self.link;
        check(
            "link.harq_max_tries",
            f64::from(l.harq_max_tries),
            l.harq_max_tries >= 1,
            ">= 1",
        )?;
        check(
            "link.bler_target",
            l.bler_target,
            l.bler_target > 0.0 && l.bler_target < 1.0,
            "in (0, 1)",
        )?;
        check(
            "link.bler_slope_per_db",
            l.bler_slope_per_db,
            l.bler_slope_per_db > 0.0,
            "> 0",
        )?;
        check(
            "link.shannon_alpha",
            l.shannon_alpha,
            l.shannon_alpha > 0.0 && l.shannon_alpha <= 1.0,
            "in (0, 1]",
        )?;
        check(
            "link.max_spectral_efficiency",
            l.max_spectral_efficiency,
            l.max_spectral_efficiency > 0.0,
            "> 0",
        )?;
        check(
            "link.mimo_layers",
            f64::from(l.mimo_layers),
            l.mimo_layers >= 1,
            ">= 1",
        )?;
        check("link.min_sinr_db", l.min_sinr_db, true, "finite")?;
        check(
            "link.lowest_mcs_sinr_db",
            l.lowest_mcs_sinr_db,
            true,
            "finite",
        )?;
        Ok(())
    }
}
