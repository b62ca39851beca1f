//! Photo uploads of the sync client (docs/blobs.md, "Uploading"): the upload queue, sent in
//! chunks sized to the link that resume at what the server holds (each photo first proven,
//! when the server holds it already: see `possession`), and what blob answers mean as typed
//! errors (shared with `downloads`).
//!
//! None of it runs inside a records sync, and none of it holds a lock a sync needs across a
//! request: the store is touched only in short transactions between requests, so `sync_now`
//! and `upload_photos` run side by side on one store and a pending photo never delays a record.

use std::future::Future;
use std::time::Instant;

use super::blob_transport::BlobTransport;
use super::budget::ChunkBudget;
use super::client::{SyncClient, blocking, failed};
use super::progress::{PhotoProgress, PhotoProgressListener, PhotoTransfer, UploadSummary};
use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::poison::Recover;
use crate::protocol::{self, BlobStatus, ContentRange, blob_codes, is_photo_media_type};

/// What became of one photo of the upload queue.
enum Sent {
    /// The server holds it whole and knows this phone holds it; `dedup` when no byte of it was
    /// sent in this run (proven, or held already).
    Done { dedup: bool },
    /// The server does not take it yet (no acknowledged record references it).
    Waiting,
}

/// The typed core error for a failed blob request.
pub(super) fn blob_error(hash: &str, e: TransportError, attempts: u32) -> CoreError {
    let TransportError::Status { status, code, message, wipe } = e else {
        return failed(e, attempts);
    };
    let hash = hash.to_string();
    match code.as_str() {
        blob_codes::NOT_FOUND => CoreError::PhotoNotFound { hash },
        blob_codes::NOT_REFERENCED => CoreError::PhotoNotReferenced { hash, message },
        blob_codes::QUOTA_EXCEEDED => CoreError::QuotaExceeded { hash, message },
        blob_codes::TOO_LARGE => CoreError::PhotoTooLarge { hash, message },
        blob_codes::HASH_MISMATCH => CoreError::HashMismatch { hash, message },
        blob_codes::INVALID_RANGE => CoreError::InvalidRange { hash, message },
        blob_codes::NO_THUMBNAIL => CoreError::NoThumbnail { hash },
        blob_codes::UNSUPPORTED_MEDIA_TYPE => unsupported(&hash, &message),
        _ => CoreError::from_server(status, code, message, wipe),
    }
}

/// The refusal of a photo whose media type is not a photo's (one added before the rule).
fn unsupported(hash: &str, why: &str) -> CoreError {
    CoreError::invalid("media_type", format!("photo {hash}: {why}"))
}

/// The code an upload refused for good is recorded with (`None`: not a refusal of the photo).
fn refusal(e: &CoreError) -> Option<&'static str> {
    match e {
        CoreError::InvalidInput { field: "media_type", .. } => {
            Some(blob_codes::UNSUPPORTED_MEDIA_TYPE)
        }
        CoreError::QuotaExceeded { .. } => Some(blob_codes::QUOTA_EXCEEDED),
        CoreError::PhotoTooLarge { .. } => Some(blob_codes::TOO_LARGE),
        CoreError::HashMismatch { .. } => Some(blob_codes::HASH_MISMATCH),
        CoreError::InvalidRange { .. } => Some(blob_codes::INVALID_RANGE),
        _ => None,
    }
}

pub(super) fn decode_status(hash: &str, body: &[u8]) -> Result<BlobStatus> {
    let s: BlobStatus =
        protocol::decode(body).map_err(|e| CoreError::Protocol(format!("blob status: {e}")))?;
    if s.v != protocol::VERSION || s.hash != hash || s.received > s.size {
        return Err(CoreError::Protocol(format!(
            "blob status for {hash} names {} (v {}) with {} of {} bytes",
            s.hash, s.v, s.received, s.size
        )));
    }
    Ok(s)
}

/// A byte count as the records foreign code reads hold it (`i64`; no photo comes near its end).
pub(super) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn tell(
    listener: Option<&dyn PhotoProgressListener>,
    hash: &str,
    t: PhotoTransfer,
    done: u64,
    total: u64,
) {
    if let Some(l) = listener {
        let (done, total) = (signed(done), signed(total));
        l.photo_progress(&PhotoProgress { hash: hash.to_string(), transfer: t, done, total });
    }
}

impl<T: Transport + BlobTransport> SyncClient<T> {
    /// Uploads the photos added on this phone that the server does not hold, one after the
    /// other, in chunks sized to the link (at most 1 MiB). Each starts where the server's
    /// status says it stopped; a chunk cut on the way is sent again from what the server
    /// kept. Photos whose records the server has not acknowledged yet wait for the next run;
    /// photos the server refuses for good (too large, over quota, damaged) are marked so and
    /// skipped until `Store::retry_photo_upload`. A network failure that outlasts the retries
    /// ends the run with `Network`; what was sent stays sent.
    ///
    /// Runs beside `sync_now` on the same store (call it after a sync, not inside one); a
    /// second call while one runs waits for it.
    pub async fn upload_photos(
        &self,
        listener: Option<&dyn PhotoProgressListener>,
    ) -> Result<UploadSummary> {
        let _one = self.uploading.lock().await;
        let started = Instant::now();
        let mut sum = UploadSummary::default();
        let store = self.store.clone();
        let queue = blocking(move || store.upload_queue()).await?;
        for up in queue {
            match self.upload_one(&up, listener, &mut sum).await {
                Ok(Sent::Done { dedup }) => {
                    sum.uploaded += 1;
                    sum.deduplicated += i64::from(dedup);
                }
                Ok(Sent::Waiting) => sum.waiting += 1,
                Err(e) => {
                    let Some(code) = refusal(&e) else { return Err(e) };
                    tracing::warn!(hash = %up.hash, "photo upload refused: {e}");
                    let (store, hash, message) =
                        (self.store.clone(), up.hash.clone(), e.to_string());
                    blocking(move || store.photo_refused(&hash, code, &message)).await?;
                    sum.refused += 1;
                }
            }
        }
        sum.duration = started.elapsed();
        Ok(sum)
    }

    fn chunk_budget(&self) -> ChunkBudget {
        *self.chunks.lock().recover()
    }

    fn adjust_chunks(&self, f: impl FnOnce(&mut ChunkBudget)) {
        f(&mut self.chunks.lock().recover());
    }

    /// Sends a blob request until it is answered, retrying network failures and 5xx as the
    /// configuration says: the body of the 200 answer, or the last error with the attempts
    /// made.
    pub(super) async fn retried<F, Fut>(
        &self,
        sum: &mut UploadSummary,
        mut request: F,
    ) -> Result<Vec<u8>, (TransportError, u32)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, TransportError>>,
    {
        let mut backoff = self.backoff();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.timed(request()).await {
                Ok(body) => {
                    sum.requests += 1;
                    return Ok(body);
                }
                Err(e) if e.is_transient() && attempt < self.config.attempts() => {
                    sum.retries += 1;
                    backoff.wait().await;
                }
                Err(e) => {
                    if matches!(
                        e,
                        TransportError::Status { .. } | TransportError::RateLimited { .. }
                    ) {
                        sum.requests += 1;
                    }
                    return Err((e, attempt));
                }
            }
        }
    }

    /// The server's status of `hash`, retrying network failures; `None` when it answers
    /// `not_found` (for an upload: no record this device synced references it yet).
    async fn blob_status(&self, hash: &str, sum: &mut UploadSummary) -> Result<Option<BlobStatus>> {
        match self.retried(sum, || self.transport.blob_status(hash)).await {
            Ok(body) => decode_status(hash, &body).map(Some),
            Err((TransportError::Status { code, .. }, _)) if code == blob_codes::NOT_FOUND => {
                Ok(None)
            }
            Err((e, attempts)) => Err(blob_error(hash, e, attempts)),
        }
    }

    async fn upload_one(
        &self,
        up: &crate::store::Upload,
        listener: Option<&dyn PhotoProgressListener>,
        sum: &mut UploadSummary,
    ) -> Result<Sent> {
        // The server takes no other (a photo added before the rule): no request for it.
        if !is_photo_media_type(&up.media_type) {
            return Err(unsupported(
                &up.hash,
                &format!(
                    "{:?} is not a photo's media type; the server takes only {}",
                    up.media_type,
                    protocol::PHOTO_MEDIA_TYPES.join(", ")
                ),
            ));
        }
        // A damaged file would cross the link whole before the server's check refused it.
        let photo = up.clone();
        let found =
            blocking(move || Ok(photo.open().and_then(crate::store::BlobReader::hash))).await?;
        match found {
            Ok((h, n)) if h == up.hash && n == up.size => {}
            Ok((h, n)) => {
                return Err(CoreError::HashMismatch {
                    hash: up.hash.clone(),
                    message: format!("the file on this phone holds {n} bytes hashing to {h}"),
                });
            }
            Err(e) => {
                return Err(CoreError::HashMismatch {
                    hash: up.hash.clone(),
                    message: format!("the file on this phone cannot be read: {e}"),
                });
            }
        }
        let Some(mut status) = self.blob_status(&up.hash, sum).await? else {
            return Ok(Sent::Waiting);
        };
        if !status.complete
            && status.received == 0
            && let Some(proven) = self.prove_here(up, sum).await?
        {
            // Complete if the server held the photo already; else the same status: upload.
            status = proven;
        }
        let mut file = up.open()?;
        let mut sent_any = false;
        // The file here was verified above: a mismatch at the server is damage on the way, and
        // the server starts the upload again from 0. Once more, then it is a refusal.
        let mut mismatches = 0u32;
        let mut failures = 0u32;
        let mut backoff = self.backoff();
        loop {
            if status.complete {
                let (store, hash) = (self.store.clone(), up.hash.clone());
                blocking(move || store.photo_uploaded(&hash)).await?;
                tell(listener, &up.hash, PhotoTransfer::Upload, up.size, up.size);
                return Ok(Sent::Done { dedup: !sent_any });
            }
            if failures >= self.config.attempts() {
                return Err(CoreError::Protocol(format!(
                    "upload of {} made no progress in {failures} attempts (the server holds {} \
                     of {} bytes)",
                    up.hash, status.received, status.size
                )));
            }
            let offset = status.received;
            if offset >= up.size {
                // Every byte is there but the server does not call it complete: ask again.
                failures += 1;
                backoff.wait().await;
                match self.blob_status(&up.hash, sum).await? {
                    Some(s) => status = s,
                    None => return Ok(Sent::Waiting),
                }
                continue;
            }
            let len = u64::from(self.chunk_budget().bytes).min(up.size - offset);
            let range = ContentRange::of(offset, len, up.size)
                .ok_or_else(|| CoreError::Protocol(format!("empty range at {offset}")))?;
            // A local read of at most 1 MiB: not worth a thread hop.
            let mut chunk = vec![0u8; len as usize];
            file.read_at(offset, &mut chunk)?;
            sum.bytes_up += signed(len);
            sent_any = true;
            let sent = Instant::now();
            match self.timed(self.transport.put_blob(&up.hash, range, &up.media_type, chunk)).await
            {
                Ok(body) => {
                    sum.requests += 1;
                    self.adjust_chunks(|c| c.answered(len, sent.elapsed()));
                    status = decode_status(&up.hash, &body)?;
                    if status.received > offset || status.complete {
                        failures = 0;
                        backoff.reset();
                    } else {
                        failures += 1;
                    }
                    tell(listener, &up.hash, PhotoTransfer::Upload, status.received, up.size);
                    if !status.complete {
                        let (store, hash, received) =
                            (self.store.clone(), up.hash.clone(), status.received);
                        blocking(move || store.set_photo_received(&hash, received)).await?;
                    }
                }
                Err(TransportError::Status { code, .. })
                    if code == blob_codes::NOT_FOUND || code == blob_codes::NOT_REFERENCED =>
                {
                    sum.requests += 1;
                    return Ok(Sent::Waiting);
                }
                Err(TransportError::Status { code, .. })
                    if code == blob_codes::INVALID_RANGE
                        && failures + 1 < self.config.attempts() =>
                {
                    // The server holds another prefix than its last answer said: ask it.
                    sum.requests += 1;
                    failures += 1;
                    match self.blob_status(&up.hash, sum).await? {
                        Some(s) => status = s,
                        None => return Ok(Sent::Waiting),
                    }
                }
                Err(e) if e.is_transient() && failures + 1 < self.config.attempts() => {
                    failures += 1;
                    sum.retries += 1;
                    if matches!(e, TransportError::Network(_)) {
                        self.adjust_chunks(ChunkBudget::failed);
                    }
                    tracing::info!(hash = %up.hash, failures, "photo chunk failed: {e}");
                    backoff.wait().await;
                    // Resume at what the server kept, not at what this phone sent.
                    match self.blob_status(&up.hash, sum).await? {
                        Some(s) => status = s,
                        None => return Ok(Sent::Waiting),
                    }
                }
                Err(TransportError::Status { code, message, .. })
                    if code == blob_codes::HASH_MISMATCH && mismatches == 0 =>
                {
                    sum.requests += 1;
                    mismatches += 1;
                    tracing::warn!(hash = %up.hash, "the server's hash check failed: {message}");
                    match self.blob_status(&up.hash, sum).await? {
                        Some(s) => status = s,
                        None => return Ok(Sent::Waiting),
                    }
                }
                Err(e) => return Err(blob_error(&up.hash, e, failures + 1)),
            }
        }
    }
}
