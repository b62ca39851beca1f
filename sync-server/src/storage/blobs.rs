//! What storage knows of photos' bytes, which live as files beside it (`crate::photos`): the
//! complete blobs, the uploads under way (one per blob and device), the devices that hold a
//! blob, the references documents make to blobs, and the key that seals possession
//! challenges; the [`BlobStorage`] part of the storage trait.

use fieldsync_core::DocId;
use fieldsync_core::policy::Audience;

use super::{BoxFuture, StorageResult};

/// A recorded reference to a blob, with what decides who may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlobRef {
    /// The referencing document.
    pub doc: DocId,
    /// Who may read that document.
    pub audience: Audience,
    /// Size in bytes, as the reference gives it.
    pub size: u64,
    /// Media type, as the reference gives it.
    pub media_type: String,
    /// The device that added the reference, when known.
    pub device: Option<String>,
}

/// A complete, verified blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Lower-case hex SHA-256 of the bytes.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type of the reference its upload was started for.
    pub media_type: String,
    /// A thumbnail was made.
    pub thumbnail: bool,
    /// The device whose upload completed it (its quota carries the blob).
    pub uploaded_by: String,
}

/// One device's upload of a blob, under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Its id, which also names its partial file.
    pub id: i64,
    /// The blob.
    pub hash: String,
    /// The device uploading.
    pub device: String,
    /// The declared size.
    pub size: u64,
    /// The media type of the device's reference.
    pub media_type: String,
    /// Bytes held when last recorded.
    pub received: u64,
}

/// An upload to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// The blob.
    pub hash: String,
    /// The declared size.
    pub size: u64,
    /// The media type of the device's reference.
    pub media_type: String,
    /// The device uploading.
    pub device: String,
}

/// What starting an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The upload, recorded.
    Upload(Upload),
    /// The device's blobs and uploads hold `used` bytes: this one would pass the quota, and
    /// nothing was recorded.
    OverQuota {
        /// Bytes the device's blobs and uploads hold.
        used: u64,
    },
}

/// How a device proved it holds a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Its upload of the blob completed and verified.
    Upload,
    /// It answered a possession challenge over ranges the server picked.
    Challenge,
}

impl Proof {
    /// As stored (`blob_holders.how`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Upload => "upload",
            Proof::Challenge => "challenge",
        }
    }
}

/// What storage knows of one blob for one device: the complete blob, the device's own upload
/// of it, and the devices that hold it (in the order they proved it), read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobRecord {
    /// The complete blob, if there is one.
    pub blob: Option<StoredBlob>,
    /// The device's upload under way, if any.
    pub upload: Option<Upload>,
    /// The devices that hold the blob.
    pub holders: Vec<String>,
}

/// What is known of blobs.
///
/// Rules every backend keeps (the conformance suite checks them):
/// - one upload per blob and device; starting one is refused, recording nothing, when the
///   bytes of the device's complete blobs (those whose upload it completed first) and uploads
///   under way (at their declared sizes) plus the new one pass the quota — checked and
///   recorded in one transaction;
/// - completing an upload records the blob (the first time; a blob stays as first recorded),
///   its thumbnail still to make, and the device a holder, and ends the upload, in one
///   transaction; a device proven a holder keeps its first proof.
pub trait BlobStorage: Send + Sync + 'static {
    /// The recorded references to blob `hash` (see `DocWrite::blobs`), with the audience of
    /// each referencing document.
    fn blob_refs(&self, hash: String) -> BoxFuture<'_, StorageResult<Vec<StoredBlobRef>>>;

    /// The complete blob `hash`.
    fn blob(&self, hash: String) -> BoxFuture<'_, StorageResult<Option<StoredBlob>>>;

    /// The complete blob `hash`, `device`'s upload of it, and its holders, in one read.
    fn blob_record(&self, hash: String, device: String)
    -> BoxFuture<'_, StorageResult<BlobRecord>>;

    /// `device`'s upload of `hash` under way.
    fn upload(&self, hash: String, device: String) -> BoxFuture<'_, StorageResult<Option<Upload>>>;

    /// Every upload under way.
    fn uploads(&self) -> BoxFuture<'_, StorageResult<Vec<Upload>>>;

    /// The bytes `device`'s quota carries: the blobs whose upload it completed first and its
    /// uploads under way, at their declared sizes.
    fn bytes_used(&self, device: String) -> BoxFuture<'_, StorageResult<u64>>;

    /// Starts an upload within `quota` bytes for its device (see the rules above).
    fn start_upload(&self, upload: NewUpload, quota: u64) -> BoxFuture<'_, StorageResult<Started>>;

    /// Records how many bytes upload `id` holds.
    fn set_received(&self, id: i64, received: u64) -> BoxFuture<'_, StorageResult<()>>;

    /// Records `upload`'s blob complete (its bytes in place and verified), the device a holder,
    /// and ends the upload.
    fn complete_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>>;

    /// Records that `upload`, of a blob complete already, verified: its device holds the blob
    /// and the upload ends (one transaction).
    fn verified_upload(&self, upload: Upload) -> BoxFuture<'_, StorageResult<()>>;

    /// Records that `device` holds blob `hash` (a holder keeps its first proof).
    fn hold(&self, hash: String, device: String, how: Proof) -> BoxFuture<'_, StorageResult<()>>;

    /// Forgets upload `id`.
    fn drop_upload(&self, id: i64) -> BoxFuture<'_, StorageResult<()>>;

    /// Whether the thumbnail of complete blob `hash` is still to be made.
    fn thumbnail_pending(&self, hash: String) -> BoxFuture<'_, StorageResult<bool>>;

    /// Records that the thumbnail of `hash` was made (`made`), or that the blob has none.
    fn thumbnail_made(&self, hash: String, made: bool) -> BoxFuture<'_, StorageResult<()>>;

    /// The 32-byte key that seals possession challenges: made at random the first time and
    /// kept, so that it outlives a restart and every server instance on the storage reads the
    /// same one (the first writer's, whoever races).
    fn challenge_key(&self) -> BoxFuture<'_, StorageResult<[u8; 32]>>;
}
