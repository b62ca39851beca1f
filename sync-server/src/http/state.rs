//! The state every handler shares: the domain's parts (documents, the feed, accounts, photos)
//! and what the HTTP layer keeps itself (admission of requests, enrollment budgets, client
//! addresses, connection caps, timeouts, body limits, counters).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::budget::Budgets;
use super::client_addr::TrustedProxies;
use super::error::ServerError;
use super::metrics::{self, Metrics};
use super::serve::{self, caps::ConnectionCaps};
use crate::accounts::{Accounts, PeerCredentials};
use crate::config::ServerConfig;
use crate::documents::Documents;
use crate::documents::cache::DocCache;
use crate::escalation::Clock;
use crate::feed::Feed;
use crate::photos::PhotoStore;
use crate::photos::service::Photos;
use crate::storage::Storage;

/// What every handler shares: the domain's parts and what the HTTP layer keeps itself.
pub(crate) struct App {
    /// Stored and loaded documents, their locks, the log's end.
    pub(crate) docs: Arc<Documents>,
    /// Pages of the log for each device, with its sealed segments compressed once.
    pub(crate) feed: Feed,
    /// Users, devices, enrollment codes.
    pub(crate) accounts: Arc<Accounts>,
    /// Peer credentials and the revocation list (`docs/peer.md`).
    pub(crate) peers: Arc<PeerCredentials>,
    /// Photos: their bytes, uploads, thumbnails, who may use them.
    pub(crate) photos: Photos,
    /// Residents' points and the exchange.
    pub(crate) points: crate::points::Points,
    /// The registry of businesses.
    pub(crate) businesses: crate::businesses::Businesses,
    /// Attempts with enrollment codes per client address: phones enrolling and desks signing
    /// in spend the same budgets, so guessing codes at both doors is no faster than at one.
    pub(crate) enrollments: Budgets,
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
    /// See [`ServerConfig::desk_session_idle`].
    pub(crate) desk_session_idle: Duration,
    /// See [`ServerConfig::secure_cookies`].
    pub(crate) secure_cookies: bool,
    /// SHA-256 of the token that opens `/metrics` on the API's listener, if there is one.
    pub(crate) metrics_token: Option<Vec<u8>>,
    /// Requests by route and status, their durations, documents pulled.
    pub(crate) metrics: Metrics,
    /// The server's time for the desk (overdue flags, statistics, the stamps of desk actions):
    /// the clock overdue escalation reads too, so that both agree (a test sets it).
    pub(crate) clock: Clock,
    /// The grid outlines of the board's map (empty without `--grid-outlines`).
    pub(crate) grid_outlines: crate::grids::GridOutlines,
    /// Set when the server begins to stop: answers that never end by themselves (the desk's
    /// event streams) end then, so that a graceful shutdown does not wait for them forever.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    admission: Semaphore,
    max_in_flight: usize,
    queue_timeout: Duration,
}

impl App {
    /// Shared state over `storage`, whose log ends at `log_end`.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        photos: Arc<dyn PhotoStore>,
        accounts: Arc<Accounts>,
        peers: Arc<PeerCredentials>,
        config: &ServerConfig,
        log_end: u64,
    ) -> Self {
        let max_in_flight = config.max_in_flight.max(1);
        let cache = DocCache::new(config.cache_docs, config.cache_bytes);
        let doc_bytes = config.doc_bytes.min(fieldsync_core::limits::DOC_BYTES);
        App {
            points: crate::points::Points::new(storage.clone()),
            businesses: crate::businesses::Businesses::new(storage.clone()),
            photos: Photos::new(
                photos,
                storage.clone(),
                config.max_blob_bytes,
                config.blob_quota_bytes,
                config.blob_upload_idle,
            ),
            docs: Arc::new(
                Documents::new(storage, cache, doc_bytes, Arc::new(config.rules.clone()), log_end)
                    .with_index_writes(config.index_writes),
            ),
            feed: Feed::new(config.feed_cache_bytes),
            accounts,
            peers,
            enrollments: Budgets::new(
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
            desk_session_idle: config.desk_session_idle,
            secure_cookies: config.secure_cookies,
            metrics_token: config.metrics_token.as_deref().map(metrics::token_hash),
            metrics: Metrics::default(),
            clock: config.clock.clone(),
            grid_outlines: config.grid_outlines.clone().unwrap_or_default(),
            stopping: tokio::sync::watch::Sender::new(false),
            admission: Semaphore::new(max_in_flight),
            max_in_flight,
            queue_timeout: config.queue_timeout,
        }
    }

    /// Where everything is kept (the accounts domain works on it directly).
    pub(crate) fn storage(&self) -> &dyn Storage {
        self.docs.storage.as_ref()
    }

    /// The server's epoch.
    pub(crate) fn epoch(&self) -> &str {
        self.docs.epoch()
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
            tls: None,
        }
    }

    /// How the `/metrics` listener serves connections: the same timeouts, its own caps.
    pub(crate) fn metrics_limits(&self) -> serve::Limits {
        serve::Limits { caps: self.metrics_connections.clone(), ..self.serve_limits() }
    }
}

/// Connections open at once on the `/metrics` listener (a scraper or two).
const METRICS_CONNECTIONS: usize = 16;
