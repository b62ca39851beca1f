//! `GET /api/v1/deliberations`: the deliberations (议事协商) of the signed-in user's scopes, from
//! the index, each row cut by core's `policy::can_read` as a phone's sync is.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::model::DeliberationStatus;
use fieldsync_core::policy::can_read;
use serde::Deserialize;

use super::extract::Desk;
use super::json;
use super::params::Params;
use super::records::{Listing, bad, list_of, page, readable};
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::{DeliberationFilter, DeliberationRow, IndexRow, Listings, Sort};

/// The filters of `GET /api/v1/deliberations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliberationQuery {
    status: Option<String>,
    scope: Option<String>,
    created_by: Option<String>,
    attendee: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/deliberations`: deliberations newest first (or most recently active,
/// `sort=updated`).
pub(crate) async fn deliberations(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<DeliberationQuery>,
) -> Result<Response, ServerError> {
    let page = page(q.sort.as_deref(), q.after.as_deref(), q.limit)?;
    if !matches!(page.sort, Sort::Created | Sort::Updated) {
        return Err(bad("sort: deliberations sort by created or updated"));
    }
    let filter = DeliberationFilter {
        readable: readable(&session.profile),
        scope: q.scope,
        statuses: list_of::<DeliberationStatus>("status", q.status.as_deref())?,
        created_by: q.created_by,
        attendee: q.attendee,
        created_from: q.from,
        created_to: q.to,
    };
    let found = app.storage().list(filter, page).await?;
    let items: Vec<DeliberationRow> = found
        .rows
        .into_iter()
        .filter(|d| can_read(&session.profile, &IndexRow::Deliberation(d.clone()).audience()))
        .collect();
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}
