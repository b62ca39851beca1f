//! The `blobs` table: what is known of each blob whose upload started (schema in
//! `storage/sqlite/sql/v4.sql`). Plain functions on a connection; the caller holds it.

use rusqlite::{Connection, OptionalExtension, params};

use super::BlobMeta;
use crate::storage::StorageResult;
use crate::storage::sqlite::sql_size;

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The row of blob `hash`, with `received` as last recorded.
pub(crate) fn get(conn: &Connection, hash: &str) -> StorageResult<Option<BlobMeta>> {
    let row = conn
        .prepare_cached(
            "SELECT size, media_type, received, complete, thumbnail, uploaded_by FROM blobs \
             WHERE hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(BlobMeta {
                hash: hash.to_string(),
                size: to_u64(r.get(0)?),
                media_type: r.get(1)?,
                received: to_u64(r.get(2)?),
                complete: r.get(3)?,
                thumbnail: r.get(4)?,
                uploaded_by: r.get(5)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// Bytes held for the uploads `device` started, complete or not.
pub(crate) fn used(conn: &Connection, device: &str) -> StorageResult<u64> {
    let used: Option<i64> = conn
        .prepare_cached("SELECT sum(size) FROM blobs WHERE uploaded_by = ?1")?
        .query_row([device], |r| r.get(0))?;
    Ok(to_u64(used.unwrap_or(0)))
}

/// Records a new upload.
pub(crate) fn insert(
    conn: &Connection,
    hash: &str,
    size: u64,
    media_type: &str,
    device: &str,
) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT INTO blobs (hash, size, media_type, uploaded_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        hash,
        sql_size(size),
        media_type,
        device,
        fieldsync_core::time::now_ms()
    ])?;
    Ok(())
}

/// Records how much of an upload is held.
pub(crate) fn set_received(conn: &Connection, hash: &str, received: u64) -> StorageResult<()> {
    conn.prepare_cached("UPDATE blobs SET received = ?2 WHERE hash = ?1")?
        .execute(params![hash, sql_size(received)])?;
    Ok(())
}

/// Records a verified blob in place, with whether it has a thumbnail.
pub(crate) fn complete(conn: &Connection, hash: &str, thumbnail: bool) -> StorageResult<()> {
    conn.prepare_cached(
        "UPDATE blobs SET received = size, complete = 1, thumbnail = ?2, completed_at = ?3 \
         WHERE hash = ?1",
    )?
    .execute(params![hash, thumbnail, fieldsync_core::time::now_ms()])?;
    Ok(())
}

/// Forgets an upload (its bytes did not verify).
pub(crate) fn delete(conn: &Connection, hash: &str) -> StorageResult<()> {
    conn.prepare_cached("DELETE FROM blobs WHERE hash = ?1")?.execute([hash])?;
    Ok(())
}

/// Uploads not complete, with their declared sizes (what a restart looks at).
pub(crate) fn incomplete(conn: &Connection) -> StorageResult<Vec<(String, u64)>> {
    let mut stmt = conn.prepare("SELECT hash, size FROM blobs WHERE complete = 0")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, to_u64(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
