//! Starting and stopping a server: in-process for tests and examples ([`Server::start`] on a
//! port, or [`Server::transport`] without sockets), or from the binary.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::accounts::{self, Accounts, IssuedCode, PeerCredentials};
use crate::clock::Clock;
use crate::config::{ServerConfig, StorageChoice};
use crate::escalation;
use crate::http::error::ServerError;
use crate::http::serve::tls::Tls;
use crate::http::{self, App};
use crate::photos::{FsPhotoStore, PhotoStore};
use crate::storage::{PostgresStorage, SqliteStorage, Storage, StorageError};
use crate::transport::InProcessTransport;

/// The sockets a server serves on: the API, and `/metrics` on its own socket if it has one.
#[derive(Debug)]
pub struct Listeners {
    /// The protocol's endpoints (and `/metrics` with its token, if one is configured).
    pub main: TcpListener,
    /// `/metrics` alone.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds `config.listen` and `config.metrics_listen` (port 0: a free port).
    pub async fn bind(config: &ServerConfig) -> Result<Listeners, ServerError> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr).await.map_err(|source| {
                ServerError::from(StorageError::Io { path: format!("{what} {addr}"), source })
            })
        };
        let main = bind(config.listen, "listen address").await?;
        let metrics = match config.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics listen address").await?),
            None => None,
        };
        Ok(Listeners { main, metrics })
    }
}

/// A server ready to serve: storage opened, state built.
#[derive(Clone)]
pub struct Server {
    app: Arc<App>,
    router: Router,
    /// The first admin's code, when this start made them (shown once, when serving).
    first_admin: Option<IssuedCode>,
    /// The demo dispatcher's code, when this start filled a demonstration street.
    demo: Option<IssuedCode>,
    /// How often overdue reports are escalated while serving (`None`: never by itself).
    escalate_every: Option<std::time::Duration>,
    /// The time overdue escalation goes by.
    clock: Clock,
    /// The certificate the API's listener serves HTTPS with, if it does.
    tls: Option<Tls>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("epoch", &self.epoch()).finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the storage `config.storage` names (SQLite in `config.data_dir`, created on first
    /// start, or a PostgreSQL database); photos' files are in `config.data_dir`.
    pub async fn open(config: &ServerConfig) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StorageError::Io {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let storage: Arc<dyn Storage> = match &config.storage {
            StorageChoice::Sqlite => {
                let path = config.db_path();
                let durability = config.durability;
                let storage =
                    tokio::task::spawn_blocking(move || SqliteStorage::open(path, durability))
                        .await
                        .map_err(|e| {
                            ServerError::Internal(format!("opening storage failed: {e}"))
                        })??;
                Arc::new(storage)
            }
            StorageChoice::Postgres(url) => Arc::new(PostgresStorage::open(url).await?),
        };
        let photos = FsPhotoStore::open(&config.data_dir, storage.clone()).await?;
        Server::with_storage(storage, Arc::new(photos), config).await
    }

    /// A server over any storage backend (users, devices and codes included) and photo store.
    pub async fn with_storage(
        storage: Arc<dyn Storage>,
        photos: Arc<dyn PhotoStore>,
        config: &ServerConfig,
    ) -> Result<Server, ServerError> {
        // A certificate that cannot be used stops the start before any request is served.
        let tls = config.tls.as_ref().map(Tls::load).transpose()?;
        // A database upgraded from version 7 has documents and no index yet: it is built here,
        // at start, before any request is served (a rebuild at the upgrade itself would need
        // Automerge and the rules inside the schema step).
        crate::index::fill_if_empty(&storage, &config.rules).await?;
        let log_end = storage.log_end().await?;
        let empty = config.demo && storage.users().await?.is_empty();
        let first_admin = if config.first_admin {
            accounts::first_admin(storage.as_ref(), &config.root_scope).await?
        } else {
            None
        };
        let accounts = Arc::new(Accounts::new(storage.clone())?);
        let peers = Arc::new(
            PeerCredentials::load(storage.as_ref(), config.peer_credential_validity).await?,
        );
        let app = Arc::new(App::new(storage, photos, accounts, peers, config, log_end));
        if let Some(end) = app.docs.storage.log_watch() {
            let docs = app.docs.clone();
            tokio::spawn(crate::documents::follow_other_writers(docs, end, log_end));
        }
        let router = http::router(app.clone());
        let demo = if empty {
            let now = config.clock.now_ms();
            let dispatcher = crate::demo::fill(&app.docs, &config.root_scope, now)
                .await
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            // The server issues it, as an operator would from the admin CLI.
            let by = fieldsync_core::policy::Profile {
                user: "demo".into(),
                role: fieldsync_core::policy::Role::Admin,
                patrol: None,
                scopes: Vec::new(),
            };
            let valid = std::time::Duration::from_secs(24 * 3600);
            Some(accounts::issue_code(app.docs.storage.as_ref(), &dispatcher, &by, valid).await?)
        } else {
            None
        };
        Ok(Server {
            app,
            router,
            first_admin,
            demo,
            escalate_every: config.escalate_every,
            clock: config.clock.clone(),
            tls,
        })
    }

    /// The certificate the API is served with over HTTPS, if it is.
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// `https` when the API is served over TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The first admin's one-time sign-in code, when this start made the first admin (an
    /// empty server with [`ServerConfig::first_admin`]).
    pub fn first_admin_code(&self) -> Option<&IssuedCode> {
        self.first_admin.as_ref()
    }

    /// Escalates every overdue report now, at the configured clock's time (what the server
    /// does by itself every `escalate_every` while serving).
    pub async fn escalate(&self) -> Result<escalation::Pass, ServerError> {
        Ok(escalation::pass(&self.app.docs, self.clock.now_ms()).await?)
    }

    /// The demo dispatcher's one-time sign-in code, when this start filled a demonstration
    /// street ([`ServerConfig::demo`] on an empty server).
    pub fn demo_code(&self) -> Option<&IssuedCode> {
        self.demo.as_ref()
    }

    /// The router, to serve it or to call it directly.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// A transport that calls this server in-process.
    pub fn transport(&self) -> InProcessTransport {
        InProcessTransport::new(self.router())
    }

    /// Its users, devices and enrollment codes.
    pub fn accounts(&self) -> Arc<Accounts> {
        self.app.accounts.clone()
    }

    /// Its residents' points and exchange (what the admin CLI and tests reach directly).
    pub fn points(&self) -> &crate::points::Points {
        &self.app.points
    }

    /// Its registry of businesses.
    pub fn businesses(&self) -> &crate::businesses::Businesses {
        &self.app.businesses
    }

    /// The server's epoch.
    pub fn epoch(&self) -> &str {
        self.app.epoch()
    }

    /// The storage.
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.app.docs.storage.clone()
    }

    /// Serves the API on `listener` (and `/metrics` nowhere else) until `shutdown` completes,
    /// then finishes the requests in flight and closes the storage.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_on(Listeners { main: listener, metrics: None }, shutdown).await
    }

    /// Serves on `listeners` until `shutdown` completes, then finishes the requests in flight
    /// and closes the storage.
    pub async fn serve_on(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listeners.main.local_addr()?;
        let metrics_addr = listeners.metrics.as_ref().map(TcpListener::local_addr).transpose()?;
        match metrics_addr {
            Some(m) => tracing::info!(%addr, metrics = %m, epoch = self.epoch(), "serving"),
            None => tracing::info!(%addr, epoch = self.epoch(), "serving"),
        }
        if let Some(code) = &self.first_admin {
            eprintln!("{}", first_admin_notice(code, self.scheme(), addr));
        }
        if let Some(code) = &self.demo {
            eprintln!(
                "Demonstration street filled: sign in as the dispatcher disp-demo with the \
                 one-time code {} at {}://{addr}/ (POST /api/v1/session)",
                code.code,
                self.scheme()
            );
        }
        let (stop, stopped) = watch::channel(false);
        let app = self.app.clone();
        tokio::spawn(async move {
            shutdown.await;
            // Endless answers (the desk's event streams) end first, so the connections
            // carrying them can close.
            app.stopping.send_replace(true);
            let _ = stop.send(true);
        });
        let sweeper = tokio::spawn(crate::photos::end_idle_uploads(
            self.app.photos.store.clone(),
            self.app.docs.storage.clone(),
            self.app.photos.upload_idle,
        ));
        let escalator = self.escalate_every.map(|every| {
            tokio::spawn(escalation::run(self.app.docs.clone(), self.clock.clone(), every))
        });
        let metrics = listeners.metrics.map(|listener| {
            let router = http::metrics_router(self.app.clone());
            let limits = self.app.metrics_limits();
            tokio::spawn(http::serve::serve(listener, router, limits, stopped.clone()))
        });
        // The API's listener speaks TLS when configured; `/metrics` on its own listener stays
        // plain (it is for the operator's network, and a scraper's token is its guard).
        let limits = http::serve::Limits { tls: self.tls.clone(), ..self.app.serve_limits() };
        http::serve::serve(listeners.main, self.router.clone(), limits, stopped).await;
        if let Some(m) = metrics {
            let _ = m.await;
        }
        sweeper.abort();
        if let Some(e) = escalator {
            e.abort();
        }
        self.close().await;
        tracing::info!(%addr, "stopped");
        Ok(())
    }

    /// Stops admitting sync requests and closes the storage (after the writes under way).
    pub async fn close(&self) {
        self.app.close();
        self.app.docs.storage.close().await;
    }

    /// Binds `config.listen` and `config.metrics_listen` (port 0: a free port) and serves in a
    /// background task.
    pub async fn start(config: &ServerConfig) -> Result<RunningServer, ServerError> {
        let server = Server::open(config).await?;
        let listeners = Listeners::bind(config).await?;
        server.spawn_on(listeners)
    }

    /// Serves the API on `listener` in a background task.
    pub fn spawn(self, listener: TcpListener) -> Result<RunningServer, ServerError> {
        self.spawn_on(Listeners { main: listener, metrics: None })
    }

    /// Serves on `listeners` in a background task.
    pub fn spawn_on(self, listeners: Listeners) -> Result<RunningServer, ServerError> {
        let no_addr = |e: std::io::Error| ServerError::Internal(format!("no local address: {e}"));
        let addr = listeners.main.local_addr().map_err(no_addr)?;
        let metrics_addr =
            listeners.metrics.as_ref().map(TcpListener::local_addr).transpose().map_err(no_addr)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = self.clone();
        let task = tokio::spawn(server.serve_on(listeners, async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer { addr, metrics_addr, server: self, stop: Some(stop), task: Some(task) })
    }
}

/// What an empty server says once on stderr: the first admin's code, and where to use it.
fn first_admin_notice(code: &IssuedCode, scheme: &str, addr: SocketAddr) -> String {
    let until = fieldsync_core::time::format_ms(code.expires_at);
    let lines = [
        format!(
            "First start: the first admin ({}) signs in with this one-time code:",
            accounts::FIRST_ADMIN
        ),
        format!("    {}", code.code),
        format!("at {scheme}://{addr}/ (the command centre), or with POST /api/v1/session"),
        format!("{{\"code\": \"{}\"}}. It works once, until {until}.", code.code),
        "It is shown only now; `fieldsync-server enroll-code admin` makes another.".to_string(),
    ];
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rule = format!("+{}+", "=".repeat(width + 2));
    let body: Vec<String> = lines.iter().map(|l| format!("| {l:<width$} |")).collect();
    format!("{rule}\n{}\n{rule}", body.join("\n"))
}

/// A server serving in a background task. Dropping it asks for a graceful stop.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    server: Server,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234` (`https://` when it serves TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.server.scheme(), self.addr)
    }

    /// The base URL of its `/metrics` listener, if it has one.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_addr.map(|a| format!("http://{a}"))
    }

    /// The server (for its epoch, storage, or an in-process transport).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// A transport that calls this server in-process (no socket).
    pub fn transport(&self) -> InProcessTransport {
        self.server.transport()
    }

    /// Stops gracefully: no new connections, requests in flight finish, storage closes.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }

    /// Stops at once, as a crash would: connections are dropped mid-request. What was
    /// committed stays; the storage is then closed so the same data can be opened again.
    pub async fn abort(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.server.close().await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
