//! The SQL of what is known of photos' bytes: `blobs`, the complete blobs; `blob_uploads`, the
//! uploads under way, one per blob and device; `blob_holders`, the devices that proved they
//! hold a blob; `blob_refs`, the references documents make (written with the documents, see
//! `documents`); and the challenge key, in `meta`. Writes run SERIALIZABLE (`db::Db::write`):
//! two uploads of one device started at once cannot both pass on the same room.

use tokio_postgres::Row;

use super::columns::{AUDIENCE, audience_at, doc_id_at, sql_size, to_u64};
use super::db::{Tx, execute, query, query_one, query_opt};
use crate::storage::{
    BlobRecord, NewUpload, Proof, Started, StorageError, StorageResult, StoredBlob, StoredBlobRef,
    Upload,
};

const UPLOAD_COLUMNS: &str = "id, hash, device, size, media_type, received";

fn upload_row(r: &Row) -> StorageResult<Upload> {
    Ok(Upload {
        id: r.try_get(0)?,
        hash: r.try_get(1)?,
        device: r.try_get(2)?,
        size: to_u64(r.try_get(3)?),
        media_type: r.try_get(4)?,
        received: to_u64(r.try_get(5)?),
    })
}

pub(crate) async fn blob_refs(tx: &Tx<'_>, hash: &str) -> StorageResult<Vec<StoredBlobRef>> {
    let sql = format!(
        "SELECT d.doc_id, {AUDIENCE}, r.size, r.media_type, r.device \
         FROM blob_refs r JOIN docs d ON d.id = r.doc WHERE r.hash = $1"
    );
    query(tx, &sql, &[&hash])
        .await?
        .iter()
        .map(|r| {
            let device: String = r.try_get(9)?;
            Ok(StoredBlobRef {
                doc: doc_id_at(r, 0)?,
                audience: audience_at(r, 1)?,
                size: to_u64(r.try_get(7)?),
                media_type: r.try_get(8)?,
                device: (!device.is_empty()).then_some(device),
            })
        })
        .collect()
}

/// The complete blob `hash`.
pub(crate) async fn blob(tx: &Tx<'_>, hash: &str) -> StorageResult<Option<StoredBlob>> {
    let Some(r) = query_opt(
        tx,
        "SELECT size, media_type, thumbnail, uploaded_by FROM blobs WHERE hash = $1 AND complete",
        &[&hash],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(StoredBlob {
        hash: hash.to_string(),
        size: to_u64(r.try_get(0)?),
        media_type: r.try_get(1)?,
        thumbnail: r.try_get(2)?,
        uploaded_by: r.try_get(3)?,
    }))
}

/// The upload of `hash` that `device` has under way.
pub(crate) async fn upload(tx: &Tx<'_>, hash: &str, device: &str) -> StorageResult<Option<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads WHERE hash = $1 AND device = $2");
    query_opt(tx, &sql, &[&hash, &device]).await?.map(|r| upload_row(&r)).transpose()
}

/// Every upload under way.
pub(crate) async fn uploads(tx: &Tx<'_>) -> StorageResult<Vec<Upload>> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM blob_uploads ORDER BY id");
    query(tx, &sql, &[]).await?.iter().map(upload_row).collect()
}

/// The devices that hold blob `hash`, in the order they proved it.
async fn holders(tx: &Tx<'_>, hash: &str) -> StorageResult<Vec<String>> {
    query(
        tx,
        "SELECT device FROM blob_holders WHERE hash = $1 ORDER BY proven_at, device COLLATE \"C\"",
        &[&hash],
    )
    .await?
    .iter()
    .map(|r| Ok(r.try_get(0)?))
    .collect()
}

/// The complete blob, the device's upload and the holders, in the caller's one transaction.
pub(crate) async fn record(tx: &Tx<'_>, hash: &str, device: &str) -> StorageResult<BlobRecord> {
    Ok(BlobRecord {
        blob: blob(tx, hash).await?,
        upload: upload(tx, hash, device).await?,
        holders: holders(tx, hash).await?,
    })
}

/// Bytes `device`'s quota carries: the blobs its upload completed first and its uploads under
/// way, each at its declared size.
pub(crate) async fn bytes_used(tx: &Tx<'_>, device: &str) -> StorageResult<u64> {
    let used: i64 = query_one(
        tx,
        "SELECT ((SELECT coalesce(sum(size), 0) FROM blobs WHERE uploaded_by = $1) \
               + (SELECT coalesce(sum(size), 0) FROM blob_uploads WHERE device = $1))::bigint",
        &[&device],
    )
    .await?
    .try_get(0)?;
    Ok(to_u64(used))
}

/// Starts an upload within `quota`, the check and the row in the caller's transaction.
pub(crate) async fn start_upload(tx: &Tx<'_>, u: &NewUpload, quota: u64) -> StorageResult<Started> {
    let used = bytes_used(tx, &u.device).await?;
    if used.saturating_add(u.size) > quota {
        return Ok(Started::OverQuota { used });
    }
    let id: i64 = query_one(
        tx,
        "INSERT INTO blob_uploads (hash, device, size, media_type, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&u.hash, &u.device, &sql_size(u.size), &u.media_type, &fieldsync_core::time::now_ms()],
    )
    .await?
    .try_get(0)?;
    Ok(Started::Upload(Upload {
        id,
        hash: u.hash.clone(),
        device: u.device.clone(),
        size: u.size,
        media_type: u.media_type.clone(),
        received: 0,
    }))
}

/// Records how much of an upload is held.
pub(crate) async fn set_received(tx: &Tx<'_>, id: i64, received: u64) -> StorageResult<()> {
    execute(tx, "UPDATE blob_uploads SET received = $2 WHERE id = $1", &[&id, &sql_size(received)])
        .await?;
    Ok(())
}

/// Records `upload`'s blob complete and in place, its thumbnail still to be made, and its
/// device a holder; the upload ends.
pub(crate) async fn complete_upload(tx: &Tx<'_>, upload: &Upload) -> StorageResult<()> {
    let now = fieldsync_core::time::now_ms();
    execute(
        tx,
        "INSERT INTO blobs (hash, size, media_type, received, complete, thumbnail, \
         thumbnail_pending, uploaded_by, created_at, completed_at) \
         VALUES ($1, $2, $3, $2, TRUE, FALSE, TRUE, $4, $5, $5) ON CONFLICT (hash) DO NOTHING",
        &[&upload.hash, &sql_size(upload.size), &upload.media_type, &upload.device, &now],
    )
    .await?;
    hold(tx, &upload.hash, &upload.device, Proof::Upload).await?;
    drop_upload(tx, upload.id).await
}

/// Records that `device` holds blob `hash`; a device proven before keeps its first proof.
pub(crate) async fn hold(tx: &Tx<'_>, hash: &str, device: &str, how: Proof) -> StorageResult<()> {
    execute(
        tx,
        "INSERT INTO blob_holders (hash, device, proven_at, how) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        &[&hash, &device, &fieldsync_core::time::now_ms(), &how.as_str()],
    )
    .await?;
    Ok(())
}

/// Records that `upload`, of a blob complete already, verified.
pub(crate) async fn verified_upload(tx: &Tx<'_>, upload: &Upload) -> StorageResult<()> {
    hold(tx, &upload.hash, &upload.device, Proof::Upload).await?;
    drop_upload(tx, upload.id).await
}

/// Forgets one upload.
pub(crate) async fn drop_upload(tx: &Tx<'_>, id: i64) -> StorageResult<()> {
    execute(tx, "DELETE FROM blob_uploads WHERE id = $1", &[&id]).await?;
    Ok(())
}

/// Whether the thumbnail of complete blob `hash` is still to be made.
pub(crate) async fn thumbnail_pending(tx: &Tx<'_>, hash: &str) -> StorageResult<bool> {
    let row =
        query_opt(tx, "SELECT thumbnail_pending FROM blobs WHERE hash = $1", &[&hash]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(false))
}

/// Records that the thumbnail of `hash` was made (`made`), or that the blob has none.
pub(crate) async fn thumbnail_made(tx: &Tx<'_>, hash: &str, made: bool) -> StorageResult<()> {
    execute(
        tx,
        "UPDATE blobs SET thumbnail = $2, thumbnail_pending = FALSE WHERE hash = $1",
        &[&hash, &made],
    )
    .await?;
    Ok(())
}

/// The key of the `meta` table that holds the challenge key (hex).
const CHALLENGE_KEY: &str = "blob_challenge_key";

/// The key that seals possession challenges: 32 random bytes made the first time and kept in
/// `meta` (the first writer's, whoever races).
pub(crate) async fn challenge_key(tx: &Tx<'_>) -> StorageResult<[u8; 32]> {
    let fresh: [u8; 32] = rand::random();
    execute(
        tx,
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&CHALLENGE_KEY, &hex::encode(fresh)],
    )
    .await?;
    let stored: String = query_one(tx, "SELECT value FROM meta WHERE key = $1", &[&CHALLENGE_KEY])
        .await?
        .try_get(0)?;
    let corrupt = || StorageError::Corrupt(format!("meta {CHALLENGE_KEY} is not 64 hex digits"));
    let mut key = [0u8; 32];
    hex::decode_to_slice(&stored, &mut key).map_err(|_| corrupt())?;
    Ok(key)
}
