//! What a server is started with: where it listens, where its data lives, and its bounds.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use fieldsync_core::limits;

use crate::clock::Clock;
use crate::grids::GridOutlines;
use crate::rules::Rules;

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

/// Where the binary serves `/metrics` unless told otherwise: loopback only, its own port.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9180";

/// How long a client has to send a request's head, counted from when its connection opened or
/// its previous answer was sent (so it is also how long a kept-alive connection may sit idle).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a client may keep the server waiting in the middle of a request: for the next
/// bytes of its body, or to take the next bytes of the answer.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once, all clients together (lowered to what the process's file
/// descriptor limit allows, see `http::serve::caps`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Connections open at once from one client address (an IPv6 /64 counts as one address).
/// Phones hold a connection for a sync and a short keep-alive, so even a town's phones behind
/// one carrier NAT stay far below it; a trusted proxy is not held to it.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// Largest `POST /v1/enroll` body on the wire: an EnrollRequest is a code, a device name and
/// an actor id, well under 1 KiB even uncompressed.
pub const DEFAULT_ENROLL_BODY_BYTES: usize = 4 * 1024;
/// Largest `POST /v1/visible` body on the wire: 1,000 document ids (18 bytes each in CBOR,
/// incompressible) and the envelope.
pub const DEFAULT_VISIBLE_BODY_BYTES: usize = 64 * 1024;
/// Enrollment attempts one client address may make per minute, whatever their outcome. A town
/// enrolling its phones in one morning behind one address makes a few a minute.
pub const DEFAULT_ENROLL_ATTEMPTS_PER_MINUTE: u32 = 600;
/// Failed enrollment attempts (malformed, unknown, used, expired or revoked codes, or a code of
/// a disabled user) one client address may make per minute.
pub const DEFAULT_ENROLL_FAILURES_PER_MINUTE: u32 = 20;

/// How long a desk session may go unused before it ends (12 hours: a working day and more).
pub const DEFAULT_DESK_SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// How long a peer credential is valid (7 days: a week of patrols without signal).
pub const DEFAULT_PEER_CREDENTIAL_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The scope of the first admin made on an empty server: the root of the jurisdiction tree.
pub const DEFAULT_ROOT_SCOPE: &str = "jl";

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports)
/// turned back into IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An IP address or a network (`10.0.0.0/8`, `fd00::/8`): a reverse proxy trusted to say which
/// client it forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrustedProxy(pub ipnet::IpNet);

impl TrustedProxy {
    /// Whether `ip` is this proxy (or in this network).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(TrustedProxy(net.trunc()));
        }
        let ip = s.parse::<IpAddr>().map(canonical);
        ip.map(|ip| TrustedProxy(ipnet::IpNet::from(ip))).map_err(|_| {
            format!("{s:?} is not an IP address or a network such as 10.0.0.0/8 or fd00::/8")
        })
    }
}

/// Where a server keeps its data.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StorageChoice {
    /// One SQLite file in the data directory: zero set-up, one server instance (the default).
    #[default]
    Sqlite,
    /// A PostgreSQL database (a `postgres://` URL), shared by any number of server instances
    /// (docs/storage-postgres.md).
    Postgres(String),
}

impl std::str::FromStr for StorageChoice {
    type Err = String;

    /// `sqlite`, or a `postgres://` (or `postgresql://`) URL.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "sqlite" {
            Ok(StorageChoice::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            crate::storage::postgres::parse_url(s).map_err(|e| e.to_string())?;
            Ok(StorageChoice::Postgres(s.to_string()))
        } else {
            Err("the storage is `sqlite` or a `postgres://user@host:port/database` URL".into())
        }
    }
}

impl std::fmt::Debug for StorageChoice {
    /// The URL's password, if it has one, is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageChoice::Sqlite => f.write_str("Sqlite"),
            StorageChoice::Postgres(url) => match crate::storage::postgres::parse_url(url) {
                Ok(c) if c.get_password().is_some() => {
                    f.write_str("Postgres(<a URL with a password>)")
                }
                _ => write!(f, "Postgres({url:?})"),
            },
        }
    }
}

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

/// How often overdue reports are looked for by default.
pub const DEFAULT_ESCALATE_EVERY: Duration = Duration::from_secs(60);

/// Where the server's certificate chain and private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain: the server's certificate first, then the intermediates.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Everything a server is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key (read again on `Server::reload_tls`, which
    /// the binary calls on SIGHUP); plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// Directory holding the database (with SQLite) and the photos' files; created if missing.
    pub data_dir: PathBuf,
    /// Where the documents, accounts and everything else but the photos' bytes are kept.
    pub storage: StorageChoice,
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
    /// How long a client has to send a request's head, from when its connection opened or its
    /// previous answer was sent; past it the connection is closed. It is also how long a
    /// kept-alive connection may sit idle (hyper counts both with one timer).
    pub header_timeout: Duration,
    /// How long a client may keep the server waiting in the middle of a request, for the next
    /// bytes of its body (then `408 request_timeout`) or to take the next bytes of an answer
    /// (then the connection is closed).
    pub stall_timeout: Duration,
    /// Connections open at once, all clients together; a connection past it is closed at once.
    /// Lowered when serving to what the process's file descriptor limit leaves room for.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64 counts as one), at most
    /// a quarter of the total; a connection past it is closed at once. Trusted proxies are held
    /// only to the total.
    pub max_connections_per_address: usize,
    /// Largest `POST /v1/enroll` body on the wire (`413 too_large` past it, before it is read).
    pub enroll_body_bytes: usize,
    /// Largest `POST /v1/visible` body on the wire (`413 too_large` past it).
    pub visible_body_bytes: usize,
    /// Enrollment attempts one client address may make per minute, whatever their outcome
    /// (`429 rate_limited` past it).
    pub enroll_attempts_per_minute: u32,
    /// Failed enrollment attempts one client address may make per minute (`429 rate_limited`
    /// past it, until the budget refills).
    pub enroll_failures_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers name the client; from any
    /// other peer those headers are ignored.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Where `/metrics` is served on a listener of its own (`None`: not on its own listener).
    pub metrics_listen: Option<SocketAddr>,
    /// A token that opens `/metrics` on the main listener (`Authorization: Bearer <token>`);
    /// without it `/metrics` is not served there.
    pub metrics_token: Option<String>,
    /// How long a desk session may go unused before it ends.
    pub desk_session_idle: Duration,
    /// How long a peer credential (`docs/peer.md`) is valid: a phone that does not sync for
    /// longer can no longer sync with other phones.
    pub peer_credential_validity: Duration,
    /// Whether the server is reached over TLS, so desk cookies are marked `Secure` (browsers
    /// then never send them in clear).
    pub secure_cookies: bool,
    /// The root of the jurisdiction tree: the scope of the first admin made on an empty
    /// server.
    pub root_scope: String,
    /// Whether a server with no users makes the first admin and shows their one-time code
    /// when it starts serving (the binary does; in-process servers only when asked).
    pub first_admin: bool,
    /// Whether an empty server fills a demonstration street (`--demo`) and shows a
    /// dispatcher's one-time sign-in code.
    pub demo: bool,
    /// The command centre's rules (time limits and priority per report category), which the
    /// index computes due times and priorities under.
    pub rules: Rules,
    /// The grid outlines the board's map draws (`--grid-outlines FILE`); none: the map shows
    /// its points on a plain projection.
    pub grid_outlines: Option<GridOutlines>,
    /// How often the server escalates overdue reports (`None`: never; tests escalate by
    /// calling `RunningServer::escalate`).
    pub escalate_every: Option<Duration>,
    /// Where overdue escalation reads the time from (a test's own clock, or the system's).
    pub clock: Clock,
    /// Whether accepted writes update the record index. Always on, except to measure what
    /// maintaining the index costs a server (`bench desk`, figure `desk.index_overhead`): a
    /// server without it answers the desk wrongly.
    pub index_writes: bool,
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

    /// Serves `/metrics` on `addr` (port 0: a free port), or on no listener of its own.
    pub fn with_metrics_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.metrics_listen = addr;
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
            tls: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            storage: StorageChoice::Sqlite,
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
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            enroll_body_bytes: DEFAULT_ENROLL_BODY_BYTES,
            visible_body_bytes: DEFAULT_VISIBLE_BODY_BYTES,
            enroll_attempts_per_minute: DEFAULT_ENROLL_ATTEMPTS_PER_MINUTE,
            enroll_failures_per_minute: DEFAULT_ENROLL_FAILURES_PER_MINUTE,
            trusted_proxies: Vec::new(),
            // In-process servers (tests, examples) get a free loopback port, so that several
            // can run at once; the binary's default is DEFAULT_METRICS_LISTEN.
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            metrics_token: None,
            desk_session_idle: DEFAULT_DESK_SESSION_IDLE,
            peer_credential_validity: DEFAULT_PEER_CREDENTIAL_VALIDITY,
            secure_cookies: false,
            root_scope: DEFAULT_ROOT_SCOPE.to_string(),
            first_admin: false,
            demo: false,
            rules: Rules::default(),
            grid_outlines: None,
            escalate_every: Some(DEFAULT_ESCALATE_EVERY),
            clock: Clock::System,
            index_writes: true,
        }
    }
}
