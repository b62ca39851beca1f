//! The SQLite backend: one file, zero set-up. WAL; one writer connection on its own thread
//! that every write goes through (group commit for documents, a transaction per other write;
//! see `writer`) and a pool of read-only connections used from tokio's blocking threads, so
//! async workers never wait on SQLite. The SQL is in one module per part of the trait:
//! `read` and `writer` (documents and the log), `refusals`, `accounts`, `sessions`, `blobs`,
//! `index` (the record index, whose rows the writer upserts with each document write), `keys`
//! (Open311's API keys).

mod accounts;
mod blobs;
mod businesses;
mod checkpoint;
pub(crate) mod columns;
mod index;
mod keys;
mod points;
mod read;
mod refusals;
pub(crate) mod schema;
mod session_ends;
mod sessions;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use fieldsync_core::DocId;
use fieldsync_core::poison::Recover;
use rusqlite::Connection;
use tokio::sync::oneshot;

use self::read::Readers;
use self::writer::Msg;
use super::IndexStorage;
use super::index::{
    CaseStats, IndexChange, IndexRow, Listing, Page, PageRequest, PatrolDayStats, ReportCount,
    ReportFilter, ReportRow, ReportStats, StatsQuery,
};
use super::{
    AccountStorage, Audience, Award, Balance, BlobRecord, BlobStorage, BoxFuture, Business,
    BusinessChange, BusinessStorage, CatchUpPage, CatchUpReader, Collected, Committed, DeskSignIn,
    Device, Disabled, DocSignatures, DocWrite, DocumentStorage, Enrollment, Good, GoodChange,
    KeyStorage, LogPage, LogRecord, NewCode, NewKey, NewUpload, NewUser, PointsEntry,
    PointsStorage, Proof, Redeem, Redeemed, Redemption, Refused, SessionEnd, Started, Storage,
    StorageError, StorageResult, StoredBlob, StoredBlobRef, StoredCode, StoredDoc, StoredKey,
    StoredRefusal, StoredSession, StoredUser, Upload, WholeDoc,
};
use crate::config::Durability;

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
        let (mut conn, epoch) = schema::open_writer(&path, durability)?;
        let checkpoints = checkpoint::Checkpointer::start(&path, &mut conn)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fieldsync-sqlite-writer".into())
            .spawn(move || writer::run(conn, rx, checkpoints))
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

    /// The refusals listed in the database at `path` (see [`DocumentStorage::refusals`]), read without
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

    /// Runs `f` as a job of the writer thread, in a transaction of its own (committed when it
    /// returns `Ok`).
    fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<R> + Send + 'static,
    ) -> BoxFuture<'_, StorageResult<R>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let job: writer::Job = Box::new(move |conn| {
                let _ = reply.send(writer::in_transaction(conn, f));
            });
            {
                let guard = self.inner.writer.lock().recover();
                let sender = guard.as_ref().ok_or(StorageError::Closed)?;
                sender.send(Msg::Run(job)).map_err(|_| StorageError::Closed)?;
            }
            answer.await.map_err(|_| StorageError::Closed)?
        })
    }

    /// Runs a read on a blocking thread.
    fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<R> + Send + 'static,
    ) -> BoxFuture<'_, StorageResult<R>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.readers.with(f))
                .await
                .map_err(|e| StorageError::Corrupt(format!("read task failed: {e}")))?
        })
    }

    /// Runs a point read (one row, or a few, found by key through an index) on the calling
    /// thread. Such a read takes microseconds, less than handing it to a blocking thread and
    /// back (two thread wake-ups, two context switches): every sync request makes one, the
    /// device's token, and under `bench sync`'s thousand devices running them here cut the
    /// server's context switches by 12–29%. Reads that can grow with the data or with the
    /// request (pages, lists, documents' bytes, one row per pushed document) stay on
    /// blocking threads ([`Self::read`]).
    fn read_point<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<R> + Send + 'static,
    ) -> BoxFuture<'_, StorageResult<R>> {
        Box::pin(async move { self.inner.readers.with(f) })
    }
}

impl DocumentStorage for SqliteStorage {
    fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    fn load(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<StoredDoc>>>> {
        self.read(move |c| read::load(c, &ids))
    }

    fn versions(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<u64>>>> {
        self.read(move |c| read::versions(c, &ids))
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

    fn signatures(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<DocSignatures>>> {
        self.read(move |c| read::signatures(c, &ids))
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
        reader: Option<CatchUpReader>,
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

    fn logged_docs(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<(DocId, u64)>>> {
        self.read(move |c| read::logged_docs(c, after, upto, limit))
    }

    fn record_refusals(&self, refusals: Vec<Refused>) -> BoxFuture<'_, StorageResult<()>> {
        if refusals.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.write(move |c| refusals::record(c, &refusals))
    }

    fn refusals(
        &self,
        scopes: Vec<String>,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRefusal>>> {
        self.read(move |c| refusals::list(c, &scopes, after, limit))
    }
}

impl AccountStorage for SqliteStorage {
    fn add_user(&self, user: NewUser) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| accounts::add_user(c, &user))
    }

    fn set_scopes(
        &self,
        user: String,
        scopes: Vec<String>,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| accounts::set_scopes(c, &user, &scopes, at))
    }

    fn former_scopes(&self, user: String) -> BoxFuture<'_, StorageResult<Vec<Vec<String>>>> {
        self.read_point(move |c| accounts::former_scopes(c, &user))
    }

    fn users(&self) -> BoxFuture<'_, StorageResult<Vec<StoredUser>>> {
        self.read(accounts::users)
    }

    fn user(&self, id: String) -> BoxFuture<'_, StorageResult<Option<StoredUser>>> {
        self.read_point(move |c| accounts::user(c, &id))
    }

    fn disable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<Option<Disabled>>> {
        self.write(move |c| accounts::disable_user(c, &id, at))
    }

    fn enable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| accounts::enable_user(c, &id, at))
    }

    fn add_code(&self, code: NewCode) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| accounts::add_code(c, &code))
    }

    fn code(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredCode>>> {
        self.read_point(move |c| accounts::code_by_hash(c, &hash))
    }

    fn codes(&self, user: Option<String>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>> {
        self.read(move |c| accounts::codes(c, user.as_deref()))
    }

    fn codes_with_prefix(&self, prefix: Vec<u8>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>> {
        self.read(move |c| accounts::codes_with_prefix(c, &prefix))
    }

    fn revoke_code(&self, hash: Vec<u8>, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| accounts::revoke_code(c, &hash, at))
    }

    fn device_by_actor(&self, actor: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<Device>>> {
        self.read_point(move |c| accounts::device_by_actor(c, &actor))
    }

    fn device_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(Device, StoredUser)>>> {
        self.read_point(move |c| accounts::device_by_token(c, &token_hash))
    }

    fn devices_by_actors(
        &self,
        actors: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, StorageResult<Vec<(Device, StoredUser)>>> {
        self.read(move |c| accounts::devices_by_actors(c, &actors))
    }

    fn devices(&self) -> BoxFuture<'_, StorageResult<Vec<Device>>> {
        self.read(accounts::devices)
    }

    fn revoke_device(&self, id: String, at: i64, wipe: bool) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| accounts::revoke_device(c, &id, at, wipe))
    }

    fn revoked_since(&self, since: i64) -> BoxFuture<'_, StorageResult<Vec<String>>> {
        self.read(move |c| accounts::revoked_since(c, since))
    }

    fn peer_key(&self, candidate: String) -> BoxFuture<'_, StorageResult<String>> {
        self.write(move |c| accounts::peer_key(c, &candidate))
    }

    fn enroll(&self, enrollment: Enrollment) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| accounts::enroll(c, &enrollment))
    }

    fn sign_in(&self, sign_in: DeskSignIn) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| sessions::sign_in(c, &sign_in))
    }

    fn session_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(StoredSession, Device, StoredUser)>>> {
        self.read_point(move |c| sessions::session_by_token(c, &token_hash))
    }

    fn touch_session(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| sessions::touch(c, &id, at))
    }

    fn end_session(
        &self,
        id: String,
        at: i64,
        why: SessionEnd,
    ) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| sessions::end(c, &id, at, why))
    }

    fn end_idle_sessions(&self, seen_before: i64, at: i64) -> BoxFuture<'_, StorageResult<usize>> {
        self.write(move |c| sessions::end_idle(c, seen_before, at))
    }

    fn sessions(&self) -> BoxFuture<'_, StorageResult<Vec<StoredSession>>> {
        self.read(sessions::list)
    }
}

impl BlobStorage for SqliteStorage {
    fn blob_refs(&self, hash: String) -> BoxFuture<'_, StorageResult<Vec<StoredBlobRef>>> {
        self.read(move |c| blobs::blob_refs(c, &hash))
    }

    fn blob(&self, hash: String) -> BoxFuture<'_, StorageResult<Option<StoredBlob>>> {
        self.read_point(move |c| blobs::blob(c, &hash))
    }

    fn blob_record(
        &self,
        hash: String,
        device: String,
    ) -> BoxFuture<'_, StorageResult<BlobRecord>> {
        self.read_point(move |c| blobs::record(c, &hash, &device))
    }

    fn upload(&self, hash: String, device: String) -> BoxFuture<'_, StorageResult<Option<Upload>>> {
        self.read_point(move |c| blobs::upload(c, &hash, &device))
    }

    fn uploads(&self) -> BoxFuture<'_, StorageResult<Vec<Upload>>> {
        self.read(blobs::uploads)
    }

    fn bytes_used(&self, device: String) -> BoxFuture<'_, StorageResult<u64>> {
        self.read(move |c| blobs::bytes_used(c, &device))
    }

    fn start_upload(&self, upload: NewUpload, quota: u64) -> BoxFuture<'_, StorageResult<Started>> {
        self.write(move |c| blobs::start_upload(c, &upload, quota))
    }

    fn set_received(&self, id: i64, received: u64) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::set_received(c, id, received))
    }

    fn complete_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::complete_upload(c, &upload))
    }

    fn verified_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::verified_upload(c, &upload))
    }

    fn hold(&self, hash: String, device: String, how: Proof) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::hold(c, &hash, &device, how))
    }

    fn drop_upload(&self, id: i64) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::drop_upload(c, id))
    }

    fn thumbnail_pending(&self, hash: String) -> BoxFuture<'_, StorageResult<bool>> {
        self.read_point(move |c| blobs::thumbnail_pending(c, &hash))
    }

    fn thumbnail_made(&self, hash: String, made: bool) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| blobs::thumbnail_made(c, &hash, made))
    }

    fn challenge_key(&self) -> BoxFuture<'_, StorageResult<[u8; 32]>> {
        self.write(blobs::challenge_key)
    }
}

impl IndexStorage for SqliteStorage {
    fn index_row(&self, doc: DocId) -> BoxFuture<'_, StorageResult<Option<IndexChange>>> {
        self.read_point(move |c| index::rows::one(c, doc.as_bytes()))
    }

    fn list_reports(
        &self,
        filter: ReportFilter,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<ReportRow>>> {
        self.read(move |c| index::list::reports(c, &filter, &page))
    }

    fn count_reports(
        &self,
        filter: ReportFilter,
        now: i64,
    ) -> BoxFuture<'_, StorageResult<Vec<ReportCount>>> {
        self.read(move |c| index::list::count_reports(c, &filter, now))
    }

    fn list_rows(
        &self,
        listing: Listing,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<IndexRow>>> {
        self.read(move |c| index::list::rows(c, &listing, &page))
    }

    fn last_visits(
        &self,
        businesses: Vec<String>,
    ) -> BoxFuture<'_, StorageResult<Vec<Option<i64>>>> {
        self.read(move |c| index::list::last_visits(c, &businesses))
    }

    fn index_changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<IndexChange>>> {
        self.read(move |c| index::rows::changes_after(c, after, limit))
    }

    fn index_len(&self) -> BoxFuture<'_, StorageResult<u64>> {
        self.read(index::rows::len)
    }

    fn clear_index(&self) -> BoxFuture<'_, StorageResult<()>> {
        self.write(index::rows::clear)
    }

    fn put_index_rows(&self, rows: Vec<IndexRow>) -> BoxFuture<'_, StorageResult<()>> {
        self.write(move |c| index::rows::put(c, &rows))
    }

    fn report_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<ReportStats>>> {
        self.read(move |c| index::stats::reports(c, &query))
    }

    fn patrol_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<PatrolDayStats>>> {
        self.read(move |c| index::stats::patrols(c, &query))
    }

    fn case_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<CaseStats>>> {
        self.read(move |c| index::stats::cases(c, &query))
    }
}

impl KeyStorage for SqliteStorage {
    fn add_key(&self, key: NewKey) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| keys::add(c, &key))
    }

    fn key_by_hash(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredKey>>> {
        self.read_point(move |c| keys::by_hash(c, &hash))
    }

    fn keys(&self) -> BoxFuture<'_, StorageResult<Vec<StoredKey>>> {
        self.read(keys::all)
    }

    fn revoke_key(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| keys::revoke(c, &id, at))
    }
}

impl PointsStorage for SqliteStorage {
    fn award(&self, award: Award) -> BoxFuture<'_, StorageResult<PointsEntry>> {
        self.write(move |c| points::award(c, &award))
    }

    fn points_of(
        &self,
        account: String,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<(Balance, Vec<PointsEntry>)>> {
        self.read(move |c| points::points_of(c, &account, after, limit))
    }

    fn add_good(&self, good: Good) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| points::add_good(c, &good))
    }

    fn change_good(&self, change: GoodChange) -> BoxFuture<'_, StorageResult<Option<Good>>> {
        self.write(move |c| points::change_good(c, &change))
    }

    fn good(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Good>>> {
        self.read_point(move |c| points::good_by_id(c, &id))
    }

    fn goods(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Good>>> {
        self.read(move |c| points::goods(c, &scopes))
    }

    fn redeem(&self, redeem: Redeem) -> BoxFuture<'_, StorageResult<Redeemed>> {
        self.write(move |c| points::redeem(c, &redeem))
    }

    fn redemption(&self, voucher: String) -> BoxFuture<'_, StorageResult<Option<Redemption>>> {
        self.read_point(move |c| points::by_voucher(c, &voucher))
    }

    fn redemptions_of(&self, account: String) -> BoxFuture<'_, StorageResult<Vec<Redemption>>> {
        self.read(move |c| points::redemptions_of(c, &account))
    }

    fn collect(
        &self,
        voucher: String,
        by: String,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<Collected>> {
        self.write(move |c| points::collect(c, &voucher, &by, at))
    }
}

impl BusinessStorage for SqliteStorage {
    fn add_business(&self, business: Business) -> BoxFuture<'_, StorageResult<bool>> {
        self.write(move |c| businesses::add(c, &business))
    }

    fn change_business(
        &self,
        change: BusinessChange,
    ) -> BoxFuture<'_, StorageResult<Option<Business>>> {
        self.write(move |c| businesses::change(c, &change))
    }

    fn business(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Business>>> {
        self.read_point(move |c| businesses::by_id(c, &id))
    }

    fn businesses(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Business>>> {
        self.read(move |c| businesses::inside(c, &scopes))
    }
}

impl Storage for SqliteStorage {
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.inner.readers.close();
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
