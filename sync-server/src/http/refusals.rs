//! `GET /v1/refusals`: the pushes refused as `stale_rights` inside the calling dispatcher's
//! scopes (listed by `documents::refusals`), so honest offline work is never dropped silently.

use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::response::Response;
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{RefusalEntry, RefusalsResponse, VERSION, limits};
use serde::Deserialize;

use super::App;
use super::auth::Caller;
use super::envelope;
use super::error::ServerError;
use crate::storage::StoredRefusal;

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
        .docs
        .storage
        .refusals(caller.profile.scopes.clone(), page.after.max(0), limits::REFUSALS_PAGE)
        .await?;
    let answer = RefusalsResponse { v: VERSION, refusals: listed.into_iter().map(entry).collect() };
    envelope::answer(answer, 0).await
}
