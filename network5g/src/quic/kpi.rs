//! KPI accounting shared by the QUIC transports (simulated and real mode): command latency
//! percentiles and the event-trace hash.

use crate::transport::NetKpis;
use site::hash::fnv1a;

/// Fills `k`'s command-latency p50, p99 and max (ms) from latencies in microseconds.
pub(crate) fn set_command_latency(k: &mut NetKpis, latencies_us: &[u64]) {
    let mut l = latencies_us.to_vec();
    l.sort_unstable();
    let at = |p: f64| {
        l.len().checked_sub(1).map_or(0.0, |last| {
            l[((last as f64 * p).round() as usize).min(last)] as f64 / 1000.0
        })
    };
    k.command_latency_p50_ms = at(0.5);
    k.command_latency_p99_ms = at(0.99);
    k.command_latency_max_ms = l.last().map_or(0.0, |x| *x as f64 / 1000.0);
}

/// Folds `parts` (little-endian) into the trace hash `hash` ([`site::hash`], FNV-1a 64).
pub(crate) fn trace(hash: &mut u64, parts: &[u64]) {
    for p in parts {
        *hash = fnv1a(*hash, &p.to_le_bytes());
    }
}
