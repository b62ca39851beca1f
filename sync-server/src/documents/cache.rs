//! Loaded documents, kept in a bounded LRU cache (by count and by estimated memory) so that a
//! document pushed to often is not parsed again each time, while memory does not grow with the
//! number of stored documents.
//!
//! A document is taken out of the cache while a request works on it (under its document lock)
//! and put back once its writes committed; a document whose work failed is simply not put back,
//! so the next request loads it again from storage.

use std::sync::Mutex;

use fieldsync_core::DocId;
use fieldsync_core::poison::Recover;
use lru::LruCache;

use crate::ingest::Loaded;

struct Inner {
    lru: LruCache<DocId, Loaded>,
    bytes: usize,
}

/// The cache.
pub(crate) struct DocCache {
    inner: Mutex<Inner>,
    max_docs: usize,
    max_bytes: usize,
}

impl DocCache {
    /// A cache holding at most `max_docs` documents and about `max_bytes` of memory.
    pub(crate) fn new(max_docs: usize, max_bytes: usize) -> Self {
        DocCache {
            inner: Mutex::new(Inner { lru: LruCache::unbounded(), bytes: 0 }),
            max_docs,
            max_bytes,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().recover()
    }

    /// Takes a document out (the caller holds its lock).
    pub(crate) fn take(&self, id: DocId) -> Option<Loaded> {
        let mut inner = self.inner();
        let loaded = inner.lru.pop(&id)?;
        inner.bytes = inner.bytes.saturating_sub(loaded.weight());
        Some(loaded)
    }

    /// Puts a document back (or in), evicting the least recently used beyond the bounds.
    pub(crate) fn put(&self, id: DocId, loaded: Loaded) {
        let weight = loaded.weight();
        if loaded.built || self.max_docs == 0 || weight > self.max_bytes {
            return;
        }
        // Documents evicted are dropped outside the lock: freeing a large one takes a while.
        let mut evicted = Vec::new();
        {
            let mut inner = self.inner();
            if let Some(old) = inner.lru.put(id, loaded) {
                inner.bytes = inner.bytes.saturating_sub(old.weight());
                evicted.push(old);
            }
            inner.bytes += weight;
            while inner.lru.len() > self.max_docs || inner.bytes > self.max_bytes {
                let Some((_, old)) = inner.lru.pop_lru() else { break };
                inner.bytes = inner.bytes.saturating_sub(old.weight());
                evicted.push(old);
            }
        }
        drop(evicted);
    }

    /// Drops the document if the version held is older than `version` (another instance
    /// stored a newer one); whether it did.
    pub(crate) fn drop_older(&self, id: DocId, version: u64) -> bool {
        let dropped = {
            let mut inner = self.inner();
            if inner.lru.peek(&id).is_none_or(|l| l.meta.version >= version) {
                return false;
            }
            let dropped = inner.lru.pop(&id);
            let weight = dropped.as_ref().map_or(0, Loaded::weight);
            inner.bytes = inner.bytes.saturating_sub(weight);
            dropped
        };
        drop(dropped);
        true
    }

    /// Drops every document (when what other instances replaced is not known).
    pub(crate) fn clear(&self) -> usize {
        let dropped: Vec<Loaded> = {
            let mut inner = self.inner();
            inner.bytes = 0;
            std::iter::from_fn(|| inner.lru.pop_lru().map(|(_, l)| l)).collect()
        };
        dropped.len()
    }

    /// Documents held, and their estimated memory.
    pub(crate) fn stats(&self) -> (usize, usize) {
        let inner = self.inner();
        (inner.lru.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;
    use fieldsync_core::model::{Header, Kind};

    use crate::storage::DocMeta;

    fn loaded(stored: u64) -> Loaded {
        Loaded {
            doc: AutoCommit::new(),
            header: Header {
                id: DocId::random(),
                kind: Kind::Report,
                schema: 1,
                scope: "a/b".into(),
                created_by: "u".into(),
                created_at: Default::default(),
            },
            meta: DocMeta {
                kind: Kind::Report,
                scope: "a/b".into(),
                snapshot_bytes: stored,
                chunk_bytes: 0,
                version: 1,
            },
            built: false,
            record: None,
        }
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let cache = DocCache::new(3, 1 << 30);
        let ids: Vec<DocId> = (0..5).map(|_| DocId::random()).collect();
        for id in &ids {
            cache.put(*id, loaded(100));
        }
        assert_eq!(cache.stats().0, 3);
        assert!(cache.take(ids[0]).is_none(), "least recently used went first");
        assert!(cache.take(ids[4]).is_some());
        assert_eq!(cache.stats().0, 2);

        let one = loaded(1000).weight();
        let cache = DocCache::new(1000, one * 2);
        for id in &ids {
            cache.put(*id, loaded(1000));
        }
        let (n, bytes) = cache.stats();
        assert_eq!(n, 2);
        assert!(bytes <= one * 2);
        // A document larger than the whole cache is not kept.
        cache.put(DocId::random(), loaded(1 << 30));
        assert_eq!(cache.stats().0, 2);
        // Nor one built from changes.
        cache.put(DocId::random(), Loaded { built: true, ..loaded(10) });
        assert_eq!(cache.stats().0, 2);
    }

    #[test]
    fn only_versions_older_than_the_stored_one_are_dropped() {
        let cache = DocCache::new(10, 1 << 30);
        let (a, b) = (DocId::random(), DocId::random());
        let at = |v: u64| Loaded { meta: DocMeta { version: v, ..loaded(10).meta }, ..loaded(10) };
        cache.put(a, at(3));
        cache.put(b, at(5));
        assert!(!cache.drop_older(a, 3), "the version stored is the one held");
        assert!(!cache.drop_older(b, 4), "held newer than what was read");
        assert!(!cache.drop_older(DocId::random(), 9), "not held");
        assert!(cache.drop_older(a, 4));
        assert_eq!(cache.stats().0, 1);
        assert!(cache.take(a).is_none() && cache.take(b).is_some());
        cache.put(b, at(5));
        cache.put(a, at(1));
        assert_eq!(cache.clear(), 2);
        assert_eq!(cache.stats(), (0, 0));
    }
}
