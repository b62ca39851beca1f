//! What a server is started with: where it listens, where its data lives, and its bounds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fieldsync_core::limits;

/// The address `cargo run -p fieldsync-server` listens on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The data directory used when none is given.
pub const DEFAULT_DATA_DIR: &str = "fieldsync-data";
/// The SQLite file inside the data directory.
pub const DB_FILE: &str = "fieldsync.db";

/// The default largest blob: 20 MiB (a phone photo is 2 to 8 MB).
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 20 * 1024 * 1024;
/// The default blob quota of a device: 1 GiB.
pub const DEFAULT_BLOB_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;

/// How long an upload may receive nothing before the server ends it (30 days).
pub const DEFAULT_BLOB_UPLOAD_IDLE: Duration = Duration::from_secs(30 * 24 * 3600);

/// How hard a commit works to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// SQLite `synchronous=NORMAL` in WAL mode: an acknowledged change survives the death of the
    /// server process (SIGKILL, panic, OOM kill); the last commits may be lost if the machine
    /// loses power. About 4× faster commits than `Full`.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk before it is acknowledged, power loss included.
    Full,
}

/// Everything a server is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory holding the database; created if missing.
    pub data_dir: PathBuf,
    /// Commit durability.
    pub durability: Durability,
    /// Most documents kept loaded in memory.
    pub cache_docs: usize,
    /// Most estimated bytes of loaded documents kept in memory.
    pub cache_bytes: usize,
    /// Most bytes of compressed feed segments kept to splice into answers.
    pub feed_cache_bytes: usize,
    /// Sync and reconcile requests handled at once; more wait their turn. Their work is mostly
    /// CPU, so a few per core keep the cores busy; more would only hold more pages in memory.
    pub max_in_flight: usize,
    /// How long a request waits for its turn before it is answered `503 unavailable`.
    pub queue_timeout: Duration,
    /// Largest saved size of one document (snapshot plus chunks), in bytes: a push that would
    /// grow a document past it is refused `too_large`, and what was stored stays as it was. At
    /// most [`limits::DOC_BYTES`], which phones enforce too; a larger value is lowered to it.
    pub doc_bytes: usize,
    /// Largest blob (photo) a device may upload, in bytes (`413 too_large` past it).
    pub max_blob_bytes: u64,
    /// Most bytes of blobs one device's uploads may hold (`403 quota_exceeded` past it). A
    /// blob counts against the device that started its upload, from its first byte.
    pub blob_quota_bytes: u64,
    /// An upload that has received no byte for this long is ended (its bytes removed, its
    /// quota freed): its device went away (wiped, lost, the record's photo never coming).
    pub blob_upload_idle: Duration,
}

impl ServerConfig {
    /// A configuration with the defaults and the given data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig { data_dir: data_dir.into(), ..ServerConfig::default() }
    }

    /// Listens on `addr` instead.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            durability: Durability::Normal,
            cache_docs: 20_000,
            cache_bytes: 48 * 1024 * 1024,
            feed_cache_bytes: 16 * 1024 * 1024,
            max_in_flight: std::thread::available_parallelism().map_or(2, |n| n.get()) * 8,
            queue_timeout: Duration::from_secs(30),
            doc_bytes: limits::DOC_BYTES,
            max_blob_bytes: DEFAULT_MAX_BLOB_BYTES,
            blob_quota_bytes: DEFAULT_BLOB_QUOTA_BYTES,
            blob_upload_idle: DEFAULT_BLOB_UPLOAD_IDLE,
        }
    }
}
