//! Delivery: how a push is made. The rules that must be exact — signatures,
//! retry schedules, the outbound address policy — are pure functions here,
//! tested against the spec's vectors and fuzzable.

pub mod dispatcher;
pub mod lanes;
pub mod metrics;
pub mod outbound;
pub mod push;
pub mod retry;
pub mod signature;

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
