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
            hdrhistogram::Histogram::new(3)
                .expect("three significant digits are within hdrhistogram's range"),
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
