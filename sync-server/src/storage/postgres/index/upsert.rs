//! Writing a record's index row: the cells its kind gives (`Indexed::cells`, as SQLite writes
//! them) after the ones every row has, and an upsert that updates only the columns that changed
//! (a changed column rewrites its indexes' entries; an unchanged one, under PostgreSQL's
//! heap-only updates, may rewrite none).

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::super::db::{Params, Tx, execute, query_opt};
use super::rows::cell;
use crate::storage::StorageResult;
use crate::storage::index::{Cell, IndexRow};

/// A cell as a parameter of a statement (the column's type decides how it is sent).
#[derive(Debug)]
pub(crate) struct Param(Cell);

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Integer(v) => v.to_sql(ty, out),
            Cell::Real(v) => v.to_sql(ty, out),
            Cell::Text(v) => v.to_sql(ty, out),
            Cell::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::FLOAT8, Type::TEXT, Type::BYTEA].contains(ty)
    }

    to_sql_checked!();
}

/// Writes `row` for the document at `pos` in `docs`, with `seq`, replacing what was there:
/// a row already there is compared column by column and only the columns that changed are
/// updated (the report table has fourteen indexes, and a comment changes a few columns).
pub(crate) async fn upsert(tx: &Tx<'_>, pos: i64, seq: i64, row: &IndexRow) -> StorageResult<()> {
    let (table, new) = columns(seq, row)?;
    let names: Vec<&str> = new.iter().map(|(name, _)| *name).collect();
    let sql = format!("SELECT {} FROM {table} WHERE doc = $1", names.join(", "));
    let old: Option<Vec<Cell>> = match query_opt(tx, &sql, &[&pos]).await? {
        Some(r) => Some((0..names.len()).map(|i| cell(&r, i)).collect::<StorageResult<_>>()?),
        None => None,
    };
    let (sql, values): (String, Vec<Param>) = match old {
        None => {
            let marks: Vec<String> = (2..names.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} (doc, {}) VALUES ($1, {})",
                names.join(", "),
                marks.join(", ")
            );
            (sql, new.into_iter().map(|c| Param(c.1)).collect())
        }
        Some(old) => {
            let changed: Vec<(&str, Cell)> =
                new.into_iter().zip(old).filter(|((_, n), o)| n != o).map(|(c, _)| c).collect();
            if changed.is_empty() {
                return Ok(());
            }
            let set: Vec<String> = changed
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{name} = ${}", i + 2))
                .collect();
            let sql = format!("UPDATE {table} SET {} WHERE doc = $1", set.join(", "));
            (sql, changed.into_iter().map(|c| Param(c.1)).collect())
        }
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(values.len() + 1);
    params.push(&pos);
    params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let params: &Params<'_> = &params;
    execute(tx, &sql, params).await?;
    Ok(())
}

/// One statement that writes `row` for the document at `pos`, with `seq`, whether a row is
/// there or not (`INSERT … ON CONFLICT (doc) DO UPDATE` of every column), and its parameters,
/// `pos` first: what a bulk commit sends without reading the row first (each write's seq is
/// new, so the row changes anyway).
pub(crate) fn statement(pos: i64, seq: i64, row: &IndexRow) -> StorageResult<(String, Vec<Param>)> {
    let (table, new) = columns(seq, row)?;
    let names: Vec<&str> = new.iter().map(|(name, _)| *name).collect();
    let marks: Vec<String> = (2..names.len() + 2).map(|i| format!("${i}")).collect();
    let set: Vec<String> = names.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
    let sql = format!(
        "INSERT INTO {table} (doc, {}) VALUES ($1, {}) ON CONFLICT (doc) DO UPDATE SET {}",
        names.join(", "),
        marks.join(", "),
        set.join(", ")
    );
    let values = std::iter::once(Param(Cell::Integer(pos)))
        .chain(new.into_iter().map(|(_, cell)| Param(cell)))
        .collect();
    Ok((sql, values))
}

/// The table of `row` and its columns after `doc`, each with the cell to store.
fn columns(seq: i64, row: &IndexRow) -> StorageResult<(&'static str, Vec<(&'static str, Cell)>)> {
    let scope = row.scope();
    let mut c = vec![
        ("seq", Cell::Integer(seq)),
        ("doc_id", Cell::Blob(row.doc().as_bytes().to_vec())),
        ("scope", Cell::text(scope)),
        ("scope_key", Cell::Text(format!("{scope}/"))),
    ];
    let (table, cells) = row.cells()?;
    c.extend(cells);
    Ok((table, c))
}
