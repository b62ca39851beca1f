//! Waiting before a retry: exponential backoff with jitter, the one way the sync client, photo
//! uploads and photo downloads wait. The jitter (a wait drawn between half and one and a half
//! times the nominal one) keeps the phones of a whole district, cut off together by one outage,
//! from all coming back in the same second.

use std::time::Duration;

use rand::Rng;

/// The waits of one run of retries: the first from the configuration, each next one doubled up
/// to the longest; [`Backoff::reset`] starts over once a request made progress.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits starting at `first`, doubling up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Backoff { first, max, next: first }
    }

    /// The nominal wait before the next retry (the jittered one is within half of it).
    pub(crate) fn current(&self) -> Duration {
        self.next
    }

    /// The wait to sleep now, jittered; the next one is doubled.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let jitter = rand::rng().random_range(0.5..1.5);
        let wait = self.next.mul_f64(jitter);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Sleeps the next wait.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }

    /// Starts over from the first wait.
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_longest_with_jitter_and_starts_over() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(350));
        let mut nominal = Vec::new();
        for _ in 0..4 {
            let n = b.current();
            let w = b.next_wait();
            assert!(w >= n / 2 && w <= n * 3 / 2, "{w:?} for {n:?}");
            nominal.push(n);
        }
        assert_eq!(nominal, [ms(100), ms(200), ms(350), ms(350)]);
        b.reset();
        assert_eq!(b.current(), ms(100));
    }
}
