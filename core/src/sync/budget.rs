//! How big the next sync request may be. On a good link requests are as large as the
//! configuration allows (fewest round trips); on a weak one — 2G in a valley, a connection cut
//! every few seconds — a request that cannot cross the link before it drops would be sent again
//! and again. So a client starts small ([`START_BYTES`]: the link is unknown), every failed
//! request divides the sizes by four, and every answered one sets them from the rate it achieved
//! so that the next round takes about [`TARGET_ROUND`], growing at most twofold per answer. On a
//! good link the sizes reach the configured maximum after a handful of rounds.

use std::time::Duration;

use crate::protocol::limits;

/// The time one round trip should take at the rate last seen.
pub const TARGET_ROUND: Duration = Duration::from_secs(2);
/// Push and page sizes of a client's first round, when nothing is known of the link: about two
/// seconds of 2G upstream.
pub const START_BYTES: u32 = 16 * 1024;
/// Smallest push budget, in bytes (a document's changes beyond it are split across requests).
pub const MIN_PUSH_BYTES: u32 = 4 * 1024;

/// Request sizes for the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of changes to push.
    pub push_bytes: u32,
    /// Bytes of data to ask the server for.
    pub page_bytes: u32,
    max_push: u32,
    max_page: u32,
}

impl Budget {
    /// A new client's sizes: [`START_BYTES`], within the configured maxima.
    pub fn new(max_push: u32, max_page: u32) -> Budget {
        let max_push = max_push.max(MIN_PUSH_BYTES);
        let max_page = max_page.clamp(limits::PAGE_BYTES_MIN, limits::PAGE_BYTES_MAX);
        Budget {
            push_bytes: START_BYTES.min(max_push),
            page_bytes: START_BYTES.clamp(limits::PAGE_BYTES_MIN, max_page),
            max_push,
            max_page,
        }
    }

    /// A request failed on the way (cut, timed out): the next one is a quarter the size.
    pub fn failed(&mut self) {
        self.push_bytes = (self.push_bytes / 4).max(MIN_PUSH_BYTES);
        self.page_bytes = (self.page_bytes / 4).max(limits::PAGE_BYTES_MIN);
    }

    /// A round carried `bytes` (both ways) in `took`: size the next for about `TARGET_ROUND`.
    pub fn answered(&mut self, bytes: u64, took: Duration) {
        let rate = bytes as f64 / took.as_secs_f64().max(1e-3);
        let fits = (rate * TARGET_ROUND.as_secs_f64()).min(u32::MAX as f64) as u32;
        self.push_bytes =
            fits.min(self.push_bytes.saturating_mul(2)).clamp(MIN_PUSH_BYTES, self.max_push);
        self.page_bytes = fits
            .min(self.page_bytes.saturating_mul(2))
            .clamp(limits::PAGE_BYTES_MIN, self.max_page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_small_and_reaches_the_maximum_on_a_fast_link() {
        let mut b = Budget::new(1024 * 1024, 4 * 1024 * 1024);
        assert_eq!((b.push_bytes, b.page_bytes), (START_BYTES, START_BYTES));
        let mut rounds = 0;
        while (b.push_bytes, b.page_bytes) != (1024 * 1024, 4 * 1024 * 1024) {
            b.answered(u64::from(b.push_bytes + b.page_bytes), Duration::from_millis(20));
            rounds += 1;
        }
        assert_eq!(rounds, 8, "doubling from 16 KiB to 4 MiB");
        // Below the start: the configured size.
        let b = Budget::new(8 * 1024, 1024 * 1024);
        assert_eq!(b.push_bytes, 8 * 1024);
    }

    #[test]
    fn shrinks_on_failure_and_grows_back_with_the_rate() {
        let mut b = Budget::new(1024 * 1024, 1024 * 1024);
        for _ in 0..6 {
            b.answered(100_000_000, Duration::from_millis(5));
        }
        assert_eq!((b.push_bytes, b.page_bytes), (1024 * 1024, 1024 * 1024));
        b.failed();
        b.failed();
        assert_eq!((b.push_bytes, b.page_bytes), (64 * 1024, 64 * 1024));
        for _ in 0..5 {
            b.failed();
        }
        assert_eq!((b.push_bytes, b.page_bytes), (MIN_PUSH_BYTES, limits::PAGE_BYTES_MIN));
        // 10 KB/s (80 kbit/s): rounds of about 20 KB.
        b.answered(10_000, Duration::from_secs(1));
        assert_eq!(b.push_bytes, 8 * 1024, "at most twice the last size");
        b.answered(10_000, Duration::from_secs(1));
        b.answered(10_000, Duration::from_secs(1));
        assert_eq!(b.push_bytes, 20_000);
        assert_eq!(b.page_bytes, 20_000);
        // Loopback: back to the configured maximum, doubling each round.
        for _ in 0..10 {
            b.answered(5_000_000, Duration::from_millis(5));
        }
        assert_eq!((b.push_bytes, b.page_bytes), (1024 * 1024, 1024 * 1024));
    }
}
