//! One store per database file in a process: an app that opens the same path from two places
//! (a screen and a background sync job) shares one store, one writer, one observer thread and
//! one sync at a time, instead of two stores competing for the file. When the last handle on
//! a file is closed, the file is released: opening it again opens it afresh.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use fieldsync_core::Store;
use fieldsync_core::store::StoreKey;

use crate::dispatch::Dispatcher;
use crate::error::FieldError;

/// What every `FieldStore` opened on one file shares.
pub(crate) struct Shared {
    /// The store.
    pub(crate) store: Arc<Store>,
    /// The observers of the file and their thread.
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// One sync at a time per file: a second `sync_now` waits for the first.
    pub(crate) sync_lock: tokio::sync::Mutex<()>,
    /// One photo upload queue at a time per file (it never holds `sync_lock`, so records sync
    /// while photos upload).
    pub(crate) upload_lock: tokio::sync::Mutex<()>,
}

/// The files open in this process.
static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

/// The open store of `path`, opening it with `key` if no one holds it. A store open already is
/// shared only with a caller that gives its key.
pub(crate) fn shared(path: &Path, key: StoreKey) -> Result<Arc<Shared>, FieldError> {
    let file = canonical(path);
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.retain(|(_, held)| held.strong_count() > 0);
    if let Some(shared) = open.iter().filter(|(p, _)| *p == file).find_map(|(_, w)| w.upgrade()) {
        if !shared.store.has_key(&key) {
            return Err(FieldError::WrongKey {
                path: path.display().to_string(),
                detail: "the store is open in this app with another key".into(),
            });
        }
        return Ok(shared);
    }
    let store = Arc::new(Store::open_encrypted(path, key)?);
    let shared = Arc::new(Shared {
        dispatcher: Dispatcher::start(&store)?,
        store,
        sync_lock: tokio::sync::Mutex::new(()),
        upload_lock: tokio::sync::Mutex::new(()),
    });
    open.push((file, Arc::downgrade(&shared)));
    Ok(shared)
}

/// The path with its folder resolved (links, `..`), so two spellings of one file match; the file
/// itself may not exist yet.
fn canonical(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}
