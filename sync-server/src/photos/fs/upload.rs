//! A device's upload of a blob, chunk by chunk, and its end: the bytes verified against the
//! blob's name, then either the blob put in place (the first upload to verify) or, for a blob
//! the server holds already, the device recorded a holder and its bytes dropped. Either way
//! the device comes to hold the blob only by sending every byte of it.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

use super::{Inner, io, sha256_file, sync_dir};
use crate::photos::meta::{self, Upload};
use crate::photos::{Chunk, PhotoError, PhotoMeta, PhotoResult, io_error};

impl Inner {
    /// Stores one chunk of the device's own upload; the caller holds the blob's lock.
    pub(super) fn write(&self, chunk: &Chunk) -> PhotoResult<PhotoMeta> {
        let hash = chunk.hash.as_str();
        {
            let db = self.db();
            if let Some(m) = meta::get(&db, hash)?
                && m.size == chunk.size
                && meta::holds(&db, hash, &chunk.device)?
            {
                return Ok(m);
            }
        }
        let mut found = meta::upload(&self.db(), hash, &chunk.device)?;
        if let Some(upload) = found.take_if(|u| u.size != chunk.size) {
            // The device's own upload of another size (only its own reference allowed it):
            // it starts again at the size it sends now.
            self.drop_upload(&upload)?;
        }
        let received = match &found {
            Some(upload) => self.held(upload)?,
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
            None => self.start(chunk)?,
        };
        let end = chunk.last() + 1;
        let mut held = received;
        if end > received {
            let path = self.partial(&upload);
            let fresh = &chunk.bytes[usize::try_from(received - chunk.first).unwrap_or(0)..];
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io(&path))?;
            file.seek(SeekFrom::Start(received)).map_err(io(&path))?;
            file.write_all(fresh).map_err(io(&path))?;
            file.sync_data().map_err(io(&path))?;
            meta::set_received(&self.db(), upload.id, end)?;
            held = end;
        }
        if held == upload.size {
            return self.finish(&upload);
        }
        Ok(upload.meta(held))
    }

    /// Starts an upload for `chunk.device`, within its quota; nothing is stored otherwise.
    fn start(&self, chunk: &Chunk) -> PhotoResult<Upload> {
        let upload = {
            // The quota check and the new row under one hold of the connection: two uploads
            // of the same device cannot both pass on the same room.
            let db = self.db();
            let used = meta::used(&db, &chunk.device)?;
            if used.saturating_add(chunk.size) > chunk.quota {
                return Err(PhotoError::QuotaExceeded {
                    used,
                    size: chunk.size,
                    quota: chunk.quota,
                });
            }
            meta::start(&db, &chunk.hash, chunk.size, &chunk.media_type, &chunk.device)?
        };
        // A file left by an upload that was then discarded must not count as received.
        let path = self.partial(&upload);
        File::create(&path).map_err(io(&path))?;
        Ok(upload)
    }

    /// Ends an upload that will not complete: its file first (a row without a file is an
    /// upload at 0, never stale bytes), then its row.
    pub(super) fn drop_upload(&self, upload: &Upload) -> PhotoResult<()> {
        let path = self.partial(upload);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, e)),
        }
        meta::drop_upload(&self.db(), upload.id)?;
        Ok(())
    }

    /// Ends an upload holding all its bytes: they are verified; the first upload of a blob to
    /// verify puts it in place (its thumbnail is made afterwards, see
    /// [`Inner::make_thumbnail`]), a later one makes its device a holder and is dropped
    /// (see [`Inner::held_already`]). A mismatch discards this upload only. Idempotent across
    /// crashes: a file already in place is recorded complete.
    pub(super) fn finish(&self, upload: &Upload) -> PhotoResult<PhotoMeta> {
        let hash = upload.hash.as_str();
        let stored = meta::get(&self.db(), hash)?;
        if let Some(blob) = stored {
            return self.held_already(upload, blob);
        }
        let partial = self.partial(upload);
        let target = self.complete(hash);
        let source = if fs::exists(&partial).unwrap_or(false) { &partial } else { &target };
        let actual = sha256_file(source)?;
        if actual != hash {
            fs::remove_file(source).map_err(io(source))?;
            return self.mismatch(upload, actual);
        }
        if source == &partial {
            File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
            let dir = self.complete_dir(hash);
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            fs::rename(&partial, &target).map_err(io(&target))?;
            sync_dir(&dir)?;
            sync_dir(&self.root.join("partial"))?;
        }
        meta::complete(&self.db(), upload)?;
        tracing::info!(hash, size = upload.size, device = upload.device, "blob stored");
        Ok(meta::get(&self.db(), hash)?
            .unwrap_or_else(|| PhotoMeta { complete: true, ..upload.meta(upload.size) }))
    }

    /// The end of an upload of `blob`, which the server holds already (another device's
    /// upload came first): the bytes are verified all the same, then dropped; the device holds
    /// the blob, and no quota carries the bytes twice.
    fn held_already(&self, upload: &Upload, blob: PhotoMeta) -> PhotoResult<PhotoMeta> {
        let partial = self.partial(upload);
        let actual = match sha256_file(&partial) {
            Ok(actual) => actual,
            // A row without a file holds nothing: nothing verifies.
            Err(PhotoError::Storage(_)) if !fs::exists(&partial).unwrap_or(true) => String::new(),
            Err(e) => return Err(e),
        };
        if actual != upload.hash {
            self.drop_upload(upload)?;
            return self.mismatch(upload, actual);
        }
        match fs::remove_file(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&partial, e)),
        }
        meta::held_by_upload(&self.db(), upload)?;
        tracing::info!(
            hash = upload.hash,
            device = upload.device,
            "an upload of a stored blob verified"
        );
        Ok(blob)
    }

    /// Forgets an upload whose bytes hash to `actual`, not to its blob's name.
    fn mismatch(&self, upload: &Upload, actual: String) -> PhotoResult<PhotoMeta> {
        meta::drop_upload(&self.db(), upload.id)?;
        tracing::info!(
            hash = upload.hash,
            actual,
            size = upload.size,
            "upload discarded: the bytes do not verify"
        );
        Err(PhotoError::HashMismatch { hash: upload.hash.clone(), actual, size: upload.size })
    }
}
