//! The documents requests work on, and what becomes of the changes pushed to them: loaded from
//! the cache or storage under their locks, changed by verified ingestion (`crate::ingest`),
//! committed together ([`batch`]); the push half of a sync ([`push`]), Automerge's own sync
//! protocol after an epoch change ([`reconcile`]), the list of refusals kept for dispatchers
//! ([`refusals`]) and the bounded cache of loaded documents ([`cache`]).

pub(crate) mod act;
pub(crate) mod batch;
pub(crate) mod cache;
pub(crate) mod ingest_many;
pub(crate) mod push;
pub(crate) mod reconcile;
pub(crate) mod refusals;
pub(crate) mod registered;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fieldsync_core::poison::Recover;

use crate::ingest::code;
use crate::locks::DocLocks;
use crate::rules::Rules;
use crate::storage::{Storage, StorageError};
use cache::DocCache;

/// The documents of a server: where they are stored, the ones loaded, their locks, and how far
/// the log is known to be committed.
pub(crate) struct Documents {
    /// Documents, the log, accounts, photos' metadata.
    pub(crate) storage: Arc<dyn Storage>,
    /// Loaded documents.
    pub(crate) cache: DocCache,
    /// Per-document locks.
    pub(crate) locks: Arc<DocLocks>,
    /// The highest seq known committed (for `/metrics` and a fast `cursor_ahead` check).
    pub(crate) log_seq: AtomicU64,
    /// The last seq committed, for those who wait for commits (the desk's live events).
    pub(crate) committed: tokio::sync::watch::Sender<u64>,
    /// Largest saved size of one document (see `ServerConfig::doc_bytes`).
    pub(crate) doc_bytes: usize,
    /// The rules the index rows of written reports are computed under.
    pub(crate) rules: Arc<Rules>,
    /// What the work on documents counted.
    pub(crate) counters: Counters,
    /// Whether writes carry their index rows to storage (see `ServerConfig::index_writes`).
    pub(crate) index_writes: bool,
    /// Whether other writers store documents too (other server instances on one database,
    /// `DocumentStorage::log_watch`): only then can a cached copy be older than the stored
    /// version, and a push that lacks what it depends on be worth applying again on the stored
    /// one (see `push`).
    pub(crate) shared: bool,
}

impl Documents {
    /// The documents in `storage`, whose log ends at `log_end`.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        cache: DocCache,
        doc_bytes: usize,
        rules: Arc<Rules>,
        log_end: u64,
    ) -> Self {
        let shared = storage.log_watch().is_some();
        Documents {
            storage,
            shared,
            cache,
            locks: Arc::new(DocLocks::default()),
            log_seq: AtomicU64::new(log_end),
            committed: tokio::sync::watch::Sender::new(log_end),
            doc_bytes,
            rules,
            counters: Counters::default(),
            index_writes: true,
        }
    }

    /// The same, writing index rows or not (see `ServerConfig::index_writes`).
    pub(crate) fn with_index_writes(mut self, on: bool) -> Self {
        self.index_writes = on;
        self
    }

    /// The storage's epoch.
    pub(crate) fn epoch(&self) -> &str {
        self.storage.epoch()
    }

    /// The last seq of the log, asked of the storage (the counter may lag a commit by an
    /// instant); the counter catches up with it.
    pub(crate) async fn log_end(&self) -> Result<u64, StorageError> {
        let end = self.storage.log_end().await?;
        self.log_seq.fetch_max(end, Ordering::AcqRel);
        Ok(end)
    }

    /// Where a pull that starts now reads the log up to. Alone on the storage, the counter: every
    /// commit raises it once durable. On a storage other instances write to, the counter follows
    /// their commits only as their notifications arrive, so the storage's watermark is asked
    /// (one query): a change another instance acknowledged before the pull began is in it, and a
    /// phone that syncs through another instance right after is not left a sync behind.
    pub(crate) async fn pull_end(&self) -> Result<u64, StorageError> {
        if self.shared { self.log_end().await } else { Ok(self.log_seq.load(Ordering::Acquire)) }
    }
}

/// At most this many documents are looked up for one move of the log's end; beyond it the
/// whole cache is dropped (a long disconnection from the database, a burst of bulk writes).
const DROP_AT_MOST: usize = 10_000;

/// Follows the log's end as other server instances on the same storage move it
/// (`DocumentStorage::log_watch`), starting from the end at `from` (the log's end when the
/// cache was empty): first the cached documents that another instance has since replaced are
/// dropped (the log entries between the two ends name them), so that the next write to them
/// is built on the stored version instead of failing its compare-and-set and costing the
/// phone a retry; then the counter and the event stream's wake-up (`committed`) move with
/// it, as with this instance's own commits. Ends when the storage closes.
pub(crate) async fn follow_other_writers(
    docs: Arc<Documents>,
    mut end: tokio::sync::watch::Receiver<u64>,
    from: u64,
) {
    let mut checked = from;
    while end.changed().await.is_ok() {
        let seq = *end.borrow_and_update();
        if seq > checked {
            drop_replaced(&docs, checked, seq).await;
            checked = seq;
        }
        docs.log_seq.fetch_max(seq, Ordering::AcqRel);
        docs.committed.send_if_modified(|at| {
            let newer = seq > *at;
            if newer {
                *at = seq;
            }
            newer
        });
    }
}

/// Drops from the cache the documents written by the log entries after `after` up to `upto`
/// whose stored version is newer than the one held (this instance's own writes are kept).
/// When they cannot be known, the whole cache goes: a stale document must not stay.
async fn drop_replaced(docs: &Documents, after: u64, upto: u64) {
    let dropped = match docs.storage.logged_docs(after, upto, DROP_AT_MOST).await {
        Ok(logged) if logged.len() < DROP_AT_MOST => {
            logged.into_iter().filter(|(id, version)| docs.cache.drop_older(*id, *version)).count()
        }
        Ok(_) => docs.cache.clear(),
        Err(e) => {
            tracing::warn!("reading what other instances wrote failed, cache dropped: {e}");
            docs.cache.clear()
        }
    };
    docs.counters.replaced_dropped.fetch_add(dropped as u64, Ordering::Relaxed);
}

/// What the work on documents counted, for `/metrics`.
#[derive(Default)]
pub(crate) struct Counters {
    /// Changes stored and logged.
    pub(crate) changes_accepted: AtomicU64,
    /// Documents loaded from storage because the cache did not hold them.
    pub(crate) cache_misses: AtomicU64,
    /// Cached documents dropped because another instance stored a newer version.
    pub(crate) replaced_dropped: AtomicU64,
    /// Pushed documents refused, by code.
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    /// Counts a pushed document refused with `code` (codes outside the protocol's set count as
    /// `other`).
    pub(crate) fn refused(&self, c: &str) {
        let c = code::ALL.iter().copied().find(|k| *k == c).unwrap_or("other");
        *self.refused.lock().recover().entry(c).or_default() += 1;
    }

    /// The refusals counted, by code.
    pub(crate) fn refusals(&self) -> Vec<(&'static str, u64)> {
        self.refused.lock().recover().iter().map(|(c, n)| (*c, *n)).collect()
    }
}

/// Why the work on a request's documents failed as a whole (a document's own refusal travels in
/// its result instead).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DocumentsError {
    /// The storage failed; nothing of the request's writes is known to be stored.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The blocking task doing the work failed (a bug).
    #[error("{0}")]
    Task(String),
}

/// The typed record of document `id` as stored (`None`: no such document), for readers that
/// change nothing (the desk's record view). Loads from storage on a blocking thread, without
/// taking the document's lock or its place in the cache.
pub(crate) async fn read_record(
    docs: &Documents,
    id: fieldsync_core::DocId,
) -> Result<Option<fieldsync_core::model::Record>, DocumentsError> {
    let Some(stored) = docs.storage.load(vec![id]).await?.pop().flatten() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || {
        let loaded = crate::ingest::load(id, &stored.bytes, stored.meta)
            .map_err(|r| DocumentsError::Task(format!("document {id} does not load: {r:?}")))?;
        crate::ingest::read_checked(id, &loaded.doc)
            .map(Some)
            .map_err(|r| DocumentsError::Task(format!("document {id} does not read: {r:?}")))
    })
    .await
    .map_err(|e| DocumentsError::Task(format!("read task failed: {e}")))?
}
