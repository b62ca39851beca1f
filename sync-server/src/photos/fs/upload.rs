//! A device's upload of a photo, chunk by chunk, and its end: the bytes verified against the
//! photo's name, then either the blob put in place (the first upload to verify) or, for a blob
//! the server holds already, the device recorded a holder and its bytes dropped. Either way
//! the device comes to hold the blob only by sending every byte of it.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

use super::{Inner, blob_meta, blocking, io, sha256_file, sync_dir, upload_meta};
use crate::photos::{Chunk, PhotoError, PhotoMeta, PhotoResult, io_error};
use crate::storage::{NewUpload, Started, StoredBlob, Upload};

/// Removes a file that may not be there.
fn remove(path: &std::path::Path) -> PhotoResult<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

impl Inner {
    /// Stores one chunk of the device's own upload; the caller holds the blob's lock.
    pub(super) async fn write(&self, chunk: &Chunk) -> PhotoResult<PhotoMeta> {
        let hash = chunk.hash.as_str();
        let record = self.storage.blob_record(hash.to_string(), chunk.device.clone()).await?;
        if let Some(b) = record.blob
            && b.size == chunk.size
            && record.holders.contains(&chunk.device)
        {
            return Ok(blob_meta(b));
        }
        let mut found = record.upload;
        if let Some(upload) = found.take_if(|u| u.size != chunk.size) {
            // The device's own upload of another size (only its own reference allowed it):
            // it starts again at the size it sends now.
            self.drop_upload(&upload).await?;
        }
        let received = match &found {
            Some(upload) => self.held(upload).await?,
            None => 0,
        };
        if chunk.first > received {
            return Err(PhotoError::RangeNotSatisfiable(format!(
                "the range starts at byte {}, but the server holds {received} bytes of {hash}: \
                 send from {received}; received {received}",
                chunk.first
            )));
        }
        let upload = match found {
            Some(upload) => upload,
            None => self.start(chunk).await?,
        };
        let end = chunk.last() + 1;
        let mut held = received;
        if end > received {
            let path = self.partial(&upload);
            let fresh = chunk.bytes.slice(usize::try_from(received - chunk.first).unwrap_or(0)..);
            blocking(move || {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(io(&path))?;
                file.seek(SeekFrom::Start(received)).map_err(io(&path))?;
                file.write_all(&fresh).map_err(io(&path))?;
                file.sync_data().map_err(io(&path))
            })
            .await?;
            self.storage.set_received(upload.id, end).await?;
            held = end;
        }
        if held == upload.size {
            return self.finish(&upload).await;
        }
        Ok(upload_meta(&upload, held))
    }

    /// Starts an upload for `chunk.device`, within its quota; nothing is stored otherwise.
    async fn start(&self, chunk: &Chunk) -> PhotoResult<Upload> {
        let new = NewUpload {
            hash: chunk.hash.clone(),
            size: chunk.size,
            media_type: chunk.media_type.clone(),
            device: chunk.device.clone(),
        };
        let upload = match self.storage.start_upload(new, chunk.quota).await? {
            Started::Upload(upload) => upload,
            Started::OverQuota { used } => {
                return Err(PhotoError::QuotaExceeded {
                    used,
                    size: chunk.size,
                    quota: chunk.quota,
                });
            }
        };
        // A file left by an upload that was then discarded must not count as received.
        let path = self.partial(&upload);
        blocking(move || File::create(&path).map(drop).map_err(io(&path))).await?;
        Ok(upload)
    }

    /// Ends an upload that will not complete: its file first (a row without a file is an
    /// upload at 0, never stale bytes), then its row.
    pub(super) async fn drop_upload(&self, upload: &Upload) -> PhotoResult<()> {
        let path = self.partial(upload);
        blocking(move || remove(&path)).await?;
        self.storage.drop_upload(upload.id).await?;
        Ok(())
    }

    /// Ends an upload holding all its bytes: they are verified; the first upload of a blob to
    /// verify puts it in place (its thumbnail is made afterwards, see
    /// [`Inner::make_thumbnail`]), a later one makes its device a holder and is dropped
    /// (see [`Inner::held_already`]). A mismatch discards this upload only. Idempotent across
    /// crashes: a file already in place is recorded complete.
    pub(super) async fn finish(&self, upload: &Upload) -> PhotoResult<PhotoMeta> {
        let hash = upload.hash.as_str();
        if let Some(blob) = self.blob(hash).await? {
            return self.held_already(upload, blob).await;
        }
        let partial = self.partial(upload);
        let target = self.complete(hash);
        let (dir, partial_dir) = (self.complete_dir(hash), self.root.join("partial"));
        let expected = upload.hash.clone();
        let verified = blocking(move || {
            let source = if fs::exists(&partial).unwrap_or(false) { &partial } else { &target };
            let actual = sha256_file(source)?;
            if actual != expected {
                fs::remove_file(source).map_err(io(source))?;
                return Ok(Err(actual));
            }
            if source == &partial {
                File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                fs::rename(&partial, &target).map_err(io(&target))?;
                sync_dir(&dir)?;
                sync_dir(&partial_dir)?;
            }
            Ok(Ok(()))
        })
        .await?;
        if let Err(actual) = verified {
            return self.mismatch(upload, actual).await;
        }
        self.storage.complete_upload(upload.clone()).await?;
        tracing::info!(hash, size = upload.size, device = upload.device, "blob stored");
        Ok(self.blob(hash).await?.map_or_else(
            || PhotoMeta { complete: true, ..upload_meta(upload, upload.size) },
            blob_meta,
        ))
    }

    /// The end of an upload of `blob`, which the server holds already (another device's
    /// upload came first): the bytes are verified all the same, then dropped; the device holds
    /// the blob, and no quota carries the bytes twice.
    async fn held_already(&self, upload: &Upload, blob: StoredBlob) -> PhotoResult<PhotoMeta> {
        let partial = self.partial(upload);
        let expected = upload.hash.clone();
        let actual = blocking(move || {
            let actual = match sha256_file(&partial) {
                Ok(actual) => actual,
                // A row without a file holds nothing: nothing verifies.
                Err(PhotoError::Storage(_)) if !fs::exists(&partial).unwrap_or(true) => {
                    String::new()
                }
                Err(e) => return Err(e),
            };
            if actual == expected {
                remove(&partial)?;
            }
            Ok(actual)
        })
        .await?;
        if actual != upload.hash {
            self.drop_upload(upload).await?;
            return self.mismatch(upload, actual).await;
        }
        self.storage.verified_upload(upload.clone()).await?;
        tracing::info!(
            hash = upload.hash,
            device = upload.device,
            "an upload of a stored blob verified"
        );
        Ok(blob_meta(blob))
    }

    /// Forgets an upload whose bytes hash to `actual`, not to its blob's name.
    async fn mismatch(&self, upload: &Upload, actual: String) -> PhotoResult<PhotoMeta> {
        self.storage.drop_upload(upload.id).await?;
        tracing::info!(
            hash = upload.hash,
            actual,
            size = upload.size,
            "upload discarded: the bytes do not verify"
        );
        Err(PhotoError::HashMismatch { hash: upload.hash.clone(), actual, size: upload.size })
    }
}
