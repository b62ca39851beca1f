//! Pushes refused as `stale_rights` — right when their author made them offline, not when they
//! arrived — are listed, so that honest offline work is never dropped silently: the phone keeps
//! the refused changes with their reason, and the dispatchers of the record's scope see the
//! list (`GET /v1/refusals`, and `fieldsync-server refusals` for operators).

use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{RefusalEntry, RefusalsResponse, VERSION, limits};
use serde::Deserialize;

use crate::http::App;
use crate::http::auth::Caller;
use crate::http::envelope;
use crate::http::error::ServerError;
use crate::ingest::{Author, Refusal, code};
use crate::storage::{Refused, StoredRefusal};

/// The listing of `refusal` of a push to `doc` by `author`, when it is one to list.
pub(crate) fn listed(doc: DocId, refusal: &Refusal, author: Option<&Author>) -> Option<Refused> {
    let (Refusal::Stale { message, kind, scope }, Some(a)) = (refusal, author) else {
        return None;
    };
    Some(Refused {
        doc,
        kind: *kind,
        scope: scope.clone(),
        device: a.device.clone(),
        user: a.profile.user.clone(),
        code: code::STALE_RIGHTS.to_string(),
        message: message.clone(),
        at: fieldsync_core::time::now_ms(),
    })
}

/// Lists `refused`; a failure is logged (the pusher has its answer either way).
pub(crate) async fn record(app: &App, refused: Vec<Refused>) {
    if refused.is_empty() {
        return;
    }
    for r in &refused {
        tracing::info!(doc = %r.doc, device = %r.device, user = %r.user, "stale change listed");
    }
    if let Err(e) = app.storage.record_refusals(refused).await {
        tracing::error!("listing refused changes failed: {e}");
    }
}

/// The query of `GET /v1/refusals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    /// List after this position (0: from the start).
    #[serde(default)]
    after: i64,
}

/// As the protocol shows one.
pub(crate) fn entry(s: StoredRefusal) -> RefusalEntry {
    let r = s.refused;
    RefusalEntry {
        id: s.id,
        doc: r.doc,
        kind: r.kind.as_str().to_string(),
        scope: r.scope,
        device: r.device,
        user: r.user,
        code: r.code,
        message: r.message,
        first_at: s.first_at,
        last_at: r.at,
        times: s.times,
    }
}

/// `GET /v1/refusals?after=N`: the refusals of records inside the calling dispatcher's scopes.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(page): Query<Page>,
) -> Result<Response, ServerError> {
    if caller.profile.role != Role::Dispatcher {
        return Err(ServerError::Forbidden {
            code: "forbidden",
            message: format!(
                "refused changes are listed for dispatchers; {} is a {}",
                caller.profile.user, caller.profile.role
            ),
        });
    }
    let listed = app
        .storage
        .refusals(caller.profile.scopes.clone(), page.after.max(0), limits::REFUSALS_PAGE)
        .await?;
    let answer = RefusalsResponse { v: VERSION, refusals: listed.into_iter().map(entry).collect() };
    envelope::answer(answer, 0).await
}
