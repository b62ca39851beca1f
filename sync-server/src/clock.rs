//! Where the server's time-driven work (overdue escalation) reads the time from: the system's
//! clock, or one a test sets, so that "a day later" takes no day.

use std::sync::Arc;

/// Where the escalator gets the time from: the wall clock, or one a test sets.
#[derive(Clone)]
pub enum Clock {
    /// The system's clock.
    System,
    /// A clock whose reading (ms since the epoch) the owner of the value sets.
    Manual(Arc<std::sync::atomic::AtomicI64>),
}

impl Clock {
    /// Now, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => fieldsync_core::time::now_ms(),
            Clock::Manual(t) => t.load(std::sync::atomic::Ordering::SeqCst),
        }
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Clock::System, Clock::System) => true,
            (Clock::Manual(a), Clock::Manual(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Manual(t) => {
                write!(f, "Clock::Manual({})", t.load(std::sync::atomic::Ordering::SeqCst))
            }
        }
    }
}
