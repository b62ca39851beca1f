//! `POST /v1/sync`: checks, epoch, push, pull, in the order `docs/protocol.md` gives. A request
//! that fails a check is answered with an error before anything is applied.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fieldsync_core::protocol::{SYNC_VERSION, SyncRequest, SyncResponse, limits};

use super::App;
use super::auth::Caller;
use super::envelope::{self, check_actor};
use super::error::ServerError;
use crate::accounts;
use crate::documents::push;
use crate::feed::cursor::Cursor;
use crate::feed::{self, Reader, rescope};

/// Checks the fields of a request against the protocol's rules and limits.
pub(crate) fn check(req: &SyncRequest) -> Result<(), ServerError> {
    envelope::check_sync_version(req.v)?;
    if req.v < SYNC_VERSION && req.push.iter().any(|p| !p.signed.is_empty()) {
        return Err(ServerError::InvalidRequest(format!(
            "signatures come with sync version {SYNC_VERSION}, not {}",
            req.v
        )));
    }
    let sigs: usize = req.push.iter().flat_map(|p| &p.signed).map(|g| g.sigs.len()).sum();
    if sigs > limits::SIGNATURES {
        return Err(ServerError::TooLarge(format!(
            "{sigs} change signatures pushed; at most {}",
            limits::SIGNATURES
        )));
    }
    // Other devices' signatures only: this device's own do not count against the limit.
    let authors: HashSet<&[u8]> = req
        .push
        .iter()
        .flat_map(|p| &p.signed)
        .map(|g| g.actor.as_slice())
        .filter(|a| *a != req.actor.as_slice())
        .collect();
    if authors.len() > limits::RELAYED_AUTHORS {
        return Err(ServerError::TooLarge(format!(
            "{} authors' changes pushed; at most {} besides this device's",
            authors.len(),
            limits::RELAYED_AUTHORS
        )));
    }
    check_actor(&req.actor)?;
    if let Some(e) = &req.epoch
        && e.chars().count() > limits::TOKEN_CHARS
    {
        return Err(ServerError::InvalidRequest(format!(
            "the epoch is longer than {} characters",
            limits::TOKEN_CHARS
        )));
    }
    if req.push.len() > limits::PUSH_DOCS {
        return Err(ServerError::TooLarge(format!(
            "{} documents pushed; at most {}",
            req.push.len(),
            limits::PUSH_DOCS
        )));
    }
    let bytes: usize = req.push.iter().map(|p| p.changes.len()).sum();
    if bytes > limits::PUSH_BYTES {
        return Err(ServerError::TooLarge(format!(
            "{bytes} bytes of changes pushed; at most {}",
            limits::PUSH_BYTES
        )));
    }
    if req.want.len() > limits::WANT_DOCS {
        return Err(ServerError::TooLarge(format!(
            "{} documents wanted; at most {}",
            req.want.len(),
            limits::WANT_DOCS
        )));
    }
    let mut seen = HashSet::with_capacity(req.push.len());
    for p in &req.push {
        if p.heads.len() > limits::HEADS {
            return Err(ServerError::InvalidRequest(format!(
                "{} heads for document {}; at most {}",
                p.heads.len(),
                p.doc,
                limits::HEADS
            )));
        }
        if !seen.insert(p.doc) {
            return Err(ServerError::InvalidRequest(format!("document {} is pushed twice", p.doc)));
        }
    }
    Ok(())
}

/// `POST /v1/sync`.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, SyncRequest) = envelope::admitted(&app, &headers, body).await?;
    check(&req)?;
    let mut author = caller.author(&req.actor)?;
    // A cursor carries the view it was issued for (`<position>~<view>`); when the user's role
    // or scopes changed since, the feed restarts with a catch-up of what they may read now.
    let view = rescope::view_tag(&caller.profile);
    let (cursor, issued_for) = Cursor::parse_tagged(&req.cursor)?;
    if let Some(epoch) = &req.epoch
        && !req.cursor.is_empty()
        && epoch != app.epoch()
    {
        return Err(ServerError::EpochMismatch {
            client: epoch.clone(),
            server: app.epoch().to_string(),
        });
    }
    feed::check_not_ahead(&app.docs, &cursor, &req.cursor).await?;
    let resume = rescope::resume(app.storage(), &caller.profile, cursor, issued_for, &view).await?;
    author.rights_changed = resume.rescoped;

    let pushed = req.push.len();
    let relayed =
        accounts::relayed_authors(app.storage(), &app.peers, &req.actor, &req.push).await?;
    let results = push::push(&app.docs, req.push, Some(author), Arc::new(relayed)).await?;
    let reader = Reader {
        actor: &req.actor,
        profile: &caller.profile,
        enrolled_at: caller.device.enrolled_at,
        signed: req.v >= SYNC_VERSION,
    };
    let budget = feed::budget(req.page_bytes);
    let page =
        app.feed.pull(&app.docs, resume.cursor, resume.held, reader, &req.want, budget).await?;
    let bytes = page.data_bytes();
    let pulled = page.doc_count();
    app.metrics.docs_pulled.fetch_add(pulled as u64, Ordering::Relaxed);
    tracing::debug!(pushed, pulled, bytes, cursor = %page.cursor, more = page.more, "sync");
    // Once per sync, on its last page: what the device shows other phones (docs/peer.md).
    let peers = if page.more {
        Default::default()
    } else {
        let now = app.clock.now_ms();
        app.peers.for_sync(app.storage(), &caller.device, &caller.profile, now).await?
    };
    // Version 2: the credentials of the other authors whose signed changes the page carries.
    let authors = if page.signers.is_empty() {
        Vec::new()
    } else {
        let now = app.clock.now_ms();
        accounts::author_credentials(app.storage(), &app.peers, &page.signers, now).await?
    };
    let head = SyncResponse {
        v: req.v,
        epoch: app.epoch().to_string(),
        results,
        docs: page.docs,
        cursor: page.cursor.tagged(&view),
        more: page.more,
        remaining: page.remaining,
        rescoped: resume.rescoped,
        widened: resume.widened,
        credential: peers.credential,
        revocations: peers.revocations,
        authors,
    };
    // Spliced segments cost a copy, not an encoding: only fresh data counts for the thread.
    let fresh = bytes.saturating_sub(
        page.parts
            .iter()
            .map(|p| match p {
                feed::Part::Segment(s) => s.data_bytes,
                feed::Part::Fresh(_) => 0,
            })
            .sum(),
    );
    envelope::answer_sync(head, page.parts, fresh).await
}
