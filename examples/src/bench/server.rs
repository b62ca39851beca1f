//! The server a benchmark talks to: one the suite starts itself (a child process, so its
//! resident memory is its own and can be read from `/proc`), or one started elsewhere and named
//! by URL. The `sync` and `load` suites share it.
//!
//! The child is this very executable run with the hidden `serve` subcommand ([`serve_child`]):
//! the same server code and allocator as `fieldsync-server`, without asking the user to build a
//! second binary first.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::HttpTransport;
use fieldsync_server::accounts::Accounts;
use fieldsync_server::{Listeners, Server, ServerConfig};

use crate::bench::{Result, progress};

/// The line the child prints once it listens, followed by its URL, then [`METRICS`] and the URL
/// of its metrics listener.
const READY: &str = "fieldsync-bench-server listening on ";
/// What follows the API's URL on the [`READY`] line.
const METRICS: &str = " metrics on ";

/// A server under measurement.
#[derive(Debug)]
pub struct BenchServer {
    url: String,
    metrics_url: String,
    child: Option<Child>,
    client: reqwest::Client,
    accounts: Accounts,
    transport: HttpTransport,
}

impl BenchServer {
    /// Starts a server on a free loopback port over a new database in `data_dir`.
    pub fn start(data_dir: &Path) -> Result<BenchServer> {
        BenchServer::start_with(data_dir, &[])
    }

    /// Like [`BenchServer::start`], with options of the hidden `serve` subcommand
    /// (`--no-escalation`, `--no-index-writes`; see [`ServeOptions`]).
    pub fn start_with(data_dir: &Path, options: &[&str]) -> Result<BenchServer> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--data")
            .arg(data_dir)
            .args(options)
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
            return Err(format!("the server process did not start (said {line:?})").into());
        };
        progress(format_args!("server pid {} at {url}", child.id()));
        let accounts = Accounts::open(&ServerConfig::new(data_dir).db_path())?;
        let transport = HttpTransport::new(url)?;
        Ok(BenchServer {
            url: url.to_string(),
            metrics_url: metrics_url.to_string(),
            child: Some(child),
            client: {
                fieldsync_core::sync::install_tls_provider();
                reqwest::Client::new()
            },
            accounts,
            transport,
        })
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
            url,
            metrics_url,
            child: None,
            client: {
                fieldsync_core::sync::install_tls_provider();
                reqwest::Client::new()
            },
            accounts,
            transport,
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
    /// user is new) writing as `actor`.
    pub fn enroll_profile(&self, profile: &Profile, actor: &[u8]) -> Result<HttpTransport> {
        Ok(self.transport.clone().with_token(self.enroll_token(profile, actor)?))
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

    /// The server's accounts (users, codes, desk sessions), as its admin CLI reaches them.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CPU time the server child has used so far (`/proc/<pid>/stat`); `None` for a server
    /// started elsewhere.
    pub fn child_cpu(&self) -> Result<Option<Duration>> {
        self.read_proc("stat", parse_cpu)
    }

    /// The memory of the server child as the kernel counts it (`/proc/<pid>/status`); `None`
    /// for a server started elsewhere.
    pub fn child_memory(&self) -> Result<Option<Memory>> {
        self.read_proc("status", Memory::parse)
    }

    /// Reads `/proc/<child>/<file>` with `parse`; `None` without a child.
    fn read_proc<T>(&self, file: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        let Some(child) = &self.child else {
            return Ok(None);
        };
        let path = format!("/proc/{}/{file}", child.id());
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        parse(&text).map(Some).ok_or_else(|| format!("{path} is not as expected").into())
    }

    /// A value of the server's `/metrics` (the first sample named `name`, without labels),
    /// read from its metrics listener.
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let text = self
            .client
            .get(format!("{}/metrics", self.metrics_url))
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

/// CPU time a process has used (user and system, its ended threads included), from fields 14
/// and 15 of `/proc/<pid>/stat`, counted in the kernel's user-visible ticks of 1/100 s.
pub fn parse_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A process's memory, from the `VmRSS` and `VmHWM` lines of `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident memory now, in bytes.
    pub rss: u64,
    /// The most resident memory the process has had, in bytes, where the kernel reports it.
    pub peak: Option<u64>,
}

impl Memory {
    /// Reads the two lines of a `status` file (values in kB); `None` without `VmRSS`.
    pub fn parse(status: &str) -> Option<Memory> {
        let kb = |name: &str| {
            status.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?.trim();
                let n: u64 = rest.strip_suffix("kB").unwrap_or(rest).trim().parse().ok()?;
                Some(n * 1024)
            })
        };
        Some(Memory { rss: kb("VmRSS:")?, peak: kb("VmHWM:") })
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
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

/// Runs a server over `data_dir` on a free loopback port until stdin closes or the process is
/// killed; prints [`READY`] and the URL once it listens. The hidden `bench serve` subcommand.
pub fn serve_child(data_dir: PathBuf, options: ServeOptions) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_proc_status() {
        let status = "Name:\tbench\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        let m = Memory::parse(status);
        assert_eq!(m, Some(Memory { rss: 1024 * 1024, peak: Some(2048 * 1024) }));
        assert_eq!(Memory::parse("VmRSS:\t 7 kB\n"), Some(Memory { rss: 7168, peak: None }));
        assert_eq!(Memory::parse("Name:\tx\n"), None);
        let stat = "42 (bench serve) S 1 42 42 0 -1 4194560 900 0 0 0 250 31 0 0 20 0 9 0 77";
        assert_eq!(parse_cpu(stat), Some(Duration::from_millis(2810)));
        assert_eq!(parse_cpu("42 (x) S 1"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !own.is_empty() {
            assert!(Memory::parse(&own).is_some_and(|m| m.rss > 0), "{own}");
        }
    }
}
