//! Why a request about a photo was refused, in the codes of `docs/blobs.md`; `http::error`
//! turns each into its answer.

use fieldsync_core::protocol::blob_codes as codes;

use crate::storage::StorageError;

/// Why a request about a photo was refused (the codes of `docs/blobs.md`).
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// No such blob for this device: missing, not readable by it, or not complete. One answer
    /// for all three, word for word, so that a device learns nothing of blobs it may not read.
    #[error("this device has no complete blob of this hash to read")]
    NotFound {
        /// The blob asked for.
        hash: String,
    },
    /// No document this device changed references the blob with this size.
    #[error(
        "no document this device changed references blob {hash} of {size} bytes: sync the \
         record first"
    )]
    NotReferenced {
        /// The blob.
        hash: String,
        /// The size the upload declares.
        size: u64,
    },
    /// The device's stored bytes plus this blob exceed its quota.
    #[error(
        "this device stores {used} bytes of blobs; {size} more would pass its quota of {quota}"
    )]
    QuotaExceeded {
        /// Bytes the device's uploads hold.
        used: u64,
        /// The blob's size.
        size: u64,
        /// The quota.
        quota: u64,
    },
    /// The blob, or one request, is over a limit.
    #[error("{0}")]
    TooLarge(String),
    /// The bytes received do not hash to the blob's name; all of them were discarded.
    #[error("the {size} bytes received hash to {actual}, not {hash}; they were discarded")]
    HashMismatch {
        /// The blob's name.
        hash: String,
        /// What the bytes hash to.
        actual: String,
        /// Bytes received.
        size: u64,
    },
    /// A range that is not one (no size, unparseable, empty blob): `400`.
    #[error("{0}")]
    BadRange(String),
    /// A range that does not continue what is held or does not fit the blob: `416`.
    #[error("{0}")]
    RangeNotSatisfiable(String),
    /// The blob is not an image the server could make a thumbnail of.
    #[error("blob {hash} has no thumbnail: it is not an image the server reads")]
    NoThumbnail {
        /// The blob.
        hash: String,
    },
    /// The device's reference gives the blob a media type that is not a photo's.
    #[error(
        "this device's record gives blob {hash} the media type {media_type:?}; a photo is one \
         of {}: it is neither uploaded nor proven",
        fieldsync_core::protocol::PHOTO_MEDIA_TYPES.join(", ")
    )]
    UnsupportedMediaType {
        /// The blob.
        hash: String,
        /// The media type the reference gives (at most 100 characters of it).
        media_type: String,
    },
    /// A proof that is not one (its nonce is forged, another device's or expired; a digest
    /// that is not 32 bytes): `400 invalid_request`, whatever the blob.
    #[error("{0}")]
    BadProof(String),
    /// An upload whose connection dropped before any byte of its body arrived.
    #[error("the upload was cut before any byte")]
    CutBeforeAnyByte,
    /// Storing or reading failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The task doing the work failed (a bug).
    #[error("internal error: {0}")]
    Task(String),
}

impl PhotoError {
    /// The protocol's error code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::NotFound { .. } => codes::NOT_FOUND,
            PhotoError::NotReferenced { .. } => codes::NOT_REFERENCED,
            PhotoError::QuotaExceeded { .. } => codes::QUOTA_EXCEEDED,
            PhotoError::TooLarge(_) => codes::TOO_LARGE,
            PhotoError::HashMismatch { .. } => codes::HASH_MISMATCH,
            PhotoError::BadRange(_) | PhotoError::RangeNotSatisfiable(_) => codes::INVALID_RANGE,
            PhotoError::NoThumbnail { .. } => codes::NO_THUMBNAIL,
            PhotoError::UnsupportedMediaType { .. } => codes::UNSUPPORTED_MEDIA_TYPE,
            PhotoError::BadProof(_) => "invalid_request",
            PhotoError::CutBeforeAnyByte => "malformed_body",
            PhotoError::Storage(StorageError::Closed | StorageError::Unavailable(_)) => {
                "unavailable"
            }
            PhotoError::Storage(_) | PhotoError::Task(_) => "internal",
        }
    }
}
