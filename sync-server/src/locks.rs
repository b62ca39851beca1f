//! Per-key locks: pushes to the same document take turns, pushes to different documents run
//! side by side; the same for uploads of one blob. An entry exists only while someone holds or
//! waits for it, so the table stays as small as the work in flight, whatever the number of keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use fieldsync_core::DocId;
use fieldsync_core::poison::Recover;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A lock table keyed by `K`.
pub(crate) struct Locks<K> {
    map: Mutex<HashMap<K, Arc<AsyncMutex<()>>>>,
}

/// The per-document lock table.
pub(crate) type DocLocks = Locks<DocId>;

/// A held document lock.
pub(crate) type DocGuard = KeyGuard<DocId>;

impl<K> Default for Locks<K> {
    fn default() -> Self {
        Locks { map: Mutex::new(HashMap::new()) }
    }
}

/// A held lock; dropping it lets the next waiter in.
pub(crate) struct KeyGuard<K: Eq + Hash> {
    locks: Arc<Locks<K>>,
    key: K,
    guard: Option<OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> Locks<K> {
    /// Locks one key, waiting for its current holder.
    pub(crate) async fn lock(self: &Arc<Self>, key: K) -> KeyGuard<K> {
        let mutex = {
            let mut map = self.map.lock().recover();
            map.entry(key.clone()).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        KeyGuard { locks: self.clone(), key, guard: Some(guard) }
    }

    /// Locks several keys; `keys` must be sorted and free of repeats, so that two requests
    /// locking overlapping sets cannot wait for each other.
    pub(crate) async fn lock_all(self: &Arc<Self>, keys: &[K]) -> Vec<KeyGuard<K>>
    where
        K: Ord,
    {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            guards.push(self.lock(key.clone()).await);
        }
        guards
    }

    /// Entries in the table (held or awaited).
    pub(crate) fn len(&self) -> usize {
        self.map.lock().recover().len()
    }
}

impl<K: Eq + Hash> Drop for KeyGuard<K> {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().recover();
        self.guard.take();
        // Waiters clone the entry under the table's lock, so a count of one means nobody else
        // holds or waits for this key.
        if map.get(&self.key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.key);
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
