//! The documents one request works on: locked (in sorted order), taken from the cache or loaded
//! from storage, changed on a blocking thread, their writes committed together, and put back in
//! the cache once committed. Dropping a working set without [`WorkingSet::finish`] leaves the
//! cache without those documents, which is always safe.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use fieldsync_core::DocId;

use super::{Documents, DocumentsError};
use crate::ingest::Loaded;
use crate::ingest::{self, Author, Refusal, code};
use crate::locks::DocGuard;
use crate::rules::Rules;
use crate::storage::{DocMeta, DocWrite, StorageError, StoredDoc};

/// One document of a working set.
// The loaded variant is large (an `AutoCommit` is a few KiB inline); slots live only for one
// request and move as a whole map, so boxing would add an allocation per document for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Slot {
    /// In memory (`None`: not stored).
    Ready(Option<Loaded>),
    /// Read from storage, not parsed yet.
    Stored(StoredDoc),
    /// Unusable for this request (it failed to load, or changed in memory and failed): every
    /// further operation on it is refused this way, and it is not put back in the cache.
    Broken(Refusal),
}

/// The locked documents of one request.
pub(crate) struct WorkingSet {
    guards: Vec<DocGuard>,
    /// The documents, by id.
    pub(crate) slots: HashMap<DocId, Slot>,
    /// The documents whose write failed because another writer (another server instance on
    /// the same storage) stored a newer version meanwhile: run again on the stored version,
    /// the write may well succeed.
    pub(crate) conflicted: Vec<DocId>,
    /// The documents taken from the cache rather than loaded from storage: with several
    /// instances on one storage, possibly older than the stored version.
    pub(crate) cached: Vec<DocId>,
}

/// Requests with at most this many documents keep the documents they create in the cache;
/// larger ones are bulk uploads.
pub(crate) const KEEP_NEW_DOCS: usize = 16;

/// A write waiting to commit, with the metadata the document will have once it has.
pub(crate) struct Pending {
    pub(crate) write: DocWrite,
    meta_after: DocMeta,
}

impl Pending {
    /// A pending write.
    pub(crate) fn new(write: DocWrite, slot: &Option<Loaded>) -> Self {
        let base = slot.as_ref().map(|l| l.meta.clone());
        let base = base.unwrap_or(DocMeta {
            kind: write.kind,
            scope: write.scope.clone(),
            snapshot_bytes: 0,
            chunk_bytes: 0,
            version: 0,
        });
        let meta_after = base.after(&write.bytes, 0);
        Pending { write, meta_after }
    }
}

impl WorkingSet {
    /// Locks `ids` (sorted, no repeats) and gathers them: from the cache, else from storage.
    ///
    /// Where other instances write to the same storage (`Documents::shared`), a cached copy
    /// is used only if it is still the stored version: its version is checked against
    /// storage first (one read for all of them), and a replaced copy is dropped and loaded
    /// again. The notifications of other instances' commits (`follow_other_writers`) drop
    /// replaced copies too, but they arrive a few milliseconds after the commit, and a copy
    /// taken out of the cache while one arrives goes back in unchecked; without this check a
    /// reconcile would answer a phone with heads another instance has already moved past.
    pub(crate) async fn open(
        docs: &Documents,
        ids: Vec<DocId>,
    ) -> Result<WorkingSet, DocumentsError> {
        let guards = docs.locks.lock_all(&ids).await;
        let mut slots = HashMap::with_capacity(ids.len());
        let mut misses = Vec::new();
        let mut cached = Vec::new();
        for id in ids {
            match docs.cache.take(id) {
                Some(l) => {
                    slots.insert(id, Slot::Ready(Some(l)));
                    cached.push(id);
                }
                None => misses.push(id),
            }
        }
        if docs.shared && !cached.is_empty() {
            let stored = docs.storage.versions(cached.clone()).await?;
            let mut fresh = Vec::with_capacity(cached.len());
            for (id, version) in cached.into_iter().zip(stored) {
                let held = match slots.get(&id) {
                    Some(Slot::Ready(Some(l))) => l.meta.version,
                    _ => continue,
                };
                if version == Some(held) {
                    fresh.push(id);
                } else {
                    slots.remove(&id);
                    misses.push(id);
                    docs.counters.replaced_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            cached = fresh;
        }
        if !misses.is_empty() {
            docs.counters.cache_misses.fetch_add(misses.len() as u64, Ordering::Relaxed);
            let stored = docs.storage.load(misses.clone()).await?;
            for (id, s) in misses.into_iter().zip(stored) {
                slots.insert(id, s.map_or(Slot::Ready(None), Slot::Stored));
            }
        }
        Ok(WorkingSet { guards, slots, conflicted: Vec::new(), cached })
    }

    /// Commits the pending writes (in one storage batch) and records in each slot what became
    /// of its write. Returns, per pending write in order, whether it committed.
    pub(crate) async fn commit(
        &mut self,
        docs: &Documents,
        pending: Vec<Pending>,
    ) -> Result<Vec<Result<(), Refusal>>, DocumentsError> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let (writes, metas): (Vec<DocWrite>, Vec<(DocId, usize, DocMeta)>) = pending
            .into_iter()
            .map(|mut p| {
                let info = (p.write.doc, p.write.changes.len(), p.meta_after);
                if !docs.index_writes {
                    p.write.index = None;
                }
                (p.write, info)
            })
            .unzip();
        let results = match docs.storage.commit(writes).await {
            Ok(r) => r,
            Err(e) => {
                // Nothing is known to be stored: the documents in memory are ahead of storage.
                for (id, _, _) in &metas {
                    self.break_slot(*id, Refusal::retry(code::INTERNAL_ERROR, e.to_string()));
                }
                return Err(e.into());
            }
        };
        let mut out = Vec::with_capacity(results.len());
        for ((id, changes, mut meta), result) in metas.into_iter().zip(results) {
            match result {
                Ok(c) => {
                    meta.version = c.version;
                    if let Some(Slot::Ready(Some(l))) = self.slots.get_mut(&id) {
                        l.meta = meta;
                    }
                    docs.counters.changes_accepted.fetch_add(changes as u64, Ordering::Relaxed);
                    // On a storage with other writers a commit's seqs may be visible before a
                    // smaller one of another commit still in flight: readers go up to the
                    // storage's watermark, which its `log_watch` publishes, never past it.
                    if !docs.shared {
                        docs.log_seq.fetch_max(c.last_seq, Ordering::AcqRel);
                        docs.committed.send_if_modified(|seq| {
                            let newer = c.last_seq > *seq;
                            if newer {
                                *seq = c.last_seq;
                            }
                            newer
                        });
                    }
                    out.push(Ok(()));
                }
                Err(e) => {
                    if matches!(e, StorageError::Conflict { .. }) {
                        self.conflicted.push(id);
                    }
                    let refusal = match &e {
                        StorageError::Conflict { .. } => Refusal::retry(
                            code::INTERNAL_ERROR,
                            format!("document {id} changed on the server meanwhile; retry"),
                        ),
                        other => {
                            tracing::error!(doc = %id, "write failed: {other}");
                            Refusal::retry(code::INTERNAL_ERROR, format!("document {id}: {other}"))
                        }
                    };
                    self.break_slot(id, refusal.clone());
                    out.push(Err(refusal));
                }
            }
        }
        Ok(out)
    }

    fn break_slot(&mut self, id: DocId, refusal: Refusal) {
        self.slots.insert(id, Slot::Broken(refusal));
    }

    /// Puts the documents back in the cache and releases their locks.
    pub(crate) fn finish(self, docs: &Documents) {
        for (id, slot) in self.slots {
            if let Slot::Ready(Some(l)) = slot {
                docs.cache.put(id, l);
            }
        }
        drop(self.guards);
    }
}

impl Slot {
    /// The document in memory, loading stored bytes first; a failure breaks the slot.
    pub(crate) fn ready(&mut self, id: DocId) -> Result<&mut Option<Loaded>, Refusal> {
        if matches!(self, Slot::Stored(_))
            && let Slot::Stored(stored) = std::mem::replace(self, Slot::Ready(None))
        {
            *self = match ingest::load(id, &stored.bytes, stored.meta) {
                Ok(l) => Slot::Ready(Some(l)),
                Err(r) => Slot::Broken(r),
            };
        }
        match self {
            Slot::Ready(l) => Ok(l),
            Slot::Broken(r) => Err(r.clone()),
            Slot::Stored(_) => Err(Refusal::retry(code::INTERNAL_ERROR, "document not loaded")),
        }
    }

    /// Ingests changes into this slot (see [`ingest::ingest`]); a refusal that emptied the
    /// document in memory breaks the slot.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ingest(
        &mut self,
        id: DocId,
        bytes: &[u8],
        author: Option<&Author>,
        signed: ingest::Signed<'_>,
        keep_new: bool,
        max_bytes: usize,
        rules: &Rules,
    ) -> Result<Option<Pending>, Refusal> {
        let was_there = matches!(self, Slot::Stored(_) | Slot::Ready(Some(_)));
        let slot = self.ready(id)?;
        match ingest::ingest(id, slot, bytes, author, signed, keep_new, max_bytes, rules) {
            Ok(None) => Ok(None),
            Ok(Some(write)) => Ok(Some(Pending::new(write, slot))),
            Err(refusal) => {
                if was_there && slot.is_none() {
                    *self = Slot::Broken(refusal.clone());
                }
                Err(refusal)
            }
        }
    }
}
