//! The shared state of a running server and its router: routes, and the layers around them
//! (tracing, panic catching, metrics).

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
use tower_http::trace::TraceLayer;

use crate::accounts::Accounts;
use crate::auth;
use crate::blobs::{self, BlobStore};
use crate::cache::DocCache;
use crate::config::ServerConfig;
use crate::enroll::{self, RateLimiter};
use crate::error::{ServerError, error_response};
use crate::feed::FeedCache;
use crate::locks::DocLocks;
use crate::metrics::{self, Metrics};
use crate::storage::Storage;
use crate::{reconcile, sync, visible};

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
    /// Enrolment attempts per address.
    pub(crate) enrolments: RateLimiter,
    /// Counters.
    pub(crate) metrics: Metrics,
    /// The highest seq known committed (for `/metrics` and a fast `cursor_ahead` check).
    pub(crate) log_seq: AtomicU64,
    /// Largest saved size of one document (see [`ServerConfig::doc_bytes`]).
    pub(crate) doc_bytes: usize,
    /// Blob bytes, partial uploads, thumbnails and what is known of them.
    pub(crate) blobs: Arc<dyn BlobStore>,
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
        blobs: Arc<dyn BlobStore>,
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
            enrolments: RateLimiter::default(),
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
}

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
    Router::new()
        .route("/v1/sync", post(sync::handle).route_layer(device.clone()))
        .route("/v1/reconcile", post(reconcile::handle).route_layer(device.clone()))
        .route("/v1/visible", post(visible::handle).route_layer(device.clone()))
        .route("/v1/enroll", post(enroll::handle))
        .route(
            "/v1/blobs/{hash}",
            get(blobs::http::get).put(blobs::http::put).route_layer(device.clone()),
        )
        .route("/v1/blobs/{hash}/status", get(blobs::http::status).route_layer(device.clone()))
        .route(
            "/v1/blobs/{hash}/thumbnail",
            get(blobs::http::thumbnail).route_layer(device.clone()),
        )
        .route(
            "/v1/blobs/{hash}/challenge",
            get(blobs::http::challenge).route_layer(device.clone()),
        )
        .route("/v1/blobs/{hash}/proof", post(blobs::http::proof).route_layer(device.clone()))
        .route("/v1/me", get(auth::me).route_layer(device))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::handle))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(app.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
