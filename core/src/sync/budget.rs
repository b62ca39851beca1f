//! How big the next sync request may be. On a good link requests are as large as the
//! configuration allows (fewest round trips); on a weak one — 2G in a valley, a connection cut
//! every few seconds — a request that cannot cross the link before it drops would be sent again
//! and again. So a client starts small ([`START_BYTES`]: the link is unknown), every failed
//! request divides the sizes by four, and every answered one sets them from the rate it achieved
//! so that the next round takes about [`TARGET_ROUND`], growing at most twofold per answer. On a
//! good link the sizes reach the configured maximum after a handful of rounds.
//!
//! Photo uploads size their chunks by the same rule ([`ChunkBudget`]), up to the protocol's
//! [`CHUNK_BYTES`](limits::CHUNK_BYTES): a chunk cut on the way is lost (the upload resumes at
//! what the server holds), so on a link that drops every few seconds the chunks must be small.

use std::time::Duration;

use crate::protocol::limits;

/// The time one round trip should take at the rate last seen.
pub const TARGET_ROUND: Duration = Duration::from_secs(2);
/// Push and page sizes of a client's first round, when nothing is known of the link: about two
/// seconds of 2G upstream.
pub const START_BYTES: u32 = 16 * 1024;
/// Smallest push budget, in bytes (a document's changes beyond it are split across requests).
pub const MIN_PUSH_BYTES: u32 = 4 * 1024;
/// Smallest chunk of a photo upload, in bytes.
pub const MIN_CHUNK_BYTES: u32 = 4 * 1024;

/// Bytes that take about [`TARGET_ROUND`] at the rate of `bytes` carried in `took`.
fn fits(bytes: u64, took: Duration) -> u32 {
    let rate = bytes as f64 / took.as_secs_f64().max(1e-3);
    (rate * TARGET_ROUND.as_secs_f64()).min(u32::MAX as f64) as u32
}

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
        let fits = fits(bytes, took);
        self.push_bytes =
            fits.min(self.push_bytes.saturating_mul(2)).clamp(MIN_PUSH_BYTES, self.max_push);
        self.page_bytes = fits
            .min(self.page_bytes.saturating_mul(2))
            .clamp(limits::PAGE_BYTES_MIN, self.max_page);
    }
}

/// The size of the next chunk of a photo upload: [`START_BYTES`] on an unknown link, a quarter
/// after a chunk that was cut, about [`TARGET_ROUND`] of the rate the last answered chunk
/// achieved (at most doubling), between [`MIN_CHUNK_BYTES`] and
/// [`CHUNK_BYTES`](limits::CHUNK_BYTES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkBudget {
    /// Bytes of the next chunk.
    pub bytes: u32,
}

impl Default for ChunkBudget {
    fn default() -> Self {
        ChunkBudget { bytes: START_BYTES }
    }
}

impl ChunkBudget {
    const MAX: u32 = limits::CHUNK_BYTES as u32;

    /// A chunk was cut on the way: the next is a quarter the size.
    pub fn failed(&mut self) {
        self.bytes = (self.bytes / 4).max(MIN_CHUNK_BYTES);
    }

    /// A chunk of `bytes` was answered `took` after it was sent.
    pub fn answered(&mut self, bytes: u64, took: Duration) {
        self.bytes =
            fits(bytes, took).min(self.bytes.saturating_mul(2)).clamp(MIN_CHUNK_BYTES, Self::MAX);
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

    #[test]
    fn chunks_follow_the_link_up_to_the_protocol_limit() {
        let mut c = ChunkBudget::default();
        assert_eq!(c.bytes, START_BYTES);
        for _ in 0..10 {
            c.answered(u64::from(c.bytes), Duration::from_millis(10));
        }
        assert_eq!(c.bytes as usize, limits::CHUNK_BYTES, "loopback: 1 MiB chunks");
        c.failed();
        assert_eq!(c.bytes, 256 * 1024);
        for _ in 0..10 {
            c.failed();
        }
        assert_eq!(c.bytes, MIN_CHUNK_BYTES);
        // 8 KB/s (64 kbit/s up): chunks of about 16 KB, reached by doubling.
        for _ in 0..4 {
            c.answered(8_000, Duration::from_secs(1));
        }
        assert_eq!(c.bytes, 16_000);
    }
}
