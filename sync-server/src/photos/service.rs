//! What the blob endpoints ask of the photos domain, one operation each (`docs/blobs.md`): a
//! device's status of a photo, one range of its upload, the photo when it may read it, a
//! possession challenge and the proof that answers it. The HTTP layer reads the request (hash,
//! headers, body) and writes the answer; the decisions are here.
//!
//! A device that may not read a photo gets, for its status, bytes and thumbnail, exactly the
//! answer it would get for a photo that does not exist; a device that does not hold it learns,
//! from its status, its uploads and its proofs, nothing of whether another device uploaded it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::{
    BlobChallenge, BlobStatus, ContentRange, VERSION, is_photo_media_type, limits,
};

use super::access::Access;
use super::challenge as nonce;
use super::{ByteStream, Chunk, PhotoError, PhotoMeta, PhotoResult, PhotoStore, Possession};
use crate::storage::Storage;

/// The photos of a server: where their bytes are, what decides who may use them, and the
/// limits of uploads.
pub(crate) struct Photos {
    /// The bytes, the uploads under way and the thumbnails.
    pub(crate) store: Arc<dyn PhotoStore>,
    /// Which documents reference a photo, and who may read them.
    storage: Arc<dyn Storage>,
    /// Largest photo (see `ServerConfig::max_blob_bytes`).
    max_bytes: u64,
    /// Bytes per device (see `ServerConfig::blob_quota_bytes`).
    quota: u64,
    /// Uploads idle this long are ended (see `ServerConfig::blob_upload_idle`).
    pub(crate) upload_idle: Duration,
}

/// The answer for a photo that this device may not see: the same, word for word, as for one
/// that does not exist.
fn not_found(hash: &str) -> PhotoError {
    PhotoError::NotFound { hash: hash.to_string() }
}

/// The refusal of a reference whose media type is not a photo's.
fn unsupported(hash: &str, media_type: &str) -> PhotoError {
    PhotoError::UnsupportedMediaType {
        hash: hash.to_string(),
        media_type: media_type.chars().take(100).collect(),
    }
}

fn status(hash: &str, size: u64, received: u64, complete: bool) -> BlobStatus {
    BlobStatus { v: VERSION, hash: hash.to_string(), size, received, complete }
}

fn status_of(m: &PhotoMeta) -> BlobStatus {
    status(&m.hash, m.size, m.received, m.complete)
}

impl Photos {
    /// The photos in `store`, referenced from the documents of `storage`.
    pub(crate) fn new(
        store: Arc<dyn PhotoStore>,
        storage: Arc<dyn Storage>,
        max_bytes: u64,
        quota: u64,
        upload_idle: Duration,
    ) -> Self {
        Photos { store, storage, max_bytes, quota, upload_idle }
    }

    /// What `device` (of a user with `profile`) is told of photo `hash`.
    ///
    /// A device that references the photo itself is told of its own upload: complete once it
    /// holds the photo (it uploaded it, or proved it holds it), else what its upload holds
    /// (`received` 0, at the size of its reference, before it starts) — even when it may read
    /// the photo through another device's record, since its own record grants the photo to its
    /// readers only once it holds it. Any other device is told the photo is complete when it
    /// may read it, else `not_found`. Nothing a device is told of a photo it neither holds nor
    /// may read depends on another device's upload.
    pub(crate) async fn status(
        &self,
        device: &str,
        profile: &Profile,
        enrolled_at: Option<i64>,
        hash: &str,
    ) -> PhotoResult<BlobStatus> {
        let state = self.store.state(hash.to_string(), device.to_string()).await?;
        let access = Access::of(self.storage.as_ref(), hash, state.holders).await?;
        if let Some(own) = access.any_own(device) {
            if let Some(b) = &state.blob
                && access.holds(device)
                && access.own(device, b.size).is_some()
            {
                return Ok(status_of(b));
            }
            if let Some(u) = &state.upload
                && access.own(device, u.size).is_some()
            {
                return Ok(status_of(u));
            }
            // Not started (or started with another size): from 0.
            return Ok(status(hash, own.size, 0, false));
        }
        match &state.blob {
            Some(b) if access.may_read(profile, enrolled_at, b.size) => Ok(status_of(b)),
            _ => Err(not_found(hash)),
        }
    }

    /// Stores one range of `device`'s upload of photo `hash` (`bytes` as they arrived; `cut`
    /// when the connection dropped before the body was whole) after the checks of
    /// `docs/blobs.md` from 2 on, in their order; the answer is the status after it. A range
    /// of size 0 or without `Content-Range` was refused before (check 1).
    pub(crate) async fn upload(
        &self,
        device: &str,
        hash: String,
        range: ContentRange,
        bytes: Bytes,
        cut: bool,
    ) -> PhotoResult<BlobStatus> {
        if range.len() > limits::CHUNK_BYTES as u64 {
            return Err(PhotoError::TooLarge(format!(
                "the range holds {} bytes; one PUT carries at most {}",
                range.len(),
                limits::CHUNK_BYTES
            )));
        }
        if range.size > self.max_bytes {
            return Err(PhotoError::TooLarge(format!(
                "blob {hash} is {} bytes; this server takes at most {} per blob",
                range.size, self.max_bytes
            )));
        }
        let state = self.store.state(hash.clone(), device.to_string()).await?;
        let access = Access::of(self.storage.as_ref(), &hash, state.holders.clone()).await?;
        let Some(own) = access.own(device, range.size) else {
            return Err(PhotoError::NotReferenced { hash, size: range.size });
        };
        if !is_photo_media_type(&own.media_type) {
            return Err(unsupported(&hash, &own.media_type));
        }
        let media_type = own.media_type.clone();
        if let Some(b) = state.blob.as_ref().filter(|b| b.size == range.size)
            && state.holds(device)
        {
            // This device holds it already: nothing to send, nothing stored twice. (A device
            // that does not hold it uploads it, or proves it holds it, whoever else uploaded
            // it.)
            return Ok(status_of(b));
        }
        // This device's own upload (of another size, it starts again from 0).
        let received =
            state.upload.as_ref().filter(|m| m.size == range.size).map_or(0, |m| m.received);
        let unsatisfiable =
            |why: String| PhotoError::RangeNotSatisfiable(format!("{why}; received {received}"));
        if range.is_empty() || range.last >= range.size {
            return Err(unsatisfiable(format!(
                "{range} does not fit a blob of {} bytes",
                range.size
            )));
        }
        // A body cut on the way (nobody hears this answer) keeps what arrived: the client asks
        // the status before it goes on, and a 2G link that drops every few seconds does not
        // lose whole chunks. Any other short or long body is refused.
        if cut && bytes.is_empty() {
            return Err(PhotoError::CutBeforeAnyByte);
        }
        if !(cut && (bytes.len() as u64) < range.len()) && bytes.len() as u64 != range.len() {
            return Err(unsatisfiable(format!(
                "{range} announces {} bytes but the body holds {}",
                range.len(),
                bytes.len()
            )));
        }
        let chunk = Chunk {
            hash,
            size: range.size,
            media_type,
            device: device.to_string(),
            quota: self.quota,
            first: range.first,
            bytes,
        };
        // In a task of its own: a client that goes away (its link cut right after the last
        // byte) drops the request, and must not cancel the write of bytes that arrived.
        let store = self.store.clone();
        let m = tokio::spawn(async move { store.write(chunk).await })
            .await
            .map_err(|e| PhotoError::Task(format!("blob write task failed: {e}")))??;
        Ok(status_of(&m))
    }

    /// Photo `hash` complete, if `device` (of a user with `profile`) may read it; otherwise
    /// the answer for a missing photo.
    pub(crate) async fn readable(
        &self,
        device: &str,
        profile: &Profile,
        enrolled_at: Option<i64>,
        hash: &str,
    ) -> PhotoResult<PhotoMeta> {
        let state = self.store.state(hash.to_string(), device.to_string()).await?;
        let access = Access::of(self.storage.as_ref(), hash, state.holders).await?;
        match state.blob {
            Some(m) if access.may_read(profile, enrolled_at, m.size) => Ok(m),
            _ => Err(not_found(hash)),
        }
    }

    /// Bytes `first..=last` of a complete photo.
    pub(crate) async fn read(
        &self,
        hash: String,
        first: u64,
        last: u64,
    ) -> PhotoResult<ByteStream> {
        self.store.read(hash, first, last).await
    }

    /// The JPEG thumbnail of a complete photo (made now if it was not yet).
    pub(crate) async fn thumbnail(&self, hash: String) -> PhotoResult<Vec<u8>> {
        match self.store.thumbnail(hash.clone()).await? {
            Some(jpeg) => Ok(jpeg),
            None => Err(PhotoError::NoThumbnail { hash }),
        }
    }

    /// A possession challenge for photo `hash` at the size of a reference of `device`'s own
    /// (`size`, else its smallest), whether or not the server holds the photo.
    pub(crate) async fn challenge(
        &self,
        device: &str,
        hash: String,
        size: Option<u64>,
    ) -> PhotoResult<BlobChallenge> {
        let access = Access::of(self.storage.as_ref(), &hash, Vec::new()).await?;
        let own = match size {
            Some(size) => access.own(device, size),
            None => access.any_own(device),
        };
        let Some(own) = own else { return Err(not_found(&hash)) };
        if !is_photo_media_type(&own.media_type) {
            return Err(unsupported(&hash, &own.media_type));
        }
        let size = own.size;
        let key = self.store.challenge_key();
        let now = fieldsync_core::time::now_ms();
        let nonce = nonce::issue(&key, device, &hash, size, now, rand::random());
        let ranges = nonce::ranges(&nonce, size);
        Ok(BlobChallenge { v: VERSION, hash, size, nonce, ranges })
    }

    /// Checks `device`'s answer (`nonce` unchanged, `digest`) to a challenge for photo `hash`:
    /// when the digest matches the complete photo's bytes, the device holds it and the answer
    /// is its status, complete; otherwise the answer is the status [`Photos::status`] gives.
    /// A nonce that is forged, another device's, for another photo or expired is `BadProof`,
    /// whatever the photo.
    pub(crate) async fn prove(
        &self,
        device: &str,
        profile: &Profile,
        enrolled_at: Option<i64>,
        hash: &str,
        nonce: Vec<u8>,
        digest: Vec<u8>,
    ) -> PhotoResult<BlobStatus> {
        let key = self.store.challenge_key();
        let now = fieldsync_core::time::now_ms();
        let size = nonce::open(&key, device, hash, &nonce, now)
            .map_err(|e| PhotoError::BadProof(e.to_string()))?;
        if digest.len() != 32 {
            return Err(PhotoError::BadProof(format!(
                "a digest is the 32 bytes of a SHA-256, not {} bytes",
                digest.len()
            )));
        }
        let access = Access::of(self.storage.as_ref(), hash, Vec::new()).await?;
        let Some(own) = access.own(device, size) else { return Err(not_found(hash)) };
        if !is_photo_media_type(&own.media_type) {
            return Err(unsupported(hash, &own.media_type));
        }
        let ranges = nonce::ranges(&nonce, size);
        let possession = Possession {
            hash: hash.to_string(),
            size,
            device: device.to_string(),
            nonce,
            ranges,
            digest,
        };
        self.store.prove(possession).await?;
        self.status(device, profile, enrolled_at, hash).await
    }
}
