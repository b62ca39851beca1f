//! `GET /api/v1/bulletins`: the warning bulletins of the signed-in user's scopes, from the
//! index, each row cut by core's `policy::can_read` as a phone's sync is.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::model::{BulletinStatus, Severity};
use fieldsync_core::policy::can_read;
use serde::Deserialize;

use super::extract::Desk;
use super::json;
use super::params::Params;
use super::records::{Listing, bad, list_of, page, readable};
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::{BulletinFilter, BulletinRow, IndexRow, Listings, Sort};

/// The filters of `GET /api/v1/bulletins`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulletinQuery {
    status: Option<String>,
    severity: Option<String>,
    scope: Option<String>,
    created_by: Option<String>,
    in_force_at: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/bulletins`: bulletins newest first (or most recently acknowledged, `sort=updated`).
pub(crate) async fn bulletins(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<BulletinQuery>,
) -> Result<Response, ServerError> {
    let page = page(q.sort.as_deref(), q.after.as_deref(), q.limit)?;
    if !matches!(page.sort, Sort::Created | Sort::Updated) {
        return Err(bad("sort: bulletins sort by created or updated"));
    }
    let filter = BulletinFilter {
        readable: readable(&session.profile),
        scope: q.scope,
        statuses: list_of::<BulletinStatus>("status", q.status.as_deref())?,
        severities: list_of::<Severity>("severity", q.severity.as_deref())?,
        created_by: q.created_by,
        in_force_at: q.in_force_at,
        created_from: q.from,
        created_to: q.to,
    };
    let found = app.storage().list(filter, page).await?;
    let items: Vec<BulletinRow> = found
        .rows
        .into_iter()
        .filter(|b| can_read(&session.profile, &IndexRow::Bulletin(b.clone()).audience()))
        .collect();
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}
