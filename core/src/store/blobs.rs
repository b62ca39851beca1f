//! Photos in the phone's store (docs/blobs.md, "Phone side"): adding one — its file and the
//! reference in the record in one step —, what is known of each blob, and the state changes the
//! upload and download queues of the sync client make.
//!
//! Lock order: the blob folder's lock (`BlobDir::lock`) before the writer, never the other way.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::blob_files::{PhotoSource, PhotoVariant};
use super::blob_io::{BlobReader, BlobWriter, FileKeys};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::{Command, PhotoRef};
use crate::protocol::{PHOTO_MEDIA_TYPES, is_blob_hash, is_photo_media_type};
use crate::time::{Timestamp, now_ms};

/// Where a blob's bytes are, as far as this phone knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PhotoState {
    /// Added on this phone; waits to be uploaded.
    Local,
    /// Added on this phone, and the server holds it whole.
    Uploaded,
    /// Named by a record from elsewhere; the bytes are on the server only.
    Remote,
    /// Fetched from the server and verified.
    Downloaded,
}

impl PhotoState {
    fn as_str(self) -> &'static str {
        match self {
            PhotoState::Local => "local",
            PhotoState::Uploaded => "uploaded",
            PhotoState::Remote => "remote",
            PhotoState::Downloaded => "downloaded",
        }
    }

    fn parse(s: &str) -> Option<PhotoState> {
        [PhotoState::Local, PhotoState::Uploaded, PhotoState::Remote, PhotoState::Downloaded]
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// Whether the whole bytes are on this phone.
    pub fn is_here(self) -> bool {
        !matches!(self, PhotoState::Remote)
    }
}

/// What the store knows of one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PhotoInfo {
    /// Lower-case hex SHA-256.
    pub hash: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Where the bytes are.
    pub state: PhotoState,
    /// For a `Local` photo, the bytes the server was last known to hold; for a `Remote` one,
    /// the bytes of a download in progress.
    pub received: i64,
    /// When the store first learnt of it.
    pub added_at: Timestamp,
    /// Why the server refused the upload for good (`too_large`, `quota_exceeded`,
    /// `hash_mismatch`); the photo is not offered again until its upload is retried.
    pub refused_code: Option<String>,
    /// The server's message with the refusal.
    pub refused_message: Option<String>,
    /// Records in this store that reference it.
    pub documents: i64,
}

/// A photo the upload queue is to send.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) hash: String,
    pub(crate) size: u64,
    pub(crate) media_type: String,
    pub(crate) file: PathBuf,
    /// How the file is kept.
    pub(crate) keys: FileKeys,
}

impl Upload {
    /// Opens the photo's file to read its plaintext.
    pub(crate) fn open(&self) -> Result<BlobReader> {
        BlobReader::open(&self.file, &self.keys)
    }
}

const INFO_COLUMNS: &str = "b.hash, b.size, b.media_type, b.state, b.received, b.added_at, \
     b.refused_code, b.refused_message, \
     (SELECT count(*) FROM blob_refs r WHERE r.hash = b.hash)";

fn info_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoInfo> {
    let state: String = r.get(3)?;
    Ok(PhotoInfo {
        hash: r.get(0)?,
        size: r.get::<_, i64>(1)?.max(0),
        media_type: r.get(2)?,
        // The CHECK constraint admits only the four states.
        state: PhotoState::parse(&state).unwrap_or(PhotoState::Remote),
        received: r.get::<_, i64>(4)?.max(0),
        added_at: r.get(5)?,
        refused_code: r.get(6)?,
        refused_message: r.get(7)?,
        documents: r.get::<_, i64>(8)?.max(0),
    })
}

/// Checks a photo's media type: one of [`PHOTO_MEDIA_TYPES`] (case and surrounding spaces
/// aside, as a platform may give it); returns it as listed. Checked before the bytes are
/// copied, so a refused type costs no copy of a large file; the record's own check
/// (`validate_photos`) holds the same rule.
pub(crate) fn media_type(value: &str) -> Result<String> {
    let v = value.trim().to_ascii_lowercase();
    if is_photo_media_type(&v) {
        return Ok(v);
    }
    let shown: String = value.chars().take(limits::MEDIA_TYPE_CHARS).collect();
    Err(CoreError::invalid(
        "media_type",
        format!("{shown:?} is not a photo's media type; one of {}", PHOTO_MEDIA_TYPES.join(", ")),
    ))
}

/// Checks that `hash` names a blob.
fn blob_hash(hash: &str) -> Result<()> {
    if is_blob_hash(hash) {
        Ok(())
    } else {
        Err(CoreError::invalid("hash", format!("{hash:?} is not 64 lower-case hex digits")))
    }
}

fn info(c: &Connection, hash: &str) -> Result<Option<PhotoInfo>> {
    Ok(c.prepare_cached(&format!("SELECT {INFO_COLUMNS} FROM blobs b WHERE b.hash = ?1"))?
        .query_row([hash], info_of)
        .optional()?)
}

impl Store {
    /// Attaches a photo to a record — a report, a case, or with `entry` a patrol entry — and
    /// returns its reference. The bytes are hashed, checked (not empty, at most
    /// [`limits::BLOB_BYTES`]) and written to the store's blob folder (synced), then
    /// `Command::AddPhoto` runs: the photo is in the record at once and waits in the upload
    /// queue. An empty, oversized or unreadable source or a bad media type is `InvalidInput`;
    /// when anything fails, nothing of the photo is kept. The same bytes added twice are stored
    /// once.
    pub fn add_photo(
        &self,
        doc: DocId,
        source: &PhotoSource,
        media_type: &str,
        entry: Option<String>,
    ) -> Result<PhotoRef> {
        let media_type = self::media_type(media_type)?;
        // Copying and hashing take a while for a large photo: no lock is held meanwhile.
        let staged = self.blobs.stage(source)?;
        let size = i64::try_from(staged.size).unwrap_or(i64::MAX);
        let photo = PhotoRef { hash: staged.hash.clone(), size, media_type };
        let cmd = Command::AddPhoto { photo: photo.clone(), entry };
        let _files = self.blobs.lock();
        let placed = self.blobs.place(staged)?;
        self.execute_with(doc, &cmd, |tx| {
            // Known from another record (`remote`): the bytes are here now, and this device
            // uploads them (or, if the server holds them already, proves it holds them too).
            tx.prepare_cached(
                "INSERT INTO blobs (hash, size, media_type, state, added_at) \
                 VALUES (?1, ?2, ?3, 'local', ?4) \
                 ON CONFLICT (hash) DO UPDATE SET state = 'local', size = excluded.size, \
                 media_type = excluded.media_type, received = 0 WHERE blobs.state = 'remote'",
            )?
            .execute(params![photo.hash, size, photo.media_type, now_ms()])?;
            Ok(())
        })?;
        placed.committed();
        self.blobs.drop_partial(&photo.hash, PhotoVariant::Original)?;
        Ok(photo)
    }

    /// What the store knows of blob `hash`; `None` if no record here references it.
    pub fn photo(&self, hash: &str) -> Result<Option<PhotoInfo>> {
        blob_hash(hash)?;
        self.read(|c| info(c, hash))
    }

    /// The file holding blob `hash`, when its whole bytes are on this phone (added here, or
    /// downloaded and verified); `None` otherwise. In an encrypted store the file is sealed:
    /// read its bytes with [`Store::photo_bytes`].
    pub fn photo_file(&self, hash: &str) -> Result<Option<PathBuf>> {
        let Some(info) = self.photo(hash)? else { return Ok(None) };
        let file = self.blobs.file(hash);
        Ok((info.state.is_here() && file.is_file()).then_some(file))
    }

    /// The bytes of blob `hash` in `variant` (the original, or the server's thumbnail), when
    /// they are on this phone; `None` otherwise. This is how an encrypted store's photos are
    /// read: its files are sealed (docs/blobs.md, "Files at rest"). A file whose bytes were
    /// changed or cut on disk is `DamagedFile`, and none of it is given out.
    pub fn photo_bytes(&self, hash: &str, variant: PhotoVariant) -> Result<Option<Vec<u8>>> {
        let file = match variant {
            PhotoVariant::Original => self.photo_file(hash)?,
            PhotoVariant::Thumbnail => self.thumbnail_file(hash)?,
        };
        file.map(|f| self.blobs.reader(&f)?.read_all()).transpose()
    }

    /// The server's thumbnail of blob `hash`, once downloaded.
    pub fn thumbnail_file(&self, hash: &str) -> Result<Option<PathBuf>> {
        blob_hash(hash)?;
        let file = self.blobs.thumbnail(hash);
        Ok(file.is_file().then_some(file))
    }

    /// Photos added on this phone that the server does not hold yet (the upload queue), oldest
    /// first, those the server refused among them.
    pub fn photos_pending(&self) -> Result<Vec<PhotoInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INFO_COLUMNS} FROM blobs b WHERE b.state = 'local' \
                 ORDER BY b.added_at, b.hash"
            ))?;
            Ok(stmt.query_map([], info_of)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Photos that records here reference and whose bytes are on the server only, smallest
    /// first; with `max_size`, those of at most that many bytes.
    pub fn photos_to_download(&self, max_size: Option<i64>) -> Result<Vec<PhotoInfo>> {
        let max = max_size.unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INFO_COLUMNS} FROM blobs b WHERE b.state = 'remote' AND b.size <= ?1 \
                 AND EXISTS (SELECT 1 FROM blob_refs r WHERE r.hash = b.hash) \
                 ORDER BY b.size, b.hash"
            ))?;
            Ok(stmt.query_map([max], info_of)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Offers a photo whose upload the server refused (over quota, say) again at the next
    /// upload.
    pub fn retry_photo_upload(&self, hash: &str) -> Result<()> {
        blob_hash(hash)?;
        let mut w = self.writer();
        w.in_tx(|tx| {
            tx.prepare_cached(
                "UPDATE blobs SET refused_code = NULL, refused_message = NULL WHERE hash = ?1",
            )?
            .execute([hash])?;
            Ok(())
        })
    }

    /// The upload queue: local photos not refused, those whose records the server has
    /// acknowledged first (the server takes a photo only once a synced record references it).
    pub(crate) fn upload_queue(&self) -> Result<Vec<Upload>> {
        let rows: Vec<(String, i64, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT b.hash, b.size, b.media_type FROM blobs b \
                 WHERE b.state = 'local' AND b.refused_code IS NULL \
                 ORDER BY NOT EXISTS (SELECT 1 FROM blob_refs r JOIN sync_docs s ON s.doc = r.doc \
                 WHERE r.hash = b.hash AND s.pending = 0), b.added_at, b.hash",
            )?;
            Ok(stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })?;
        let keys = self.blobs.keys();
        Ok(rows
            .into_iter()
            .map(|(hash, size, media_type)| Upload {
                file: self.blobs.file(&hash),
                keys: keys.clone(),
                size: size.max(0) as u64,
                hash,
                media_type,
            })
            .collect())
    }

    /// Sets a blob's `received` (bytes the server holds of an upload, or of a download here).
    pub(crate) fn set_photo_received(&self, hash: &str, received: u64) -> Result<()> {
        let received = i64::try_from(received).unwrap_or(i64::MAX);
        let mut w = self.writer();
        w.in_tx(|tx| {
            tx.prepare_cached("UPDATE blobs SET received = ?2 WHERE hash = ?1")?
                .execute(params![hash, received])?;
            Ok(())
        })
    }

    /// The server holds local photo `hash` whole.
    pub(crate) fn photo_uploaded(&self, hash: &str) -> Result<()> {
        let mut w = self.writer();
        w.in_tx(|tx| {
            tx.prepare_cached(
                "UPDATE blobs SET state = 'uploaded', received = size, refused_code = NULL, \
                 refused_message = NULL WHERE hash = ?1 AND state = 'local'",
            )?
            .execute([hash])?;
            Ok(())
        })
    }

    /// The server refused the upload of `hash` for good: it is left out of the queue until
    /// [`Store::retry_photo_upload`].
    pub(crate) fn photo_refused(&self, hash: &str, code: &str, message: &str) -> Result<()> {
        let mut w = self.writer();
        w.in_tx(|tx| {
            tx.prepare_cached(
                "UPDATE blobs SET refused_code = ?2, refused_message = ?3 WHERE hash = ?1",
            )?
            .execute(params![hash, code, message])?;
            Ok(())
        })
    }

    /// What a download of `hash` needs to know; `InvalidInput` if no record here references it.
    pub(crate) fn photo_to_fetch(&self, hash: &str) -> Result<PhotoInfo> {
        self.photo(hash)?.ok_or_else(|| {
            CoreError::invalid("hash", format!("no record in this store references photo {hash}"))
        })
    }

    /// Ends the download of an original: verifies the partial file against `hash`, moves it to
    /// its final name and marks the blob downloaded. Bytes that do not match are removed
    /// (`HashMismatch`).
    pub(crate) fn finish_photo_download(&self, hash: &str) -> Result<PathBuf> {
        let _files = self.blobs.lock();
        let file = self.blobs.finish_original(hash)?;
        let mut w = self.writer();
        w.in_tx(|tx| {
            tx.prepare_cached(
                "UPDATE blobs SET state = 'downloaded', received = size \
                 WHERE hash = ?1 AND state = 'remote'",
            )?
            .execute([hash])?;
            Ok(())
        })?;
        Ok(file)
    }

    /// Held by a download of `variant` of `hash` (see `BlobDir::transfer_lock`).
    pub(crate) fn photo_transfer_lock(
        &self,
        hash: &str,
        variant: PhotoVariant,
    ) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.blobs.transfer_lock(hash, variant)
    }

    /// The partial download of `variant` of `hash`, opened to continue, with the bytes it
    /// keeps; `None` with `size` when it holds the original of `size` bytes whole already.
    pub(crate) fn open_photo_partial(
        &self,
        hash: &str,
        variant: PhotoVariant,
        size: Option<u64>,
    ) -> Result<(Option<BlobWriter>, u64)> {
        self.blobs.open_partial(hash, variant, size)
    }

    /// Removes the partial download of `variant` of `hash` (its bytes cannot be resumed).
    pub(crate) fn drop_photo_partial(&self, hash: &str, variant: PhotoVariant) -> Result<()> {
        self.blobs.drop_partial(hash, variant)
    }

    /// Ends the download of a thumbnail.
    pub(crate) fn finish_thumbnail_download(&self, hash: &str) -> Result<PathBuf> {
        let _files = self.blobs.lock();
        self.blobs.finish_thumbnail(hash)
    }

    /// Forgets blobs no record here references any more (their records left the store when
    /// the user's rights changed) and removes their files; photos still to upload stay.
    pub(crate) fn forget_unreferenced_photos(&self) -> Result<usize> {
        self.forget_photos(true)
    }

    /// Forgets every blob no record here references, photos still to upload too (the phone was
    /// handed to another user, and the first user's records went), and removes their files.
    pub(crate) fn forget_photos_of_no_record(&self) -> Result<usize> {
        self.forget_photos(false)
    }

    fn forget_photos(&self, keep_local: bool) -> Result<usize> {
        let _files = self.blobs.lock();
        let gone: Vec<String> = {
            let mut w = self.writer();
            w.in_tx(|tx| {
                let gone: Vec<String> = tx
                    .prepare_cached(
                        "SELECT hash FROM blobs b WHERE (state <> 'local' OR ?1 = 0) \
                         AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.hash = b.hash)",
                    )?
                    .query_map([keep_local], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut delete = tx.prepare_cached("DELETE FROM blobs WHERE hash = ?1")?;
                for h in &gone {
                    delete.execute([h])?;
                }
                Ok(gone)
            })?
        };
        for h in &gone {
            self.blobs.remove_all(h)?;
        }
        Ok(gone.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(media_type(" Image/JPEG ").ok().as_deref(), Some("image/jpeg"));
        assert_eq!(media_type("image/heic").ok().as_deref(), Some("image/heic"));
        for bad in [
            "",
            "jpeg",
            "image/",
            "/jpeg",
            "image/jpeg; q=1",
            "image/jp eg",
            "a/b/c",
            "text/html",
            "text/plain",
            "image/svg+xml",
            "application/pdf",
        ] {
            match media_type(bad) {
                Err(CoreError::InvalidInput { field: "media_type", reason }) => {
                    assert!(reason.contains("image/jpeg, image/png"), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
