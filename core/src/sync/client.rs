//! `SyncClient::sync_now`: push what the server has not acknowledged, pull the feed page by page,
//! until nothing is left. Each page and its cursor commit together, so a sync killed at any point
//! resumes where it stopped.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::backoff::Backoff;
use super::budget::{Budget, ChunkBudget};
use super::options::SyncOptions;
use super::progress::{ProgressListener, SyncProgress, SyncSummary};
use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::poison::Recover;
use crate::policy::Profile;
use crate::protocol::{
    self, PushDoc, PushOutcome, SyncRequest, SyncResponse, VisibleRequest, VisibleResponse, limits,
};
use crate::store::{Rescope, Store};
use crate::time::TimeSpan;

/// Syncs one store with one server.
pub struct SyncClient<T: Transport> {
    pub(crate) store: Arc<Store>,
    pub(crate) transport: T,
    pub(crate) config: SyncOptions,
    /// Request sizes learned from the link, kept from one sync to the next.
    budget: std::sync::Mutex<Budget>,
    /// Chunk size of photo uploads learned from the link.
    pub(crate) chunks: std::sync::Mutex<ChunkBudget>,
    /// One photo upload queue at a time per client.
    pub(crate) uploading: tokio::sync::Mutex<()>,
}

/// Running totals of one sync.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) summary: SyncSummary,
    /// Documents acknowledged, and changed by pulled data, in this sync (each counted once in
    /// the summary however many rounds it took part in).
    pub(crate) pushed: HashSet<crate::DocId>,
    pub(crate) pulled: HashSet<crate::DocId>,
    pub(crate) progress: SyncProgress,
    /// The last answer said more data waits.
    pub(crate) last_more: bool,
}

impl<T: Transport> SyncClient<T> {
    /// A client for `store` talking through `transport`.
    pub fn new(store: Arc<Store>, transport: T) -> Self {
        let config = SyncOptions::default();
        let (push, page) = config.sizes();
        let budget = std::sync::Mutex::new(Budget::new(push, page));
        SyncClient {
            store,
            transport,
            config,
            budget,
            chunks: Default::default(),
            uploading: Default::default(),
        }
    }

    /// Replaces the tunables (check them first with [`SyncOptions::check`]: values out of
    /// range are clamped here, not refused).
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        let (push, page) = options.sizes();
        self.budget = std::sync::Mutex::new(Budget::new(push, page));
        self.config = options;
        self
    }

    /// The tunables in use.
    pub fn options(&self) -> &SyncOptions {
        &self.config
    }

    /// The request sizes the next round will use.
    pub fn budget(&self) -> Budget {
        *self.budget.lock().recover()
    }

    /// The waits between retries, as configured.
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff::new(self.config.backoff.as_duration(), self.config.max_backoff.as_duration())
    }

    fn adjust(&self, f: impl FnOnce(&mut Budget)) {
        f(&mut self.budget.lock().recover());
    }

    /// The store this client syncs.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Pushes and pulls until nothing is left; returns what was done.
    ///
    /// Each request that takes longer than [`SyncOptions::request_timeout`] fails (and is
    /// retried, up to [`SyncOptions::attempts`]); a sync still running at
    /// [`SyncOptions::deadline`] ends with [`CoreError::Timeout`]. Dropping the future stops
    /// the sync between two steps. Either way everything committed so far stays, and the next
    /// sync continues from there.
    pub async fn sync_now(&self, listener: Option<&dyn ProgressListener>) -> Result<SyncSummary> {
        let started = Instant::now();
        let mut t = Totals::default();
        let deadline = self.config.deadline();
        match tokio::time::timeout(deadline, self.sync_rounds(&mut t, listener)).await {
            Ok(result) => result?,
            Err(_) => {
                let s = &t.summary;
                return Err(CoreError::Timeout {
                    after: TimeSpan::from(deadline),
                    message: format!(
                        "{} requests answered, {} documents pushed and {} pulled, kept; \
                         sync again to go on",
                        s.requests, s.docs_pushed, s.docs_pulled
                    ),
                });
            }
        }
        t.summary.duration = started.elapsed();
        Ok(t.summary)
    }

    /// The rounds of one sync, with their totals in `t`.
    async fn sync_rounds(
        &self,
        t: &mut Totals,
        listener: Option<&dyn ProgressListener>,
    ) -> Result<()> {
        let actor = self.store.identity().actor.to_bytes().to_vec();
        // Documents the server could not take in this sync are not offered again until the next.
        let mut skip: HashSet<crate::DocId> = HashSet::new();
        // Documents asked for whole in this sync are not asked for again until the next: one
        // that does not apply however often it comes would otherwise be asked round after round.
        let mut asked: HashSet<crate::DocId> = HashSet::new();
        let mut answered_once = false;
        // Rounds in a row that failed on the way; reset by every answer.
        let mut failures = 0u32;
        let mut backoff = self.backoff();
        // Lowered to 1 for a server that does not speak the signed pushes of version 2.
        let mut version = protocol::SYNC_VERSION;
        // The next round's push, read from the store while this round is on the wire (its
        // documents left out), so that the phone reading changes and the server taking them
        // overlap; dropped when the round fails (the next one is built again, smaller).
        let mut next_push: Option<tokio::task::JoinHandle<Result<PushBatch>>> = None;
        loop {
            if t.summary.requests >= self.config.max_requests {
                return Err(CoreError::Protocol(format!(
                    "sync stopped after {} requests without finishing",
                    t.summary.requests
                )));
            }
            let store = self.store.clone();
            let budget = self.budget();
            let (push_docs, push_bytes, skipped, asked_already) =
                (self.config.push_docs(), budget.push_bytes as usize, skip.clone(), asked.clone());
            let read_ahead = match next_push.take() {
                Some(task) => Some(
                    task.await
                        .map_err(|e| CoreError::Protocol(format!("store task failed: {e}")))??,
                ),
                None => None,
            };
            let ((push, more_push), want, (epoch, cursor)) = blocking(move || {
                let push = match read_ahead {
                    Some(batch) => batch,
                    None => store.push_batch(push_docs, push_bytes, &skipped)?,
                };
                Ok((
                    push,
                    store.sync_wanted(limits::WANT_DOCS, &asked_already)?,
                    store.sync_position()?,
                ))
            })
            .await?;
            if answered_once && !t.last_more && push.is_empty() && want.is_empty() {
                break;
            }
            let mut request = SyncRequest {
                v: version,
                epoch,
                cursor,
                actor: actor.clone(),
                push,
                want,
                page_bytes: budget.page_bytes,
            };
            if version < 2 {
                request.push.iter_mut().for_each(|p| p.signed.clear());
            }
            // One attempt per round: a round that fails is built again, smaller, from what is
            // still unacknowledged, rather than the same bytes sent again.
            let body = protocol::encode(&request);
            let body_len = body.len() as u64;
            if more_push {
                let mut in_flight = skip.clone();
                in_flight.extend(request.push.iter().map(|p| p.doc));
                let store = self.store.clone();
                next_push = Some(tokio::task::spawn_blocking(move || {
                    store.push_batch(push_docs, push_bytes, &in_flight)
                }));
            }
            let sent = Instant::now();
            let answer = self.post_once(t, "/v1/sync", body).await;
            if answer.is_err() {
                next_push = None;
            }
            let answer = match answer {
                Ok(answer) => answer,
                Err(TransportError::Status { status: 400, code, .. })
                    if code == "unsupported_version" && version > protocol::VERSION =>
                {
                    tracing::info!("the server speaks sync version 1: pushes go unsigned");
                    version = protocol::VERSION;
                    continue;
                }
                Err(TransportError::Status { status: 409, code, .. })
                    if code == "epoch_mismatch" =>
                {
                    self.reconcile(t).await?;
                    t.summary.reconciled = true;
                    continue;
                }
                Err(e) if e.is_transient() && failures + 1 < self.config.attempts() => {
                    failures += 1;
                    if matches!(e, TransportError::Network(_)) {
                        self.adjust(Budget::failed);
                    }
                    let wait = backoff.current();
                    tracing::info!(failures, "sync round failed, again in {wait:?}: {e}");
                    t.summary.retries += 1;
                    backoff.wait().await;
                    continue;
                }
                Err(e) => return Err(failed(e, failures + 1)),
            };
            let carried = body_len + answer.len() as u64;
            self.adjust(|b| b.answered(carried, sent.elapsed()));
            failures = 0;
            backoff.reset();
            let response: SyncResponse =
                protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
            if response.v != request.v {
                return Err(CoreError::Protocol(format!("answer speaks version {}", response.v)));
            }
            answered_once = true;
            self.record(t, &request, response, &mut skip, &mut asked).await?;
            if let Some(l) = listener {
                l.progress(&t.progress);
            }
            if !t.last_more && !more_push && request.push.is_empty() && request.want.is_empty() {
                break;
            }
        }
        let store = self.store.clone();
        if let Some(how) = blocking(move || store.rescope_pending()).await? {
            self.prune(t, how).await?;
        }
        Ok(())
    }

    /// After the user's rights changed and the new catch-up is done: asks the server which held
    /// documents the user may no longer read, drops them (unless they hold changes the server
    /// did not take), and takes the new profile for the phone's own checks. When the rights
    /// only grew, nothing held is asked about: only the new profile.
    async fn prune(&self, t: &mut Totals, how: Rescope) -> Result<()> {
        let ids = match how {
            Rescope::Changed => {
                let store = self.store.clone();
                blocking(move || store.doc_ids()).await?
            }
            Rescope::Widened => Vec::new(),
        };
        let mut hidden = Vec::new();
        let mut profile = None;
        for chunk in ids.chunks(limits::WANT_DOCS).chain(ids.is_empty().then_some(&[][..])) {
            let request = VisibleRequest { v: protocol::VERSION, ids: chunk.to_vec() };
            let answer = self.post(t, "/v1/visible", protocol::encode(&request)).await?;
            let r: VisibleResponse =
                protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
            hidden.extend(r.hidden);
            profile = Some(Profile::parse(r.user, &r.role, r.patrol.as_deref(), r.scopes)?);
        }
        let store = self.store.clone();
        let dropped = blocking(move || {
            if let Some(p) = profile.filter(|_| store.profile().is_some()) {
                store.set_profile(&p)?;
            }
            store.drop_hidden(&hidden)
        })
        .await?;
        t.summary.docs_dropped += count(dropped.len());
        Ok(())
    }

    /// Applies one answer: push results, then the pulled page with its cursor. The documents
    /// the request wanted and the answer brought go into `asked`; those it left out although
    /// nothing more waits (`more` false) are ones the server has not for this device (gone, or
    /// no longer readable): they are asked for no more.
    async fn record(
        &self,
        t: &mut Totals,
        request: &SyncRequest,
        response: SyncResponse,
        skip: &mut HashSet<crate::DocId>,
        asked: &mut HashSet<crate::DocId>,
    ) -> Result<()> {
        for r in &response.results {
            match &r.outcome {
                PushOutcome::Acked { .. } => {
                    t.pushed.insert(r.doc);
                    t.summary.docs_pushed = count(t.pushed.len());
                    if let Some(p) = request.push.iter().find(|p| p.doc == r.doc) {
                        t.summary.changes_pushed += count(
                            crate::changes::split_chunks(&p.changes).map(|c| c.len()).unwrap_or(0),
                        );
                    }
                }
                PushOutcome::Rejected { code, message } => {
                    tracing::warn!(doc = %r.doc, code, "server rejected changes: {message}");
                    t.summary.docs_rejected += 1;
                    skip.insert(r.doc);
                }
                PushOutcome::Retry { code, message } => {
                    tracing::info!(doc = %r.doc, code, "server will take changes later: {message}");
                    skip.insert(r.doc);
                }
            }
        }
        let pulled_changes: i64 = response
            .docs
            .iter()
            .map(|d| count(crate::changes::split_chunks(&d.bytes).map(|c| c.len()).unwrap_or(0)))
            .sum();
        let brought: HashSet<crate::DocId> = response.docs.iter().map(|d| d.doc).collect();
        let mut unwanted = Vec::new();
        for id in &request.want {
            if brought.contains(id) {
                asked.insert(*id);
            } else if !response.more {
                asked.insert(*id);
                unwanted.push(*id);
            }
        }
        let store = self.store.clone();
        let pushed = request.push.clone();
        let SyncResponse {
            results,
            docs,
            epoch,
            cursor,
            more,
            remaining,
            rescoped,
            widened,
            credential,
            revocations,
            authors,
            ..
        } = response;
        let rescoped =
            rescoped.then_some(if widened { Rescope::Widened } else { Rescope::Changed });
        let tally = blocking(move || {
            store.apply_push_results(&pushed, &results)?;
            let tally = store.apply_pull(&docs, &epoch, &cursor, rescoped, &unwanted)?;
            store.keep_for_peers(credential.as_ref(), revocations.as_ref(), &authors);
            Ok(tally)
        })
        .await?;
        t.summary.changes_pulled += pulled_changes;
        t.pulled.extend(tally.changed.iter().copied());
        t.summary.docs_pulled = count(t.pulled.len());
        t.summary.docs_failed += count(tally.failed.len());
        t.progress.pages_done += 1;
        t.progress.docs_done += count(request.push.len() + tally.changed.len());
        t.progress.docs_known =
            t.progress.docs_done.saturating_add(i64::try_from(remaining).unwrap_or(i64::MAX));
        t.last_more = more;
        Ok(())
    }

    /// POSTs an envelope once, counting what crossed the link.
    async fn post_once(
        &self,
        t: &mut Totals,
        path: &'static str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, TransportError> {
        t.summary.bytes_up += count(body.len());
        t.progress.bytes_up = t.summary.bytes_up;
        let result = self.timed(self.transport.post(path, body)).await;
        match &result {
            Ok(answer) => {
                t.summary.requests += 1;
                t.summary.bytes_down += count(answer.len());
                t.progress.bytes_down = t.summary.bytes_down;
            }
            Err(TransportError::Status { .. } | TransportError::RateLimited { .. }) => {
                t.summary.requests += 1
            }
            Err(TransportError::Network(_)) => {}
        }
        result
    }

    /// POSTs an envelope, retrying transient failures with exponential backoff and jitter.
    pub(crate) async fn post(
        &self,
        t: &mut Totals,
        path: &'static str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let mut backoff = self.backoff();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.post_once(t, path, body.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(e) if e.is_transient() && attempt < self.config.attempts() => {
                    let wait = backoff.current();
                    tracing::info!(attempt, "sync request failed, retrying in {wait:?}: {e}");
                    t.summary.retries += 1;
                    backoff.wait().await;
                }
                Err(e) => return Err(failed(e, attempt)),
            }
        }
    }

    /// Sends `req` to `path` and reads the answer; transient failures are retried when
    /// `retry` (the request is idempotent). The calls besides the sync (points, businesses)
    /// go through it.
    pub(crate) async fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &'static str,
        req: &Q,
        retry: bool,
    ) -> Result<A> {
        let body = protocol::encode(req);
        let mut t = Totals::default();
        let answer = if retry {
            self.post(&mut t, path, body).await?
        } else {
            self.timed(self.transport.post(path, body)).await.map_err(|e| failed(e, 1))?
        };
        protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))
    }

    /// `request` failed with a network error if it takes longer than the request timeout
    /// (the link accepted it and never answered).
    pub(crate) async fn timed<R>(
        &self,
        request: impl Future<Output = Result<R, TransportError>>,
    ) -> Result<R, TransportError> {
        let limit = self.config.request_timeout();
        let answer = tokio::time::timeout(limit, request).await.unwrap_or_else(|_| {
            Err(TransportError::Network(format!(
                "no answer within {} (the request timeout)",
                TimeSpan::from(limit)
            )))
        });
        self.honour_wipe(answer).await
    }

    /// Erases the store when `answer` is the server's `device_revoked` with `wipe` (the
    /// administrator asked for it), before the error goes on to the app as
    /// `DeviceRevoked { wiped: true }`. Should the erasing fail, the error says not wiped and
    /// the next request, refused the same way, tries again.
    pub(crate) async fn honour_wipe<R>(
        &self,
        answer: Result<R, TransportError>,
    ) -> Result<R, TransportError> {
        match answer {
            Err(TransportError::Status { status, code, message, wipe: true })
                if code == "device_revoked" =>
            {
                let store = self.store.clone();
                let wiped = match blocking(move || store.wipe()).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!("the server asked for a wipe; erasing failed: {e}");
                        false
                    }
                };
                Err(TransportError::Status { status, code, message, wipe: wiped })
            }
            other => other,
        }
    }
}

/// A count as the summaries foreign code reads hold it.
pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The core error for a request that failed for good after `attempts` attempts.
pub(crate) fn failed(e: TransportError, attempts: u32) -> CoreError {
    match e {
        TransportError::Network(message) => CoreError::Network { attempts, message },
        TransportError::RateLimited { retry_after_secs, message } => {
            CoreError::RateLimited { retry_after_secs, message }
        }
        TransportError::Status { status, code, message, wipe } => {
            CoreError::from_server(status, code, message, wipe)
        }
    }
}

/// A batch of documents to push, and whether more wait after it.
type PushBatch = (Vec<PushDoc>, bool);

/// Runs blocking store work off the async runtime's worker threads.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Protocol(format!("store task failed: {e}")))?
}
