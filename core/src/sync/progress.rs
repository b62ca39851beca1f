//! What a sync reports while it runs and when it ends.

use std::time::Duration;

/// Progress of a running sync, reported after every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncProgress {
    /// Requests answered so far.
    pub pages_done: i64,
    /// Documents pushed or pulled so far.
    pub docs_done: i64,
    /// Documents done plus the server's estimate of what still waits (grows as the estimate does).
    pub docs_known: i64,
    /// Bytes sent so far.
    pub bytes_up: i64,
    /// Bytes received so far.
    pub bytes_down: i64,
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

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncSummary {
    /// Documents whose changes the server acknowledged (each once, however many requests
    /// carried it).
    pub docs_pushed: i64,
    /// Change chunks pushed.
    pub changes_pushed: i64,
    /// Documents that changed or were created from pulled data (each once, however many pages
    /// brought changes for it).
    pub docs_pulled: i64,
    /// Change chunks (or whole documents) pulled.
    pub changes_pulled: i64,
    /// Documents the server refused for good in this sync.
    pub docs_rejected: i64,
    /// Pulled documents that did not apply (asked for whole next time).
    pub docs_failed: i64,
    /// Request bytes sent (envelopes).
    pub bytes_up: i64,
    /// Answer bytes received (envelopes).
    pub bytes_down: i64,
    /// Requests answered.
    pub requests: i64,
    /// Requests retried after a network error.
    pub retries: i64,
    /// Whether the server's epoch changed and the documents were reconciled.
    pub reconciled: bool,
    /// Documents dropped because the user may no longer read them (their rights changed).
    pub docs_dropped: i64,
    /// Wall time.
    pub duration: Duration,
}

/// Which transfer of a photo a [`PhotoProgress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PhotoTransfer {
    /// This phone's photo going to the server.
    Upload,
    /// The original coming from the server.
    Original,
    /// The server's thumbnail coming.
    Thumbnail,
}

/// Progress of one photo's transfer, reported as bytes move.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PhotoProgress {
    /// The photo (SHA-256, hex).
    pub hash: String,
    /// Which transfer.
    pub transfer: PhotoTransfer,
    /// Bytes the receiving side holds (the server for an upload, this phone for a download).
    pub done: i64,
    /// The whole size; 0 while unknown (a thumbnail before its answer starts).
    pub total: i64,
}

/// Told about photo transfers as bytes move.
pub trait PhotoProgressListener: Send + Sync {
    /// Called after each chunk sent or received.
    fn photo_progress(&self, progress: &PhotoProgress);
}

impl<F: Fn(&PhotoProgress) + Send + Sync> PhotoProgressListener for F {
    fn photo_progress(&self, progress: &PhotoProgress) {
        self(progress)
    }
}

/// What one run of the photo upload queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct UploadSummary {
    /// Photos the server now holds whole (those it already had among them).
    pub uploaded: i64,
    /// Of those, photos the server already held (another device uploaded them) and this
    /// phone proved it holds too, answering a challenge over ranges of the file: no byte of
    /// them sent.
    pub deduplicated: i64,
    /// Photos the server does not take yet: no record it acknowledged references them (the
    /// records' sync has not carried them). They stay in the queue.
    pub waiting: i64,
    /// Photos the server refused for good in this run (too large, over quota, damaged).
    pub refused: i64,
    /// Photo bytes sent, those of chunks cut on the way included.
    pub bytes_up: i64,
    /// Requests answered.
    pub requests: i64,
    /// Chunks or status requests retried after a network error.
    pub retries: i64,
    /// Wall time.
    pub duration: Duration,
}

/// What one download of the small photos did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DownloadSummary {
    /// Photos downloaded and verified.
    pub downloaded: i64,
    /// Photos the server has not for this device yet (not uploaded whole, say); tried again
    /// next time.
    pub missing: i64,
    /// Photo bytes received.
    pub bytes_down: i64,
    /// Wall time.
    pub duration: Duration,
}
