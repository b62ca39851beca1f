//! Automerge bytes on disk: one base per document plus the incremental chunks appended since,
//! compacted into a new snapshot when the chunks outgrow the base. The base is a snapshot, but a
//! record made on this phone starts as its changes (see [`first_bytes`]).

use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::Kind;

/// Where a document lives in the `docs` table and how big its parts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocRow {
    pub(crate) rowid: i64,
    pub(crate) kind: Kind,
    /// Bytes of the base: a snapshot, or the changes of a record made here (until its first
    /// compaction).
    pub(crate) snapshot_len: i64,
    pub(crate) chunk_bytes: i64,
    /// Bumped by every write of the document's bytes: equal versions mean equal bytes.
    pub(crate) version: i64,
}

impl DocRow {
    /// Saved size: snapshot plus chunks.
    pub(crate) fn stored_bytes(&self) -> i64 {
        self.snapshot_len + self.chunk_bytes
    }
}

/// Looks up a document's row.
pub(crate) fn find(conn: &Connection, id: DocId) -> Result<Option<DocRow>> {
    let row = conn
        .prepare_cached(
            "SELECT id, kind, length(snapshot), chunk_bytes, version FROM docs WHERE doc_id = ?1",
        )?
        .query_row([id.as_bytes()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    row.map(|(rowid, kind, snapshot_len, chunk_bytes, version)| {
        let kind = Kind::from_code(kind)
            .ok_or_else(|| CoreError::malformed(id, format!("unknown kind code {kind}")))?;
        Ok(DocRow { rowid, kind, snapshot_len, chunk_bytes, version })
    })
    .transpose()
}

/// Removes a stored document: its row and its search entry (its chunks, projections and
/// sync bookkeeping go with the row, by their foreign keys).
pub(crate) fn remove(tx: &Connection, rowid: i64) -> Result<()> {
    super::search::remove(tx, rowid)?;
    tx.prepare_cached("DELETE FROM docs WHERE id = ?1")?.execute([rowid])?;
    Ok(())
}

/// The stored bytes of a document (snapshot followed by its chunks), which Automerge loads as one.
pub(crate) fn read_bytes(conn: &Connection, row: &DocRow) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = conn
        .prepare_cached("SELECT snapshot FROM docs WHERE id = ?1")?
        .query_row([row.rowid], |r| r.get(0))?;
    if row.chunk_bytes > 0 {
        let mut stmt =
            conn.prepare_cached("SELECT bytes FROM doc_chunks WHERE doc = ?1 ORDER BY id")?;
        let mut rows = stmt.query([row.rowid])?;
        while let Some(r) = rows.next()? {
            out.extend_from_slice(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
        }
    }
    Ok(out)
}

/// Loads a stored document. Stored bytes were verified when they were written, and loading
/// verifies them again, so corruption on disk is reported rather than used.
pub(crate) fn load(conn: &Connection, id: DocId, row: &DocRow) -> Result<AutoCommit> {
    load_bytes(id, &read_bytes(conn, row)?)
}

/// Loads a document from bytes read by [`read_bytes`].
pub(crate) fn load_bytes(id: DocId, bytes: &[u8]) -> Result<AutoCommit> {
    crate::changes::guarded(|| {
        AutoCommit::load(bytes).map_err(|e| crate::changes::ParseError(e.to_string()))
    })
    .map_err(|e| CoreError::malformed(id, format!("stored bytes do not load: {e}")))
}

/// Largest change form a record made on this phone is stored in (see [`first_bytes`]).
pub(crate) const CHANGE_FORM_BYTES: usize = 16 * 1024;

/// The base to store a record made on this phone with: its changes as they are, up to
/// [`CHANGE_FORM_BYTES`]; a snapshot past that. Its first push sends every change, which the
/// change form gives by splitting the bytes, where a snapshot is loaded and each change rebuilt
/// from it (about ten times the CPU for a report of a few changes); Automerge loads either in
/// about the same time, and saving the changes costs no compression. A snapshot's compressed
/// columns pay for a large record, and keep it far from the document size limit.
pub(crate) fn first_bytes(doc: &mut AutoCommit) -> Vec<u8> {
    let changes = doc.save_after(&[]);
    if changes.len() <= CHANGE_FORM_BYTES { changes } else { doc.save() }
}

/// Inserts a new document with its base: a snapshot, or its changes ([`first_bytes`]).
pub(crate) fn insert(
    conn: &Connection,
    id: DocId,
    kind: Kind,
    snapshot: &[u8],
    now: i64,
) -> Result<DocRow> {
    conn.prepare_cached(
        "INSERT INTO docs (doc_id, kind, snapshot, chunk_bytes, updated_at) VALUES (?1, ?2, ?3, 0, ?4)",
    )?
    .execute(params![id.as_bytes(), kind.code(), snapshot, now])?;
    Ok(DocRow {
        rowid: conn.last_insert_rowid(),
        kind,
        snapshot_len: snapshot.len() as i64,
        chunk_bytes: 0,
        version: 0,
    })
}

/// Appends an incremental save; when the chunks outgrow the snapshot, writes a new snapshot of
/// `doc` instead and drops the chunks.
pub(crate) fn append(
    conn: &Connection,
    row: &mut DocRow,
    doc: &mut AutoCommit,
    chunk: &[u8],
    now: i64,
) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    if row.chunk_bytes + chunk.len() as i64 > row.snapshot_len {
        let snapshot = doc.save();
        conn.prepare_cached(
            "UPDATE docs SET snapshot = ?2, chunk_bytes = 0, updated_at = ?3, version = version + 1 \
             WHERE id = ?1",
        )?
        .execute(params![row.rowid, snapshot, now])?;
        conn.prepare_cached("DELETE FROM doc_chunks WHERE doc = ?1")?.execute([row.rowid])?;
        row.snapshot_len = snapshot.len() as i64;
        row.chunk_bytes = 0;
        row.version += 1;
    } else {
        conn.prepare_cached("INSERT INTO doc_chunks (doc, bytes) VALUES (?1, ?2)")?
            .execute(params![row.rowid, chunk])?;
        conn.prepare_cached(
            "UPDATE docs SET chunk_bytes = chunk_bytes + ?2, updated_at = ?3, version = version + 1 \
             WHERE id = ?1",
        )?
        .execute(params![row.rowid, chunk.len() as i64, now])?;
        row.chunk_bytes += chunk.len() as i64;
        row.version += 1;
    }
    Ok(())
}
