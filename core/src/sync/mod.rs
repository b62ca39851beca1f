//! The phone's sync client: pushes unacknowledged changes and pulls the server's feed, page by
//! page, as `docs/protocol.md` describes.

mod budget;
mod client;
mod enroll;
mod progress;
mod reconcile;
pub mod transport;

pub use budget::Budget;
pub use client::{SyncClient, SyncConfig};
pub use enroll::enroll;
pub use progress::{ProgressListener, SyncProgress, SyncSummary};
pub use transport::{HttpTransport, Transport, TransportError};
