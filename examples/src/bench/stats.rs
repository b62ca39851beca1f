//! Timing samples and percentiles, shared by every suite.

use std::time::{Duration, Instant};

/// The `q`-th percentile (0–100) of `sorted` by nearest rank; NaN when empty.
///
/// Nearest rank never interpolates: the figure is always a value that was measured, and p99 of
/// 1,000 samples is the tenth-slowest.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `f` and returns its result with how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Durations measured for one figure, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    ms: Vec<f64>,
    sorted: bool,
}

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Samples::default()
    }

    /// Adds one duration.
    pub fn push(&mut self, d: Duration) {
        self.ms.push(d.as_secs_f64() * 1000.0);
        self.sorted = false;
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.ms.extend(other.ms);
        self.sorted = false;
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.ms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ms.is_empty()
    }

    /// The `q`-th percentile in milliseconds (see [`percentile`]).
    pub fn percentile(&mut self, q: f64) -> f64 {
        if !self.sorted {
            self.ms.sort_by(f64::total_cmp);
            self.sorted = true;
        }
        percentile(&self.ms, q)
    }

    /// The median in milliseconds.
    pub fn median(&mut self) -> f64 {
        self.percentile(50.0)
    }

    /// The mean in milliseconds; NaN when empty.
    pub fn mean(&self) -> f64 {
        self.ms.iter().sum::<f64>() / self.ms.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn samples_sort_lazily() {
        let mut s = Samples::new();
        for ms in [5, 1, 3] {
            s.push(Duration::from_millis(ms));
        }
        assert_eq!(s.median(), 3.0);
        s.push(Duration::from_millis(0));
        assert_eq!(s.percentile(25.0), 0.0);
        assert_eq!(s.len(), 4);
        let mut more = Samples::new();
        more.push(Duration::from_millis(9));
        s.extend(more);
        assert_eq!((s.len(), s.percentile(100.0)), (5, 9.0));
    }
}
