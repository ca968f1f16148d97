//! Percentiles and summaries of latency samples.

use serde_json::{json, Value};

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

pub(crate) fn latency_summary(lat: &[u64]) -> Value {
    let mut v = lat.to_vec();
    v.sort_unstable();
    json!({"samples": v.len(), "p50_ms": percentile(&v, 0.50), "p95_ms": percentile(&v, 0.95), "p99_ms": percentile(&v, 0.99), "max_ms": percentile(&v, 1.0)})
}

/// The seconds of a paced run (counted from its start) in which some push
/// took longer than `over_us`: when the tail happened, and how many.
pub(crate) fn slow_seconds(samples: &[(u64, u64)], start_us: u64, over_us: u64) -> Value {
    let mut by_second: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for (sent, us) in samples.iter().filter(|(_, us)| *us > over_us) {
        let e = by_second
            .entry(sent.saturating_sub(start_us) / 1_000_000)
            .or_default();
        e.0 += 1;
        e.1 = e.1.max(*us);
    }
    by_second
        .into_iter()
        .map(|(s, (n, max))| json!({"second": s, "pushes": n, "max_ms": max as f64 / 1000.0}))
        .collect()
}
