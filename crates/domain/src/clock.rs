//! Wall-clock time since the Unix epoch, as the spec's timestamps count it.
//! The one place that reads the clock: rules take times as arguments.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn now_s() -> i64 {
    now_ms() / 1000
}
