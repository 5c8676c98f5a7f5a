//! Physical-layer abstractions: thermal noise, SINR → spectral efficiency, TDD slot timing,
//! HARQ block error rates.

use crate::radio::config::{CarrierConfig, LinkConfig};

/// Thermal noise density at 290 K, dBm/Hz.
pub const THERMAL_NOISE_DBM_HZ: f64 = -174.0;

/// Transfer direction of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    /// gNB → UE (dispatcher to truck).
    Downlink,
    /// UE → gNB (truck to dispatcher).
    Uplink,
}

/// Thermal noise power over `bandwidth_hz` for a receiver of noise figure `nf_db`, dBm:
/// −174 + 10·log10(B) + NF.
pub fn noise_power_dbm(bandwidth_hz: f64, nf_db: f64) -> f64 {
    THERMAL_NOISE_DBM_HZ + 10.0 * bandwidth_hz.log10() + nf_db
}

/// dBm → mW.
pub fn dbm_to_mw(dbm: f64) -> f64 {
    10f64.powf(dbm / 10.0)
}

/// mW → dBm (−∞ for 0).
pub fn mw_to_dbm(mw: f64) -> f64 {
    10.0 * mw.log10()
}

/// Attenuated Shannon spectral efficiency, bit/s/Hz (TR 36.942 Annex A.2):
/// 0 below `min_sinr_db`, α·log2(1 + SINR) above, capped at `max_spectral_efficiency`.
pub fn spectral_efficiency(sinr_db: f64, link: &LinkConfig) -> f64 {
    if sinr_db.is_nan() || sinr_db < link.min_sinr_db {
        return 0.0;
    }
    let sinr = 10f64.powf(sinr_db / 10.0);
    (link.shannon_alpha * (1.0 + sinr).log2()).min(link.max_spectral_efficiency)
}

/// Kind of a TDD slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// Downlink slot.
    Downlink,
    /// Special (switching) slot: some DL symbols, a guard, some UL symbols.
    Special,
    /// Uplink slot.
    Uplink,
}

/// TDD frame structure derived from [`CarrierConfig`]. The pattern repeats from time 0.
#[derive(Debug, Clone, PartialEq)]
pub struct TddFrame {
    slots: Vec<SlotKind>,
    slot_us: u64,
    dl_fraction: f64,
    ul_fraction: f64,
}

impl TddFrame {
    /// Builds the frame; characters other than `D`/`S`/`U` count as `D` (validation rejects
    /// them earlier).
    pub fn new(carrier: &CarrierConfig) -> Self {
        let slots: Vec<SlotKind> = carrier
            .tdd_pattern
            .chars()
            .map(|c| match c {
                'U' => SlotKind::Uplink,
                'S' => SlotKind::Special,
                _ => SlotKind::Downlink,
            })
            .collect();
        let n = slots.len().max(1) as f64;
        let s_dl = f64::from(carrier.special_slot_dl_symbols) / 14.0;
        let s_ul = f64::from(carrier.special_slot_ul_symbols) / 14.0;
        let mut dl = 0.0;
        let mut ul = 0.0;
        for s in &slots {
            match s {
                SlotKind::Downlink => dl += 1.0,
                SlotKind::Uplink => ul += 1.0,
                SlotKind::Special => {
                    dl += s_dl;
                    ul += s_ul;
                }
            }
        }
        Self {
            slots,
            slot_us: carrier.slot_us(),
            dl_fraction: dl / n,
            ul_fraction: ul / n,
        }
    }

    /// Slot duration, µs.
    pub fn slot_us(&self) -> u64 {
        self.slot_us
    }

    /// Pattern period, µs.
    pub fn period_us(&self) -> u64 {
        self.slot_us * self.slots.len() as u64
    }

    /// Fraction of air time available to `dir`.
    pub fn fraction(&self, dir: Direction) -> f64 {
        match dir {
            Direction::Downlink => self.dl_fraction,
            Direction::Uplink => self.ul_fraction,
        }
    }

    fn carries(&self, kind: SlotKind, dir: Direction) -> bool {
        match dir {
            Direction::Downlink => matches!(kind, SlotKind::Downlink | SlotKind::Special),
            Direction::Uplink => kind == SlotKind::Uplink,
        }
    }

    /// Start time of the first slot at or after `t_us` that can carry data of `dir`
    /// (downlink: D and S slots; uplink: U slots).
    pub fn next_slot_start(&self, t_us: u64, dir: Direction) -> u64 {
        let slot_us = self.slot_us.max(1);
        let n = self.slots.len().max(1) as u64;
        let first = t_us.div_ceil(slot_us);
        for idx in first..=first.saturating_add(n) {
            let kind = self.slots.get((idx % n) as usize).copied();
            if kind.is_some_and(|k| self.carries(k, dir)) {
                return idx.saturating_mul(slot_us);
            }
        }
        // Unreachable for a validated pattern; fall back to "now".
        t_us
    }
}

/// Block error probability of HARQ transmission number `attempt` (1 = first try) at
/// `sinr_db`.
///
/// Link adaptation picks the MCS so that the first try fails with probability
/// `bler_target` (10 %) whenever the SINR is above the most robust MCS
/// (`lowest_mcs_sinr_db`); below it the first-try BLER rises along a logistic curve
/// 1 / (1 + (1/target − 1)·e^(a·(SINR − SINR_MCS))). Retransmissions are chase-combined:
/// attempt k sees SINR + 10·log10(k) on the same curve.
pub fn harq_bler(sinr_db: f64, attempt: u32, link: &LinkConfig) -> f64 {
    if sinr_db.is_nan() {
        return 1.0;
    }
    let mcs_sinr = sinr_db.max(link.lowest_mcs_sinr_db);
    let effective = sinr_db + 10.0 * f64::from(attempt.max(1)).log10();
    let odds = 1.0 / link.bler_target - 1.0;
    let x = link.bler_slope_per_db * (effective - mcs_sinr);
    let p = 1.0 / (1.0 + odds * x.exp());
    p.clamp(0.0, 1.0)
}

/// Probability that a transport block is lost after all `harq_max_tries` fail
/// (product of the per-attempt BLERs, attempts taken as independent).
pub fn residual_loss_probability(sinr_db: f64, link: &LinkConfig) -> f64 {
    (1..=link.harq_max_tries.max(1))
        .map(|k| harq_bler(sinr_db, k, link))
        .product::<f64>()
        .clamp(0.0, 1.0)
}
