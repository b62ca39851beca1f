//! The PostgreSQL backend: for deployments that outgrow one machine, with any number of
//! server instances on one database (docs/storage-postgres.md). A pool of connections
//! (deadpool-postgres over tokio-postgres, no TLS: the database is on loopback or a private
//! network); reads in REPEATABLE READ, READ ONLY transactions (one snapshot each), writes in
//! SERIALIZABLE transactions run again when PostgreSQL could not serialise them (`db`), and
//! document commits numbered under a short lock released before the commit, read up to a
//! watermark (`documents`, where the rule readers rely on is explained). The SQL is in one module per part of the trait, as
//! SQLite's: `documents` and `read` (documents and the log), `refusals`, `accounts`,
//! `sessions`, `blobs`, `index`, `keys`, `points`, `businesses`; the schema and its upgrades in
//! `schema`.

mod accounts;
mod blobs;
mod bulk;
mod businesses;
mod columns;
mod db;
mod documents;
mod group;
mod index;
mod keys;
mod leader;
mod listen;
mod points;
mod read;
mod refusals;
mod schema;
mod session_ends;
mod sessions;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::Arc;

use fieldsync_core::DocId;
use fieldsync_core::poison::Recover;

use self::db::Db;
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

/// The server's storage in a PostgreSQL database, shared by any number of server instances.
#[derive(Clone)]
pub struct PostgresStorage {
    db: Arc<Db>,
    epoch: String,
    name: String,
    /// The log's end as any instance moved it (see `listen`).
    log_end: listen::End,
    /// Tells the listener to stop.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// This instance's hold on the jobs that run once (see `leader`).
    leader: Arc<leader::Leader>,
    /// This instance's document commits, grouped (see `group`).
    group: Arc<group::GroupCommit>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("database", &self.name)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Opens the database at `url` (`postgres://user@host:port/dbname`, with any of
    /// libpq's connection parameters), creating or upgrading the schema.
    pub async fn open(url: &str) -> StorageResult<Self> {
        Self::open_with(parse_url(url)?).await
    }

    /// Opens the database `config` names, creating or upgrading the schema of its
    /// `search_path` (set one with `options=-c search_path=…` to keep several servers, or
    /// tests, apart in one database).
    pub async fn open_with(config: tokio_postgres::Config) -> StorageResult<Self> {
        let name = describe(&config);
        let db = Arc::new(Db::new(config.clone())?);
        let epoch = schema::prepare(&db, &name).await?;
        let log_end: listen::End =
            Arc::new(std::sync::Mutex::new(Some(tokio::sync::watch::Sender::new(0))));
        let (closing, closed) = tokio::sync::watch::channel(false);
        let leader = Arc::new(leader::Leader::new(config.clone(), &epoch));
        let channel = listen::channel(&epoch);
        tokio::spawn(listen::run(config, db.clone(), channel.clone(), log_end.clone(), closed));
        let group = Arc::new(group::GroupCommit::start(db.clone(), channel));
        tracing::info!(database = %name, epoch, "storage opened");
        let closing = Arc::new(closing);
        Ok(PostgresStorage { db, epoch, name, log_end, closing, leader, group })
    }

    /// The database, as logs name it (host, port and database; never a password).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gives the database at `url` a new epoch, to be run (servers stopped) after restoring it
    /// from a backup: phones then reconcile instead of trusting their cursors. Returns it.
    pub async fn renew_epoch(url: &str) -> StorageResult<String> {
        let storage = Self::open(url).await?;
        let epoch = schema::renew_epoch(&storage.db).await;
        storage.close().await;
        epoch
    }
}

/// The connection settings in `url`; a URL PostgreSQL's client does not read is a
/// [`StorageError::Config`].
pub fn parse_url(url: &str) -> StorageResult<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url).map_err(|e| {
        StorageError::Config(format!(
            "the PostgreSQL URL is not one PostgreSQL's client reads: {e}"
        ))
    })
}

/// Host, port and database of the PostgreSQL URL `url` (never a password), for messages; the
/// word "PostgreSQL" when its client does not read the URL.
pub fn describe_url(url: &str) -> String {
    parse_url(url).map_or_else(|_| "PostgreSQL".to_string(), |c| describe(&c))
}

/// Host, port and database of `config`, for logs and errors.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

impl DocumentStorage for PostgresStorage {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn log_watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.log_end.lock().recover().as_ref().map(|end| end.subscribe())
    }

    fn load(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<StoredDoc>>>> {
        Box::pin(self.db.read(ids, |tx, ids| Box::pin(read::load(tx, ids))))
    }

    fn versions(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<u64>>>> {
        Box::pin(self.db.read_one(ids, |c, ids| Box::pin(read::versions(c, ids))))
    }

    fn commit(
        &self,
        writes: Vec<DocWrite>,
    ) -> BoxFuture<'_, StorageResult<Vec<StorageResult<Committed>>>> {
        Box::pin(async move {
            if writes.is_empty() {
                return Ok(Vec::new());
            }
            self.group.commit(writes).await
        })
    }

    fn whole(
        &self,
        ids: Vec<DocId>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<(Vec<WholeDoc>, usize)>> {
        Box::pin(self.db.read((ids, max_bytes), |tx, (ids, max_bytes)| {
            Box::pin(read::whole(tx, ids, *max_bytes))
        }))
    }

    fn signatures(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<DocSignatures>>> {
        Box::pin(self.db.read(ids, |tx, ids| Box::pin(read::signatures(tx, ids))))
    }

    fn readers(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>> {
        Box::pin(self.db.read(ids, |tx, ids| Box::pin(read::readers(tx, ids))))
    }

    fn audiences(&self) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(read::audiences(tx))))
    }

    fn catch_up(
        &self,
        after: i64,
        max_bytes: usize,
        reader: Option<CatchUpReader>,
    ) -> BoxFuture<'_, StorageResult<CatchUpPage>> {
        Box::pin(self.db.read((after, max_bytes, reader), |tx, (after, max_bytes, reader)| {
            Box::pin(read::catch_up(tx, *after, *max_bytes, reader.as_ref()))
        }))
    }

    fn log_page(
        &self,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<LogPage>> {
        Box::pin(self.db.read(
            (after, skip_actor, max_bytes),
            |tx, (after, skip_actor, max_bytes)| {
                Box::pin(read::log_page(tx, *after, skip_actor, *max_bytes))
            },
        ))
    }

    fn log_end(&self) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.db.read_one((), |c, ()| Box::pin(read::log_end(c))))
    }

    fn docs_end(&self) -> BoxFuture<'_, StorageResult<i64>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(read::docs_end(tx))))
    }

    fn audit(&self, after: u64, limit: usize) -> BoxFuture<'_, StorageResult<Vec<LogRecord>>> {
        Box::pin(
            self.db.read_one((after, limit), |c, (after, limit)| {
                Box::pin(read::audit(c, *after, *limit))
            }),
        )
    }

    fn doc_ids(&self) -> BoxFuture<'_, StorageResult<Vec<DocId>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(read::doc_ids(tx))))
    }

    fn logged_docs(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<(DocId, u64)>>> {
        Box::pin(self.db.read((after, upto, limit), |tx, (after, upto, limit)| {
            Box::pin(read::logged_docs(tx, *after, *upto, *limit))
        }))
    }

    fn record_refusals(&self, refusals: Vec<Refused>) -> BoxFuture<'_, StorageResult<()>> {
        if refusals.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        Box::pin(self.db.write(refusals, |tx, refusals| Box::pin(refusals::record(tx, refusals))))
    }

    fn refusals(
        &self,
        scopes: Vec<String>,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRefusal>>> {
        Box::pin(self.db.read((scopes, after, limit), |tx, (scopes, after, limit)| {
            Box::pin(refusals::list(tx, scopes, *after, *limit))
        }))
    }
}

impl AccountStorage for PostgresStorage {
    fn add_user(&self, user: NewUser) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write(user, |tx, user| Box::pin(accounts::add_user(tx, user))))
    }

    fn set_scopes(
        &self,
        user: String,
        scopes: Vec<String>,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write((user, scopes, at), |tx, (user, scopes, at)| {
            Box::pin(accounts::set_scopes(tx, user, scopes, *at))
        }))
    }

    fn former_scopes(&self, user: String) -> BoxFuture<'_, StorageResult<Vec<Vec<String>>>> {
        Box::pin(self.db.read(user, |tx, user| Box::pin(accounts::former_scopes(tx, user))))
    }

    fn users(&self) -> BoxFuture<'_, StorageResult<Vec<StoredUser>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(accounts::users(tx))))
    }

    fn user(&self, id: String) -> BoxFuture<'_, StorageResult<Option<StoredUser>>> {
        Box::pin(self.db.read(id, |tx, id| Box::pin(accounts::user(tx, id))))
    }

    fn disable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<Option<Disabled>>> {
        Box::pin(
            self.db.write((id, at), |tx, (id, at)| Box::pin(accounts::disable_user(tx, id, *at))),
        )
    }

    fn enable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(
            self.db.write((id, at), |tx, (id, at)| Box::pin(accounts::enable_user(tx, id, *at))),
        )
    }

    fn add_code(&self, code: NewCode) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(code, |tx, code| Box::pin(accounts::add_code(tx, code))))
    }

    fn code(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredCode>>> {
        Box::pin(self.db.read(hash, |tx, hash| Box::pin(accounts::code_by_hash(tx, hash))))
    }

    fn codes(&self, user: Option<String>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>> {
        Box::pin(self.db.read(user, |tx, user| Box::pin(accounts::codes(tx, user.as_deref()))))
    }

    fn codes_with_prefix(&self, prefix: Vec<u8>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>> {
        Box::pin(
            self.db.read(prefix, |tx, prefix| Box::pin(accounts::codes_with_prefix(tx, prefix))),
        )
    }

    fn revoke_code(&self, hash: Vec<u8>, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(
            self.db
                .write((hash, at), |tx, (hash, at)| Box::pin(accounts::revoke_code(tx, hash, *at))),
        )
    }

    fn device_by_actor(&self, actor: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<Device>>> {
        Box::pin(self.db.read(actor, |tx, actor| Box::pin(accounts::device_by_actor(tx, actor))))
    }

    fn device_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(Device, StoredUser)>>> {
        Box::pin(self.db.read_one(token_hash, |c, token_hash| {
            Box::pin(accounts::device_by_token(c, token_hash))
        }))
    }

    fn devices_by_actors(
        &self,
        actors: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, StorageResult<Vec<(Device, StoredUser)>>> {
        Box::pin(
            self.db.read_one(actors, |c, actors| Box::pin(accounts::devices_by_actors(c, actors))),
        )
    }

    fn devices(&self) -> BoxFuture<'_, StorageResult<Vec<Device>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(accounts::devices(tx))))
    }

    fn revoke_device(&self, id: String, at: i64, wipe: bool) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write((id, at, wipe), |tx, (id, at, wipe)| {
            Box::pin(accounts::revoke_device(tx, id, *at, *wipe))
        }))
    }

    fn revoked_since(&self, since: i64) -> BoxFuture<'_, StorageResult<Vec<String>>> {
        Box::pin(self.db.read(since, |tx, since| Box::pin(accounts::revoked_since(tx, *since))))
    }

    fn peer_key(&self, candidate: String) -> BoxFuture<'_, StorageResult<String>> {
        Box::pin(self.db.write(candidate, |tx, c| Box::pin(accounts::peer_key(tx, c))))
    }

    fn enroll(&self, enrollment: Enrollment) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(
            self.db.write(enrollment, |tx, enrollment| Box::pin(accounts::enroll(tx, enrollment))),
        )
    }

    fn sign_in(&self, sign_in: DeskSignIn) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(sign_in, |tx, sign_in| Box::pin(sessions::sign_in(tx, sign_in))))
    }

    fn session_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(StoredSession, Device, StoredUser)>>> {
        Box::pin(self.db.read(token_hash, |tx, token_hash| {
            Box::pin(sessions::session_by_token(tx, token_hash))
        }))
    }

    fn touch_session(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write((id, at), |tx, (id, at)| Box::pin(sessions::touch(tx, id, *at))))
    }

    fn end_session(
        &self,
        id: String,
        at: i64,
        why: SessionEnd,
    ) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(
            self.db.write((id, at, why), |tx, (id, at, why)| {
                Box::pin(sessions::end(tx, id, *at, *why))
            }),
        )
    }

    fn end_idle_sessions(&self, seen_before: i64, at: i64) -> BoxFuture<'_, StorageResult<usize>> {
        Box::pin(self.db.write((seen_before, at), |tx, (seen_before, at)| {
            Box::pin(sessions::end_idle(tx, *seen_before, *at))
        }))
    }

    fn sessions(&self) -> BoxFuture<'_, StorageResult<Vec<StoredSession>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(sessions::list(tx))))
    }
}

impl BlobStorage for PostgresStorage {
    fn blob_refs(&self, hash: String) -> BoxFuture<'_, StorageResult<Vec<StoredBlobRef>>> {
        Box::pin(self.db.read(hash, |tx, hash| Box::pin(blobs::blob_refs(tx, hash))))
    }

    fn blob(&self, hash: String) -> BoxFuture<'_, StorageResult<Option<StoredBlob>>> {
        Box::pin(self.db.read(hash, |tx, hash| Box::pin(blobs::blob(tx, hash))))
    }

    fn blob_record(
        &self,
        hash: String,
        device: String,
    ) -> BoxFuture<'_, StorageResult<BlobRecord>> {
        Box::pin(
            self.db.read((hash, device), |tx, (hash, device)| {
                Box::pin(blobs::record(tx, hash, device))
            }),
        )
    }

    fn upload(&self, hash: String, device: String) -> BoxFuture<'_, StorageResult<Option<Upload>>> {
        Box::pin(
            self.db.read((hash, device), |tx, (hash, device)| {
                Box::pin(blobs::upload(tx, hash, device))
            }),
        )
    }

    fn uploads(&self) -> BoxFuture<'_, StorageResult<Vec<Upload>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(blobs::uploads(tx))))
    }

    fn bytes_used(&self, device: String) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.db.read(device, |tx, device| Box::pin(blobs::bytes_used(tx, device))))
    }

    fn start_upload(&self, upload: NewUpload, quota: u64) -> BoxFuture<'_, StorageResult<Started>> {
        Box::pin(self.db.write((upload, quota), |tx, (upload, quota)| {
            Box::pin(blobs::start_upload(tx, upload, *quota))
        }))
    }

    fn set_received(&self, id: i64, received: u64) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write((id, received), |tx, (id, received)| {
            Box::pin(blobs::set_received(tx, *id, *received))
        }))
    }

    fn complete_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(upload, |tx, upload| Box::pin(blobs::complete_upload(tx, upload))))
    }

    fn verified_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(upload, |tx, upload| Box::pin(blobs::verified_upload(tx, upload))))
    }

    fn hold(&self, hash: String, device: String, how: Proof) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write((hash, device, how), |tx, (hash, device, how)| {
            Box::pin(blobs::hold(tx, hash, device, *how))
        }))
    }

    fn drop_upload(&self, id: i64) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(id, |tx, id| Box::pin(blobs::drop_upload(tx, *id))))
    }

    fn thumbnail_pending(&self, hash: String) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.read(hash, |tx, hash| Box::pin(blobs::thumbnail_pending(tx, hash))))
    }

    fn thumbnail_made(&self, hash: String, made: bool) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write((hash, made), |tx, (hash, made)| {
            Box::pin(blobs::thumbnail_made(tx, hash, *made))
        }))
    }

    fn challenge_key(&self) -> BoxFuture<'_, StorageResult<[u8; 32]>> {
        Box::pin(self.db.write((), |tx, ()| Box::pin(blobs::challenge_key(tx))))
    }
}

impl IndexStorage for PostgresStorage {
    fn index_row(&self, doc: DocId) -> BoxFuture<'_, StorageResult<Option<IndexChange>>> {
        Box::pin(self.db.read(doc, |tx, doc| Box::pin(index::rows::one(tx, doc.as_bytes()))))
    }

    fn list_reports(
        &self,
        filter: ReportFilter,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<ReportRow>>> {
        Box::pin(self.db.read((filter, page), |tx, (filter, page)| {
            Box::pin(index::list::reports(tx, filter, page))
        }))
    }

    fn count_reports(
        &self,
        filter: ReportFilter,
        now: i64,
    ) -> BoxFuture<'_, StorageResult<Vec<ReportCount>>> {
        Box::pin(self.db.read((filter, now), |tx, (filter, now)| {
            Box::pin(index::list::count_reports(tx, filter, *now))
        }))
    }

    fn list_rows(
        &self,
        listing: Listing,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<IndexRow>>> {
        Box::pin(self.db.read((listing, page), |tx, (listing, page)| {
            Box::pin(index::list::rows(tx, listing, page))
        }))
    }

    fn last_visits(
        &self,
        businesses: Vec<String>,
    ) -> BoxFuture<'_, StorageResult<Vec<Option<i64>>>> {
        Box::pin(
            self.db.read(businesses, |tx, businesses| {
                Box::pin(index::list::last_visits(tx, businesses))
            }),
        )
    }

    fn index_changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<IndexChange>>> {
        Box::pin(self.db.read((after, limit), |tx, (after, limit)| {
            Box::pin(index::rows::changes_after(tx, *after, *limit))
        }))
    }

    fn index_len(&self) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(index::rows::len(tx))))
    }

    fn clear_index(&self) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write((), |tx, ()| Box::pin(index::rows::clear(tx))))
    }

    fn put_index_rows(&self, rows: Vec<IndexRow>) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.db.write(rows, |tx, rows| Box::pin(index::rows::put(tx, rows))))
    }

    fn report_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<ReportStats>>> {
        Box::pin(self.db.read(query, |tx, query| Box::pin(index::stats::reports(tx, query))))
    }

    fn patrol_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<PatrolDayStats>>> {
        Box::pin(self.db.read(query, |tx, query| Box::pin(index::stats::patrols(tx, query))))
    }

    fn case_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<CaseStats>>> {
        Box::pin(self.db.read(query, |tx, query| Box::pin(index::stats::cases(tx, query))))
    }
}

impl KeyStorage for PostgresStorage {
    fn add_key(&self, key: NewKey) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write(key, |tx, key| Box::pin(keys::add(tx, key))))
    }

    fn key_by_hash(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredKey>>> {
        Box::pin(self.db.read(hash, |tx, hash| Box::pin(keys::by_hash(tx, hash))))
    }

    fn keys(&self) -> BoxFuture<'_, StorageResult<Vec<StoredKey>>> {
        Box::pin(self.db.read((), |tx, ()| Box::pin(keys::all(tx))))
    }

    fn revoke_key(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write((id, at), |tx, (id, at)| Box::pin(keys::revoke(tx, id, *at))))
    }
}

impl PointsStorage for PostgresStorage {
    fn award(&self, award: Award) -> BoxFuture<'_, StorageResult<PointsEntry>> {
        Box::pin(self.db.write(award, |tx, award| Box::pin(points::award(tx, award))))
    }

    fn points_of(
        &self,
        account: String,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<(Balance, Vec<PointsEntry>)>> {
        Box::pin(self.db.read((account, after, limit), |tx, (account, after, limit)| {
            Box::pin(points::points_of(tx, account, *after, *limit))
        }))
    }

    fn add_good(&self, good: Good) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write(good, |tx, good| Box::pin(points::add_good(tx, good))))
    }

    fn change_good(&self, change: GoodChange) -> BoxFuture<'_, StorageResult<Option<Good>>> {
        Box::pin(self.db.write(change, |tx, change| Box::pin(points::change_good(tx, change))))
    }

    fn good(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Good>>> {
        Box::pin(self.db.read(id, |tx, id| Box::pin(points::good_by_id(tx, id))))
    }

    fn goods(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Good>>> {
        Box::pin(self.db.read(scopes, |tx, scopes| Box::pin(points::goods(tx, scopes))))
    }

    fn redeem(&self, redeem: Redeem) -> BoxFuture<'_, StorageResult<Redeemed>> {
        Box::pin(self.db.write(redeem, |tx, redeem| Box::pin(points::redeem(tx, redeem))))
    }

    fn redemption(&self, voucher: String) -> BoxFuture<'_, StorageResult<Option<Redemption>>> {
        Box::pin(self.db.read(voucher, |tx, voucher| Box::pin(points::by_voucher(tx, voucher))))
    }

    fn redemptions_of(&self, account: String) -> BoxFuture<'_, StorageResult<Vec<Redemption>>> {
        Box::pin(self.db.read(account, |tx, account| Box::pin(points::redemptions_of(tx, account))))
    }

    fn collect(
        &self,
        voucher: String,
        by: String,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<Collected>> {
        Box::pin(self.db.write((voucher, by, at), |tx, (voucher, by, at)| {
            Box::pin(points::collect(tx, voucher, by, *at))
        }))
    }
}

impl BusinessStorage for PostgresStorage {
    fn add_business(&self, business: Business) -> BoxFuture<'_, StorageResult<bool>> {
        Box::pin(self.db.write(business, |tx, business| Box::pin(businesses::add(tx, business))))
    }

    fn change_business(
        &self,
        change: BusinessChange,
    ) -> BoxFuture<'_, StorageResult<Option<Business>>> {
        Box::pin(self.db.write(change, |tx, change| Box::pin(businesses::change(tx, change))))
    }

    fn business(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Business>>> {
        Box::pin(self.db.read(id, |tx, id| Box::pin(businesses::by_id(tx, id))))
    }

    fn businesses(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Business>>> {
        Box::pin(self.db.read(scopes, |tx, scopes| Box::pin(businesses::inside(tx, scopes))))
    }
}

impl Storage for PostgresStorage {
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.closing.send(true);
            self.log_end.lock().recover().take();
            self.leader.resign().await;
            self.db.close();
        })
    }

    fn try_lead(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.leader.try_lead())
    }
}
