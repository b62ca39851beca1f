//! `POST /v1/reconcile`: Automerge's own sync protocol for a batch of documents, after an epoch
//! change (`documents::reconcile`); the answer carries the feed position from before anything
//! of the request was logged.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fieldsync_core::protocol::{ReconcileRequest, ReconcileResponse, VERSION, limits};

use super::App;
use super::auth::Caller;
use super::envelope::{self, check_actor};
use super::error::ServerError;
use crate::documents::reconcile;
use crate::feed::cursor::Cursor;

/// Checks the fields of a request against the protocol's rules and limits.
pub(crate) fn check(req: &ReconcileRequest) -> Result<(), ServerError> {
    envelope::check_version(req.v)?;
    check_actor(&req.actor)?;
    if req.docs.len() > limits::RECONCILE_DOCS {
        return Err(ServerError::TooLarge(format!(
            "{} documents in one reconcile request; at most {}",
            req.docs.len(),
            limits::RECONCILE_DOCS
        )));
    }
    let mut seen = HashSet::with_capacity(req.docs.len());
    for m in &req.docs {
        if !seen.insert(m.doc) {
            return Err(ServerError::InvalidRequest(format!(
                "document {} appears twice in one reconcile request",
                m.doc
            )));
        }
    }
    Ok(())
}

/// `POST /v1/reconcile`.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, ReconcileRequest) = envelope::admitted(&app, &headers, body).await?;
    check(&req)?;
    let author = caller.author(&req.actor)?;
    // The feed position before anything of this request is logged, so nothing is skipped.
    let cursor = Cursor::Log { seq: app.docs.storage.log_end().await? };
    let enrolled_at = caller.device.enrolled_at;
    let done = reconcile::reconcile(&app.docs, author, enrolled_at, req.docs, req.have).await?;
    let bytes = done.docs.iter().map(|d| d.message.len()).sum::<usize>() + done.missing.len() * 20;
    tracing::debug!(
        docs = done.docs.len(),
        refused = done.results.len(),
        missing = done.missing.len(),
        "reconcile"
    );
    let answer = ReconcileResponse {
        v: VERSION,
        epoch: app.epoch().to_string(),
        cursor: cursor.to_string(),
        docs: done.docs,
        results: done.results,
        missing: done.missing,
    };
    envelope::answer(answer, bytes).await
}
