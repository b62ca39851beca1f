//! The index rows read back from their tables (each kind's columns and row from its descriptor,
//! `IndexRow::TABLES`), and the maintenance around them; writing a row is [`super::upsert`].

use rusqlite::types::{FromSql, Value};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::super::columns::{doc_id, to_u64};
use super::upsert::upsert;
use crate::storage::index::{Cell, Cells, IndexChange, IndexRow, Table};
use crate::storage::{StorageError, StorageResult};

/// A row as read: its position in storage (`doc`), its seq and the row.
pub(crate) struct Stored<T> {
    pub(crate) pos: i64,
    pub(crate) seq: u64,
    pub(crate) row: T,
}

/// The columns a row of `table` is read from, in [`stored`]'s order.
pub(crate) fn select(table: &Table) -> String {
    format!("doc, seq, doc_id, scope, {}", table.columns.join(", "))
}

/// A row of `table` from the columns of [`select`].
pub(crate) fn stored(r: &Row<'_>, table: &Table) -> StorageResult<Stored<IndexRow>> {
    let pos: i64 = r.get(0)?;
    let seq = to_u64(r.get(1)?);
    let doc = doc_id(&r.get::<_, Vec<u8>>(2)?)?;
    let scope: String = r.get(3)?;
    let cells = (4..4 + table.columns.len())
        .map(|i| {
            Ok(match r.get::<_, Value>(i)? {
                Value::Null => Cell::Null,
                Value::Integer(v) => Cell::Integer(v),
                Value::Real(v) => Cell::Real(v),
                Value::Text(s) => Cell::Text(s),
                Value::Blob(b) => Cell::Blob(b),
            })
        })
        .collect::<StorageResult<Vec<Cell>>>()?;
    let row = (table.read)(doc, scope, &mut Cells::new(table.name, cells))?;
    Ok(Stored { pos, seq, row })
}

/// A column holding one of a closed set of strings.
pub(crate) fn parsed<T: FromSql>(r: &Row<'_>, i: usize) -> StorageResult<T> {
    r.get(i).map_err(|e| StorageError::Corrupt(format!("index column {i}: {e}")))
}

/// The rows of every kind written after `after`, in seq order, at most `limit`.
pub(crate) fn changes_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> StorageResult<Vec<IndexChange>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut all = Vec::new();
    for t in IndexRow::TABLES {
        let sql =
            format!("SELECT {} FROM {} WHERE seq > ?1 ORDER BY seq LIMIT ?2", select(t), t.name);
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            let s = stored(r, t)?;
            all.push(IndexChange { seq: s.seq, row: s.row });
        }
    }
    all.sort_by_key(|c| c.seq);
    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(all)
}

/// The row of the document `doc_id`, of whichever kind.
pub(crate) fn one(conn: &Connection, doc: &[u8]) -> StorageResult<Option<IndexChange>> {
    let pos: Option<i64> = conn
        .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
        .query_row([doc], |r| r.get(0))
        .optional()?;
    let Some(pos) = pos else { return Ok(None) };
    for t in IndexRow::TABLES {
        let sql = format!("SELECT {} FROM {} WHERE doc = ?1", select(t), t.name);
        if let Some(r) = conn.prepare_cached(&sql)?.query([pos])?.next()? {
            let s = stored(r, t)?;
            return Ok(Some(IndexChange { seq: s.seq, row: s.row }));
        }
    }
    Ok(None)
}

/// Rows of all kinds.
pub(crate) fn len(conn: &Connection) -> StorageResult<u64> {
    let counts: Vec<String> =
        IndexRow::TABLES.iter().map(|t| format!("(SELECT count(*) FROM {})", t.name)).collect();
    let n: i64 = conn.query_row(&format!("SELECT {}", counts.join(" + ")), [], |r| r.get(0))?;
    Ok(to_u64(n))
}

/// Removes every row.
pub(crate) fn clear(conn: &Connection) -> StorageResult<()> {
    for t in IndexRow::TABLES {
        conn.execute(&format!("DELETE FROM {}", t.name), [])?;
    }
    Ok(())
}

/// Writes rows of stored documents, each with its document's last log seq.
pub(crate) fn put(conn: &Connection, rows: &[IndexRow]) -> StorageResult<()> {
    for row in rows {
        let doc = row.doc();
        let pos: Option<i64> = conn
            .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
            .query_row([doc.as_bytes().as_slice()], |r| r.get(0))
            .optional()?;
        let pos = pos.ok_or_else(|| {
            StorageError::Corrupt(format!("index row of document {doc}, which is not stored"))
        })?;
        upsert(conn, pos, last_seq(conn, pos)?, row)?;
    }
    Ok(())
}

/// The last log seq of the document at `pos` (0 when it has none).
pub(crate) fn last_seq(conn: &Connection, pos: i64) -> StorageResult<u64> {
    let seq: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM log WHERE doc = ?1")?
        .query_row([pos], |r| r.get(0))?;
    Ok(to_u64(seq))
}
