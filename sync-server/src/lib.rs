//! fieldsync-server: the sync server phones reconcile through (`docs/protocol.md`).
//!
//! Every accepted Automerge change is verified, stored and appended to one server-wide log in
//! the same transaction; phones push their unacknowledged changes and pull the log after their
//! cursor in one request, so a sync costs what changed, not how many documents exist.
//!
//! In-process use (tests, examples):
//! ```no_run
//! # async fn demo() -> Result<(), fieldsync_server::ServerError> {
//! use fieldsync_server::{Server, ServerConfig};
//! let dir = std::env::temp_dir().join("fieldsync-demo");
//! let config = ServerConfig::new(&dir).with_listen("127.0.0.1:0".parse().unwrap());
//! let running = Server::start(&config).await?;      // on a free loopback port
//! let url = running.url();                           // for fieldsync_core's HttpTransport
//! let in_process = running.transport();              // or no socket at all
//! running.shutdown().await.ok();
//! # Ok(()) }
//! ```

pub mod accounts;
pub mod allocator;
pub mod businesses;
pub mod clock;
pub mod config;
pub mod demo;
mod documents;
pub mod escalation;
mod feed;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod grids;
mod http;
pub mod index;
mod ingest;
mod isolate;
mod locks;
pub mod open311;
pub mod photos;
pub mod points;
pub mod rules;
mod server;
pub mod shutdown;
pub mod storage;
mod transport;

pub use config::{Durability, ServerConfig, StorageChoice, TlsFiles};
pub use feed::cursor;
pub use http::error::{self, ServerError};
pub use http::serve::tls::{Tls, TlsError};
pub use photos::{FsPhotoStore, PhotoStore};
pub use rules::Rules;
pub use server::{Listeners, RunningServer, Server};
pub use storage::{
    AccountStorage, BlobStorage, DocumentStorage, IndexStorage, SqliteStorage, Storage,
};
pub use transport::InProcessTransport;
