//! Callbacks into the app: a change observer (a list screen refreshes when a sync brings new
//! data), a sync progress listener and a photo transfer listener, with their adapters to core's
//! traits.

use std::sync::{Arc, Mutex};

use fieldsync_core::Store;
use fieldsync_core::store::{RecordChanged, StoreObserver};
use fieldsync_core::sync::{PhotoProgress, PhotoProgressListener, ProgressListener, SyncProgress};

use crate::error::FieldError;

/// Told after records are created, changed or removed on this phone, whether by a command here
/// or by a sync. Called on a background thread after the write is on disk; return quickly (post
/// to the UI thread), and do not wait in it for another call into the store to finish.
#[uniffi::export(foreign)]
pub trait ChangeObserver: Send + Sync {
    /// The records that changed, with their kind and where the change came from.
    fn on_change(&self, changes: Vec<RecordChanged>) -> Result<(), FieldError>;
}

/// Told after every request of a running sync.
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    /// Progress so far.
    fn on_progress(&self, progress: SyncProgress) -> Result<(), FieldError>;
}

/// Told as a photo's bytes move (an upload or a download), after every piece: `done` of
/// `total` bytes (`total` is 0 while a thumbnail's size is not known yet). Called on a
/// background thread; return quickly.
#[uniffi::export(foreign)]
pub trait PhotoListener: Send + Sync {
    /// Progress of one photo's transfer.
    fn on_photo_progress(&self, progress: PhotoProgress) -> Result<(), FieldError>;
}

/// Adapts a foreign observer to core's; an exception it throws is logged, never passed on (the
/// write it reports has committed).
struct ObserverAdapter(Arc<dyn ChangeObserver>);

impl StoreObserver for ObserverAdapter {
    fn records_changed(&self, changes: &[RecordChanged]) {
        if let Err(e) = self.0.on_change(changes.to_vec()) {
            tracing::warn!("change observer failed: {e}");
        }
    }
}

/// Adapts a foreign progress listener to core's.
pub(crate) struct ListenerAdapter(pub(crate) Arc<dyn SyncListener>);

impl ProgressListener for ListenerAdapter {
    fn progress(&self, progress: &SyncProgress) {
        if let Err(e) = self.0.on_progress(*progress) {
            tracing::warn!("sync listener failed: {e}");
        }
    }
}

/// Adapts a foreign photo listener to core's; what it throws is logged (the transfer goes on).
pub(crate) struct PhotoListenerAdapter(pub(crate) Arc<dyn PhotoListener>);

impl PhotoProgressListener for PhotoListenerAdapter {
    fn photo_progress(&self, progress: &PhotoProgress) {
        if let Err(e) = self.0.on_photo_progress(progress.clone()) {
            tracing::warn!("photo listener failed: {e}");
        }
    }
}

/// A registered observer; `cancel` stops it (a screen cancels when it goes away). Keep it as
/// long as changes should be reported: once the app lets go of it, the observer stops too.
#[derive(uniffi::Object)]
pub struct Subscription {
    store: Arc<Store>,
    observer: Mutex<Option<Arc<dyn StoreObserver>>>,
}

impl Subscription {
    /// Registers `observer` with `store`.
    pub(crate) fn start(store: Arc<Store>, observer: Arc<dyn ChangeObserver>) -> Subscription {
        let adapter: Arc<dyn StoreObserver> = Arc::new(ObserverAdapter(observer));
        store.add_observer(adapter.clone());
        Subscription { store, observer: Mutex::new(Some(adapter)) }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the observer; later changes are not reported to it. Calling it again does nothing.
    pub fn cancel(&self) {
        let taken = self.observer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(observer) = taken {
            self.store.remove_observer(&observer);
        }
    }

    /// Whether the observer is still registered.
    pub fn is_active(&self) -> bool {
        self.observer.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}
