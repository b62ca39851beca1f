//! The tables of blobs (schema in `storage/sqlite/sql/v4.sql` to `v6.sql`): `blobs`, the
//! complete blobs, `blob_uploads`, the uploads under way, one per blob and device, and
//! `blob_holders`, the devices that proved they hold a blob's bytes; and the key that seals
//! possession challenges, in `meta`. Plain functions on a connection; the caller holds it.

use rusqlite::{Connection, OptionalExtension, params};

use super::PhotoMeta;
use crate::storage::sqlite::columns::{sql_size, to_u64};
use crate::storage::{StorageError, StorageResult};

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
    pub(crate) fn meta(&self, received: u64) -> PhotoMeta {
        PhotoMeta {
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
pub(crate) fn get(conn: &Connection, hash: &str) -> StorageResult<Option<PhotoMeta>> {
    let row = conn
        .prepare_cached(
            "SELECT size, media_type, thumbnail, uploaded_by FROM blobs \
             WHERE hash = ?1 AND complete = 1",
        )?
        .query_row([hash], |r| {
            let size = to_u64(r.get(0)?);
            Ok(PhotoMeta {
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

/// Records `upload`'s blob complete and in place, its thumbnail still to be made, and its
/// device a holder; the upload ends (one transaction). The other devices' uploads of the blob
/// go on: each proves, at its own end, that its device holds the bytes.
pub(crate) fn complete(conn: &Connection, upload: &Upload) -> StorageResult<()> {
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
    hold(&tx, &upload.hash, &upload.device, Proof::Upload)?;
    tx.prepare_cached("DELETE FROM blob_uploads WHERE id = ?1")?.execute([upload.id])?;
    tx.commit()?;
    Ok(())
}

/// How a device proved it holds a blob (`blob_holders.how`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Its upload of the blob completed and verified.
    Upload,
    /// It answered a possession challenge over ranges the server picked.
    Challenge,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Proof::Upload => "upload",
            Proof::Challenge => "challenge",
        }
    }
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
/// and the upload ends without storing the bytes a second time (one transaction).
pub(crate) fn held_by_upload(conn: &Connection, upload: &Upload) -> StorageResult<()> {
    let tx = conn.unchecked_transaction()?;
    hold(&tx, &upload.hash, &upload.device, Proof::Upload)?;
    tx.prepare_cached("DELETE FROM blob_uploads WHERE id = ?1")?.execute([upload.id])?;
    tx.commit()?;
    Ok(())
}

/// The devices that hold blob `hash`, in the order they proved it.
pub(crate) fn holders(conn: &Connection, hash: &str) -> StorageResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device FROM blob_holders WHERE hash = ?1 ORDER BY proven_at, device",
    )?;
    let rows = stmt.query_map([hash], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `device` holds blob `hash`.
pub(crate) fn holds(conn: &Connection, hash: &str, device: &str) -> StorageResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blob_holders WHERE hash = ?1 AND device = ?2")?
        .exists([hash, device])?)
}

/// The key of the `meta` table that holds the challenge key (hex).
const CHALLENGE_KEY: &str = "blob_challenge_key";

/// The key that seals possession challenges: 32 random bytes made the first time and kept in
/// `meta`, so that challenges outlive a restart and every server instance on the database
/// reads the same key (the first writer's, whoever races).
pub(crate) fn challenge_key(conn: &Connection) -> StorageResult<[u8; 32]> {
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut fresh);
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
