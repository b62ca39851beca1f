//! The phone's sync client: pushes unacknowledged changes and pulls the server's feed, page by
//! page, as `docs/protocol.md` describes.

mod backoff;
mod blob_transport;
mod blobs;
mod budget;
mod businesses;
mod client;
mod downloads;
mod enroll;
#[cfg(feature = "client")]
mod http;
mod options;
mod points;
mod possession;
mod progress;
mod reconcile;
mod server_url;
pub mod transport;
mod trust;

pub use blob_transport::{BlobHead, BlobSink, BlobTransport};
pub use budget::{Budget, ChunkBudget};
pub use businesses::BusinessFields;
pub use client::SyncClient;
pub use enroll::{EnrollOptions, enroll, enroll_with};
#[cfg(feature = "client")]
pub use http::{HttpTransport, install_tls_provider};
pub use options::SyncOptions;
pub use points::{Good, GoodUpdate};
pub use progress::{
    DownloadSummary, PhotoProgress, PhotoProgressListener, PhotoTransfer, ProgressListener,
    SyncProgress, SyncSummary, UploadSummary,
};
pub use server_url::server_url;
pub use transport::{Transport, TransportError};
pub use trust::ServerTrust;
