//! The phone's local store: every record in one SQLite file, usable offline for days.
//!
//! Automerge bytes are the truth (a snapshot per document plus appended incremental chunks); the
//! query tables are projections written in the same transaction. One writer connection (behind a
//! mutex, with a small cache of loaded documents) and a pool of read-only connections beside it,
//! so reads never wait for a sync that is writing.

mod account;
mod blob_files;
mod blob_io;
mod blob_refs;
mod blobs;
mod bulletins;
mod businesses;
mod deliberations;
mod docs;
mod encryption;
mod files_at_rest;
mod handover;
mod inbox;
mod key;
mod merge;
mod meta;
mod peer;
mod points;
mod projection;
mod query;
mod rescope;
pub mod schema;
mod sealed;
mod search;
mod signatures;
mod sync_ops;
mod sync_state;
mod visits;
mod wal;
mod wipe;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use automerge::{ActorId, AutoCommit, ChangeHash};
use rusqlite::{Connection, OptionalExtension};

pub use account::Enrollment;
pub use blob_files::{PhotoSource, PhotoVariant, sha256_hex};
pub(crate) use blob_io::{BlobCursor, BlobReader, BlobWriter};
pub(crate) use blobs::Upload;
pub use blobs::{PhotoInfo, PhotoState};
pub use bulletins::{BulletinFilter, BulletinSummary};
pub use businesses::Business;
pub use deliberations::{DeliberationFilter, DeliberationSummary};
pub use inbox::{DUE_SOON_DEFAULT, InboxFilter, InboxItem, InboxReason};
pub use key::StoreKey;
pub(crate) use peer::MAX_KNOWN as MAX_KNOWN_CREDENTIALS;
pub use points::{PointsBalance, PointsEntry, Voucher};
pub use query::{
    CaseFilter, CaseSummary, MAX_PAGE, Page, PageRequest, PatrolFilter, PatrolSummary,
    ReportFilter, ReportSummary,
};
pub(crate) use rescope::Rescope;
pub use search::{MAX_HITS, SearchHit};
pub use sync_ops::{PullTally, PushTally, Rejection, SyncStatus};
pub use visits::{OverdueBusiness, VisitFilter, VisitRules, VisitSummary};

use self::blob_files::BlobDir;
use self::projection::Projection;
use self::writer::{Loaded, Writer};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::{self, Applied, Command, Kind, NewRecord, Record, Stamp};
use crate::poison::Recover;
use crate::policy;
use crate::time::now_ms;

/// Idle reader connections kept open.
const IDLE_READERS: usize = 4;
/// Documents per transaction when rebuilding projections, so readers are never held up long.
const REBUILD_BATCH: usize = 500;

/// Where a change to a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Origin {
    /// A command run on this device.
    Local,
    /// Changes merged from elsewhere (a sync).
    Remote,
    /// The record is gone from this phone: its user may no longer read it (their role or
    /// scopes changed).
    Removed,
    /// The record is gone with everything else on this phone: an administrator revoked the
    /// device and asked for a wipe (`Store::wipe`).
    Wiped,
}

/// A record that was created or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RecordChanged {
    /// The record.
    pub id: DocId,
    /// Its kind.
    pub kind: Kind,
    /// Where the change came from.
    pub origin: Origin,
    /// What a change from elsewhere brought into this user's inbox (a report newly dispatched
    /// to them, a new supervision of their report, an escalation naming them): what an app
    /// raises a local notification for. Told once per new item; always empty for `Local` and
    /// `Removed`, as the user's own commands do not notify them.
    pub inbox: Vec<InboxReason>,
}

/// Told after each committed write, so a list screen can refresh.
pub trait StoreObserver: Send + Sync {
    /// Records were created or changed; called after the write committed.
    fn records_changed(&self, changes: &[RecordChanged]);
}

/// Who this device writes as: the user id put in timelines and the Automerge actor of its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User id written as the author of records and changes.
    pub user: String,
    /// Automerge actor id of this device's changes.
    pub actor: ActorId,
}

/// What `merge_remote` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The document was new to this store.
    pub created: bool,
    /// The document changed (new changes were applied).
    pub changed: bool,
}

/// Sizes of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StoreStats {
    /// Documents stored.
    pub documents: i64,
    /// Bytes of Automerge data (snapshots and chunks).
    pub document_bytes: i64,
    /// Size of the database file and its WAL.
    pub file_bytes: i64,
}

/// The phone's store. Cheap to share: all methods take `&self` and are safe from many threads.
pub struct Store {
    path: PathBuf,
    /// The photos' files, beside the database.
    blobs: BlobDir,
    writer: Mutex<Writer>,
    /// The key the store is encrypted with (`None`: a plaintext store). Every read holds it
    /// for reading, so a change of key waits for the reads in flight.
    key: RwLock<Option<Arc<StoreKey>>>,
    readers: Mutex<Vec<Connection>>,
    observers: RwLock<Vec<Arc<dyn StoreObserver>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the plaintext store at `path`, creating or upgrading it. Opening does not load
    /// documents. An encrypted store does not open without its key (`WrongKey`): see
    /// [`Store::open_encrypted`], which a phone uses.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path.as_ref(), None)
    }

    /// Opens the store at `path` encrypted with `key` (SQLCipher, the key used as a raw key),
    /// creating or upgrading it. A plaintext store there is encrypted first, in place and
    /// atomically (killed meanwhile, the plaintext store or the encrypted one is there whole);
    /// so is a store encrypted under SQLCipher's default page HMAC (SHA-512) before this build
    /// wrote SHA-256 ones. A key that does not open the store is `WrongKey`, and nothing is
    /// changed.
    pub fn open_encrypted(path: impl AsRef<Path>, key: StoreKey) -> Result<Store> {
        let path = path.as_ref();
        if key::is_plaintext(path)? {
            encryption::encrypt_in_place(path, &key)?;
        }
        match Store::open_with(path, Some(Arc::new(key.clone()))) {
            // Encrypted before the current settings (key::HMAC): written again under them.
            Err(CoreError::WrongKey { .. }) if key::opens_as_legacy(path, &key)? => {
                encryption::reencrypt_legacy_in_place(path, &key)?;
                Store::open_with(path, Some(Arc::new(key)))
            }
            opened => opened,
        }
    }

    fn open_with(path: &Path, key: Option<Arc<StoreKey>>) -> Result<Store> {
        let path = path.to_path_buf();
        let conn = schema::open_writer(&path, key.as_deref())?;
        let meta = meta::Meta::read(&conn)?;
        let mut writer = Writer::new(conn, &meta, &path, key.clone())?;
        if meta.has(blob_refs::REBUILD_FLAG) {
            let docs = writer.in_tx(blob_refs::rebuild)?;
            tracing::info!(docs, "projected the photo references of stored documents");
        }
        let blobs = BlobDir::for_store(&path);
        if key.is_some() {
            let keys = writer.in_tx(|tx| files_at_rest::load_or_create(tx, &path))?;
            let sealing = keys.plaintext_too;
            blobs.set_keys(keys);
            if sealing {
                let sealed = blobs.seal_plaintext_files()?;
                writer.in_tx(files_at_rest::mark_sealed)?;
                blobs.set_keys(blob_io::FileKeys { plaintext_too: false, ..blobs.keys() });
                tracing::info!(sealed, "sealed the photo files of the encrypted store");
            }
        }
        let removed = blobs.sweep(|hash| {
            Ok(writer.conn.prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?.exists([hash])?)
        })?;
        if removed > 0 {
            tracing::info!(removed, "removed photo files whose add did not commit");
        }
        // Set by the upgrades to versions 4 (search) and 6 (the inbox's columns).
        let rebuild = meta.has("search_rebuild") || meta.has("projection_rebuild");
        let store = Store {
            path,
            blobs,
            writer: Mutex::new(writer),
            key: RwLock::new(key),
            readers: Mutex::new(Vec::new()),
            observers: RwLock::new(Vec::new()),
        };
        if rebuild {
            store.rebuild_on_open()?;
        }
        Ok(store)
    }

    /// Projects the documents again (the search index of a store from before version 4, the
    /// inbox's columns of one from before version 6). A document that does not load is left
    /// out, as of every query: the record reader reports it when it is opened.
    fn rebuild_on_open(&self) -> Result<()> {
        let ids = self.doc_ids()?;
        let mut skipped = 0;
        for batch in ids.chunks(REBUILD_BATCH) {
            let mut w = self.writer();
            w.in_tx(|tx| {
                for &id in batch {
                    let Some(row) = docs::find(tx, id)? else { continue };
                    let projected = docs::load(tx, id, &row).and_then(|d| Projection::of(&d, id));
                    match projected {
                        Ok(p) => p.write(tx, row.rowid)?,
                        Err(e) => {
                            skipped += 1;
                            tracing::warn!(doc = %id, "not projected: {e}");
                        }
                    }
                }
                Ok(())
            })?;
        }
        self.writer().conn.execute(
            "DELETE FROM meta WHERE key IN ('search_rebuild', 'projection_rebuild')",
            [],
        )?;
        tracing::info!(docs = ids.len(), skipped, "rebuilt the projections");
        Ok(())
    }

    /// Whether the store is encrypted (opened with [`Store::open_encrypted`]).
    pub fn is_encrypted(&self) -> bool {
        self.key.read().recover().is_some()
    }

    /// Whether the store is encrypted with `key`.
    pub fn has_key(&self, key: &StoreKey) -> bool {
        self.key.read().recover().as_deref() == Some(key)
    }

    /// Re-encrypts the store with `new` (SQLCipher's `rekey`: every page written again in one
    /// transaction, so killed meanwhile, the store opens with the old key or the new one, whole).
    /// Writes and reads wait meanwhile. A plaintext store is refused (`InvalidInput`): open it
    /// with [`Store::open_encrypted`] to encrypt it.
    pub fn rekey(&self, new: StoreKey) -> Result<()> {
        let mut w = self.writer();
        let mut key = self.key.write().recover();
        if key.is_none() {
            return Err(CoreError::invalid(
                "key",
                "this store is not encrypted: open it with a key to encrypt it",
            ));
        }
        // Readers and the checkpoint thread hold connections unlocked with the old key.
        self.readers.lock().recover().clear();
        w.stop_wal();
        let pragma = zeroize::Zeroizing::new(format!("PRAGMA rekey = \"{}\";", *new.raw_literal()));
        let done = w.conn.execute_batch(&pragma);
        if done.is_ok() {
            *key = Some(Arc::new(new));
        }
        let started = w.start_wal(&self.path, key.clone());
        done?;
        started?;
        tracing::info!(path = %self.path.display(), "store key changed");
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who this device writes as.
    pub fn identity(&self) -> Identity {
        self.writer().identity.clone()
    }

    /// Sets the user id this device writes as (the actor stays), on a phone that works without
    /// a server. An enrolled phone writes as its enrolled user: changing it would have the
    /// server refuse every later change, so it is refused here; enroll again instead.
    pub fn set_user(&self, user: &str) -> Result<()> {
        limits::user_id("user", user)?;
        let mut w = self.writer();
        if let Some(p) = &w.profile
            && p.user != user
        {
            return Err(CoreError::invalid(
                "user",
                format!("this phone is enrolled as {}; enroll it again to change its user", p.user),
            ));
        }
        w.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('user', ?1)", [user])?;
        w.identity.user = user.to_string();
        Ok(())
    }

    /// Sets the Automerge actor this device's changes carry (given by the server at enrollment).
    pub fn set_actor(&self, actor: ActorId) -> Result<()> {
        let mut w = self.writer();
        w.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('actor', ?1)",
            [actor.to_bytes()],
        )?;
        // Loaded documents carry the old actor; drop them so new changes use the new one.
        w.clear_cache();
        w.identity.actor = actor;
        Ok(())
    }

    /// Registers an observer told after every committed write.
    pub fn add_observer(&self, observer: Arc<dyn StoreObserver>) {
        self.observers.write().recover().push(observer);
    }

    /// Stops telling `observer` (the same `Arc` given to `add_observer`); `false` if it was not
    /// registered.
    pub fn remove_observer(&self, observer: &Arc<dyn StoreObserver>) -> bool {
        let mut observers = self.observers.write().recover();
        let before = observers.len();
        observers.retain(|o| !Arc::ptr_eq(o, observer));
        observers.len() != before
    }

    /// Creates a record; returns its id once it is committed to disk.
    pub fn create(&self, new: &NewRecord) -> Result<DocId> {
        let kind = new.kind();
        let id = {
            let mut w = self.writer();
            let stamp = Stamp { by: w.identity.user.clone(), at: now_ms() };
            // The input first (a typed InvalidInput names the bad field), then the rights.
            let (id, mut doc) = model::command::create(new, &stamp, w.identity.actor.clone())?;
            if let Some(p) = &w.profile {
                policy::can_create(p, kind, new.scope())?;
                // What only an enrolled phone's copies know: a visit's business (the registry)
                // and the rules' checklist.
                visits::check_new(&w.conn, new)?;
            }
            let first = docs::first_bytes(&mut doc);
            let proj = Projection::of(&doc, id)?;
            let row = w.in_tx(|tx| {
                let row = docs::insert(tx, id, kind, &first, stamp.at)?;
                proj.write(tx, row.rowid)?;
                blob_refs::register(tx, row.rowid, blob_refs::of_new(new))?;
                blob_refs::claim(tx, blob_refs::of_new(new))?;
                sync_state::mark_pending(tx, row.rowid)?;
                Ok(row)
            })?;
            w.put_back(id, Loaded::new(doc, row));
            id
        };
        self.notify(&[RecordChanged { id, kind, origin: Origin::Local, inbox: Vec::new() }]);
        Ok(id)
    }

    /// Runs a domain command on a record and commits it. A refused command changes nothing.
    pub fn execute(&self, id: DocId, cmd: &Command) -> Result<Applied> {
        self.execute_with(id, cmd, |_| Ok(()))
    }

    /// [`Store::execute`], with `also` run in the command's transaction (what must commit with
    /// it, or not at all).
    pub(crate) fn execute_with(
        &self,
        id: DocId,
        cmd: &Command,
        also: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<Applied> {
        let (applied, kind) = {
            let mut w = self.writer();
            let stamp = Stamp { by: w.identity.user.clone(), at: now_ms() };
            // Taken out of the cache: on any error it is dropped, and reloaded from disk next time.
            let mut loaded = w.take(id)?;
            let before = loaded.doc.get_heads();
            let was = match &w.profile {
                Some(_) => Some(loaded.record(id)?),
                None => None,
            };
            let applied = model::command::apply(&mut loaded.doc, id, &stamp, cmd)?;
            if let (Some(p), Some(was)) = (&w.profile, &was) {
                let now = model::read_record(&loaded.doc, id)?;
                // Refused: the document (with the command applied) is dropped, not put back.
                policy::check_change(p, Some(was), &now)?;
                loaded.remember(now);
            }
            // Not save_incremental: a freshly loaded AutoCommit believes nothing is saved yet.
            let chunk = loaded.doc.save_after(&before);
            let proj = Projection::of(&loaded.doc, id)?;
            let mut row = loaded.row;
            w.in_tx(|tx| {
                docs::append(tx, &mut row, &mut loaded.doc, &chunk, stamp.at)?;
                proj.write(tx, row.rowid)?;
                also(tx)?;
                blob_refs::register(tx, row.rowid, blob_refs::of_command(cmd))?;
                blob_refs::claim(tx, blob_refs::of_command(cmd))?;
                sync_state::mark_pending(tx, row.rowid)
            })?;
            loaded.row = row;
            let kind = row.kind;
            w.put_back(id, loaded);
            (applied, kind)
        };
        self.notify(&[RecordChanged { id, kind, origin: Origin::Local, inbox: Vec::new() }]);
        Ok(applied)
    }

    /// Applies Automerge bytes from elsewhere (changes, or a whole saved document) to a stored
    /// document, or creates it. Bytes are verified first; if anything is wrong (malformed or
    /// truncated bytes, missing dependencies, a document that is not a valid record, a header that
    /// changed) nothing is stored.
    pub fn merge_remote(&self, id: DocId, bytes: &[u8]) -> Result<MergeOutcome> {
        let (outcome, kind, inbox) = {
            let mut w = self.writer();
            let mut prepared = merge::prepare(&mut w, id, bytes)?;
            let outcome = MergeOutcome { created: prepared.created, changed: prepared.changed };
            if prepared.changed {
                let me = w.identity.user.clone();
                w.in_tx(|tx| {
                    let rowid = prepared.write(tx, now_ms(), &me)?;
                    // Changes from another phone may be news to the server: push them too.
                    sync_state::mark_pending(tx, rowid)
                })?;
            }
            let kind = prepared.kind;
            let inbox = std::mem::take(&mut prepared.inbox);
            prepared.finish(&mut w);
            (outcome, kind, inbox)
        };
        if outcome.changed {
            self.notify(&[RecordChanged { id, kind, origin: Origin::Remote, inbox }]);
        }
        Ok(outcome)
    }

    /// Reads a record with the concurrent conflicts of its single-valued fields.
    ///
    /// The document read is handed to the writer when it is idle, so editing the record the user
    /// just opened does not load it again.
    pub fn get(&self, id: DocId) -> Result<Record> {
        let (doc, row) = self.read(|c| {
            let row = docs::find(c, id)?.ok_or(CoreError::NotFound { id })?;
            Ok((docs::load(c, id, &row)?, row))
        })?;
        let record = model::read_record(&doc, id)?;
        if let Ok(mut w) = self.writer.try_lock()
            && !w.is_cached(id)
            && docs::find(&w.conn, id).ok().flatten() == Some(row)
        {
            let mut loaded = Loaded::new(doc.with_actor(w.identity.actor.clone()), row);
            if w.profile.is_some() {
                loaded.remember(record.clone());
            }
            w.put_back(id, loaded);
        }
        Ok(record)
    }

    /// Loads a document for reading (from a reader connection).
    pub fn load(&self, id: DocId) -> Result<AutoCommit> {
        self.read(|c| {
            let row = docs::find(c, id)?.ok_or(CoreError::NotFound { id })?;
            docs::load(c, id, &row)
        })
    }

    /// The stored bytes of a document (snapshot followed by chunks), loadable as one.
    pub fn saved_bytes(&self, id: DocId) -> Result<Vec<u8>> {
        self.read(|c| {
            let row = docs::find(c, id)?.ok_or(CoreError::NotFound { id })?;
            docs::read_bytes(c, &row)
        })
    }

    /// The heads of a stored document.
    pub fn heads(&self, id: DocId) -> Result<Vec<ChangeHash>> {
        Ok(self.load(id)?.get_heads())
    }

    /// The kind of a stored document.
    pub fn kind_of(&self, id: DocId) -> Result<Kind> {
        self.read(|c| Ok(docs::find(c, id)?.ok_or(CoreError::NotFound { id })?.kind))
    }

    /// Every stored document id, in storage order.
    pub fn doc_ids(&self) -> Result<Vec<DocId>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT doc_id FROM docs ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, Vec<u8>>(0))?
                .map(|b| DocId::from_slice(&b?))
                .collect::<Result<Vec<_>>>()?;
            Ok(ids)
        })
    }

    /// A page of reports matching `filter`, newest first.
    pub fn query_reports(
        &self,
        filter: &ReportFilter,
        page: &PageRequest,
    ) -> Result<Page<ReportSummary>> {
        self.read(|c| query::reports(c, filter, page))
    }

    /// A page of patrol logs matching `filter`, most recently started first.
    pub fn query_patrols(
        &self,
        filter: &PatrolFilter,
        page: &PageRequest,
    ) -> Result<Page<PatrolSummary>> {
        self.read(|c| query::patrols(c, filter, page))
    }

    /// A page of mediation cases matching `filter`, newest first.
    pub fn query_cases(
        &self,
        filter: &CaseFilter,
        page: &PageRequest,
    ) -> Result<Page<CaseSummary>> {
        self.read(|c| query::cases(c, filter, page))
    }

    /// A page of warning bulletins matching `filter`, newest first.
    pub fn query_bulletins(
        &self,
        filter: &BulletinFilter,
        page: &PageRequest,
    ) -> Result<Page<BulletinSummary>> {
        self.read(|c| bulletins::bulletins(c, filter, page))
    }

    /// A page of deliberations matching `filter`, newest first.
    pub fn query_deliberations(
        &self,
        filter: &DeliberationFilter,
        page: &PageRequest,
    ) -> Result<Page<DeliberationSummary>> {
        self.read(|c| deliberations::deliberations(c, filter, page))
    }

    /// A page of the inbox of this phone's user: the reports dispatched to them or escalated
    /// to them, each with why, newest first (by when it last came to them; see [`InboxItem`]).
    pub fn inbox(&self, filter: &InboxFilter, page: &PageRequest) -> Result<Page<InboxItem>> {
        // From `meta`, as the writer loads its identity: a read never waits for the writer.
        self.read(|c| {
            let me: Option<String> = c
                .prepare_cached("SELECT value FROM meta WHERE key = 'user'")?
                .query_row([], |r| r.get(0))
                .optional()?;
            inbox::inbox(c, me.as_deref().unwrap_or(writer::DEFAULT_USER), filter, page)
        })
    }

    /// Full-text search (substring match; works for Chinese): records holding every word of
    /// `text` (words separated by spaces; full-width forms match half-width ones), of `kind` if
    /// given, newest first, a page at a time (at most [`MAX_HITS`] a page).
    pub fn search_page(
        &self,
        text: &str,
        kind: Option<Kind>,
        page: &PageRequest,
    ) -> Result<Page<SearchHit>> {
        self.read(|c| search::search(c, text, kind, page))
    }

    /// The first `limit` hits of [`Store::search_page`].
    pub fn search(&self, text: &str, kind: Option<Kind>, limit: i32) -> Result<Vec<SearchHit>> {
        Ok(self.search_page(text, kind, &PageRequest::first(limit))?.items)
    }

    /// Recreates every projection row from the documents; returns how many documents were read.
    pub fn rebuild_projections(&self) -> Result<usize> {
        let ids = self.doc_ids()?;
        for batch in ids.chunks(REBUILD_BATCH) {
            let mut w = self.writer();
            w.in_tx(|tx| {
                for &id in batch {
                    let row = docs::find(tx, id)?.ok_or(CoreError::NotFound { id })?;
                    let doc = docs::load(tx, id, &row)?;
                    projection::delete(tx, row.rowid)?;
                    let view = model::ReadOnce::new(&doc);
                    Projection::read(&view, id)?.write(tx, row.rowid)?;
                    blob_refs::register(tx, row.rowid, &blob_refs::scan(&view, row.kind, id)?)?;
                }
                Ok(())
            })?;
        }
        Ok(ids.len())
    }

    /// How much the store holds.
    pub fn stats(&self) -> Result<StoreStats> {
        let (documents, document_bytes) = self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*), coalesce(sum(length(snapshot) + chunk_bytes), 0) FROM docs",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )?)
        })?;
        let file_bytes: u64 = ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::metadata(format!("{}{s}", self.path.display())).ok())
            .map(|m| m.len())
            .sum();
        Ok(StoreStats {
            documents,
            document_bytes,
            file_bytes: i64::try_from(file_bytes).unwrap_or(i64::MAX),
        })
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok` only if it says `ok`.
    pub fn integrity_check(&self) -> Result<()> {
        let w = self.writer();
        let result: String = w.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(CoreError::invalid("database", format!("integrity_check: {result}")))
        }
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| {
            // A panic mid-write may have left a loaded document half-changed: forget them all.
            let mut w = poisoned.into_inner();
            w.clear_cache();
            w
        })
    }

    /// Runs `f` in a read transaction on a pooled read-only connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let key = self.key.read().recover();
        let pooled = self.readers.lock().recover().pop();
        let conn = match pooled {
            Some(c) => c,
            None => schema::open_reader(&self.path, key.as_deref())?,
        };
        let result = {
            let tx = conn.unchecked_transaction()?;
            f(&tx)
        };
        let mut pool = self.readers.lock().recover();
        if pool.len() < IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    fn notify(&self, changes: &[RecordChanged]) {
        let observers = self.observers.read().recover().clone();
        for o in observers {
            o.records_changed(changes);
        }
    }
}
