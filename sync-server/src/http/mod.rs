//! The shared state of a running server and its routers: the API's routes and the layers
//! around them (tracing, panic catching, metrics, the body timeout), and `/metrics` on its own.

pub(crate) mod auth;
pub(crate) mod blobs;
pub(crate) mod budget;
pub(crate) mod client_addr;
pub(crate) mod enroll;
pub(crate) mod envelope;
pub mod error;
pub(crate) mod metrics;
pub(crate) mod reconcile;
pub(crate) mod refusals;
pub(crate) mod serve;
pub(crate) mod sync;
pub(crate) mod visible;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::{Semaphore, SemaphorePermit};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use self::budget::Budgets;
use self::client_addr::TrustedProxies;
use self::error::{ServerError, error_response};
use self::metrics::Metrics;
use self::serve::caps::ConnectionCaps;
use crate::accounts::Accounts;
use crate::config::ServerConfig;
use crate::documents::cache::DocCache;
use crate::feed::segments::FeedCache;
use crate::locks::DocLocks;
use crate::photos::PhotoStore;
use crate::storage::Storage;

/// What every handler shares.
pub(crate) struct App {
    /// Documents and the log.
    pub(crate) storage: Arc<dyn Storage>,
    /// Loaded documents.
    pub(crate) cache: DocCache,
    /// Per-document locks.
    pub(crate) locks: Arc<DocLocks>,
    /// Sealed feed segments, compressed once.
    pub(crate) feed: FeedCache,
    /// Users, devices, enrolment codes.
    pub(crate) accounts: Arc<Accounts>,
    /// Enrolment attempts per client address.
    pub(crate) enrolments: Budgets,
    /// Proxies whose forwarding headers name the client.
    pub(crate) trusted_proxies: TrustedProxies,
    /// Open connections of the API's listener.
    pub(crate) connections: Arc<ConnectionCaps>,
    /// Open connections of the `/metrics` listener.
    metrics_connections: Arc<ConnectionCaps>,
    /// See [`ServerConfig::header_timeout`].
    header_timeout: Duration,
    /// See [`ServerConfig::stall_timeout`].
    pub(crate) stall_timeout: Duration,
    /// See [`ServerConfig::enroll_body_bytes`].
    pub(crate) enroll_body_bytes: usize,
    /// See [`ServerConfig::visible_body_bytes`].
    pub(crate) visible_body_bytes: usize,
    /// SHA-256 of the token that opens `/metrics` on the API's listener, if there is one.
    pub(crate) metrics_token: Option<Vec<u8>>,
    /// Counters.
    pub(crate) metrics: Metrics,
    /// The highest seq known committed (for `/metrics` and a fast `cursor_ahead` check).
    pub(crate) log_seq: AtomicU64,
    /// Largest saved size of one document (see [`ServerConfig::doc_bytes`]).
    pub(crate) doc_bytes: usize,
    /// Blob bytes, partial uploads, thumbnails and what is known of them.
    pub(crate) blobs: Arc<dyn PhotoStore>,
    /// Largest blob (see [`ServerConfig::max_blob_bytes`]).
    pub(crate) max_blob_bytes: u64,
    /// Blob bytes per device (see [`ServerConfig::blob_quota_bytes`]).
    pub(crate) blob_quota_bytes: u64,
    /// Uploads idle this long are ended (see [`ServerConfig::blob_upload_idle`]).
    pub(crate) blob_upload_idle: Duration,
    admission: Semaphore,
    max_in_flight: usize,
    queue_timeout: Duration,
}

impl App {
    /// Shared state over `storage`, whose log ends at `log_end`.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        blobs: Arc<dyn PhotoStore>,
        accounts: Arc<Accounts>,
        config: &ServerConfig,
        log_end: u64,
    ) -> Self {
        let max_in_flight = config.max_in_flight.max(1);
        App {
            storage,
            cache: DocCache::new(config.cache_docs, config.cache_bytes),
            locks: Arc::new(DocLocks::default()),
            feed: FeedCache::new(config.feed_cache_bytes),
            accounts,
            enrolments: Budgets::new(
                config.enroll_attempts_per_minute,
                config.enroll_failures_per_minute,
            ),
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            connections: Arc::new(ConnectionCaps::new(
                config.max_connections,
                config.max_connections_per_address,
            )),
            metrics_connections: Arc::new(ConnectionCaps::new(
                METRICS_CONNECTIONS,
                METRICS_CONNECTIONS,
            )),
            header_timeout: config.header_timeout,
            stall_timeout: config.stall_timeout,
            enroll_body_bytes: config.enroll_body_bytes,
            visible_body_bytes: config.visible_body_bytes,
            metrics_token: config.metrics_token.as_deref().map(metrics::token_hash),
            metrics: Metrics::default(),
            log_seq: AtomicU64::new(log_end),
            doc_bytes: config.doc_bytes.min(fieldsync_core::limits::DOC_BYTES),
            blobs,
            max_blob_bytes: config.max_blob_bytes,
            blob_quota_bytes: config.blob_quota_bytes,
            blob_upload_idle: config.blob_upload_idle,
            admission: Semaphore::new(max_in_flight),
            max_in_flight,
            queue_timeout: config.queue_timeout,
        }
    }

    /// The server's epoch.
    pub(crate) fn epoch(&self) -> &str {
        self.storage.epoch()
    }

    /// Waits for a turn to handle a sync request (bounding the work, and memory, in flight).
    pub(crate) async fn admit(&self) -> Result<SemaphorePermit<'_>, ServerError> {
        match tokio::time::timeout(self.queue_timeout, self.admission.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ServerError::Unavailable("the server is shutting down".into())),
            Err(_) => Err(ServerError::Unavailable(format!(
                "the server is busy: no turn within {:?}; retry later",
                self.queue_timeout
            ))),
        }
    }

    /// Stops admitting requests (shutdown).
    pub(crate) fn close(&self) {
        self.admission.close();
    }

    /// Sync requests being handled.
    pub(crate) fn in_flight(&self) -> usize {
        self.max_in_flight.saturating_sub(self.admission.available_permits())
    }

    /// How the API's listener serves connections.
    pub(crate) fn serve_limits(&self) -> serve::Limits {
        serve::Limits {
            caps: self.connections.clone(),
            trusted: self.trusted_proxies.clone(),
            header_timeout: self.header_timeout,
            stall_timeout: self.stall_timeout,
        }
    }

    /// How the `/metrics` listener serves connections: the same timeouts, its own caps.
    pub(crate) fn metrics_limits(&self) -> serve::Limits {
        serve::Limits { caps: self.metrics_connections.clone(), ..self.serve_limits() }
    }
}

/// Connections open at once on the `/metrics` listener (a scraper or two).
const METRICS_CONNECTIONS: usize = 16;

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed on this request (a bug); nothing was stored past what it confirmed"
            .into(),
    )
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint".into())
}

/// The server's routes.
pub(crate) fn router(app: Arc<App>) -> Router {
    // Reading or writing documents takes an enrolled, unrevoked device.
    let device = middleware::from_fn_with_state(app.clone(), auth::require_device);
    // `/metrics` is here only behind its token; without one it is an unknown route.
    let metrics = match app.metrics_token {
        Some(_) => get(metrics::handle)
            .route_layer(middleware::from_fn_with_state(app.clone(), metrics::require_token)),
        None => get(not_found),
    };
    Router::new()
        .route("/v1/sync", post(sync::handle).route_layer(device.clone()))
        .route("/v1/reconcile", post(reconcile::handle).route_layer(device.clone()))
        .route("/v1/visible", post(visible::handle).route_layer(device.clone()))
        .route("/v1/refusals", get(refusals::handle).route_layer(device.clone()))
        .route("/v1/enroll", post(enroll::handle))
        .route("/v1/blobs/{hash}", get(blobs::get).put(blobs::put).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/status", get(blobs::status).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/thumbnail", get(blobs::thumbnail).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/challenge", get(blobs::challenge).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/proof", post(blobs::proof).route_layer(device.clone()))
        .route("/v1/me", get(auth::me).route_layer(device))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", metrics)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(app.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        // A body whose next bytes do not come within the stall timeout ends with an error the
        // handler answers `408 request_timeout`: a stalled upload does not hold its connection.
        .layer(RequestBodyTimeoutLayer::new(app.stall_timeout))
        .with_state(app)
}

/// `/metrics` alone, for its own listener.
pub(crate) fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::handle))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(app)
}
