//! Everything the server keeps, behind one trait so that a PostgreSQL backend can take
//! SQLite's place; both must pass the conformance suite (`conformance`). Every SQL statement
//! of the server is in a backend ([`sqlite`], [`postgres`]); the domain above sees only
//! [`Storage`].
//!
//! [`Storage`] is seven parts, one per kind of data and per caller, each a trait of its own:
//! [`DocumentStorage`] (documents, the change log, refusals: the sync path),
//! [`AccountStorage`] (users, devices, enrollment codes, desk sessions), [`BlobStorage`] (what
//! is known of photos' bytes: complete blobs, uploads under way, holders, the references
//! documents make), [`IndexStorage`] (the record index the desk lists, counts and streams),
//! [`KeyStorage`] (the API keys of Open311 apps), [`PointsStorage`] (residents' points
//! ledger and the exchange) and [`BusinessStorage`] (the registry of businesses).
//! A backend implements each against its own part of the conformance suite; a reader of one
//! part does not wade through the others.
//!
//! The traits speak in whole operations (commit a batch of document writes with their log
//! entries, enroll a device with a code, start an upload within a quota) rather than in SQL, so
//! a backend is free to store things its own way; an operation that must be atomic is one
//! method. Methods return boxed futures: the server holds one `Arc<dyn Storage>`, and a
//! backend decides where its blocking work runs (SQLite: one writer thread, a pool of readers).

use std::future::Future;
use std::pin::Pin;

use fieldsync_core::DocId;
pub use fieldsync_core::policy::Audience;

mod accounts;
mod blobs;
mod businesses;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod documents;
pub mod index;
mod keys;
mod points;
pub mod postgres;
pub mod sqlite;

pub use accounts::{
    AccountStorage, DeskSignIn, Device, DeviceKind, Disabled, Enrollment, FORMER_SCOPES_KEPT,
    NewCode, NewUser, SessionEnd, StoredCode, StoredSession, StoredUser, Takeover,
};
pub use blobs::{
    BlobRecord, BlobStorage, NewUpload, Proof, Started, StoredBlob, StoredBlobRef, Upload,
};
pub use businesses::{Business, BusinessChange, BusinessStorage};
pub use documents::{
    BlobRef, CatchUpPage, CatchUpReader, Committed, DocBytes, DocMeta, DocSignatures, DocWrite,
    DocumentStorage, LogItem, LogPage, LogRecord, NewChange, Refused, StoredDoc, StoredRefusal,
    WholeDoc,
};
pub use index::IndexStorage;
pub use keys::{KeyStorage, NewKey, StoredKey};
pub use points::{
    Award, Balance, Collected, EntryKind, Good, GoodChange, PointsEntry, PointsStorage,
    PointsTarget, Redeem, RedeemRefusal, Redeemed, Redemption,
};
pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

/// A boxed, sendable future, as the storage methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Result alias for storage operations.
pub type StorageResult<T> = Result<T, StorageError>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed: a statement, the connection, or a transaction that could not be
    /// serialised after the retries (the driver's error keeps the SQLSTATE).
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The storage's settings are wrong (a database URL its client does not read).
    #[error("storage settings: {0}")]
    Config(String),
    /// The database could not be reached: no connection within the pool's wait.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A file or directory could not be used.
    #[error("i/o on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The database was written by a newer server.
    #[error("database {path} has schema version {found}; this build understands up to {supported}")]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A write was built on a version of the document that is no longer the stored one (another
    /// writer got there first), or creates a document that exists already. Nothing was written.
    #[error("document {doc} changed underneath this write (expected version {expected:?})")]
    Conflict {
        /// The document.
        doc: DocId,
        /// The version the write was built on; `None` for a creation.
        expected: Option<u64>,
    },
    /// A write conditioned on what it read (a code still unused, an actor still free) found
    /// it changed by another writer; nothing was written. Read again and decide again.
    #[error("changed underneath this write: {0}")]
    Changed(String),
    /// The transaction did not commit; nothing of it is stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// Stored data is not what it should be.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// A query asked for something storage cannot answer (a malformed cursor, a cursor of
    /// another sort, search text out of bounds); nothing was read.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The storage was closed (the server is shutting down).
    #[error("storage is closed")]
    Closed,
}

impl From<fieldsync_core::sql::OpenError> for StorageError {
    fn from(e: fieldsync_core::sql::OpenError) -> Self {
        use fieldsync_core::sql::OpenError;
        match e {
            OpenError::Sqlite(e) => StorageError::Sqlite(e),
            OpenError::TooNew { path, found, supported } => {
                StorageError::TooNew { path, found, supported }
            }
            other => StorageError::Corrupt(other.to_string()),
        }
    }
}

/// A server's storage: its documents and log, its accounts, what it knows of photos' bytes,
/// the record index, Open311's API keys, the points ledger and exchange, the business registry.
/// See the module's documentation for why it is seven traits.
pub trait Storage:
    DocumentStorage
    + AccountStorage
    + BlobStorage
    + IndexStorage
    + KeyStorage
    + PointsStorage
    + BusinessStorage
{
    /// Finishes the writes under way and releases the storage; later calls fail with `Closed`.
    fn close(&self) -> BoxFuture<'_, ()>;

    /// Whether this server runs, now, the jobs that must run once across every server on the
    /// storage (overdue escalation, ending idle uploads); asked before each of their passes.
    /// With SQLite always (one server owns the file); a shared backend elects one server.
    fn try_lead(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}
