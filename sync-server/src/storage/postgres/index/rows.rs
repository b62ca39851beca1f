//! The index rows read back from their tables (each kind's columns and row from its descriptor,
//! `IndexRow::TABLES`, as SQLite's), and the maintenance around them; writing a row is
//! [`super::upsert`].

use std::str::FromStr;

use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::super::columns::{doc_id, to_u64};
use super::super::db::{Tx, query, query_one, query_opt};
use super::upsert::upsert;
use crate::storage::index::{Cell, Cells, IndexChange, IndexRow, Table as KindTable};
use crate::storage::{StorageError, StorageResult};

/// A row as read: its position in storage (`doc`), its seq and the row.
pub(crate) struct Stored<T> {
    pub(crate) pos: i64,
    pub(crate) seq: u64,
    pub(crate) row: T,
}

/// The columns a row of a kind's table (its descriptor) is read from, in [`stored`]'s order.
pub(crate) fn select(table: &KindTable) -> String {
    format!("doc, seq, doc_id, scope, {}", table.columns.join(", "))
}

/// A row of a kind's table from the columns of [`select`], each column's cell taken by its
/// PostgreSQL type.
pub(crate) fn stored(r: &Row, table: &KindTable) -> StorageResult<Stored<IndexRow>> {
    let (pos, seq) = head(r)?;
    let doc = doc_id(r.try_get::<_, &[u8]>(2)?)?;
    let scope: String = r.try_get(3)?;
    let cells =
        (4..4 + table.columns.len()).map(|i| cell(r, i)).collect::<StorageResult<Vec<Cell>>>()?;
    let row = (table.read)(doc, scope, &mut Cells::new(table.name, cells))?;
    Ok(Stored { pos, seq, row })
}

/// Column `i` as a cell.
pub(crate) fn cell(r: &Row, i: usize) -> StorageResult<Cell> {
    let ty = r.columns()[i].type_().clone();
    let cell = if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?.map(Cell::Integer)
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?.map(Cell::Real)
    } else if ty == Type::TEXT || ty == Type::VARCHAR {
        r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Blob)
    } else {
        return Err(StorageError::Corrupt(format!(
            "{} column {i} has the type {ty}, which the index does not use",
            r.columns()[i].name()
        )));
    };
    Ok(cell.unwrap_or(Cell::Null))
}

/// A column holding one of a closed set of strings.
pub(crate) fn parsed<T: FromStr>(r: &Row, i: usize) -> StorageResult<T> {
    let s: &str = r.try_get(i)?;
    s.parse().map_err(|_| StorageError::Corrupt(format!("index column {i} holds {s:?}")))
}

fn head(r: &Row) -> StorageResult<(i64, u64)> {
    Ok((r.try_get(0)?, to_u64(r.try_get(1)?)))
}

/// The rows of every kind written after `after`, in seq order, at most `limit`; none after the
/// snapshot's watermark (`log_visible`, see `read`), so that a row is never passed over by a
/// reader that went on past it while the smaller seq of another row was still in flight.
pub(crate) async fn changes_after(
    tx: &Tx<'_>,
    after: u64,
    limit: usize,
) -> StorageResult<Vec<IndexChange>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut all = Vec::new();
    for t in IndexRow::TABLES {
        let sql = format!(
            "SELECT {} FROM {} WHERE seq > $1 AND seq <= (SELECT seq FROM log_visible) \
                 ORDER BY seq LIMIT $2",
            select(t),
            t.name
        );
        for r in query(tx, &sql, &[&after, &limit]).await? {
            let s = stored(&r, t)?;
            all.push(IndexChange { seq: s.seq, row: s.row });
        }
    }
    all.sort_by_key(|c| c.seq);
    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(all)
}

/// The position in `docs` of the document `doc_id`.
async fn position(tx: &Tx<'_>, doc: &[u8]) -> StorageResult<Option<i64>> {
    query_opt(tx, "SELECT id FROM docs WHERE doc_id = $1", &[&doc])
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
}

/// The row of the document `doc_id`, of whichever kind.
pub(crate) async fn one(tx: &Tx<'_>, doc: &[u8]) -> StorageResult<Option<IndexChange>> {
    let Some(pos) = position(tx, doc).await? else { return Ok(None) };
    for t in IndexRow::TABLES {
        let sql = format!("SELECT {} FROM {} WHERE doc = $1", select(t), t.name);
        if let Some(r) = query_opt(tx, &sql, &[&pos]).await? {
            let s = stored(&r, t)?;
            return Ok(Some(IndexChange { seq: s.seq, row: s.row }));
        }
    }
    Ok(None)
}

/// Rows of all kinds.
pub(crate) async fn len(tx: &Tx<'_>) -> StorageResult<u64> {
    let counts: Vec<String> =
        IndexRow::TABLES.iter().map(|t| format!("(SELECT count(*) FROM {})", t.name)).collect();
    let n: i64 = query_one(tx, &format!("SELECT {}", counts.join(" + ")), &[]).await?.try_get(0)?;
    Ok(to_u64(n))
}

/// Removes every row.
pub(crate) async fn clear(tx: &Tx<'_>) -> StorageResult<()> {
    for t in IndexRow::TABLES {
        tx.batch_execute(&format!("DELETE FROM {}", t.name)).await?;
    }
    Ok(())
}

/// Writes rows of stored documents, each with its document's last log seq.
pub(crate) async fn put(tx: &Tx<'_>, rows: &[IndexRow]) -> StorageResult<()> {
    for row in rows {
        let doc = row.doc();
        let pos = position(tx, doc.as_bytes()).await?.ok_or_else(|| {
            StorageError::Corrupt(format!("index row of document {doc}, which is not stored"))
        })?;
        let seq = last_seq(tx, pos).await?;
        upsert(tx, pos, seq, row).await?;
    }
    Ok(())
}

/// The last log seq of the document at `pos` (0 when it has none).
pub(crate) async fn last_seq(tx: &Tx<'_>, pos: i64) -> StorageResult<i64> {
    Ok(query_one(tx, "SELECT coalesce(max(seq), 0) FROM log WHERE doc = $1", &[&pos])
        .await?
        .try_get(0)?)
}
