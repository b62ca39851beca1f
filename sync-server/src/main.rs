//! The fieldsync-server binary: `serve` (the default) and administration subcommands on the
//! same database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fieldsync_server::config::{DEFAULT_DATA_DIR, DEFAULT_LISTEN};
use fieldsync_server::{Durability, Server, ServerConfig, SqliteStorage};
use tracing_subscriber::EnvFilter;

// glibc's malloc keeps what bursts of requests freed in its per-thread arenas, between the
// long-lived documents of the cache, so the resident memory of a busy server creeps up;
// jemalloc gives freed pages back to the system.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The fieldsync sync server.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Directory of the server's database (created on first start).
    #[arg(long, env = "FIELDSYNC_DATA", default_value = DEFAULT_DATA_DIR, global = true)]
    data: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync protocol (the default).
    Serve(ServeArgs),
    /// Give the database a new epoch; run it (server stopped) after restoring a backup, so
    /// phones reconcile what the backup lacks instead of trusting their cursors.
    NewEpoch,
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
}

fn config(data: PathBuf, args: &ServeArgs) -> ServerConfig {
    let mut c = ServerConfig::new(data).with_listen(args.listen);
    if args.sync_full {
        c.durability = Durability::Full;
    }
    if let Some(n) = args.cache_docs {
        c.cache_docs = n;
    }
    if let Some(mb) = args.cache_mb {
        c.cache_bytes = mb.saturating_mul(1024 * 1024);
    }
    c
}

async fn serve(config: ServerConfig) -> Result<(), String> {
    let server = Server::open(&config).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(data = %config.data_dir.display(), "fieldsync-server");
    server
        .serve(listener, fieldsync_server::shutdown::signal())
        .await
        .map_err(|e| format!("serving failed: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Automerge instruments its loading and parsing with info-level spans: by default they are
    // left out, or every document load would pay for a span.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,automerge=warn")),
        )
        .init();
    let result = match cli.command {
        None => run(serve(config(cli.data, &cli.serve))),
        Some(Command::Serve(args)) => run(serve(config(cli.data, &args))),
        Some(Command::NewEpoch) => {
            let path = ServerConfig::new(&cli.data).db_path();
            SqliteStorage::renew_epoch(&path)
                .map(|epoch| println!("{}: new epoch {epoch}", path.display()))
                .map_err(|e| e.to_string())
        }
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
