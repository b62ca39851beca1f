//! The phone's sync bookkeeping in SQLite: per document the heads the server holds and whether
//! local changes wait to be pushed; the feed cursor and epoch; documents to ask for whole.
//! Every function runs inside the caller's transaction, so the bookkeeping commits with the data.

use std::collections::HashSet;

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::id::DocId;

/// Encodes heads as concatenated 32-byte hashes, sorted.
pub(crate) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.iter().flat_map(|h| h.0).collect()
}

/// Decodes heads written by `encode_heads` (ignoring a ragged tail).
pub(crate) fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes.chunks_exact(32).filter_map(|c| <[u8; 32]>::try_from(c).ok().map(ChangeHash)).collect()
}

/// A local change to document `rowid` waits to be pushed.
pub(crate) fn mark_pending(tx: &Connection, rowid: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_docs (doc, pending) VALUES (?1, 1) \
         ON CONFLICT (doc) DO UPDATE SET pending = 1",
    )?
    .execute([rowid])?;
    Ok(())
}

/// After data pulled from the server was merged into document `rowid`: if no local change waits,
/// the server holds everything the document holds; otherwise it holds at least what it sent.
pub(crate) fn after_pull(
    tx: &Connection,
    rowid: i64,
    incoming_heads: &[ChangeHash],
    merged_heads: &[ChangeHash],
) -> Result<()> {
    let current: Option<(Vec<u8>, bool)> = tx
        .prepare_cached("SELECT acked_heads, pending FROM sync_docs WHERE doc = ?1")?
        .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (acked, pending) = match current {
        None | Some((_, false)) => (encode_heads(merged_heads), false),
        Some((acked, true)) => {
            let mut union = decode_heads(&acked);
            union.extend_from_slice(incoming_heads);
            (encode_heads(&union), true)
        }
    };
    tx.prepare_cached(
        "INSERT INTO sync_docs (doc, acked_heads, pending) VALUES (?1, ?2, ?3) \
         ON CONFLICT (doc) DO UPDATE SET acked_heads = excluded.acked_heads",
    )?
    .execute(params![rowid, acked, pending])?;
    Ok(())
}

/// A document waiting to be pushed.
pub(crate) struct PendingDoc {
    pub(crate) rowid: i64,
    pub(crate) id: DocId,
    pub(crate) acked: Vec<ChangeHash>,
}

/// Up to `limit` documents with unpushed changes that were not rejected, after row `after`.
pub(crate) fn pending(conn: &Connection, after: i64, limit: usize) -> Result<Vec<PendingDoc>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.doc, d.doc_id, s.acked_heads FROM sync_docs s JOIN docs d ON d.id = s.doc \
         WHERE s.pending = 1 AND s.rejected_code IS NULL AND s.doc > ?1 ORDER BY s.doc LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (rowid, id, acked) = row?;
        out.push(PendingDoc { rowid, id: DocId::from_slice(&id)?, acked: decode_heads(&acked) });
    }
    Ok(out)
}

/// The server acknowledged `acked` for document `rowid`; it stays pending if the document has
/// moved on since (a local edit made during the sync).
pub(crate) fn acknowledged(
    tx: &Connection,
    rowid: i64,
    acked: &[ChangeHash],
    current: &[ChangeHash],
) -> Result<()> {
    let mut a = acked.to_vec();
    let mut c = current.to_vec();
    a.sort();
    c.sort();
    tx.prepare_cached("UPDATE sync_docs SET acked_heads = ?2, pending = ?3 WHERE doc = ?1")?
        .execute(params![rowid, encode_heads(acked), a != c])?;
    Ok(())
}

/// The server refused document `rowid`'s changes for good.
pub(crate) fn rejected(
    tx: &Connection,
    rowid: i64,
    code: &str,
    message: &str,
    at: i64,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sync_docs SET rejected_code = ?2, rejected_message = ?3, rejected_at = ?4 \
         WHERE doc = ?1",
    )?
    .execute(params![rowid, code, message, at])?;
    Ok(())
}

/// Forgets the refusal of a document's changes; they wait to be pushed again.
pub(crate) fn clear_rejection(tx: &Connection, rowid: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sync_docs SET rejected_code = NULL, rejected_message = NULL, rejected_at = NULL \
         WHERE doc = ?1",
    )?
    .execute([rowid])?;
    Ok(())
}

/// Where the store is in the server's feed: `(epoch, cursor)`.
pub(crate) fn position(conn: &Connection) -> Result<(Option<String>, String)> {
    Ok(conn
        .prepare_cached("SELECT epoch, cursor FROM sync_server WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, String::new())))
}

/// Records a new feed position (in the transaction that applied the data it covers).
pub(crate) fn set_position(tx: &Connection, epoch: &str, cursor: &str, now: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_server (id, epoch, cursor, last_sync_at) VALUES (1, ?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, cursor = excluded.cursor, \
         last_sync_at = excluded.last_sync_at",
    )?
    .execute(params![epoch, cursor, now])?;
    Ok(())
}

/// Documents to ask for whole: at most `limit`, leaving out those in `skip`.
pub(crate) fn wanted(conn: &Connection, limit: usize, skip: &HashSet<DocId>) -> Result<Vec<DocId>> {
    let mut stmt = conn.prepare_cached("SELECT doc_id FROM sync_wanted")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let id = DocId::from_slice(&row.get::<_, Vec<u8>>(0)?)?;
        if !skip.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Adds or removes a document from the wanted list.
pub(crate) fn set_wanted(tx: &Connection, id: DocId, wanted: bool) -> Result<()> {
    let sql = if wanted {
        "INSERT OR IGNORE INTO sync_wanted (doc_id) VALUES (?1)"
    } else {
        "DELETE FROM sync_wanted WHERE doc_id = ?1"
    };
    tx.prepare_cached(sql)?.execute([id.as_bytes()])?;
    Ok(())
}
