//! Wall-clock time as fieldsync stores it: milliseconds since the Unix epoch.
//!
//! Documents, SQLite and the wire keep plain milliseconds ([`Millis`]). The records a phone
//! reads and the commands it runs carry a [`Timestamp`], the same number typed, which foreign
//! code sees as the platform's instant (`java.time.Instant`, `Date`, `datetime`). Lengths of
//! time an app sets (sync timeouts, backoff) are a [`TimeSpan`], which may hold a negative
//! value only so that it can be refused with a typed error naming the option.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    Timestamp::from(SystemTime::now()).as_millis()
}

/// A point in time to the millisecond, as records hold it (documents store the number of
/// milliseconds since the Unix epoch). Kotlin sees a `java.time.Instant`, Swift a `Date`,
/// Python a `datetime`; finer parts of a second given by the app are dropped.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(Millis);

impl Timestamp {
    /// The time `ms` milliseconds after the Unix epoch (before it when negative).
    pub const fn from_millis(ms: Millis) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> Millis {
        self.0
    }

    /// Now.
    pub fn now() -> Self {
        Timestamp::from(SystemTime::now())
    }

    /// This time moved by `span` (saturating at the ends of the range).
    pub fn plus(self, span: Duration) -> Self {
        let ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }
}

impl From<Millis> for Timestamp {
    fn from(ms: Millis) -> Self {
        Timestamp(ms)
    }
}

impl From<Timestamp> for Millis {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

/// Times beyond the range of `i64` milliseconds (some 292 million years) saturate; every time
/// a command takes is checked against a far narrower range, so they are refused there, typed.
impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(match t.duration_since(UNIX_EPOCH) {
            Ok(after) => ms(after),
            Err(before) => ms(before.duration()).saturating_neg(),
        })
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        let span = Duration::from_millis(t.0.unsigned_abs());
        if t.0 >= 0 { UNIX_EPOCH + span } else { UNIX_EPOCH - span }
    }
}

/// UTC to the minute, e.g. `2026-11-29 10:05 UTC`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_ms(self.0))
    }
}

impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

impl rusqlite::types::FromSql for Timestamp {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Timestamp)
    }
}

impl From<Timestamp> for automerge::ScalarValue {
    fn from(t: Timestamp) -> Self {
        automerge::ScalarValue::Timestamp(t.0)
    }
}

// Foreign code sees the platform's instant; the FFI carries it as seconds and nanoseconds.
#[cfg(feature = "uniffi")]
uniffi::custom_type!(Timestamp, SystemTime, {
    lower: |t| t.into(),
    try_lift: |t| Ok(Timestamp::from(t)),
});

/// A length of time an app sets (a timeout, a wait), to the millisecond. Kotlin sees a
/// `java.time.Duration`, Python a `datetime.timedelta`, Swift milliseconds (`Int64`). It may
/// hold a negative value, which the options that take it refuse with a typed error naming the
/// option (a negative `java.time.Duration` would otherwise fail in the generated code, untyped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeSpan(i64);

impl TimeSpan {
    /// `ms` milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        TimeSpan(ms)
    }

    /// `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        TimeSpan(secs.saturating_mul(1000))
    }

    /// The length in milliseconds (negative if it was given so).
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The length as a `Duration`; a negative span is zero (check with
    /// [`TimeSpan::is_negative`] where that must be refused).
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(self.0.max(0).unsigned_abs())
    }

    /// Whether the span was given negative.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl From<Duration> for TimeSpan {
    fn from(d: Duration) -> Self {
        TimeSpan(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// `1.5 s`, `200 ms`, `-3 s`.
impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 1000 == 0 {
            write!(f, "{} s", self.0 / 1000)
        } else if self.0.abs() >= 1000 {
            write!(f, "{} s", self.0 as f64 / 1000.0)
        } else {
            write!(f, "{} ms", self.0)
        }
    }
}

// Milliseconds on the FFI, so that a negative value reaches Rust and is refused typed; each
// language's uniffi.toml maps it to its own duration type.
#[cfg(feature = "uniffi")]
uniffi::custom_type!(TimeSpan, i64, {
    lower: |span| span.0,
    try_lift: |ms| Ok(TimeSpan(ms)),
});

/// `ms` since the Unix epoch as UTC date and time to the minute, e.g. `2026-11-29 10:05 UTC`,
/// for logs and command-line output.
pub fn format_ms(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_ms(1_795_947_900_000), "2026-11-29 10:25 UTC");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(Timestamp::from_millis(0).to_string(), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn timestamps_round_trip_through_system_time() {
        for ms in [0, 1, 1_795_947_900_123, -1, -86_400_001] {
            let t = Timestamp::from_millis(ms);
            assert_eq!(Timestamp::from(SystemTime::from(t)), t, "{ms}");
        }
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        assert_eq!(Timestamp::from(far).as_millis(), i64::MAX, "saturates");
        assert_eq!(Timestamp::from_millis(1000).plus(Duration::from_secs(2)).as_millis(), 3000);
    }

    #[test]
    fn spans() {
        assert_eq!(TimeSpan::from_secs(30).as_duration(), Duration::from_secs(30));
        assert_eq!(TimeSpan::from_millis(-5).as_duration(), Duration::ZERO);
        assert!(TimeSpan::from_millis(-5).is_negative());
        assert_eq!(TimeSpan::from(Duration::from_millis(1500)).to_string(), "1.5 s");
        assert_eq!(TimeSpan::from_millis(200).to_string(), "200 ms");
        assert_eq!(TimeSpan::from_secs(-3).to_string(), "-3 s");
    }
}
