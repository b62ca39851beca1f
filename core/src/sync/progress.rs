//! What a sync reports while it runs and when it ends.

use std::time::Duration;

/// Progress of a running sync, reported after every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncProgress {
    /// Requests answered so far.
    pub pages_done: u64,
    /// Documents pushed or pulled so far.
    pub docs_done: u64,
    /// Documents done plus the server's estimate of what still waits (grows as the estimate does).
    pub docs_known: u64,
    /// Bytes sent so far.
    pub bytes_up: u64,
    /// Bytes received so far.
    pub bytes_down: u64,
}

/// Told about a running sync.
pub trait ProgressListener: Send + Sync {
    /// Called after each answered request.
    fn progress(&self, progress: &SyncProgress);
}

impl<F: Fn(&SyncProgress) + Send + Sync> ProgressListener for F {
    fn progress(&self, progress: &SyncProgress) {
        self(progress)
    }
}

/// What one `sync_now` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncSummary {
    /// Documents whose changes the server acknowledged (each once, however many requests
    /// carried it).
    pub docs_pushed: u64,
    /// Change chunks pushed.
    pub changes_pushed: u64,
    /// Documents that changed or were created from pulled data (each once, however many pages
    /// brought changes for it).
    pub docs_pulled: u64,
    /// Change chunks (or whole documents) pulled.
    pub changes_pulled: u64,
    /// Documents the server refused for good in this sync.
    pub docs_rejected: u64,
    /// Pulled documents that did not apply (asked for whole next time).
    pub docs_failed: u64,
    /// Request bytes sent (envelopes).
    pub bytes_up: u64,
    /// Answer bytes received (envelopes).
    pub bytes_down: u64,
    /// Requests answered.
    pub requests: u64,
    /// Requests retried after a network error.
    pub retries: u64,
    /// Whether the server's epoch changed and the documents were reconciled.
    pub reconciled: bool,
    /// Documents dropped because the user may no longer read them (their rights changed).
    pub docs_dropped: u64,
    /// Wall time.
    pub duration: Duration,
}
