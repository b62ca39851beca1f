//! The single writer: one SQLite connection, the device's identity, and a bounded cache of loaded
//! documents. A document is taken out of the cache while it is being changed; on any error it is
//! simply not put back, so the next use reloads it from disk and nothing half-done survives.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use lru::LruCache;
use rusqlite::{Connection, TransactionBehavior, params};

use super::Identity;
use super::docs::{self, DocRow};
use super::key::StoreKey;
use super::meta::Meta;
use super::wal::WalKeeper;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::Record;

/// Documents kept loaded in the writer (a patrol team's log, the case being edited, …).
const CACHE_DOCS: usize = 64;

/// A document loaded for writing, with where it lives on disk.
pub(crate) struct Loaded {
    pub(crate) doc: AutoCommit,
    pub(crate) row: DocRow,
    /// The typed record last read from `doc`, with the heads it was read at: what an enrolled
    /// phone's policy check of the next command starts from, so an edit of the record the user
    /// just opened (or just edited) does not read it again. Used only while the heads match.
    read: Option<(Vec<ChangeHash>, Record)>,
}

impl Loaded {
    /// A document loaded from `row`, its record not read yet.
    pub(crate) fn new(doc: AutoCommit, row: DocRow) -> Loaded {
        Loaded { doc, row, read: None }
    }

    /// Keeps `record`, read from the document as it is now.
    pub(crate) fn remember(&mut self, record: Record) {
        self.read = Some((self.doc.get_heads(), record));
    }

    /// The record the document holds now: the one remembered, if the document has not changed
    /// since, or read now.
    pub(crate) fn record(&mut self, id: DocId) -> Result<Record> {
        match self.read.take() {
            Some((heads, record)) if heads == self.doc.get_heads() => Ok(record),
            _ => crate::model::read_record(&self.doc, id),
        }
    }
}

/// Where a document to merge into comes from (see [`Writer::take_source`]).
pub(crate) enum Source {
    /// Loaded already.
    Cached(Box<Loaded>),
    /// On disk, not loaded yet.
    Stored { row: DocRow, bytes: Vec<u8> },
    /// Not held by this store.
    New,
}

impl Source {
    /// The document loaded (writing as `actor`), or `None` for a new one.
    pub(crate) fn load(self, id: DocId, actor: &ActorId) -> Result<Option<Loaded>> {
        match self {
            Source::Cached(l) => Ok(Some(*l)),
            Source::New => Ok(None),
            Source::Stored { row, bytes } => {
                let doc = docs::load_bytes(id, &bytes)?.with_actor(actor.clone());
                Ok(Some(Loaded::new(doc, row)))
            }
        }
    }
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    cache: LruCache<DocId, Loaded>,
    pub(crate) identity: Identity,
    /// The enrolled profile commands are checked against (`None`: not enrolled).
    pub(crate) profile: Option<crate::policy::Profile>,
    /// The checkpoint thread (`None` only while the key changes).
    wal: Option<WalKeeper>,
    /// The heads of the documents of the pushes not yet answered (the one on the wire and the
    /// next, read ahead), with the row and version they were read at: a push's answer needs
    /// each acknowledged document's current heads, and one not written since (same row, same
    /// version: same bytes) need not be loaded again for them. An answer takes out its
    /// documents; one whose answer never came stays until it is pushed again (checked by row
    /// and version before use, so never wrong; at most one entry per unacknowledged document).
    pub(crate) pushed: HashMap<DocId, PushedAt>,
    /// This device's signing key once read: it is made once and never changes, and deriving
    /// it from its seed costs a scalar multiplication (see [`super::signatures::held_key`]).
    pub(crate) device_key: Option<Arc<crate::authorship::DeviceKey>>,
    /// Search rows written since the index was last merged (see [`super::search::merge`]).
    unmerged_search_rows: i64,
}

/// A document as a push sent it: see [`Writer::pushed`].
pub(crate) struct PushedAt {
    pub(crate) rowid: i64,
    pub(crate) version: i64,
    pub(crate) heads: Vec<ChangeHash>,
}

impl Writer {
    /// The writer of the store at `path` on `conn`, its identity and profile taken from `meta`.
    pub(crate) fn new(
        mut conn: Connection,
        meta: &Meta,
        path: &std::path::Path,
        key: Option<Arc<StoreKey>>,
    ) -> Result<Writer> {
        let identity = identity_from(&conn, meta)?;
        let profile = super::account::profile_from(meta)?;
        let cache = LruCache::new(NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN));
        let wal = Some(WalKeeper::start(path.to_path_buf(), key, &mut conn)?);
        Ok(Writer {
            conn,
            cache,
            identity,
            profile,
            wal,
            pushed: HashMap::new(),
            device_key: None,
            unmerged_search_rows: 0,
        })
    }

    /// Stops the checkpoint thread (it truncates the WAL), for a change of key.
    pub(crate) fn stop_wal(&mut self) {
        self.wal = None;
    }

    /// Starts the checkpoint thread again, with the store's key now.
    pub(crate) fn start_wal(
        &mut self,
        path: &std::path::Path,
        key: Option<Arc<StoreKey>>,
    ) -> Result<()> {
        self.wal = Some(WalKeeper::start(path.to_path_buf(), key, &mut self.conn)?);
        Ok(())
    }

    /// Whether `id` is loaded in the cache.
    pub(crate) fn is_cached(&self, id: DocId) -> bool {
        self.cache.contains(&id)
    }

    /// Takes a stored document out of the cache, or loads it.
    pub(crate) fn take(&mut self, id: DocId) -> Result<Loaded> {
        self.take_if_stored(id)?.ok_or(CoreError::NotFound { id })
    }

    /// Like `take`, but `None` for a document this store does not hold.
    pub(crate) fn take_if_stored(&mut self, id: DocId) -> Result<Option<Loaded>> {
        if let Some(l) = self.cache.pop(&id) {
            return Ok(Some(l));
        }
        match docs::find(&self.conn, id)? {
            None => Ok(None),
            Some(row) => {
                // A loaded document gets a random actor; this device's changes must carry its own.
                let doc = docs::load(&self.conn, id, &row)?.with_actor(self.identity.actor.clone());
                Ok(Some(Loaded::new(doc, row)))
            }
        }
    }

    /// The row and heads of the stored document `id`, without loading it: from the cached copy,
    /// else read from the layout of its stored bytes. `None` when this store does not hold it,
    /// or its bytes do not read that way (a load would then say why).
    pub(crate) fn stored_heads(&mut self, id: DocId) -> Result<Option<(DocRow, Vec<ChangeHash>)>> {
        if let Some(l) = self.cache.peek_mut(&id) {
            return Ok(Some((l.row, l.doc.get_heads())));
        }
        let Some(row) = docs::find(&self.conn, id)? else { return Ok(None) };
        let bytes = docs::read_bytes(&self.conn, &row)?;
        Ok(crate::changes::heads_of_saved(&bytes, crate::limits::MERGE_BYTES)
            .ok()
            .map(|heads| (row, heads)))
    }

    /// Every change of the stored document `id`, in causal order, with its row, read from its
    /// stored bytes without building the document: the changes a saved snapshot holds, then the
    /// change chunks stored after it as they are. What a push needs of a document the server
    /// has none of: loading it would apply those chunks to the snapshot and then rebuild every
    /// change from the result. `None` when the document is loaded already (its loaded copy is
    /// the cheaper source), when this store does not hold it, or when its bytes do not read
    /// this way (a load would then say why).
    pub(crate) fn stored_changes(&mut self, id: DocId) -> Result<Option<(DocRow, Vec<Change>)>> {
        if self.cache.contains(&id) {
            return Ok(None);
        }
        let Some(row) = docs::find(&self.conn, id)? else { return Ok(None) };
        let bytes = docs::read_bytes(&self.conn, &row)?;
        let Ok(changes) = crate::changes::parse_changes(&bytes, super::merge::MERGE_INFLATED_BYTES)
        else {
            return Ok(None);
        };
        let mut seen = std::collections::HashSet::with_capacity(changes.len());
        let changes = changes.into_iter().filter(|c| seen.insert(c.hash())).collect();
        Ok(Some((row, changes)))
    }

    /// What a merge starts from, without the CPU work of loading: the cached document, the
    /// stored bytes (loaded later, possibly on another thread, by [`Source::load`]), or nothing.
    pub(crate) fn take_source(&mut self, id: DocId) -> Result<Source> {
        if let Some(l) = self.cache.pop(&id) {
            return Ok(Source::Cached(Box::new(l)));
        }
        match docs::find(&self.conn, id)? {
            None => Ok(Source::New),
            Some(row) => Ok(Source::Stored { bytes: docs::read_bytes(&self.conn, &row)?, row }),
        }
    }

    /// Puts a document back after its changes were committed.
    pub(crate) fn put_back(&mut self, id: DocId, loaded: Loaded) {
        self.cache.put(id, loaded);
    }

    /// Forgets one loaded document (it was dropped from the store).
    pub(crate) fn forget(&mut self, id: DocId) {
        self.cache.pop(&id);
    }

    /// Forgets every loaded document (after a panic, or an actor change).
    pub(crate) fn clear_cache(&mut self) {
        self.cache.clear();
    }

    /// Runs `f` in an IMMEDIATE transaction and commits when it returns Ok.
    pub(crate) fn in_tx<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::search::take_written();
        let out = f(&tx)?;
        let unmerged = self.unmerged_search_rows + super::search::take_written();
        let merging = unmerged >= super::search::MERGE_EVERY_ROWS;
        if merging {
            super::search::merge(&tx, unmerged)?;
        }
        tx.commit()?;
        self.unmerged_search_rows = if merging { 0 } else { unmerged };
        if let Some(wal) = &self.wal {
            wal.wrote(&self.conn);
        }
        Ok(out)
    }
}

/// The user a store writes as before `set_user` or an enrollment names one.
pub(crate) const DEFAULT_USER: &str = "local";

/// The device's identity as `meta` holds it, its actor made and stored on first use.
pub(crate) fn load_identity(conn: &Connection) -> Result<Identity> {
    identity_from(conn, &Meta::read(conn)?)
}

/// The device's identity from `meta` as read (`conn` stores a new actor if there is none).
fn identity_from(conn: &Connection, meta: &Meta) -> Result<Identity> {
    let actor = match meta.get::<Vec<u8>>("actor")? {
        Some(bytes) => ActorId::from(bytes),
        None => {
            let actor = ActorId::random();
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('actor', ?1)",
                params![actor.to_bytes()],
            )?;
            actor
        }
    };
    let user = meta.get::<String>("user")?;
    Ok(Identity { user: user.unwrap_or_else(|| DEFAULT_USER.to_string()), actor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{Command, Kind, NewRecord, NewReport, ReportCategory, Stamp, read_record};

    /// A remembered record stands for the document only while the document is unchanged:
    /// once anything changes it (a command, a merge), the record is read again.
    #[test]
    fn a_remembered_record_is_used_only_at_the_heads_it_was_read_at() {
        let new = NewRecord::Report {
            report: NewReport {
                scope: "jl/cc/grid-7".into(),
                category: ReportCategory::SafetyHazard,
                title: "井盖缺失".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        };
        let stamp = Stamp { by: "res-1".into(), at: 1_700_000_000_000 };
        let (id, doc) = create(&new, &stamp, ActorId::random()).unwrap();
        let row =
            DocRow { rowid: 1, kind: Kind::Report, snapshot_len: 0, chunk_bytes: 0, version: 1 };
        let mut loaded = Loaded::new(doc, row);
        let fresh = read_record(&loaded.doc, id).unwrap();
        // A marked record, to tell what `record` returns.
        let mut marked = fresh.clone();
        if let Record::Report { report } = &mut marked {
            report.title = "remembered".into();
        }
        loaded.remember(marked.clone());
        assert_eq!(loaded.record(id).unwrap(), marked, "unchanged: the remembered record");
        assert_eq!(loaded.record(id).unwrap(), fresh, "taken once, then read again");

        loaded.remember(marked);
        apply(&mut loaded.doc, id, &stamp, &Command::CommentReport { text: "还在".into() })
            .unwrap();
        let now = loaded.record(id).unwrap();
        assert_eq!(now, read_record(&loaded.doc, id).unwrap(), "changed: read again");
        assert_ne!(now, fresh);
    }
}
