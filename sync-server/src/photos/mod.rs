//! Photos: immutable bytes addressed by their SHA-256 ("blobs" on the wire and in the
//! storage), uploaded in chunks with resume, verified on completion, stored once whoever
//! uploads them, read by the devices that may read a document whose reference to them was
//! added by a device that proved it holds the bytes (`docs/blobs.md`).
//!
//! What a device may do and what it is told is `service` (who may, `access`; the sealed
//! nonces of possession challenges, [`challenge`]). Where the bytes live is behind
//! [`PhotoStore`]; the server's one implementation, [`FsPhotoStore`], keeps files beside the
//! database and what is known of them in the storage (`storage::BlobStorage`). Which documents
//! reference a photo is written with the documents ([`crate::storage::DocWrite::blobs`]),
//! from what `refs` finds in a record.

pub(crate) mod access;
pub mod challenge;
mod error;
mod fs;
pub(crate) mod refs;
pub(crate) mod service;
mod thumbnail;

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

pub use self::error::PhotoError;
pub use self::fs::FsPhotoStore;
use crate::storage::{BoxFuture, StorageError};

/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 320;

/// Result alias for blob operations.
pub type PhotoResult<T> = Result<T, PhotoError>;

/// Bytes of a blob as they are read, piece by piece.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What is known of a blob whose upload started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoMeta {
    /// Lower-case hex SHA-256 of the bytes.
    pub hash: String,
    /// The declared size in bytes.
    pub size: u64,
    /// The media type of the reference the upload was started for.
    pub media_type: String,
    /// Bytes held: the whole blob once complete, else the prefix the device's upload holds.
    pub received: u64,
    /// The whole blob is stored and verified.
    pub complete: bool,
    /// A thumbnail was made (only once complete, and after the upload's last answer; never for
    /// bytes that are not an image).
    pub thumbnail: bool,
    /// The device whose upload this is, or whose upload completed the blob: its quota carries
    /// the blob.
    pub uploaded_by: String,
}

/// What the server knows of one blob, for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhotoState {
    /// The complete blob, if the server holds it.
    pub blob: Option<PhotoMeta>,
    /// The device's own upload of it under way, if any.
    pub upload: Option<PhotoMeta>,
    /// The devices that proved they hold the blob's bytes (they uploaded it, or answered a
    /// possession challenge), in the order they did.
    pub holders: Vec<String>,
}

impl PhotoState {
    /// Whether `device` proved it holds the blob.
    pub fn holds(&self, device: &str) -> bool {
        self.holders.iter().any(|h| h == device)
    }
}

/// One range of an upload, checked for form (`first <= last < size`, `bytes` is the range).
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The blob.
    pub hash: String,
    /// Its declared size.
    pub size: u64,
    /// The media type its reference gives.
    pub media_type: String,
    /// The device uploading.
    pub device: String,
    /// Bytes that device may have stored in all (its quota).
    pub quota: u64,
    /// Offset of the first byte of `bytes`.
    pub first: u64,
    /// The bytes of the range.
    pub bytes: Bytes,
}

impl Chunk {
    /// Offset of the last byte.
    pub fn last(&self) -> u64 {
        self.first + self.bytes.len() as u64 - 1
    }
}

/// A device's answer to a possession challenge, with what the challenge asked (its nonce
/// opened and checked already).
#[derive(Debug, Clone)]
pub struct Possession {
    /// The blob.
    pub hash: String,
    /// The size the challenge was for.
    pub size: u64,
    /// The device answering.
    pub device: String,
    /// The challenge's nonce.
    pub nonce: Vec<u8>,
    /// The ranges it asked for, inclusive, in order.
    pub ranges: Vec<[u64; 2]>,
    /// What the device answered: `possession_digest(nonce, ranges, its bytes)`.
    pub digest: Vec<u8>,
}

/// Where blobs are kept: their bytes, partial uploads and thumbnails, and what is known of them.
///
/// Rules every implementation keeps:
/// - every device uploads a blob on its own: no device's bytes, size or pace touch another
///   device's upload of the same blob;
/// - the uploads of one blob take turns; a chunk either extends what its device's upload holds
///   or, when it overlaps it, only its new part is stored;
/// - a blob is complete only once the bytes of one upload hash to its name, and then stays
///   complete and unchanged. A crash leaves it either complete or uploads that resume;
/// - a device holds a blob once its own upload of it verified (the first one makes the blob;
///   a later one, of a blob complete already, is verified the same way and then dropped,
///   stored no second time and charged to no quota), or once it answered a possession
///   challenge over the complete blob's bytes; and never otherwise. Another device's upload
///   ending does not end a device's own: what each device sees of its upload is the same
///   whether or not the blob is on the server;
/// - a chunk that starts a new upload is refused when the device's stored bytes plus the blob
///   would exceed its quota, and nothing of it is stored.
pub trait PhotoStore: Send + Sync + 'static {
    /// The complete blob `hash`, `device`'s upload of it under way, and its holders.
    fn state(&self, hash: String, device: String) -> BoxFuture<'_, PhotoResult<PhotoState>>;

    /// Stores one chunk of `chunk.device`'s upload and, when it holds every byte, verifies it
    /// (its thumbnail is made after the answer). Returns the state after it: the blob once the
    /// device holds it, else the device's upload. A chunk of a device that holds the blob
    /// already is answered with the blob as it is.
    fn write(&self, chunk: Chunk) -> BoxFuture<'_, PhotoResult<PhotoMeta>>;

    /// Checks an answer to a possession challenge against the complete blob's bytes; when it
    /// matches, records the device a holder (its upload under way, if any, ends) and returns
    /// `true`. `false` when the blob is not complete at that size or the digest differs.
    fn prove(&self, possession: Possession) -> BoxFuture<'_, PhotoResult<bool>>;

    /// Bytes `first..=last` of a complete blob.
    fn read(&self, hash: String, first: u64, last: u64) -> BoxFuture<'_, PhotoResult<ByteStream>>;

    /// The JPEG thumbnail of a complete blob, made now if it was not yet; `None` when it has
    /// none (not an image).
    fn thumbnail(&self, hash: String) -> BoxFuture<'_, PhotoResult<Option<Vec<u8>>>>;

    /// Ends every upload that has received no byte for `idle` (its bytes removed, its quota
    /// freed); returns how many.
    fn end_idle_uploads(&self, idle: Duration) -> BoxFuture<'_, PhotoResult<usize>>;

    /// The secret possession challenges are sealed with: kept with the blobs' metadata, so
    /// that it outlives a restart and is the same for every server instance on that storage.
    fn challenge_key(&self) -> [u8; 32];
}

/// Ends idle uploads now and then (every quarter of `idle`, between a second and an hour),
/// for as long as the server runs, when this server leads the storage's servers
/// (`Storage::try_lead`).
pub(crate) async fn end_idle_uploads(
    blobs: std::sync::Arc<dyn PhotoStore>,
    storage: std::sync::Arc<dyn crate::storage::Storage>,
    idle: Duration,
) {
    let every = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // With several servers on one storage, one of them sweeps.
        if !storage.try_lead().await {
            continue;
        }
        match blobs.end_idle_uploads(idle).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, ?idle, "idle blob uploads ended"),
            Err(e) => tracing::warn!("ending idle blob uploads failed: {e}"),
        }
    }
}

/// An I/O error on `path`, as a storage error.
pub(crate) fn io_error(path: &std::path::Path, source: std::io::Error) -> PhotoError {
    PhotoError::Storage(StorageError::Io { path: path.display().to_string(), source })
}
