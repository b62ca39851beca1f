//! Per-document locks: pushes to the same document take turns, pushes to different documents run
//! side by side. An entry exists only while someone holds or waits for it, so the table stays as
//! small as the work in flight, whatever the number of documents.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fieldsync_core::DocId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The lock table.
#[derive(Default)]
pub(crate) struct DocLocks {
    map: Mutex<HashMap<DocId, Arc<AsyncMutex<()>>>>,
}

/// A held document lock; dropping it lets the next waiter in.
pub(crate) struct DocGuard {
    locks: Arc<DocLocks>,
    id: DocId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl DocLocks {
    /// Locks one document, waiting for its current holder.
    pub(crate) async fn lock(self: &Arc<Self>, id: DocId) -> DocGuard {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(id).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        DocGuard { locks: self.clone(), id, guard: Some(guard) }
    }

    /// Locks several documents; `ids` must be sorted and free of repeats, so that two requests
    /// locking overlapping sets cannot wait for each other.
    pub(crate) async fn lock_all(self: &Arc<Self>, ids: &[DocId]) -> Vec<DocGuard> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let mut guards = Vec::with_capacity(ids.len());
        for id in ids {
            guards.push(self.lock(*id).await);
        }
        guards
    }

    /// Entries in the table (held or awaited).
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

impl Drop for DocGuard {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().unwrap_or_else(|p| p.into_inner());
        self.guard.take();
        // Waiters clone the entry under the table's lock, so a count of one means nobody else
        // holds or waits for this document.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serializes_one_document_and_cleans_up() {
        let locks = Arc::new(DocLocks::default());
        let id = DocId::random();
        let counter = Arc::new(AsyncMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (locks, counter) = (locks.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock(id).await;
                counter.lock().await.push(("in", i));
                tokio::time::sleep(Duration::from_millis(2)).await;
                counter.lock().await.push(("out", i));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = counter.lock().await.clone();
        for pair in log.chunks(2) {
            assert_eq!(pair[0].1, pair[1].1, "no interleaving: {log:?}");
        }
        assert_eq!(locks.len(), 0, "entries go once nobody holds them");

        // Different documents do not wait for each other.
        let a = locks.lock(DocId::random()).await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock(DocId::random())).await;
        assert!(b.is_ok());
        drop((a, b));
        assert_eq!(locks.len(), 0);
    }
}
