//! Callbacks into the app: a sync progress listener and a photo transfer listener, with their
//! adapters to core's traits. Change observers, delivered off the writer's thread, are in
//! `dispatch.rs`.

use std::sync::Arc;

use fieldsync_core::sync::{PhotoProgress, PhotoProgressListener, ProgressListener, SyncProgress};

use crate::error::FieldError;
use crate::log;

/// Told after every request of a running sync, on the thread running the sync; return
/// quickly. What it throws is reported through the log hook, and the sync goes on.
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    /// Progress so far.
    fn on_progress(&self, progress: SyncProgress) -> Result<(), FieldError>;
}

/// Told as a photo's bytes move (an upload or a download), after every piece: `done` of
/// `total` bytes (`total` is 0 while a thumbnail's size is not known yet). Called on the
/// thread running the transfer; return quickly. What it throws is reported through the log
/// hook, and the transfer goes on.
#[uniffi::export(foreign)]
pub trait PhotoListener: Send + Sync {
    /// Progress of one photo's transfer.
    fn on_photo_progress(&self, progress: PhotoProgress) -> Result<(), FieldError>;
}

/// Adapts a foreign progress listener to core's.
pub(crate) struct ListenerAdapter(pub(crate) Arc<dyn SyncListener>);

impl ProgressListener for ListenerAdapter {
    fn progress(&self, progress: &SyncProgress) {
        if let Err(e) = self.0.on_progress(*progress) {
            log::warn("sync", format!("the sync listener threw: {e}"));
        }
    }
}

/// Adapts a foreign photo listener to core's.
pub(crate) struct PhotoListenerAdapter(pub(crate) Arc<dyn PhotoListener>);

impl PhotoProgressListener for PhotoListenerAdapter {
    fn photo_progress(&self, progress: &PhotoProgress) {
        if let Err(e) = self.0.on_photo_progress(progress.clone()) {
            log::warn("photos", format!("the photo listener threw: {e}"));
        }
    }
}
