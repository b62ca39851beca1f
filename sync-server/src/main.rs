//! The fieldsync-server binary: `serve` (the default) and administration subcommands on the
//! same database.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod admin;

use admin::{
    Admin, CodeCommand, DeviceCommand, IssueArgs, KeyCommand, SessionCommand, UserCommand,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use fieldsync_core::limits;
use fieldsync_server::config::{
    DEFAULT_BLOB_QUOTA_BYTES, DEFAULT_BLOB_UPLOAD_IDLE, DEFAULT_DATA_DIR,
    DEFAULT_DESK_SESSION_IDLE, DEFAULT_ENROLL_ATTEMPTS_PER_MINUTE, DEFAULT_ENROLL_BODY_BYTES,
    DEFAULT_ENROLL_FAILURES_PER_MINUTE, DEFAULT_HEADER_TIMEOUT, DEFAULT_LISTEN,
    DEFAULT_MAX_BLOB_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_METRICS_LISTEN, DEFAULT_ROOT_SCOPE, DEFAULT_STALL_TIMEOUT, DEFAULT_VISIBLE_BODY_BYTES,
    StorageChoice, TrustedProxy,
};
use fieldsync_server::grids::GridOutlines;
use fieldsync_server::storage::postgres::{self, PostgresStorage};
use fieldsync_server::{Durability, Listeners, Rules, Server, ServerConfig, SqliteStorage};
use tracing_subscriber::EnvFilter;

// glibc's malloc keeps what bursts of requests freed in its per-thread arenas, between the
// long-lived documents of the cache, so the resident memory of a busy server creeps up;
// jemalloc gives freed pages back to the system.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
fieldsync_server::export_jemalloc_conf!();

/// The fieldsync sync server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Directory of the server's database (created on first start).
    #[arg(long, env = "FIELDSYNC_DATA", default_value = DEFAULT_DATA_DIR, global = true)]
    data: PathBuf,
    /// Where to keep the data: `sqlite` (a file in the data directory; the default) or a
    /// PostgreSQL URL, `postgres://user@host:port/database`, which any number of server
    /// instances may share (photos' files stay in the data directory, which they must share).
    /// The administration subcommands work on it too.
    #[arg(long, env = "FIELDSYNC_STORAGE", default_value = "sqlite", global = true)]
    storage: StorageChoice,
    /// How log lines are written to stderr: text (coloured only on a terminal, never with
    /// NO_COLOR set) or json, one object a line, for log shippers.
    #[arg(long, env = "FIELDSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text,
          global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event (timestamp, level, fields, target, span).
    Json,
}

/// Whether text logs are coloured: only on a terminal, and never when `NO_COLOR` is set
/// (no-color.org). Written to a file, a pipe or journald, escape codes would be noise.
fn colour(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Logs to stderr (stdout carries what administration subcommands print), in `format`.
/// Automerge instruments its loading and parsing with info-level spans: by default they are
/// left out, or every document load would pay for a span.
fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,automerge=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync protocol (the default).
    Serve(Box<ServeArgs>),
    /// Give the database a new epoch; run it (server stopped) after restoring a backup, so
    /// phones reconcile what the backup lacks instead of trusting their cursors.
    NewEpoch,
    /// Users: add, list, change scopes.
    #[command(subcommand)]
    User(UserCommand),
    /// Enrollment codes: issue one for a user (`enroll-code <user>` works as `enroll-code issue
    /// <user>`), list them, withdraw one.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    EnrollCode {
        #[command(subcommand)]
        action: Option<CodeCommand>,
        #[command(flatten)]
        issue: IssueArgs,
    },
    /// Devices: list, revoke.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Desk sessions (the command centre's browsers): list, revoke.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Rebuild the record index (the tables the desk lists and counts) from the stored
    /// documents; run it with the server stopped, after changing the rules file.
    Reindex {
        /// The rules file (time limits and priority per report category; see
        /// sync-server/src/rules.rs); the built-in rules without it.
        #[arg(long, env = "FIELDSYNC_RULES", value_parser = load_rules)]
        rules: Option<Rules>,
    },
    /// Open311 API keys of third-party reporting apps: issue, list, revoke.
    #[command(subcommand)]
    ApiKey(KeyCommand),
    /// List pushes refused as stale_rights: changes right when made offline, not when they
    /// arrived (a responder taken off a report, a scope withdrawn), oldest first.
    Refusals {
        /// Only records inside this scope (repeat for several; none: all).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// List after this position (the first column).
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FIELDSYNC_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Wait for every commit to reach the disk (survives power loss; slower). Without it a
    /// commit survives the death of the process.
    #[arg(long, env = "FIELDSYNC_SYNC_FULL")]
    sync_full: bool,
    /// Most documents kept loaded in memory.
    #[arg(long, env = "FIELDSYNC_CACHE_DOCS")]
    cache_docs: Option<usize>,
    /// Most megabytes of loaded documents kept in memory (estimated).
    #[arg(long, env = "FIELDSYNC_CACHE_MB")]
    cache_mb: Option<usize>,
    /// Largest saved size of one document, in KiB (at most 32768, the default, which phones
    /// enforce too): a push that would grow a document past it is refused `too_large`.
    #[arg(long, env = "FIELDSYNC_MAX_DOC_KB",
          value_parser = clap::value_parser!(u32).range(1..=(limits::DOC_BYTES / 1024) as i64))]
    max_doc_kb: Option<u32>,
    /// Largest blob (photo) a device may upload, in bytes; larger ones are refused `too_large`.
    #[arg(long, env = "FIELDSYNC_MAX_BLOB_BYTES", default_value_t = DEFAULT_MAX_BLOB_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_blob_bytes: u64,
    /// Most bytes of blobs one device's uploads may hold; past it uploads are refused
    /// `quota_exceeded`.
    #[arg(long, env = "FIELDSYNC_BLOB_QUOTA_BYTES", default_value_t = DEFAULT_BLOB_QUOTA_BYTES)]
    blob_quota_bytes: u64,
    /// An upload that receives no byte for this many hours is ended: its bytes are removed and
    /// its device's quota freed (the device starts again from 0 if it comes back).
    #[arg(long, env = "FIELDSYNC_BLOB_UPLOAD_IDLE_HOURS",
          default_value_t = DEFAULT_BLOB_UPLOAD_IDLE.as_secs() / 3600,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    blob_upload_idle_hours: u64,
    /// Seconds a client has to send a request's headers, counted from when its connection
    /// opened or its previous answer was sent: a kept-alive connection idle this long is closed
    /// too.
    #[arg(long, env = "FIELDSYNC_HEADER_TIMEOUT_SECS",
          default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Seconds a client may keep the server waiting in the middle of a request, for the next
    /// bytes of its body (then `408 request_timeout`) or to take the next bytes of an answer
    /// (then the connection is closed).
    #[arg(long, env = "FIELDSYNC_STALL_TIMEOUT_SECS",
          default_value_t = DEFAULT_STALL_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    stall_timeout_secs: u64,
    /// Connections open at once, all clients together (lowered to what `ulimit -n` leaves
    /// room for); one past it is closed at once.
    #[arg(long, env = "FIELDSYNC_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Connections open at once from one client address (an IPv6 /64 counts as one), at most a
    /// quarter of --max-connections; one past it is closed at once. Trusted proxies are held
    /// only to --max-connections.
    #[arg(long, env = "FIELDSYNC_MAX_CONNECTIONS_PER_ADDRESS",
          default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_address: u64,
    /// Largest enrollment request body, in bytes (`413 too_large` past it).
    #[arg(long, env = "FIELDSYNC_ENROLL_BODY_BYTES", default_value_t = DEFAULT_ENROLL_BODY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(512..=65_536))]
    enroll_body_bytes: u64,
    /// Largest `/v1/visible` request body, in bytes (`413 too_large` past it); at least what
    /// 1,000 document ids take.
    #[arg(long, env = "FIELDSYNC_VISIBLE_BODY_BYTES",
          default_value_t = DEFAULT_VISIBLE_BODY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(24_576..=8_388_608))]
    visible_body_bytes: u64,
    /// Enrollment attempts one client address may make per minute, whatever their outcome.
    #[arg(long, env = "FIELDSYNC_ENROLL_ATTEMPTS_PER_MINUTE",
          default_value_t = DEFAULT_ENROLL_ATTEMPTS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    enroll_attempts_per_minute: u32,
    /// Failed enrollment attempts (bad, used, expired or revoked codes) one client address may
    /// make per minute; past it the address waits until the budget refills.
    #[arg(long, env = "FIELDSYNC_ENROLL_FAILURES_PER_MINUTE",
          default_value_t = DEFAULT_ENROLL_FAILURES_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    enroll_failures_per_minute: u32,
    /// A reverse proxy (an address, or a network such as 10.0.0.0/8) whose X-Forwarded-For or
    /// Forwarded header names the client; repeat it, or separate with commas in the variable.
    /// From any other peer those headers are ignored.
    #[arg(long = "trusted-proxy", env = "FIELDSYNC_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxies: Vec<TrustedProxy>,
    /// Where to serve /metrics on a listener of its own (keep it off the internet), or `off`.
    #[arg(long, env = "FIELDSYNC_METRICS_LISTEN", default_value = DEFAULT_METRICS_LISTEN,
          value_parser = parse_metrics_listen)]
    metrics_listen: MetricsListen,
    /// Also serve /metrics on --listen, to requests with `Authorization: Bearer <token>` (at
    /// least 32 characters); without it /metrics is not served there.
    #[arg(long, env = "FIELDSYNC_METRICS_TOKEN", value_parser = parse_metrics_token,
          hide_env_values = true)]
    metrics_token: Option<String>,
    /// Minutes a desk session may go unused before it ends (sign in again then).
    #[arg(long, env = "FIELDSYNC_DESK_SESSION_IDLE_MINS",
          default_value_t = DEFAULT_DESK_SESSION_IDLE.as_secs() / 60,
          value_parser = clap::value_parser!(u64).range(1..=525_600))]
    desk_session_idle_mins: u64,
    /// Days a peer credential is valid (phone-to-phone sync, docs/peer.md).
    #[arg(long, env = "FIELDSYNC_PEER_CREDENTIAL_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u16).range(1..=365))]
    peer_credential_days: u16,
    /// The server is reached over TLS (itself or a reverse proxy): desk session cookies are
    /// marked Secure, so browsers never send them in clear. Implied by `--tls-cert`.
    #[arg(long, env = "FIELDSYNC_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate, then the
    /// intermediates); read again on SIGHUP, without dropping open connections.
    #[arg(long, env = "FIELDSYNC_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "FIELDSYNC_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// On an empty data folder, fill a demonstration street (grids, users of every role, a few
    /// days of reports, some overdue, a patrol and a mediation case) and show a dispatcher's
    /// one-time sign-in code.
    #[arg(long, env = "FIELDSYNC_DEMO")]
    demo: bool,
    /// The root of the jurisdiction tree: the scope of the first admin, made (with a one-time
    /// sign-in code shown on stderr) when the server starts with no users.
    #[arg(long, env = "FIELDSYNC_ROOT_SCOPE", default_value = DEFAULT_ROOT_SCOPE)]
    root_scope: String,
    /// The command centre's rules file: per report category the time to accept, the time to
    /// resolve and the priority (TOML; see sync-server/src/rules.rs). The built-in rules
    /// without it.
    #[arg(long, env = "FIELDSYNC_RULES", value_parser = load_rules)]
    rules: Option<Rules>,
    /// The grid outlines the command centre's map draws: a GeoJSON file of Polygon or
    /// MultiPolygon features with `name` and `scope` properties (see sync-server/src/grids.rs).
    /// Without it the map shows its points on a plain projection.
    #[arg(long, env = "FIELDSYNC_GRID_OUTLINES", value_parser = load_grid_outlines)]
    grid_outlines: Option<GridOutlines>,
}

/// `--grid-outlines FILE`: read and checked when the arguments are (a mistake names its
/// feature).
fn load_grid_outlines(path: &str) -> Result<GridOutlines, String> {
    GridOutlines::load(std::path::Path::new(path)).map_err(|e| e.to_string())
}

/// `--rules FILE`: the file read and checked when the arguments are (a mistake names its line
/// or its category and key).
fn load_rules(path: &str) -> Result<Rules, String> {
    Rules::load(std::path::Path::new(path)).map_err(|e| e.to_string())
}

/// `--metrics-listen`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MetricsListen(Option<SocketAddr>);

fn parse_metrics_listen(s: &str) -> Result<MetricsListen, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(MetricsListen(None));
    }
    s.parse()
        .map(|a| MetricsListen(Some(a)))
        .map_err(|_| format!("{s:?} is not an address such as 127.0.0.1:9180, nor `off`"))
}

fn parse_metrics_token(s: &str) -> Result<String, String> {
    let ok = s.chars().count() >= 32 && s.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(s.to_string())
    } else {
        Err("a metrics token is at least 32 printable ASCII characters, no spaces (it is the \
             only thing between /metrics and anyone; try `openssl rand -hex 32`)"
            .into())
    }
}

fn config(data: PathBuf, storage: StorageChoice, args: &ServeArgs) -> ServerConfig {
    let mut c = ServerConfig::new(data).with_listen(args.listen);
    c.storage = storage;
    if args.sync_full {
        c.durability = Durability::Full;
    }
    if let Some(n) = args.cache_docs {
        c.cache_docs = n;
    }
    if let Some(mb) = args.cache_mb {
        c.cache_bytes = mb.saturating_mul(1024 * 1024);
    }
    if let Some(kb) = args.max_doc_kb {
        c.doc_bytes = (kb as usize).saturating_mul(1024);
    }
    c.max_blob_bytes = args.max_blob_bytes;
    c.blob_quota_bytes = args.blob_quota_bytes;
    c.blob_upload_idle = std::time::Duration::from_secs(args.blob_upload_idle_hours * 3600);
    c.header_timeout = std::time::Duration::from_secs(args.header_timeout_secs);
    c.stall_timeout = std::time::Duration::from_secs(args.stall_timeout_secs);
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    c.max_connections = size(args.max_connections);
    c.max_connections_per_address = size(args.max_connections_per_address);
    c.enroll_body_bytes = size(args.enroll_body_bytes);
    c.visible_body_bytes = size(args.visible_body_bytes);
    c.enroll_attempts_per_minute = args.enroll_attempts_per_minute;
    c.enroll_failures_per_minute = args.enroll_failures_per_minute;
    c.trusted_proxies = args.trusted_proxies.clone();
    c.metrics_listen = args.metrics_listen.0;
    c.metrics_token = args.metrics_token.clone();
    c.desk_session_idle = std::time::Duration::from_secs(args.desk_session_idle_mins * 60);
    c.peer_credential_validity =
        std::time::Duration::from_secs(u64::from(args.peer_credential_days) * 24 * 3600);
    c.tls = args
        .tls_cert
        .clone()
        .zip(args.tls_key.clone())
        .map(|(cert, key)| fieldsync_server::TlsFiles { cert, key });
    c.secure_cookies = args.secure_cookies || c.tls.is_some();
    c.root_scope = args.root_scope.clone();
    c.first_admin = true;
    c.demo = args.demo;
    c.rules = args.rules.clone().unwrap_or_default();
    c.grid_outlines = args.grid_outlines.clone();
    c
}

async fn serve(config: ServerConfig) -> Result<(), String> {
    let server = Server::open(&config).await.map_err(|e| e.to_string())?;
    let listeners = Listeners::bind(&config).await.map_err(|e| format!("cannot listen: {e}"))?;
    tracing::info!(data = %config.data_dir.display(), "fieldsync-server");
    if let Some(tls) = server.tls() {
        tokio::spawn(reload_tls_on_hangup(tls.clone()));
    }
    server
        .serve_on(listeners, fieldsync_server::shutdown::signal())
        .await
        .map_err(|e| format!("serving failed: {e}"))
}

/// Reads the certificate and key again at each SIGHUP (after a renewal); a pair that cannot
/// be used is logged and the one in use kept.
async fn reload_tls_on_hangup(tls: fieldsync_server::Tls) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => return tracing::error!("cannot listen for SIGHUP; no TLS reloads: {e}"),
    };
    while hangups.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate and key read again"),
            Err(e) => tracing::error!("SIGHUP: {e}; the certificate in use stays"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        None => run(serve(config(cli.data, cli.storage, &cli.serve))),
        Some(Command::Serve(args)) => run(serve(config(cli.data, cli.storage, &args))),
        Some(Command::User(c)) => admin::run(&cli.data, &cli.storage, Admin::User(c)),
        Some(Command::EnrollCode { action, issue }) => {
            admin::run(&cli.data, &cli.storage, Admin::EnrollCode(action, issue))
        }
        Some(Command::Device(c)) => admin::run(&cli.data, &cli.storage, Admin::Device(c)),
        Some(Command::Session(c)) => admin::run(&cli.data, &cli.storage, Admin::Session(c)),
        Some(Command::ApiKey(c)) => admin::run(&cli.data, &cli.storage, Admin::ApiKey(c)),
        Some(Command::Refusals { scopes, after }) => {
            admin::run(&cli.data, &cli.storage, Admin::Refusals(scopes, after))
        }
        Some(Command::Reindex { rules }) => {
            let storage = cli.storage.clone();
            run(async move { admin::reindex(cli.data, &storage, rules.unwrap_or_default()).await })
        }
        Some(Command::NewEpoch) => match &cli.storage {
            StorageChoice::Sqlite => {
                let path = ServerConfig::new(&cli.data).db_path();
                SqliteStorage::renew_epoch(&path)
                    .map(|epoch| println!("{}: new epoch {epoch}", path.display()))
                    .map_err(|e| e.to_string())
            }
            StorageChoice::Postgres(url) => {
                let url = url.clone();
                run(async move {
                    let epoch =
                        PostgresStorage::renew_epoch(&url).await.map_err(|e| e.to_string())?;
                    println!("{}: new epoch {epoch}", postgres::describe_url(&url));
                    Ok(())
                })
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("fieldsync-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(fut: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work (SQLite reads, Automerge, gzip) is CPU-bound and bounded by the
        // admission limit; few threads also mean few malloc arenas holding freed memory.
        .max_blocking_threads(16)
        .thread_name("fieldsync")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_limit_is_a_serve_option_within_what_phones_take() {
        let serve = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["fieldsync-server"], args].concat())?;
            Ok::<_, clap::Error>(config(cli.data, cli.storage, &cli.serve))
        };
        assert_eq!(serve(&[]).unwrap().doc_bytes, limits::DOC_BYTES);
        assert_eq!(serve(&["--max-doc-kb", "64"]).unwrap().doc_bytes, 64 * 1024);
        assert!(serve(&["--max-doc-kb", "32769"]).is_err());
        assert!(serve(&["--max-doc-kb", "0"]).is_err());
    }

    #[test]
    fn the_storage_is_sqlite_unless_a_postgres_url_is_given() {
        let serve = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["fieldsync-server"], args].concat())?;
            Ok::<_, clap::Error>(config(cli.data, cli.storage, &cli.serve))
        };
        assert_eq!(serve(&[]).unwrap().storage, StorageChoice::Sqlite);
        assert_eq!(serve(&["--storage", "sqlite"]).unwrap().storage, StorageChoice::Sqlite);
        let url = "postgres://fieldsync@db.internal:5432/fieldsync";
        assert_eq!(
            serve(&["--storage", url]).unwrap().storage,
            StorageChoice::Postgres(url.into())
        );
        for bad in ["mysql://db/x", "postgres://host:notaport/x", "", "fieldsync.db"] {
            assert!(serve(&["--storage", bad]).is_err(), "{bad:?}");
        }
        // A password in the URL never reaches a log line through the configuration.
        let secret = StorageChoice::Postgres("postgres://u:hunter2@db/x".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn connection_and_enrollment_limits_are_serve_options() {
        let serve = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["fieldsync-server"], args].concat())?;
            Ok::<_, clap::Error>(config(cli.data, cli.storage, &cli.serve))
        };
        let c = serve(&[]).unwrap();
        let defaults = ServerConfig::default();
        assert_eq!(
            (c.header_timeout, c.stall_timeout, c.max_connections, c.max_connections_per_address),
            (
                defaults.header_timeout,
                defaults.stall_timeout,
                defaults.max_connections,
                defaults.max_connections_per_address
            )
        );
        assert_eq!((c.enroll_body_bytes, c.visible_body_bytes), (4096, 65536));
        assert_eq!((c.enroll_attempts_per_minute, c.enroll_failures_per_minute), (600, 20));
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9180".parse().unwrap()));
        assert!(c.trusted_proxies.is_empty() && c.metrics_token.is_none());
        let c = serve(&[
            "--header-timeout-secs=5",
            "--stall-timeout-secs=7",
            "--max-connections=100",
            "--max-connections-per-address=10",
            "--enroll-body-bytes=1024",
            "--enroll-failures-per-minute=3",
            "--trusted-proxy=10.0.0.0/8",
            "--trusted-proxy=192.0.2.1",
            "--metrics-listen=off",
            &format!("--metrics-token={}", "x".repeat(32)),
        ])
        .unwrap();
        assert_eq!(c.header_timeout, std::time::Duration::from_secs(5));
        assert_eq!(c.stall_timeout, std::time::Duration::from_secs(7));
        assert_eq!((c.max_connections, c.max_connections_per_address), (100, 10));
        assert_eq!((c.enroll_body_bytes, c.enroll_failures_per_minute), (1024, 3));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.metrics_token.as_deref().map(str::len), Some(32));
        for bad in [
            "--header-timeout-secs=0",
            "--max-connections=0",
            "--enroll-body-bytes=100",
            "--visible-body-bytes=1000",
            "--trusted-proxy=example.org",
            "--metrics-listen=somewhere",
            "--metrics-token=short",
        ] {
            assert!(serve(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn desk_sessions_are_serve_options() {
        let serve = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["fieldsync-server"], args].concat())?;
            Ok::<_, clap::Error>(config(cli.data, cli.storage, &cli.serve))
        };
        let c = serve(&[]).unwrap();
        assert_eq!(c.desk_session_idle, std::time::Duration::from_secs(12 * 3600));
        assert!(!c.secure_cookies && c.first_admin);
        assert_eq!(c.root_scope, "jl");
        let c = serve(&["--desk-session-idle-mins=30", "--secure-cookies", "--root-scope=jl/cc"])
            .unwrap();
        assert_eq!(c.desk_session_idle, std::time::Duration::from_secs(1800));
        assert!(c.secure_cookies);
        assert_eq!(c.root_scope, "jl/cc");
        assert!(serve(&["--desk-session-idle-mins=0"]).is_err());
    }

    #[test]
    fn logs_are_text_or_json_and_coloured_only_on_a_terminal() {
        let format = |args: &[&str]| {
            Cli::try_parse_from([&["fieldsync-server"], args].concat()).map(|c| c.log_format)
        };
        assert_eq!(format(&[]).unwrap(), LogFormat::Text);
        assert_eq!(format(&["--log-format", "json"]).unwrap(), LogFormat::Json);
        assert_eq!(format(&["user", "list", "--log-format=json"]).unwrap(), LogFormat::Json);
        assert!(format(&["--log-format", "xml"]).is_err());
        assert!(colour(true, None));
        assert!(!colour(false, None), "a file, a pipe or journald gets no escape codes");
        assert!(!colour(true, Some("1".into())), "NO_COLOR");
        assert!(colour(true, Some("".into())), "an empty NO_COLOR does not count");
    }

    #[test]
    fn rules_are_read_for_serve_and_reindex() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("rules.toml");
        std::fs::write(&good, "[noise]\naccept_minutes = 5\n").unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[noise]\naccept_minutes = -5\n").unwrap();
        let cli = |args: &[&str]| Cli::try_parse_from([&["fieldsync-server"], args].concat());
        let parsed = cli(&["--rules", good.to_str().unwrap()]).unwrap();
        let c = config(parsed.data, parsed.storage, &parsed.serve);
        assert_eq!(c.rules.of(fieldsync_core::model::ReportCategory::Noise).accept_ms, 300_000);
        assert_eq!(
            config(cli(&[]).unwrap().data, StorageChoice::Sqlite, &cli(&[]).unwrap().serve).rules,
            Rules::default()
        );
        let e = cli(&["serve", "--rules", bad.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("accept_minutes"), "{e}");
        assert!(matches!(
            cli(&["reindex", "--rules", good.to_str().unwrap()]).unwrap().command,
            Some(Command::Reindex { rules: Some(_) })
        ));
        assert!(cli(&["reindex", "--rules", "/nonexistent.toml"]).is_err());
    }

    #[test]
    fn grid_outlines_are_a_serve_option_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("grids.geojson");
        std::fs::write(
            &good,
            r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
                "properties": {"name": "七网格"}, "geometry": {"type": "Polygon",
                "coordinates": [[[125.31, 43.87], [125.33, 43.87], [125.33, 43.89],
                                 [125.31, 43.87]]]}}]}"#,
        )
        .unwrap();
        let bad = dir.path().join("bad.geojson");
        std::fs::write(&bad, r#"{"type": "Point", "coordinates": [1, 2]}"#).unwrap();
        let cli = |args: &[&str]| Cli::try_parse_from([&["fieldsync-server"], args].concat());
        let parsed = cli(&["--grid-outlines", good.to_str().unwrap()]).unwrap();
        let c = config(parsed.data, parsed.storage, &parsed.serve);
        assert_eq!(c.grid_outlines.unwrap().all()[0].name, "七网格");
        assert!(
            config(cli(&[]).unwrap().data, StorageChoice::Sqlite, &cli(&[]).unwrap().serve)
                .grid_outlines
                .is_none()
        );
        let e = cli(&["--grid-outlines", bad.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("not a GeoJSON"), "{e}");
    }

    #[test]
    fn blob_limits_are_serve_options() {
        let serve = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["fieldsync-server"], args].concat())?;
            Ok::<_, clap::Error>(config(cli.data, cli.storage, &cli.serve))
        };
        let c = serve(&[]).unwrap();
        assert_eq!((c.max_blob_bytes, c.blob_quota_bytes), (20 << 20, 1 << 30));
        let c = serve(&["--max-blob-bytes", "1000", "--blob-quota-bytes", "5000"]).unwrap();
        assert_eq!((c.max_blob_bytes, c.blob_quota_bytes), (1000, 5000));
        assert!(serve(&["--max-blob-bytes", "0"]).is_err());
        assert_eq!(c.blob_upload_idle, std::time::Duration::from_secs(30 * 24 * 3600));
        let c = serve(&["--blob-upload-idle-hours", "2"]).unwrap();
        assert_eq!(c.blob_upload_idle, std::time::Duration::from_secs(7200));
        assert!(serve(&["--blob-upload-idle-hours", "0"]).is_err());
    }
}
