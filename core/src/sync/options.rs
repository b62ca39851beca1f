//! How a sync behaves: request sizes, retries, and the two limits that make a sync end on a
//! link that accepts requests and never answers (a dead 2G cell, a captive portal): a timeout
//! per request and a deadline for the whole sync.
//!
//! The defaults suit a phone on a slow mobile link:
//! - **`request_timeout` 30 s.** Requests are sized to take about two seconds on the link as last
//!   measured (`budget::TARGET_ROUND`), starting at 16 KiB, which 2G carries in a few seconds.
//!   An answer that has not come after fifteen times that is not coming: the request is given
//!   up, the next one is a quarter the size, and it is retried after the backoff.
//! - **`deadline` 5 min.** A sync returns at the latest then, whatever the link does, with
//!   everything it applied kept (each page commits with its cursor) and the rest for the next
//!   sync. Android gives background work (WorkManager, JobScheduler) 10 minutes; five leave
//!   room for the photo uploads an app runs after the records, and for its own work.
//! - **`attempts` 6, `backoff` 200 ms doubling to `max_backoff` 30 s**: a link cut for a few
//!   seconds costs a retry, not the sync; six silent requests in a row end it (`Network`).
//!   Within the deadline, a link that never answers ends the sync after at most
//!   `attempts × request_timeout` plus the waits, about three and a half minutes by default.

use std::time::Duration;

use crate::error::{CoreError, Result};
use crate::protocol::limits;
use crate::time::TimeSpan;

/// Tunables of a sync; the defaults suit a phone on a slow mobile link: a request timeout of
/// 30 s (requests are sized for about 2 s on the link as measured, starting at 16 KiB), a
/// deadline of 5 min (within Android's 10-minute background work, leaving room for photo
/// uploads), 6 attempts with a backoff from 200 ms doubling to 30 s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncOptions {
    /// Largest page of pulled data asked for per request, in bytes (16 KiB..=4 MiB; the link's
    /// measured rate usually asks for less).
    pub page_bytes: i32,
    /// Largest push per request, in bytes (at least 1 KiB; one document's changes may be split).
    pub push_bytes: i32,
    /// Most documents pushed per request (at least 1).
    pub push_docs: i32,
    /// Attempts per request before a sync gives up on a network error (at least 1).
    pub attempts: i32,
    /// How long one request may take, answer included, before it counts as failed (1 s..=10 min).
    pub request_timeout: TimeSpan,
    /// How long one sync may take in all; past it, it ends with `Timeout`, keeping what it
    /// applied (1 s..=24 h).
    pub deadline: TimeSpan,
    /// First wait before a retry; doubles each time, with jitter (0 to the longest wait).
    pub backoff: TimeSpan,
    /// Longest wait between retries (at most 1 h).
    pub max_backoff: TimeSpan,
    /// Requests one sync may make before it stops (a guard against a server that never ends;
    /// at least 1).
    pub max_requests: i64,
    /// Photos of at most this many bytes are fetched by the download of small photos (after a
    /// sync); larger ones only when asked for (0 fetches none).
    pub auto_download_bytes: i64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            page_bytes: limits::PAGE_BYTES_DEFAULT as i32,
            push_bytes: 1024 * 1024,
            push_docs: 500,
            attempts: 6,
            request_timeout: TimeSpan::from_secs(30),
            deadline: TimeSpan::from_secs(5 * 60),
            backoff: TimeSpan::from_millis(200),
            max_backoff: TimeSpan::from_secs(30),
            max_requests: 100_000,
            auto_download_bytes: 256 * 1024,
        }
    }
}

/// Shortest request timeout and deadline accepted.
const SHORTEST: TimeSpan = TimeSpan::from_secs(1);

impl SyncOptions {
    /// Checks every option; `InvalidInput` names the first one out of its range.
    pub fn check(&self) -> Result<()> {
        let (min_page, max_page) = (limits::PAGE_BYTES_MIN as i32, limits::PAGE_BYTES_MAX as i32);
        within("page_bytes", self.page_bytes.into(), min_page.into(), max_page.into())?;
        within("push_bytes", self.push_bytes.into(), 1024, i32::MAX.into())?;
        within("push_docs", self.push_docs.into(), 1, i32::MAX.into())?;
        within("attempts", self.attempts.into(), 1, 1000)?;
        within("max_requests", self.max_requests, 1, i64::MAX)?;
        within("auto_download_bytes", self.auto_download_bytes, 0, i64::MAX)?;
        span("request_timeout", self.request_timeout, SHORTEST, TimeSpan::from_secs(600))?;
        span("deadline", self.deadline, SHORTEST, TimeSpan::from_secs(24 * 3600))?;
        span("max_backoff", self.max_backoff, TimeSpan::from_millis(0), TimeSpan::from_secs(3600))?;
        span("backoff", self.backoff, TimeSpan::from_millis(0), self.max_backoff)
    }

    /// Attempts per request, at least one.
    pub(crate) fn attempts(&self) -> u32 {
        u32::try_from(self.attempts.max(1)).unwrap_or(1)
    }

    /// Documents per push, at least one.
    pub(crate) fn push_docs(&self) -> usize {
        usize::try_from(self.push_docs.max(1)).unwrap_or(1)
    }

    /// The largest push and page, for the request budget (which clamps them further).
    pub(crate) fn sizes(&self) -> (u32, u32) {
        let size = |v: i32| u32::try_from(v.max(1)).unwrap_or(1);
        (size(self.push_bytes), size(self.page_bytes))
    }

    /// The request timeout, at least [`SHORTEST`] (an unchecked zero would fail every request).
    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout.max(SHORTEST).as_duration()
    }

    /// The deadline of a whole sync, at least [`SHORTEST`].
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline.max(SHORTEST).as_duration()
    }
}

fn within(field: &'static str, value: i64, min: i64, max: i64) -> Result<()> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let range = if max == i64::MAX || max == i64::from(i32::MAX) {
        format!("at least {min}")
    } else {
        format!("{min}..={max}")
    };
    Err(CoreError::invalid(field, format!("{value}; must be {range}")))
}

fn span(field: &'static str, value: TimeSpan, min: TimeSpan, max: TimeSpan) -> Result<()> {
    if value.is_negative() {
        return Err(CoreError::invalid(field, format!("{value} is negative")));
    }
    if value < min || value > max {
        return Err(CoreError::invalid(field, format!("{value}; must be {min} to {max}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(options: SyncOptions) -> &'static str {
        match options.check() {
            Err(CoreError::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn the_defaults_pass_and_every_bad_option_is_named() {
        SyncOptions::default().check().unwrap();
        let d = SyncOptions::default;
        assert_eq!(refused(SyncOptions { backoff: TimeSpan::from_millis(-1), ..d() }), "backoff");
        assert_eq!(refused(SyncOptions { backoff: TimeSpan::from_secs(31), ..d() }), "backoff");
        assert_eq!(
            refused(SyncOptions { request_timeout: TimeSpan::from_millis(10), ..d() }),
            "request_timeout"
        );
        assert_eq!(refused(SyncOptions { deadline: TimeSpan::from_secs(-5), ..d() }), "deadline");
        assert_eq!(refused(SyncOptions { attempts: 0, ..d() }), "attempts");
        assert_eq!(refused(SyncOptions { page_bytes: -1, ..d() }), "page_bytes");
        assert_eq!(refused(SyncOptions { push_docs: 0, ..d() }), "push_docs");
        assert_eq!(refused(SyncOptions { max_requests: -3, ..d() }), "max_requests");
        assert_eq!(refused(SyncOptions { auto_download_bytes: -1, ..d() }), "auto_download_bytes");
        match (SyncOptions { backoff: TimeSpan::from_millis(-250), ..d() }).check() {
            Err(e) => assert!(e.to_string().contains("-250 ms is negative"), "{e}"),
            Ok(()) => panic!("a negative backoff passed"),
        }
    }
}
