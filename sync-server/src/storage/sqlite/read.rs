//! Reads, on read-only connections beside the writer (WAL: readers never wait for it). Each read
//! runs in one transaction, so what it returns comes from one snapshot.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;
use fieldsync_core::poison::Recover;
use rusqlite::{Connection, OptionalExtension};

use super::columns::{audience_at, doc_id, to_u64};
use super::schema;
use crate::storage::{
    Audience, CatchUpPage, CatchUpReader, DocMeta, DocSignatures, LogItem, LogPage, LogRecord,
    StorageError, StorageResult, StoredDoc, WholeDoc,
};

/// Idle reader connections kept open: as many as can be in use at once (the server's runtime
/// runs at most 16 blocking tasks). With fewer, a busy server closed the extra connections
/// after each read and opened new ones for the next, and every new connection parses the
/// schema and prepares its statements again: under `bench load` (64 devices at a time), 14% of
/// the server's CPU went to `sqlite3_prepare` and 6% to opening readers. Each reader's page
/// cache is small ([`schema::open_reader`]), so 16 cost at most 8 MiB.
const IDLE_READERS: usize = 16;
/// Most entries in one log page, whatever their size.
const MAX_PAGE_ENTRIES: usize = 50_000;

/// A pool of read-only connections.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Set by [`Readers::close`]: connections are no longer kept once their read ends.
    closed: AtomicBool,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Readers { path, idle: Mutex::new(Vec::new()), closed: AtomicBool::new(false) }
    }

    /// Closes the idle connections, and every other one as its read ends. When the storage
    /// closes, the writer's side is then the last to close, and SQLite copies the log into the
    /// database file and removes it: the file alone holds everything (a backup of it, say).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().recover().clear();
    }

    /// Runs `f` in a read transaction on an idle connection (or a new one).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<R>,
    ) -> StorageResult<R> {
        let conn = self.idle.lock().recover().pop();
        let conn = match conn {
            Some(c) => c,
            None => schema::open_reader(&self.path)?,
        };
        // One read transaction, so that every query of `f` sees the same snapshot. BEGIN and
        // COMMIT are cached statements: preparing them per read shows in profiles.
        conn.prepare_cached("BEGIN")?.execute([])?;
        let result = f(&conn);
        let ended = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([]));
        if let Err(e) = ended {
            // A connection left in a transaction would pin an old snapshot: drop it.
            tracing::warn!("read transaction did not end: {e}");
            return result;
        }
        let mut idle = self.idle.lock().recover();
        if idle.len() < IDLE_READERS && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
        result
    }
}

/// The row and metadata of a document.
fn find(conn: &Connection, id: DocId) -> StorageResult<Option<(i64, DocMeta)>> {
    let row = conn
        .prepare_cached(
            "SELECT id, kind, scope, snapshot_bytes, chunk_bytes, version FROM docs \
             WHERE doc_id = ?1",
        )?
        .query_row([id.as_bytes().as_slice()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    let Some((row, kind, scope, snapshot_bytes, chunk_bytes, version)) = row else {
        return Ok(None);
    };
    let kind = Kind::from_str(&kind)
        .map_err(|_| StorageError::Corrupt(format!("document {id} has unknown kind {kind:?}")))?;
    Ok(Some((
        row,
        DocMeta {
            kind,
            scope,
            snapshot_bytes: to_u64(snapshot_bytes),
            chunk_bytes: to_u64(chunk_bytes),
            version: to_u64(version),
        },
    )))
}

/// A document's stored bytes: snapshot, then chunks.
fn bytes_of(conn: &Connection, row: i64, capacity: u64) -> StorageResult<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stmt = conn.prepare_cached("SELECT bytes FROM doc_bytes WHERE doc = ?1 ORDER BY id")?;
    let mut rows = stmt.query([row])?;
    while let Some(r) = rows.next()? {
        out.extend_from_slice(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    Ok(out)
}

pub(crate) fn load(conn: &Connection, ids: &[DocId]) -> StorageResult<Vec<Option<StoredDoc>>> {
    ids.iter()
        .map(|id| {
            let Some((row, meta)) = find(conn, *id)? else { return Ok(None) };
            let bytes = bytes_of(conn, row, meta.stored_bytes())?;
            Ok(Some(StoredDoc { meta, bytes }))
        })
        .collect()
}

pub(crate) fn whole(
    conn: &Connection,
    ids: &[DocId],
    max_bytes: usize,
) -> StorageResult<(Vec<WholeDoc>, usize)> {
    let mut out = Vec::new();
    let mut used = 0usize;
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, scope, created_by, participants, addressed, valid_until FROM docs \
         WHERE doc_id = ?1",
    )?;
    for (i, id) in ids.iter().enumerate() {
        let Some((row, meta)) = find(conn, *id)? else { continue };
        let size = usize::try_from(meta.stored_bytes()).unwrap_or(usize::MAX);
        if !out.is_empty() && used.saturating_add(size) > max_bytes {
            return Ok((out, i));
        }
        used = used.saturating_add(size);
        let audience = stmt
            .query_row([id.as_bytes().as_slice()], |r| Ok(audience_at(r, 1)))
            .map_err(StorageError::from)??;
        let bytes = bytes_of(conn, row, meta.stored_bytes())?;
        out.push(WholeDoc { pos: row, doc: *id, bytes, audience });
    }
    Ok((out, ids.len()))
}

pub(crate) fn log_end(conn: &Connection) -> StorageResult<u64> {
    let end: Option<i64> =
        conn.prepare_cached("SELECT max(seq) FROM log")?.query_row([], |r| r.get(0))?;
    Ok(to_u64(end.unwrap_or(0)))
}

pub(crate) fn docs_end(conn: &Connection) -> StorageResult<i64> {
    let end: Option<i64> =
        conn.prepare_cached("SELECT max(id) FROM docs")?.query_row([], |r| r.get(0))?;
    Ok(end.unwrap_or(0))
}

pub(crate) fn catch_up(
    conn: &Connection,
    after: i64,
    max_bytes: usize,
    reader: Option<&CatchUpReader>,
) -> StorageResult<CatchUpPage> {
    let log_end = log_end(conn)?;
    let docs_end = docs_end(conn)?;
    let mut docs: Vec<WholeDoc> = Vec::new();
    let mut used = 0usize;
    let mut done = true;
    let mut scanned_to = after;
    let mut stmt = conn.prepare_cached(
        "SELECT id, doc_id, snapshot_bytes + chunk_bytes, kind, scope, created_by, participants, \
         addressed, valid_until FROM docs WHERE id > ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([after])?;
    while let Some(r) = rows.next()? {
        let row: i64 = r.get(0)?;
        let audience = audience_at(r, 3)?;
        if reader.is_some_and(|r| !r.takes(&audience)) {
            scanned_to = row;
            continue;
        }
        let size = usize::try_from(r.get::<_, i64>(2)?).unwrap_or(usize::MAX);
        if !docs.is_empty() && used.saturating_add(size) > max_bytes {
            done = false;
            break;
        }
        used = used.saturating_add(size);
        let doc = doc_id(r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?)?;
        let bytes = bytes_of(conn, row, to_u64(size as i64))?;
        docs.push(WholeDoc { pos: row, doc, bytes, audience });
        scanned_to = row;
    }
    let docs_after = if done { 0 } else { to_u64(docs_end - scanned_to) };
    Ok(CatchUpPage { docs, done, log_end, docs_after, scanned_to })
}

pub(crate) fn log_page(
    conn: &Connection,
    after: u64,
    skip_actor: &[u8],
    max_bytes: usize,
) -> StorageResult<LogPage> {
    let end = log_end(conn)?;
    let mut entries: Vec<LogItem> = Vec::new();
    let mut used = 0usize;
    let mut next = end;
    let mut stmt = conn.prepare_cached(
        "SELECT l.seq, d.doc_id, l.bytes FROM log l JOIN docs d ON d.id = l.doc \
         WHERE l.seq > ?1 AND l.seq <= ?2 AND l.actor <> ?3 ORDER BY l.seq",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        i64::try_from(after).unwrap_or(i64::MAX),
        i64::try_from(end).unwrap_or(i64::MAX),
        skip_actor
    ])?;
    while let Some(r) = rows.next()? {
        let bytes = r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
        if !entries.is_empty()
            && (used.saturating_add(bytes.len()) > max_bytes || entries.len() >= MAX_PAGE_ENTRIES)
        {
            next = entries.last().map_or(after, |e| e.seq);
            break;
        }
        used = used.saturating_add(bytes.len());
        let bytes = bytes.to_vec();
        let doc = doc_id(r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?)?;
        entries.push(LogItem { seq: to_u64(r.get(0)?), doc, bytes });
    }
    Ok(LogPage { entries, next, end })
}

pub(crate) fn audit(conn: &Connection, after: u64, limit: usize) -> StorageResult<Vec<LogRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.seq, d.doc_id, l.hash, l.actor, l.device, l.received_at, l.bytes, l.sig, \
         d.kind, d.scope, d.created_by, d.participants, d.addressed, d.valid_until \
         FROM log l JOIN docs d ON d.id = l.doc WHERE l.seq > ?1 ORDER BY l.seq LIMIT ?2",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        i64::try_from(after).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let hash: Vec<u8> = r.get(2)?;
        let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
            StorageError::Corrupt(format!("log entry with a {}-byte hash", hash.len()))
        })?;
        out.push(LogRecord {
            seq: to_u64(r.get(0)?),
            doc: doc_id(&r.get::<_, Vec<u8>>(1)?)?,
            hash,
            actor: r.get(3)?,
            device: r.get(4)?,
            received_at: r.get(5)?,
            bytes: r.get(6)?,
            sig: r.get(7)?,
            audience: audience_at(r, 8)?,
        });
    }
    Ok(out)
}

/// See `DocumentStorage::signatures`.
pub(crate) fn signatures(conn: &Connection, ids: &[DocId]) -> StorageResult<Vec<DocSignatures>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.hash, l.sig, l.actor FROM log l JOIN docs d ON d.id = l.doc \
         WHERE d.doc_id = ?1 AND l.sig IS NOT NULL ORDER BY l.seq",
    )?;
    let mut out = Vec::new();
    for id in ids {
        let mut rows = stmt.query([id.as_bytes().as_slice()])?;
        let mut doc = DocSignatures { doc: *id, sigs: Vec::new(), signers: Vec::new() };
        while let Some(r) = rows.next()? {
            let blob = |i| r.get_ref(i).and_then(|v| v.as_blob().map_err(rusqlite::Error::from));
            doc.push(blob(0)?, blob(1)?, blob(2)?)?;
        }
        if !doc.sigs.is_empty() {
            out.push(doc);
        }
    }
    Ok(out)
}

pub(crate) fn readers(conn: &Connection, ids: &[DocId]) -> StorageResult<Vec<(DocId, Audience)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, scope, created_by, participants, addressed, valid_until FROM docs \
         WHERE doc_id = ?1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found =
            stmt.query_row([id.as_bytes().as_slice()], |r| Ok(audience_at(r, 0))).optional()?;
        if let Some(a) = found {
            out.push((*id, a?));
        }
    }
    Ok(out)
}

pub(crate) fn audiences(conn: &Connection) -> StorageResult<Vec<(DocId, Audience)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id, kind, scope, created_by, participants, addressed, valid_until FROM docs \
         ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id = doc_id(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?)?;
        out.push((id, audience_at(r, 1)?));
    }
    Ok(out)
}

pub(crate) fn doc_ids(conn: &Connection) -> StorageResult<Vec<DocId>> {
    let mut stmt = conn.prepare_cached("SELECT doc_id FROM docs ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(doc_id(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?)?);
    }
    Ok(out)
}

/// See `DocumentStorage::versions`.
pub(crate) fn versions(conn: &Connection, ids: &[DocId]) -> StorageResult<Vec<Option<u64>>> {
    let mut stmt = conn.prepare_cached("SELECT version FROM docs WHERE doc_id = ?1")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let version: Option<i64> =
            stmt.query_row([id.as_bytes().as_slice()], |r| r.get(0)).optional()?;
        out.push(version.map(to_u64));
    }
    Ok(out)
}

/// See `DocumentStorage::logged_docs`.
pub(crate) fn logged_docs(
    conn: &Connection,
    after: u64,
    upto: u64,
    limit: usize,
) -> StorageResult<Vec<(DocId, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id, version FROM docs WHERE id IN \
         (SELECT doc FROM log WHERE seq > ?1 AND seq <= ?2) ORDER BY id LIMIT ?3",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        i64::try_from(after).unwrap_or(i64::MAX),
        i64::try_from(upto).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id = doc_id(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?)?;
        out.push((id, to_u64(r.get(1)?)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::config::Durability;
    use crate::storage::sqlite::schema::open_writer;

    /// A burst of reads as wide as the runtime's blocking pool leaves every connection it
    /// opened idle for the next burst, which then opens none.
    #[test]
    fn a_burst_of_reads_keeps_its_connections_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let _writer = open_writer(&path, Durability::Normal).unwrap();
        let readers = Readers::new(path);
        let burst = |readers: &Readers| {
            let barrier = Barrier::new(IDLE_READERS);
            std::thread::scope(|s| {
                for _ in 0..IDLE_READERS {
                    s.spawn(|| {
                        readers
                            .with(|conn| {
                                // Every thread holds its connection until all hold one.
                                barrier.wait();
                                log_end(conn)
                            })
                            .unwrap()
                    });
                }
            });
        };
        burst(&readers);
        assert_eq!(readers.idle.lock().unwrap().len(), IDLE_READERS);
        burst(&readers);
        assert_eq!(readers.idle.lock().unwrap().len(), IDLE_READERS, "no connection dropped");
    }

    /// A cached statement runs with new values bound without being prepared again (the
    /// planner's stability guarantee: see `schema::open_reader`).
    #[test]
    fn cached_statements_keep_their_plan_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let _writer = open_writer(&path, Durability::Normal).unwrap();
        let conn = schema::open_reader(&path).unwrap();
        for after in 0..5i64 {
            let mut st = conn
                .prepare_cached("SELECT seq FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2")
                .unwrap();
            st.query([after, after + 10]).unwrap().next().unwrap();
            assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
        }
    }
}
