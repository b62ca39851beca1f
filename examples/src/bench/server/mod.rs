//! The servers a benchmark talks to: those the suite starts itself (child processes, so their
//! resident memory is their own and can be read from `/proc`), or one started elsewhere and
//! named by URL. The `sync`, `load`, `blobs`, `desk`, `board` and `points` suites share them.
//!
//! A suite's servers keep their data in SQLite (one server, the default) or in PostgreSQL
//! ([`Backend::Postgres`]): then any number of instances share one database, in a schema the
//! run makes and drops ([`postgres`]), and the devices the suite enrolls are spread over the
//! instances in turn, as a load balancer would spread phones.
//!
//! Each child is this very executable run with the hidden `serve` subcommand
//! ([`serve_child`]): the same server code and allocator as `fieldsync-server`, without asking
//! the user to build a second binary first.

mod postgres;
mod proc;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::HttpTransport;
use fieldsync_server::accounts::Accounts;
use fieldsync_server::storage::PostgresStorage;
use fieldsync_server::{Listeners, Server, ServerConfig, StorageChoice};

pub use self::postgres::BenchSchema;
pub use self::proc::{Memory, parse_cpu};
use crate::bench::{Result, progress};

/// The line the child prints once it listens, followed by its URL, then [`METRICS`] and the URL
/// of its metrics listener.
const READY: &str = "fieldsync-bench-server listening on ";
/// What follows the API's URL on the [`READY`] line.
const METRICS: &str = " metrics on ";

/// Where the servers a suite starts keep their data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Backend {
    /// One server over a SQLite database of its own (the default).
    #[default]
    Sqlite,
    /// `instances` servers over one PostgreSQL database (`url`, a `postgres://…` URL), in a
    /// schema the run makes and drops.
    Postgres {
        /// The database.
        url: String,
        /// Server processes sharing it.
        instances: usize,
    },
}

impl Backend {
    /// What goes before the name of a figure measured on this backend: nothing for SQLite (the
    /// figures keep the names they always had), `postgres.` for PostgreSQL.
    pub fn prefix(&self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres { .. } => "postgres.",
        }
    }

    /// How many server processes run.
    pub fn instances(&self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres { instances, .. } => *instances,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite => f.write_str("SQLite, one server"),
            Backend::Postgres { instances, .. } => {
                write!(f, "PostgreSQL, {instances} server instance(s)")
            }
        }
    }
}

/// One server process.
#[derive(Debug)]
struct Instance {
    url: String,
    metrics_url: String,
    /// `None` for a server started elsewhere.
    child: Option<Child>,
}

/// The servers under measurement: one, or several instances on one PostgreSQL database.
#[derive(Debug)]
pub struct BenchServer {
    instances: Vec<Instance>,
    /// The instance the next enrolled device talks to.
    next: AtomicUsize,
    client: reqwest::Client,
    /// One transport per instance, without a token.
    transports: Vec<HttpTransport>,
    accounts: Accounts,
    /// The runtime the accounts' PostgreSQL storage runs on (dropped after the accounts).
    _runtime: Option<tokio::runtime::Runtime>,
    /// The run's PostgreSQL schema, dropped last, once the servers are gone.
    schema: Option<BenchSchema>,
    /// The servers' data directory (SQLite's database file is there).
    data_dir: PathBuf,
}

impl BenchServer {
    /// Starts a server on a free loopback port over a new SQLite database in `data_dir`.
    pub fn start(data_dir: &Path) -> Result<BenchServer> {
        BenchServer::start_with(data_dir, &[])
    }

    /// Like [`BenchServer::start`], with options of the hidden `serve` subcommand
    /// (`--no-escalation`, `--no-index-writes`; see [`ServeOptions`]).
    pub fn start_with(data_dir: &Path, options: &[&str]) -> Result<BenchServer> {
        BenchServer::start_on(&Backend::Sqlite, data_dir, options)
    }

    /// Starts the servers of `backend` on free loopback ports, with `data_dir` as their data
    /// directory (shared by the instances: photos' files are there) and the options of the
    /// hidden `serve` subcommand.
    pub fn start_on(backend: &Backend, data_dir: &Path, options: &[&str]) -> Result<BenchServer> {
        // The accounts open the database before the servers start.
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot make {}: {e}", data_dir.display()))?;
        let (schema, runtime, accounts, storage) = match backend {
            Backend::Sqlite => {
                (None, None, Accounts::open(&ServerConfig::new(data_dir).db_path())?, None)
            }
            Backend::Postgres { url, instances } => {
                if *instances == 0 {
                    return Err("--instances must be at least 1".into());
                }
                let schema = BenchSchema::create(url)?;
                progress(format_args!("PostgreSQL schema {}", schema.name()));
                let url = schema.url();
                // Multi-threaded: the accounts' blocking calls drive it from other threads.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()?;
                let storage = rt.block_on(PostgresStorage::open(&url))?;
                let accounts = {
                    let _inside = rt.enter();
                    Accounts::new(Arc::new(storage))?
                };
                (Some(schema), Some(rt), accounts, Some(url))
            }
        };
        let mut server = BenchServer {
            instances: Vec::new(),
            next: AtomicUsize::new(0),
            client: {
                fieldsync_core::sync::install_tls_provider();
                reqwest::Client::new()
            },
            transports: Vec::new(),
            accounts,
            _runtime: runtime,
            schema,
            data_dir: data_dir.to_path_buf(),
        };
        for _ in 0..backend.instances() {
            let instance = spawn(data_dir, storage.as_deref(), options)?;
            server.transports.push(HttpTransport::new(&instance.url)?);
            server.instances.push(instance);
        }
        Ok(server)
    }

    /// A server already running at `url`, with its metrics listener at `metrics_url`, whose
    /// data directory (its `--data`) is `data_dir` on this machine: the benchmark's users and
    /// devices are enrolled there.
    pub fn remote(url: &str, metrics_url: &str, data_dir: &Path) -> Result<BenchServer> {
        let url = url.trim_end_matches('/').to_string();
        let metrics_url = metrics_url.trim_end_matches('/').to_string();
        let accounts = Accounts::open(&ServerConfig::new(data_dir).db_path())?;
        let transport = HttpTransport::new(&url)?;
        Ok(BenchServer {
            instances: vec![Instance { url, metrics_url, child: None }],
            next: AtomicUsize::new(0),
            client: {
                fieldsync_core::sync::install_tls_provider();
                reqwest::Client::new()
            },
            transports: vec![transport],
            accounts,
            _runtime: None,
            schema: None,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// Enrolls a device of a dispatcher of the whole jurisdiction (who reads everything) writing
    /// as `actor`; gives a transport carrying its token. One HTTP client serves every device.
    pub fn enroll(&self, user: &str, actor: &[u8]) -> Result<HttpTransport> {
        self.enroll_as(user, Role::Dispatcher, "jl", actor)
    }

    /// Like [`BenchServer::enroll`], for a user of `role` working in `scope`.
    pub fn enroll_as(
        &self,
        user: &str,
        role: Role,
        scope: &str,
        actor: &[u8],
    ) -> Result<HttpTransport> {
        let profile = Profile { user: user.into(), role, patrol: None, scopes: vec![scope.into()] };
        self.enroll_profile(&profile, actor)
    }

    /// Enrolls a device of `profile`'s user (added with that role, patrol kind and scopes if the
    /// user is new) writing as `actor`. With several instances, each device talks to the next
    /// instance in turn.
    pub fn enroll_profile(&self, profile: &Profile, actor: &[u8]) -> Result<HttpTransport> {
        let token = self.enroll_token(profile, actor)?;
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.transports.len();
        Ok(self.transports[turn].clone().with_token(token))
    }

    /// Like [`BenchServer::enroll_profile`], giving the device's token itself (for a transport
    /// to another address, such as a link emulator in front of this server).
    pub fn enroll_token(&self, profile: &Profile, actor: &[u8]) -> Result<String> {
        let user = profile.user.as_str();
        if self.accounts.user(user)?.is_none() {
            self.accounts.add_user(user, profile.role, profile.patrol, &profile.scopes)?;
        }
        let admin =
            Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
        let code = self.accounts.issue_code(user, &admin, Duration::from_secs(3600))?.code;
        let e = self.accounts.enroll(&code, "bench", Some(actor))?;
        if e.device.actor != actor {
            return Err(format!("{user}: actor {actor:?} is another device's").into());
        }
        Ok(e.token)
    }

    /// The servers' accounts (users, codes, desk sessions), as their admin CLI reaches them.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The base URL of the first instance.
    pub fn url(&self) -> &str {
        &self.instances[0].url
    }

    /// The CPU time the server children have used so far, together (`/proc/<pid>/stat`);
    /// `None` for a server started elsewhere.
    pub fn child_cpu(&self) -> Result<Option<Duration>> {
        Ok(self.read_proc("stat", parse_cpu)?.map(|all| all.into_iter().sum()))
    }

    /// The memory of the server children together, as the kernel counts it
    /// (`/proc/<pid>/status`, see [`Memory::sum`]); `None` for a server started elsewhere.
    pub fn child_memory(&self) -> Result<Option<Memory>> {
        Ok(self.read_proc("status", Memory::parse)?.map(Memory::sum))
    }

    /// Reads `/proc/<child>/<file>` of every child with `parse`; `None` without children.
    fn read_proc<T>(
        &self,
        file: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<Vec<T>>> {
        let mut out = Vec::with_capacity(self.instances.len());
        for child in self.instances.iter().filter_map(|i| i.child.as_ref()) {
            let path = format!("/proc/{}/{file}", child.id());
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
            out.push(parse(&text).ok_or_else(|| format!("{path} is not as expected"))?);
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// The bytes the servers' database takes: SQLite's file and its write-ahead log, or the
    /// PostgreSQL schema's tables with their indexes ([`BenchSchema::bytes`]).
    pub fn stored_bytes(&self) -> Result<u64> {
        if let Some(schema) = &self.schema {
            return schema.bytes();
        }
        let db = ServerConfig::new(&self.data_dir).db_path();
        let mut wal = db.clone().into_os_string();
        wal.push("-wal");
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        Ok(size(&db) + size(Path::new(&wal)))
    }

    /// The CPU time PostgreSQL's backends serving the servers have used so far, together
    /// (their `/proc/<pid>/stat`); `None` on SQLite, whose work is in the servers' own CPU
    /// time, and for a database on another machine. A backend that ended meanwhile no longer
    /// counts; the database's background writers never do.
    pub fn database_cpu(&self) -> Result<Option<Duration>> {
        let Some(schema) = self.schema.as_ref().filter(|s| s.is_local()) else { return Ok(None) };
        let mut total = Duration::ZERO;
        for pid in schema.backends()? {
            // A backend may end between the listing and the read: it counts for nothing.
            if let Some(cpu) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_cpu(&stat))
            {
                total += cpu;
            }
        }
        Ok(Some(total))
    }

    /// A value of the servers' `/metrics` (the first sample named `name`, without labels),
    /// read from each instance's metrics listener and summed over the instances; `None` if no
    /// instance reports it.
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let mut total = None;
        for i in &self.instances {
            if let Some(v) = self.metric_of(&i.metrics_url, name).await? {
                total = Some(total.unwrap_or(0.0) + v);
            }
        }
        Ok(total)
    }

    async fn metric_of(&self, metrics_url: &str, name: &str) -> Result<Option<f64>> {
        let text = self
            .client
            .get(format!("{metrics_url}/metrics"))
            .send()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?;
        let prefix = format!("{name} ");
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok()))
    }
}

/// Starts one server child over `data_dir` (and the PostgreSQL database at `storage`, if
/// any) and waits until it listens.
fn spawn(data_dir: &Path, storage: Option<&str>, options: &[&str]) -> Result<Instance> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg("serve").arg("--data").arg(data_dir).args(options);
    if let Some(url) = storage {
        command.arg("--storage").arg(url);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the server process: {e}"))?;
    let stdout = child.stdout.take().ok_or("the server process has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some((url, metrics_url)) =
        line.trim().strip_prefix(READY).and_then(|rest| rest.split_once(METRICS))
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("the server process did not start (said {line:?})").into());
    };
    progress(format_args!("server pid {} at {url}", child.id()));
    Ok(Instance { url: url.to_string(), metrics_url: metrics_url.to_string(), child: Some(child) })
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        for child in self.instances.iter_mut().filter_map(|i| i.child.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The fields go in order after this: the accounts, their runtime, then the schema.
    }
}

/// How the hidden `serve` subcommand's server differs from the binary's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// Never escalate overdue reports (the desk suite's records are index rows over placeholder
    /// documents, which escalation would load).
    pub no_escalation: bool,
    /// Accepted writes leave the record index as it is: only to measure what maintaining it
    /// costs (`desk.index_overhead`).
    pub no_index_writes: bool,
}

/// Runs a server over `data_dir` and `storage` on a free loopback port until stdin closes or
/// the process is killed; prints [`READY`] and the URL once it listens. The hidden `bench
/// serve` subcommand.
pub fn serve_child(data_dir: PathBuf, storage: StorageChoice, options: ServeOptions) -> Result<()> {
    // Like the server binary: a multi-threaded runtime with a bounded blocking pool.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()?;
    rt.block_on(async move {
        // Both on free loopback ports (the configuration's defaults are for the binary).
        let mut config = ServerConfig::new(data_dir)
            .with_listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .with_metrics_listen(Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        if options.no_escalation {
            config.escalate_every = None;
        }
        config.index_writes = !options.no_index_writes;
        config.storage = storage;
        let server = Server::open(&config).await.map_err(|e| e.to_string())?;
        let listeners = Listeners::bind(&config).await.map_err(|e| e.to_string())?;
        let metrics = listeners.metrics.as_ref().ok_or("no metrics listener")?.local_addr()?;
        println!("{READY}http://{}{METRICS}http://{metrics}", listeners.main.local_addr()?);
        server
            .serve_on(listeners, fieldsync_server::shutdown::signal())
            .await
            .map_err(|e| format!("serving failed: {e}").into())
    })
}
