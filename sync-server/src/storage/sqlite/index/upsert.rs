//! Writing a record's index row: the cells its kind gives (`Indexed::cells`) after the ones every
//! row has, and an upsert that updates only the columns that changed.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::storage::StorageResult;
use crate::storage::index::{Cell, IndexRow};

/// Writes `row` for the document at `pos` in `docs`, with `seq`, replacing what was there.
///
/// A row already there is compared column by column and only the columns that changed are
/// updated: the report table has fourteen indexes (one per sort of the desk), and a replaced
/// row rewrote an entry in every one of them, while a comment or a workflow step changes a few
/// columns (`seq`, `updated_at` and the count or state it moved) and so a few indexes. On the
/// single writer thread, that was the largest cost of a write.
pub(crate) fn upsert(conn: &Connection, pos: i64, seq: u64, row: &IndexRow) -> StorageResult<()> {
    let (table, new) = columns(seq, row)?;
    let names: Vec<&str> = new.iter().map(|(name, _)| *name).collect();
    let old: Option<Vec<Value>> = conn
        .prepare_cached(&format!("SELECT {} FROM {table} WHERE doc = ?1", names.join(", ")))?
        .query_row([pos], |r| (0..names.len()).map(|i| r.get::<_, Value>(i)).collect())
        .optional()?;
    match old {
        None => {
            let marks: Vec<String> = (2..names.len() + 2).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO {table} (doc, {}) VALUES (?1, {})",
                names.join(", "),
                marks.join(", ")
            );
            let values = std::iter::once(Value::Integer(pos)).chain(new.into_iter().map(|c| c.1));
            conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        }
        Some(old) => {
            let changed: Vec<(&str, Value)> =
                new.into_iter().zip(old).filter(|((_, n), o)| n != o).map(|(c, _)| c).collect();
            if changed.is_empty() {
                return Ok(());
            }
            let set: Vec<String> = changed
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{name} = ?{}", i + 2))
                .collect();
            let sql = format!("UPDATE {table} SET {} WHERE doc = ?1", set.join(", "));
            let values =
                std::iter::once(Value::Integer(pos)).chain(changed.into_iter().map(|c| c.1));
            conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        }
    }
    Ok(())
}

/// The table of `row` and its columns after `doc`, each with the value to store.
fn columns(seq: u64, row: &IndexRow) -> StorageResult<(&'static str, Vec<(&'static str, Value)>)> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let scope = row.scope();
    let mut c = vec![
        ("seq", Value::Integer(seq)),
        ("doc_id", Value::Blob(row.doc().as_bytes().to_vec())),
        ("scope", Value::Text(scope.to_string())),
        ("scope_key", Value::Text(format!("{scope}/"))),
    ];
    let (table, cells) = row.cells()?;
    c.extend(cells.into_iter().map(|(name, cell)| (name, value(cell))));
    Ok((table, c))
}

/// A cell as SQLite stores it.
pub(crate) fn value(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Integer(v) => Value::Integer(v),
        Cell::Real(v) => Value::Real(v),
        Cell::Text(s) => Value::Text(s),
        Cell::Blob(b) => Value::Blob(b),
    }
}
