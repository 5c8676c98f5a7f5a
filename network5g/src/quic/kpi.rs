//! KPI accounting shared by the QUIC transports (simulated and real mode): command latency
//! percentiles and the event-trace hash.

use crate::transport::NetKpis;
use site::hash::fnv1a;

/// Command latencies in µs as an HDR histogram (`hdrhistogram`: constant memory over a long
/// run, three significant digits) instead of every sample.
#[derive(Clone, Debug)]
pub(crate) struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Latencies(
            // 1 µs to one hour at three significant digits (a fixed range: auto-resizing
            // histograms clamp `saturating_record` to their initial, tiny range)
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("a valid fixed range at three significant digits"),
        )
    }
}

impl Latencies {
    pub(crate) fn record(&mut self, us: u64) {
        self.0.saturating_record(us);
    }
}

/// Fills `k`'s command-latency p50, p99 and max (ms) from the latencies.
pub(crate) fn set_command_latency(k: &mut NetKpis, l: &Latencies) {
    let h = &l.0;
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        k.command_latency_p50_ms = 0.0;
        k.command_latency_p99_ms = 0.0;
        k.command_latency_max_ms = 0.0;
        return;
    }
    k.command_latency_p50_ms = ms(h.value_at_quantile(0.5));
    k.command_latency_p99_ms = ms(h.value_at_quantile(0.99));
    k.command_latency_max_ms = ms(h.max());
}

/// Folds `parts` (little-endian) into the trace hash `hash` ([`site::hash`], FNV-1a 64).
pub(crate) fn trace(hash: &mut u64, parts: &[u64]) {
    for p in parts {
        *hash = fnv1a(*hash, &p.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_latency_percentiles_are_those_recorded() {
        let mut k = NetKpis::default();
        let mut l = Latencies::default();
        set_command_latency(&mut k, &l);
        assert_eq!(k.command_latency_max_ms, 0.0);
        for us in 1..=100u64 {
            l.record(us * 1000); // 1 .. 100 ms
        }
        set_command_latency(&mut k, &l);
        assert!((k.command_latency_p50_ms - 50.0).abs() < 0.1, "{k:?}");
        assert!((k.command_latency_p99_ms - 99.0).abs() < 0.1, "{k:?}");
        assert!((k.command_latency_max_ms - 100.0).abs() < 0.1, "{k:?}");
    }
}
