//! `GET /api/v1/reports/counts`: how many reports of each status a desk filter holds and how
//! many of them are overdue now (the live board's counters), with the filters of
//! `GET /api/v1/reports`, counted in one query of the index (cut to the reader's scopes, as
//! the listings and statistics are).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::extract::Desk;
use super::json;
use super::params::Params;
use super::records::ReportQuery;
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::ReportCount;

/// What the counts answer.
#[derive(Debug, Serialize)]
struct Counts {
    /// Per status that has any report, in the status's name order.
    statuses: Vec<ReportCount>,
    /// All of them.
    reports: u64,
    /// All the overdue ones.
    overdue: u64,
    /// The time the overdue ones were counted at (ms).
    at: i64,
}

/// `GET /api/v1/reports/counts`.
pub(crate) async fn counts(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(query): Params<ReportQuery>,
) -> Result<Response, ServerError> {
    let now = app.clock.now_ms();
    let (filter, page) = query.filter(&session.profile, now)?;
    if page.after.is_some() {
        return Err(ServerError::InvalidRequest("after: counts have no pages".into()));
    }
    let statuses = app.storage().count_reports(filter, now).await?;
    let reports = statuses.iter().map(|c| c.reports).sum();
    let overdue = statuses.iter().map(|c| c.overdue).sum();
    json::answer(StatusCode::OK, &Counts { statuses, reports, overdue, at: now })
}
