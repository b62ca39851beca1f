//! `GET /api/v1/visits`: the business visits of the signed-in user's scopes, from the index,
//! each row cut by core's `policy::can_read` as a phone's sync is; and
//! `GET /api/v1/businesses/overdue`: the businesses of the user's scopes due a visit under the
//! rules file's `visits.every_days`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::model::VisitStatus;
use fieldsync_core::policy::can_read;
use fieldsync_core::protocol::BusinessMsg;
use serde::{Deserialize, Serialize};

use super::extract::Desk;
use super::json;
use super::params::Params;
use super::records::{Listing, bad, list_of, page, readable};
use crate::http::App;
use crate::http::businesses::business_msg;
use crate::http::error::ServerError;
use crate::storage::index::{IndexRow, Listings, Sort, VisitFilter, VisitRow};

/// The filters of `GET /api/v1/visits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VisitQuery {
    business: Option<String>,
    status: Option<String>,
    scope: Option<String>,
    failed: Option<bool>,
    follow_up_before: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/visits`: visits newest first (or most recently recorded in, `sort=updated`).
pub(crate) async fn visits(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<VisitQuery>,
) -> Result<Response, ServerError> {
    let page = page(q.sort.as_deref(), q.after.as_deref(), q.limit)?;
    if !matches!(page.sort, Sort::Created | Sort::Updated) {
        return Err(bad("sort: visits sort by created or updated"));
    }
    let filter = VisitFilter {
        readable: readable(&session.profile),
        scope: q.scope,
        business: q.business,
        statuses: list_of::<VisitStatus>("status", q.status.as_deref())?,
        failed: q.failed,
        follow_up_before: q.follow_up_before,
        created_from: q.from,
        created_to: q.to,
    };
    let found = app.storage().list(filter, page).await?;
    let items: Vec<VisitRow> = found
        .rows
        .into_iter()
        .filter(|v| can_read(&session.profile, &IndexRow::Visit(v.clone()).audience()))
        .collect();
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}

/// The parameters of `GET /api/v1/businesses/overdue`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverdueQuery {
    /// Due at this time (ms); the server's now when absent.
    at: Option<i64>,
}

/// A business due a visit, as the desk shows it.
#[derive(Debug, Serialize)]
struct OverdueItem {
    business: BusinessMsg,
    /// Its last visit (ms); absent: never visited.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_visit: Option<i64>,
    /// When its next visit was due (ms); absent: never visited.
    #[serde(skip_serializing_if = "Option::is_none")]
    due_since: Option<i64>,
}

/// The answer of `GET /api/v1/businesses/overdue`.
#[derive(Debug, Serialize)]
struct OverdueList {
    /// The rules' interval between visits.
    every_days: u32,
    /// The time the list is for (ms).
    at: i64,
    items: Vec<OverdueItem>,
}

/// `GET /api/v1/businesses/overdue`: the open businesses of the user's scopes never visited or
/// last visited longer ago than the rules allow, never visited first.
pub(crate) async fn overdue(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<OverdueQuery>,
) -> Result<Response, ServerError> {
    let at = q.at.unwrap_or_else(|| app.clock.now_ms());
    let rules = app.docs.rules.visits();
    let due = app.businesses.overdue(&session.profile, at, rules.every_ms()).await?;
    let items = due
        .into_iter()
        .map(|o| OverdueItem {
            business: business_msg(o.business),
            last_visit: o.last_visit,
            due_since: o.due_since,
        })
        .collect();
    json::answer(StatusCode::OK, &OverdueList { every_days: rules.every_days, at, items })
}
