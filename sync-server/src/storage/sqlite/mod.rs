//! The SQLite backend: one file, zero set-up. WAL; one writer connection on its own thread
//! (group commit, see [`writer`]) and a pool of read-only connections used from tokio's blocking
//! threads, so async workers never wait on SQLite.

pub(crate) mod columns;
mod read;
mod refusals;
pub(crate) mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use fieldsync_core::DocId;
use tokio::sync::oneshot;

use self::read::Readers;
use self::writer::Msg;
use super::{
    Audience, BoxFuture, CatchUpPage, Committed, DocWrite, LogPage, LogRecord, Refused, Storage,
    StorageError, StorageResult, StoredBlobRef, StoredDoc, StoredRefusal, WholeDoc,
};
use crate::config::Durability;
use fieldsync_core::poison::Recover;

/// The server's storage in one SQLite file.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    epoch: String,
    readers: Readers,
    writer: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .field("epoch", &self.inner.epoch)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating or upgrading) the database at `path`, whose directory must exist.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> StorageResult<Self> {
        let path = path.as_ref().to_path_buf();
        let (conn, epoch) = schema::open_writer(&path, durability)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fieldsync-sqlite-writer".into())
            .spawn(move || writer::run(conn, rx))
            .map_err(|source| StorageError::Io { path: path.display().to_string(), source })?;
        tracing::info!(path = %path.display(), epoch, "storage opened");
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                readers: Readers::new(path.clone()),
                path,
                epoch,
                writer: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Gives the database at `path` a new epoch, to be run (server stopped) after restoring it
    /// from a backup: phones then reconcile instead of trusting their cursors. Returns the epoch.
    pub fn renew_epoch(path: impl AsRef<Path>) -> StorageResult<String> {
        let (conn, _) = schema::open_writer(path.as_ref(), Durability::Full)?;
        schema::renew_epoch(&conn)
    }

    /// The refusals listed in the database at `path` (see [`Storage::refusals`]), read without
    /// opening it for writing (the admin CLI, beside a running server).
    pub fn list_refusals(
        path: impl AsRef<Path>,
        scopes: &[String],
        after: i64,
        limit: usize,
    ) -> StorageResult<Vec<StoredRefusal>> {
        let conn = schema::open_reader(path.as_ref())?;
        refusals::list(&conn, scopes, after, limit)
    }

    /// Runs a read on a blocking thread.
    fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> StorageResult<R> + Send + 'static,
    ) -> BoxFuture<'_, StorageResult<R>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.readers.with(f))
                .await
                .map_err(|e| StorageError::Corrupt(format!("read task failed: {e}")))?
        })
    }
}

impl Storage for SqliteStorage {
    fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    fn load(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<StoredDoc>>>> {
        self.read(move |c| read::load(c, &ids))
    }

    fn commit(
        &self,
        writes: Vec<DocWrite>,
    ) -> BoxFuture<'_, StorageResult<Vec<StorageResult<Committed>>>> {
        Box::pin(async move {
            if writes.is_empty() {
                return Ok(Vec::new());
            }
            let (reply, answer) = oneshot::channel();
            {
                let guard = self.inner.writer.lock().recover();
                let sender = guard.as_ref().ok_or(StorageError::Closed)?;
                sender.send(Msg::Commit { writes, reply }).map_err(|_| StorageError::Closed)?;
            }
            answer.await.map_err(|_| StorageError::Closed)?
        })
    }

    fn whole(
        &self,
        ids: Vec<DocId>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<(Vec<WholeDoc>, usize)>> {
        self.read(move |c| read::whole(c, &ids, max_bytes))
    }

    fn readers(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>> {
        self.read(move |c| read::readers(c, &ids))
    }

    fn audiences(&self) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>> {
        self.read(read::audiences)
    }

    fn catch_up(
        &self,
        after: i64,
        max_bytes: usize,
        reader: Option<fieldsync_core::policy::Profile>,
    ) -> BoxFuture<'_, StorageResult<CatchUpPage>> {
        self.read(move |c| read::catch_up(c, after, max_bytes, reader.as_ref()))
    }

    fn log_page(
        &self,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<LogPage>> {
        self.read(move |c| read::log_page(c, after, &skip_actor, max_bytes))
    }

    fn log_end(&self) -> BoxFuture<'_, StorageResult<u64>> {
        self.read(read::log_end)
    }

    fn docs_end(&self) -> BoxFuture<'_, StorageResult<i64>> {
        self.read(read::docs_end)
    }

    fn audit(&self, after: u64, limit: usize) -> BoxFuture<'_, StorageResult<Vec<LogRecord>>> {
        self.read(move |c| read::audit(c, after, limit))
    }

    fn doc_ids(&self) -> BoxFuture<'_, StorageResult<Vec<DocId>>> {
        self.read(read::doc_ids)
    }

    fn blob_refs(&self, hash: String) -> BoxFuture<'_, StorageResult<Vec<StoredBlobRef>>> {
        self.read(move |c| read::blob_refs(c, &hash))
    }

    fn record_refusals(&self, refusals: Vec<Refused>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move {
            if refusals.is_empty() {
                return Ok(());
            }
            let (reply, answer) = oneshot::channel();
            {
                let guard = self.inner.writer.lock().recover();
                let sender = guard.as_ref().ok_or(StorageError::Closed)?;
                sender.send(Msg::Refusals { refusals, reply }).map_err(|_| StorageError::Closed)?;
            }
            answer.await.map_err(|_| StorageError::Closed)?
        })
    }

    fn refusals(
        &self,
        scopes: Vec<String>,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRefusal>>> {
        self.read(move |c| refusals::list(c, &scopes, after, limit))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let sender = self.inner.writer.lock().recover().take();
            if let Some(sender) = sender {
                let (done, finished) = oneshot::channel();
                if sender.send(Msg::Close(done)).is_ok() {
                    let _ = finished.await;
                }
            }
            let thread = self.inner.thread.lock().recover().take();
            if let Some(thread) = thread {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender lets the writer thread finish what is queued and stop.
        self.writer.lock().recover().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path().join("t.db"), Durability::Normal).unwrap();
        (dir, s)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_conformance_suite() {
        crate::storage::conformance::run_all(|| async {
            let (dir, s) = open();
            (Box::new(dir) as Box<dyn std::any::Any + Send>, Arc::new(s) as Arc<dyn Storage>)
        })
        .await;
    }

    #[tokio::test]
    async fn closed_storage_refuses_writes() {
        let (_dir, s) = open();
        s.close().await;
        let write = crate::storage::conformance::sample_write(DocId::random(), None, 1);
        assert!(matches!(s.commit(vec![write]).await, Err(StorageError::Closed)));
    }
}
