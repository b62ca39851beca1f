//! Wall-clock time as fieldsync stores it: milliseconds since the Unix epoch.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
