//! `POST /v1/visible`: after a user's rights changed, which of the documents a device holds it
//! may no longer read, with the profile it acts with now.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::policy::can_read;
use fieldsync_core::protocol::{VERSION, VisibleRequest, VisibleResponse, limits};

use super::App;
use super::auth::Caller;
use super::envelope;
use super::error::ServerError;

/// `POST /v1/visible`: which of the documents a device names it may not read now, with the
/// profile it acts with (what a phone asks after its user's rights changed).
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, VisibleRequest) =
        envelope::admitted_small(&app, &headers, body, app.visible_body_bytes).await?;
    envelope::check_version(req.v)?;
    if req.ids.len() > limits::WANT_DOCS {
        return Err(ServerError::TooLarge(format!(
            "{} documents asked about; at most {}",
            req.ids.len(),
            limits::WANT_DOCS
        )));
    }
    let readable: HashSet<DocId> = app
        .docs
        .storage
        .readers(req.ids.clone())
        .await?
        .into_iter()
        .filter(|(_, a)| can_read(&caller.profile, a))
        .map(|(d, _)| d)
        .collect();
    let p = caller.profile;
    let answer = VisibleResponse {
        v: VERSION,
        hidden: req.ids.into_iter().filter(|d| !readable.contains(d)).collect(),
        user: p.user,
        role: p.role.as_str().to_string(),
        patrol: p.patrol.map(|k| k.as_str().to_string()),
        scopes: p.scopes,
    };
    envelope::answer(answer, 0).await
}
