//! Starting and stopping a server: in-process for tests and examples ([`Server::start`] on a
//! port, or [`Server::transport`] without sockets), or from the binary.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::accounts::Accounts;
use crate::app::{self, App};
use crate::blobs::{BlobStore, FsBlobStore};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::storage::{SqliteStorage, Storage, StorageError};
use crate::transport::InProcessTransport;

/// A server ready to serve: storage opened, state built.
#[derive(Clone)]
pub struct Server {
    app: Arc<App>,
    router: Router,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("epoch", &self.epoch()).finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the SQLite storage in `config.data_dir` (created on first start).
    pub async fn open(config: &ServerConfig) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StorageError::Io {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let path = config.db_path();
        let data = config.data_dir.clone();
        let durability = config.durability;
        let (storage, blobs, accounts) = tokio::task::spawn_blocking(move || {
            // The storage first: it creates or upgrades the schema the others use.
            let storage = SqliteStorage::open(path.clone(), durability)?;
            let blobs = FsBlobStore::open(&data, &path, durability)?;
            Ok::<_, ServerError>((storage, blobs, Accounts::open(&path)?))
        })
        .await
        .map_err(|e| ServerError::Internal(format!("opening storage failed: {e}")))??;
        Server::with_storage(Arc::new(storage), Arc::new(blobs), Arc::new(accounts), config).await
    }

    /// A server over any storage and blob store backends, with its accounts.
    pub async fn with_storage(
        storage: Arc<dyn Storage>,
        blobs: Arc<dyn BlobStore>,
        accounts: Arc<Accounts>,
        config: &ServerConfig,
    ) -> Result<Server, ServerError> {
        let log_end = storage.log_end().await?;
        let app = Arc::new(App::new(storage, blobs, accounts, config, log_end));
        let router = app::router(app.clone());
        Ok(Server { app, router })
    }

    /// The router, to serve it or to call it directly.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// A transport that calls this server in-process.
    pub fn transport(&self) -> InProcessTransport {
        InProcessTransport::new(self.router())
    }

    /// Its users, devices and enrolment codes.
    pub fn accounts(&self) -> Arc<Accounts> {
        self.app.accounts.clone()
    }

    /// The server's epoch.
    pub fn epoch(&self) -> &str {
        self.app.epoch()
    }

    /// The storage.
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.app.storage.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the requests in flight
    /// and closes the storage.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, epoch = self.epoch(), "serving");
        // The peer address is what enrolment attempts are limited by.
        let service = self.router.clone().into_make_service_with_connect_info::<SocketAddr>();
        // Answers go out at once: without TCP_NODELAY a small answer written in two parts waits
        // for the client's delayed acknowledgement (measured: ~10 ms per request on loopback).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        let sweeper = tokio::spawn(crate::blobs::end_idle_uploads(
            self.app.blobs.clone(),
            self.app.blob_upload_idle,
        ));
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        sweeper.abort();
        self.close().await;
        tracing::info!(%addr, "stopped");
        served
    }

    /// Stops admitting sync requests and closes the storage (after the writes under way).
    pub async fn close(&self) {
        self.app.close();
        self.app.storage.close().await;
    }

    /// Binds `config.listen` (port 0: a free port) and serves in a background task.
    pub async fn start(config: &ServerConfig) -> Result<RunningServer, ServerError> {
        let server = Server::open(config).await?;
        let listener = TcpListener::bind(config.listen).await.map_err(|source| {
            StorageError::Io { path: format!("listen address {}", config.listen), source }
        })?;
        server.spawn(listener)
    }

    /// Serves on `listener` in a background task.
    pub fn spawn(self, listener: TcpListener) -> Result<RunningServer, ServerError> {
        let addr = listener
            .local_addr()
            .map_err(|e| ServerError::Internal(format!("no local address: {e}")))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = self.clone();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer { addr, server: self, stop: Some(stop), task: Some(task) })
    }
}

/// A server serving in a background task. Dropping it asks for a graceful stop.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    server: Server,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
