//! The SQL of what is known of photos' bytes (schema versions 4 to 6): `blobs`, the complete
//! blobs; `blob_uploads`, the uploads under way, one per blob and device; `blob_holders`, the
//! devices that proved they hold a blob; `blob_refs`, the references documents make (written
//! with the documents, see `writer`); and the challenge key, in `meta`. Reads on a reader
//! connection, writes as jobs of the writer thread.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::columns::{audience_at, doc_id, sql_size, to_u64};
use crate::storage::{
    BlobRecord, NewUpload, Proof, Started, StorageError, StorageResult, StoredBlob, StoredBlobRef,
    Upload,
};

const UPLOAD_COLUMNS: &str = "id, hash, device, size, media_type, received";

fn upload_row(r: &Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        hash: r.get(1)?,
        device: r.get(2)?,
        size: to_u64(r.get(3)?),
        media_type: r.get(4)?,
        received: to_u64(r.get(5)?),
    })
}

pub(crate) fn blob_refs(conn: &Connection, hash: &str) -> StorageResult<Vec<StoredBlobRef>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.doc_id, d.kind, d.scope, d.created_by, d.participants, d.addressed, \
         d.valid_until, r.size, r.media_type, r.device \
         FROM blob_refs r JOIN docs d ON d.id = r.doc WHERE r.hash = ?1",
    )?;
    let mut rows = stmt.query([hash])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let device: String = r.get(9)?;
        out.push(StoredBlobRef {
            doc: doc_id(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?)?,
            audience: audience_at(r, 1)?,
            size: to_u64(r.get(7)?),
            media_type: r.get(8)?,
            device: (!device.is_empty()).then_some(device),
        });
    }
    Ok(out)
}

/// The complete blob `hash`.
pub(crate) fn blob(conn: &Connection, hash: &str) -> StorageResult<Option<StoredBlob>> {
    Ok(conn
        .prepare_cached(
            "SELECT size, media_type, thumbnail, uploaded_by FROM blobs \
             WHERE hash = ?1 AND complete = 1",
        )?
        .query_row([hash], |r| {
            Ok(StoredBlob {
                hash: hash.to_string(),
                size: to_u64(r.get(0)?),
                media_type: r.get(1)?,
                thumbnail: r.get(2)?,
                uploaded_by: r.get(3)?,
            })
        })
        .optional()?)
}

/// The upload of `hash` that `device` has under way.
pub(crate) fn upload(conn: &Connection, hash: &str, device: &str) -> StorageResult<Option<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads WHERE hash = ?1 AND device = ?2");
    Ok(conn.prepare_cached(&sql)?.query_row([hash, device], upload_row).optional()?)
}

/// Every upload under way.
pub(crate) fn uploads(conn: &Connection) -> StorageResult<Vec<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], upload_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The devices that hold blob `hash`, in the order they proved it.
pub(crate) fn holders(conn: &Connection, hash: &str) -> StorageResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device FROM blob_holders WHERE hash = ?1 ORDER BY proven_at, device",
    )?;
    let rows = stmt.query_map([hash], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The complete blob, the device's upload and the holders, in the caller's one transaction.
pub(crate) fn record(conn: &Connection, hash: &str, device: &str) -> StorageResult<BlobRecord> {
    Ok(BlobRecord {
        blob: blob(conn, hash)?,
        upload: upload(conn, hash, device)?,
        holders: holders(conn, hash)?,
    })
}

/// Bytes `device`'s quota carries: the blobs its upload completed first and its uploads under
/// way, each at its declared size.
pub(crate) fn bytes_used(conn: &Connection, device: &str) -> StorageResult<u64> {
    let used: i64 = conn
        .prepare_cached(
            "SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE uploaded_by = ?1) \
                  + (SELECT coalesce(sum(size), 0) FROM blob_uploads WHERE device = ?1)",
        )?
        .query_row([device], |r| r.get(0))?;
    Ok(to_u64(used))
}

/// Starts an upload within `quota`, the check and the row in one transaction (the caller's):
/// two uploads of one device cannot both pass on the same room.
pub(crate) fn start_upload(conn: &Connection, u: &NewUpload, quota: u64) -> StorageResult<Started> {
    let used = bytes_used(conn, &u.device)?;
    if used.saturating_add(u.size) > quota {
        return Ok(Started::OverQuota { used });
    }
    conn.prepare_cached(
        "INSERT INTO blob_uploads (hash, device, size, media_type, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        u.hash,
        u.device,
        sql_size(u.size),
        u.media_type,
        fieldsync_core::time::now_ms()
    ])?;
    Ok(Started::Upload(Upload {
        id: conn.last_insert_rowid(),
        hash: u.hash.clone(),
        device: u.device.clone(),
        size: u.size,
        media_type: u.media_type.clone(),
        received: 0,
    }))
}

/// Records how much of an upload is held.
pub(crate) fn set_received(conn: &Connection, id: i64, received: u64) -> StorageResult<()> {
    conn.prepare_cached("UPDATE blob_uploads SET received = ?2 WHERE id = ?1")?
        .execute(params![id, sql_size(received)])?;
    Ok(())
}

/// Records `upload`'s blob complete and in place, its thumbnail still to be made, and its
/// device a holder; the upload ends. The other devices' uploads of the blob go on: each
/// proves, at its own end, that its device holds the bytes.
pub(crate) fn complete_upload(conn: &Connection, upload: &Upload) -> StorageResult<()> {
    let now = fieldsync_core::time::now_ms();
    conn.prepare_cached(
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
    hold(conn, &upload.hash, &upload.device, Proof::Upload)?;
    drop_upload(conn, upload.id)
}

/// Records that `device` holds blob `hash`; a device proven before keeps its first proof.
pub(crate) fn hold(conn: &Connection, hash: &str, device: &str, how: Proof) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blob_holders (hash, device, proven_at, how) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![hash, device, fieldsync_core::time::now_ms(), how.as_str()])?;
    Ok(())
}

/// Records that `upload`, of a blob complete already, verified: its device holds the blob,
/// and the upload ends without storing the bytes a second time.
pub(crate) fn verified_upload(conn: &Connection, upload: &Upload) -> StorageResult<()> {
    hold(conn, &upload.hash, &upload.device, Proof::Upload)?;
    drop_upload(conn, upload.id)
}

/// Forgets one upload.
pub(crate) fn drop_upload(conn: &Connection, id: i64) -> StorageResult<()> {
    conn.prepare_cached("DELETE FROM blob_uploads WHERE id = ?1")?.execute([id])?;
    Ok(())
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

/// The key of the `meta` table that holds the challenge key (hex).
const CHALLENGE_KEY: &str = "blob_challenge_key";

/// The key that seals possession challenges: 32 random bytes made the first time and kept in
/// `meta` (the first writer's, whoever races).
pub(crate) fn challenge_key(conn: &Connection) -> StorageResult<[u8; 32]> {
    let fresh: [u8; 32] = rand::random();
    conn.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([CHALLENGE_KEY, &hex::encode(fresh)])?;
    let stored: String = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([CHALLENGE_KEY], |r| r.get(0))?;
    let corrupt = || StorageError::Corrupt(format!("meta {CHALLENGE_KEY} is not 64 hex digits"));
    let mut key = [0u8; 32];
    hex::decode_to_slice(&stored, &mut key).map_err(|_| corrupt())?;
    Ok(key)
}
