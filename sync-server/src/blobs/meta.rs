//! The tables of blobs (schema in `storage/sqlite/sql/v4.sql` and `v5.sql`): `blobs`, the
//! complete blobs, and `blob_uploads`, the uploads under way, one per blob and device. Plain
//! functions on a connection; the caller holds it.

use rusqlite::{Connection, OptionalExtension, params};

use super::BlobMeta;
use crate::storage::StorageResult;
use crate::storage::sqlite::sql_size;

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// One device's upload of a blob, under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    /// Its row, which also names its partial file.
    pub(crate) id: i64,
    /// The blob.
    pub(crate) hash: String,
    /// The device uploading.
    pub(crate) device: String,
    /// The declared size.
    pub(crate) size: u64,
    /// The media type of the device's reference.
    pub(crate) media_type: String,
    /// Bytes held when last recorded.
    pub(crate) received: u64,
}

impl Upload {
    /// What a status answer says of it, holding `received` bytes.
    pub(crate) fn meta(&self, received: u64) -> BlobMeta {
        BlobMeta {
            hash: self.hash.clone(),
            size: self.size,
            media_type: self.media_type.clone(),
            received,
            complete: false,
            thumbnail: false,
            uploaded_by: self.device.clone(),
        }
    }
}

const UPLOAD_COLUMNS: &str = "id, hash, device, size, media_type, received";

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        hash: r.get(1)?,
        device: r.get(2)?,
        size: to_u64(r.get(3)?),
        media_type: r.get(4)?,
        received: to_u64(r.get(5)?),
    })
}

/// The complete blob `hash`, if the server holds it.
pub(crate) fn get(conn: &Connection, hash: &str) -> StorageResult<Option<BlobMeta>> {
    let row = conn
        .prepare_cached(
            "SELECT size, media_type, thumbnail, uploaded_by FROM blobs \
             WHERE hash = ?1 AND complete = 1",
        )?
        .query_row([hash], |r| {
            let size = to_u64(r.get(0)?);
            Ok(BlobMeta {
                hash: hash.to_string(),
                size,
                media_type: r.get(1)?,
                received: size,
                complete: true,
                thumbnail: r.get(2)?,
                uploaded_by: r.get(3)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// The upload of `hash` that `device` has under way.
pub(crate) fn upload(conn: &Connection, hash: &str, device: &str) -> StorageResult<Option<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads WHERE hash = ?1 AND device = ?2");
    Ok(conn.prepare_cached(&sql)?.query_row([hash, device], upload_row).optional()?)
}

/// Every upload under way (what a restart looks at).
pub(crate) fn uploads(conn: &Connection) -> StorageResult<Vec<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], upload_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Bytes `device` holds: the blobs it uploaded and its uploads under way, each at its declared
/// size.
pub(crate) fn used(conn: &Connection, device: &str) -> StorageResult<u64> {
    let used: i64 = conn
        .prepare_cached(
            "SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE uploaded_by = ?1) \
                  + (SELECT coalesce(sum(size), 0) FROM blob_uploads WHERE device = ?1)",
        )?
        .query_row([device], |r| r.get(0))?;
    Ok(to_u64(used))
}

/// Records a new upload of `device`'s; returns it.
pub(crate) fn start(
    conn: &Connection,
    hash: &str,
    size: u64,
    media_type: &str,
    device: &str,
) -> StorageResult<Upload> {
    conn.prepare_cached(
        "INSERT INTO blob_uploads (hash, device, size, media_type, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        hash,
        device,
        sql_size(size),
        media_type,
        fieldsync_core::time::now_ms()
    ])?;
    Ok(Upload {
        id: conn.last_insert_rowid(),
        hash: hash.to_string(),
        device: device.to_string(),
        size,
        media_type: media_type.to_string(),
        received: 0,
    })
}

/// Records how much of an upload is held.
pub(crate) fn set_received(conn: &Connection, id: i64, received: u64) -> StorageResult<()> {
    conn.prepare_cached("UPDATE blob_uploads SET received = ?2 WHERE id = ?1")?
        .execute(params![id, sql_size(received)])?;
    Ok(())
}

/// Records `upload`'s blob complete and in place, its thumbnail still to be made, and ends
/// every upload of it (one transaction); returns the other devices' uploads that were ended,
/// whose files the caller removes.
pub(crate) fn complete(conn: &Connection, upload: &Upload) -> StorageResult<Vec<Upload>> {
    let tx = conn.unchecked_transaction()?;
    let now = fieldsync_core::time::now_ms();
    tx.prepare_cached(
        "INSERT INTO blobs (hash, size, media_type, received, complete, thumbnail, \
         thumbnail_pending, uploaded_by, created_at, completed_at) \
         VALUES (?1, ?2, ?3, ?2, 1, 0, 1, ?4, ?5, ?5) ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![
        upload.hash,
        sql_size(upload.size),
        upload.media_type,
        upload.device,
        now
    ])?;
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads WHERE hash = ?1 AND id != ?2");
    let others: Vec<Upload> = tx
        .prepare_cached(&sql)?
        .query_map(params![upload.hash, upload.id], upload_row)?
        .collect::<Result<_, _>>()?;
    tx.prepare_cached("DELETE FROM blob_uploads WHERE hash = ?1")?.execute([&upload.hash])?;
    tx.commit()?;
    Ok(others)
}

/// Whether the thumbnail of complete blob `hash` is still to be made.
pub(crate) fn thumbnail_pending(conn: &Connection, hash: &str) -> StorageResult<bool> {
    let pending: Option<bool> = conn
        .prepare_cached("SELECT thumbnail_pending FROM blobs WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?;
    Ok(pending.unwrap_or(false))
}

/// Records that the thumbnail of `hash` was made (`made`), or that the blob has none.
pub(crate) fn thumbnail_made(conn: &Connection, hash: &str, made: bool) -> StorageResult<()> {
    conn.prepare_cached("UPDATE blobs SET thumbnail = ?2, thumbnail_pending = 0 WHERE hash = ?1")?
        .execute(params![hash, made])?;
    Ok(())
}

/// Forgets one upload (its bytes did not verify, or its device started again with another
/// size).
pub(crate) fn drop_upload(conn: &Connection, id: i64) -> StorageResult<()> {
    conn.prepare_cached("DELETE FROM blob_uploads WHERE id = ?1")?.execute([id])?;
    Ok(())
}
