//! Photo downloads of the sync client (docs/blobs.md, "Downloading"): originals, verified
//! against their hash before they become visible, and thumbnails, each resumed with `Range`
//! where an interrupted one stopped; and the fetch of small photos after a sync. Lazy: nothing
//! here runs inside a records sync.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use super::blob_transport::{BlobHead, BlobSink, BlobTransport};
use super::blobs::{blob_error, tell};
use super::client::{SyncClient, blocking};
use super::progress::{DownloadSummary, PhotoProgressListener, PhotoTransfer};
use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::limits;
use crate::store::{BlobWriter, PhotoVariant};

impl<T: Transport + BlobTransport> SyncClient<T> {
    /// The original or the thumbnail of photo `hash` (one that a record in this store
    /// references), fetched from the server unless it is here already; returns its file.
    /// An interrupted download resumes where it stopped (`Range`), now or in a later call. An
    /// original becomes visible only once its bytes match its SHA-256; bytes that do not are
    /// removed (`HashMismatch`). A photo the server does not have for this device is
    /// `PhotoNotFound`; an original that is not an image has no thumbnail (`NoThumbnail`).
    pub async fn download_photo(
        &self,
        hash: &str,
        variant: PhotoVariant,
        listener: Option<&dyn PhotoProgressListener>,
    ) -> Result<PathBuf> {
        Ok(self.fetch(hash, variant, listener).await?.0)
    }

    /// Downloads the originals of photos of at most `SyncOptions::auto_download_bytes` that
    /// records here reference and whose bytes are not here, smallest first. Call it after
    /// `sync_now` (it is not part of it, so records never wait for photos). Photos the server
    /// does not have yet are counted as missing and tried again next time.
    pub async fn download_small_photos(
        &self,
        listener: Option<&dyn PhotoProgressListener>,
    ) -> Result<DownloadSummary> {
        let started = Instant::now();
        let (store, max) = (self.store.clone(), self.config.auto_download_bytes);
        let small = blocking(move || store.photos_to_download(Some(max))).await?;
        let mut sum = DownloadSummary::default();
        for p in small {
            match self.fetch(&p.hash, PhotoVariant::Original, listener).await {
                Ok((_, bytes)) => {
                    sum.downloaded += 1;
                    sum.bytes_down += super::blobs::signed(bytes);
                }
                Err(e @ (CoreError::PhotoNotFound { .. } | CoreError::HashMismatch { .. })) => {
                    tracing::info!(hash = %p.hash, "small photo not downloaded: {e}");
                    sum.missing += 1;
                }
                Err(e) => return Err(e),
            }
        }
        sum.duration = started.elapsed();
        Ok(sum)
    }

    /// [`SyncClient::download_photo`], also returning the bytes received.
    async fn fetch(
        &self,
        hash: &str,
        variant: PhotoVariant,
        listener: Option<&dyn PhotoProgressListener>,
    ) -> Result<(PathBuf, u64)> {
        let (store, h) = (self.store.clone(), hash.to_string());
        let info = blocking(move || store.photo_to_fetch(&h)).await?;
        let size = info.size.max(0).unsigned_abs();
        let lock = self.store.photo_transfer_lock(hash, variant);
        let _one = lock.lock().await;
        // Here already (perhaps fetched by another call while this one waited).
        let here = match variant {
            PhotoVariant::Original => self.store.photo_file(hash)?,
            PhotoVariant::Thumbnail => self.store.thumbnail_file(hash)?,
        };
        if let Some(file) = here {
            return Ok((file, 0));
        }
        let transfer = match variant {
            PhotoVariant::Original => PhotoTransfer::Original,
            PhotoVariant::Thumbnail => PhotoTransfer::Thumbnail,
        };
        let mut received = 0u64;
        let mut failures = 0u32;
        let mut backoff = self.backoff();
        let whole = (variant == PhotoVariant::Original).then_some(size);
        loop {
            let (file, have) = self.store.open_photo_partial(hash, variant, whole)?;
            let file = match file {
                Some(file) if variant == PhotoVariant::Thumbnail || have < size => Some(file),
                Some(file) => {
                    file.finish()?;
                    None
                }
                None => None,
            };
            let Some(file) = file else {
                let (store, h) = (self.store.clone(), hash.to_string());
                let file = blocking(move || store.finish_photo_download(&h)).await?;
                tell(listener, hash, transfer, size, size);
                return Ok((file, received));
            };
            let total = match variant {
                PhotoVariant::Original => size,
                PhotoVariant::Thumbnail => 0,
            };
            let mut sink = Partial { file, at: have, total, hash, transfer, listener, error: None };
            let result = self.transport.get_blob(hash, variant, have, &mut sink).await;
            let result = self.honour_wipe(result).await;
            let Partial { file, at, total, error, .. } = sink;
            // What survives this attempt: a sealed file keeps whole chunks only.
            let kept = file.kept();
            received += at.saturating_sub(have);
            if let Some(e) = error {
                return Err(e.into());
            }
            if result.is_ok() && (variant == PhotoVariant::Thumbnail || at >= size) {
                file.finish()?;
            }
            if variant == PhotoVariant::Original && at != have {
                let (store, h) = (self.store.clone(), hash.to_string());
                blocking(move || store.set_photo_received(&h, at)).await?;
            }
            match result {
                Ok(()) if variant == PhotoVariant::Thumbnail => {
                    let (store, h) = (self.store.clone(), hash.to_string());
                    let file = blocking(move || store.finish_thumbnail_download(&h)).await?;
                    tell(listener, hash, transfer, at, total.max(at));
                    return Ok((file, received));
                }
                // The original ended: the next turn verifies it (or resumes a short one).
                Ok(()) if at >= size => {}
                Ok(()) => {
                    failures += 1;
                    if failures >= self.config.attempts() {
                        return Err(CoreError::Protocol(format!(
                            "the server's answers for {hash} end after {at} of {size} bytes"
                        )));
                    }
                }
                Err(TransportError::Status { status: 416, .. })
                    if failures + 1 < self.config.attempts() =>
                {
                    // What is here does not continue the server's bytes: start again.
                    failures += 1;
                    self.store.drop_photo_partial(hash, variant)?;
                }
                Err(e)
                    if e.is_transient()
                        && (kept > have || failures + 1 < self.config.attempts()) =>
                {
                    if kept > have {
                        // Progress: a cut link, not a dead one.
                        failures = 0;
                        backoff.reset();
                    } else {
                        failures += 1;
                    }
                    tracing::info!(hash, failures, at, "photo download interrupted: {e}");
                    backoff.wait().await;
                }
                Err(e) => return Err(blob_error(hash, e, failures + 1)),
            }
        }
    }
}

/// A download's partial file, taking an answer's bytes.
struct Partial<'a> {
    file: BlobWriter,
    /// Bytes in the file.
    at: u64,
    /// The whole size; 0 while unknown.
    total: u64,
    hash: &'a str,
    transfer: PhotoTransfer,
    listener: Option<&'a dyn PhotoProgressListener>,
    /// A failure of this phone (disk full), not of the link.
    error: Option<io::Error>,
}

impl Partial<'_> {
    fn fail(&mut self, e: io::Error) -> io::Error {
        let kind = e.kind();
        let message = e.to_string();
        self.error = Some(e);
        io::Error::new(kind, message)
    }
}

impl BlobSink for Partial<'_> {
    fn begin(&mut self, head: &BlobHead) -> io::Result<()> {
        if head.first != self.at {
            if head.first != 0 {
                return Err(io::Error::other(format!(
                    "the answer starts at byte {} of {}; {} are here",
                    head.first, self.hash, self.at
                )));
            }
            // The server sent the whole blob instead of the range: start the file again.
            if let Err(e) = self.file.restart() {
                return Err(self.fail(e));
            }
            self.at = 0;
        }
        if self.total == 0 {
            self.total = head.total.unwrap_or(0);
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let after = self.at + bytes.len() as u64;
        if after > limits::BLOB_BYTES
            || (self.transfer == PhotoTransfer::Original && after > self.total)
        {
            return Err(io::Error::other(format!(
                "the server sends more than the {} bytes of {}",
                self.total, self.hash
            )));
        }
        if let Err(e) = self.file.write_all(bytes) {
            return Err(self.fail(e));
        }
        self.at = after;
        tell(self.listener, self.hash, self.transfer, self.at, self.total);
        Ok(())
    }
}
