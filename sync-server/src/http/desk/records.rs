//! The desk's information query (信息查询): listings of reports, patrol logs and mediation
//! cases from the record index with filters, sort and keyset pages (one record whole is
//! `record`, the responders one may assign `responders`).
//!
//! Every listing is cut to the reader's scopes in the query itself (full pages), and every row
//! and record then passes core's `policy::can_read` for the signed-in user, as a phone's sync
//! does: a record the user may not read never reaches them, and one that does not exist is
//! answered alike (`404 not_found`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::model::{CaseCategory, CaseStatus, PatrolStatus, ReportCategory, ReportStatus};
use fieldsync_core::policy::{Profile, Role, can_read};
use serde::{Deserialize, Serialize};

use super::extract::Desk;
use super::json;
use super::params::Params;
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::{
    CaseFilter, CaseRow, Cursor, IndexRow, Listings, PageRequest, PatrolFilter, PatrolRow,
    Readable, ReportFilter, ReportRow, Sort,
};

/// A document id from a path, or `404` as for a record that does not exist.
pub(crate) fn doc_id(s: &str) -> Result<DocId, ServerError> {
    s.parse().map_err(|_| not_found(s))
}

pub(crate) fn not_found(id: &str) -> ServerError {
    ServerError::NotFound(format!(
        "no record {:?} that you may read",
        id.chars().take(64).collect::<String>()
    ))
}

pub(crate) fn bad(message: impl Into<String>) -> ServerError {
    ServerError::InvalidRequest(message.into())
}

/// A comma-separated list of values of a closed set (`status=submitted,reopened`).
pub(crate) fn list_of<T: std::str::FromStr>(
    field: &str,
    v: Option<&str>,
) -> Result<Vec<T>, ServerError>
where
    T::Err: std::fmt::Display,
{
    v.into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e| bad(format!("{field}: {e}"))))
        .collect()
}

/// The sort and page a listing asks for.
pub(crate) fn page(
    sort: Option<&str>,
    after: Option<&str>,
    limit: Option<usize>,
) -> Result<PageRequest, ServerError> {
    let sort = match sort.unwrap_or("created") {
        "created" => Sort::Created,
        "deadline" => Sort::Deadline,
        "priority" => Sort::Priority,
        "updated" => Sort::Updated,
        other => {
            return Err(bad(format!(
                "sort: {:?} is not one of created, deadline, priority, updated",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let after =
        after.map(|a| a.parse::<Cursor>().map_err(|e| bad(format!("after: {e}")))).transpose()?;
    if after.is_some_and(|c| c.sort != sort) {
        return Err(bad("after: this cursor belongs to a listing in another order"));
    }
    let size = limit.unwrap_or(50);
    if size == 0 || size > crate::storage::index::MAX_PAGE {
        return Err(bad(format!("limit: {size}; 1 to {}", crate::storage::index::MAX_PAGE)));
    }
    Ok(PageRequest { sort, size, after })
}

fn text(q: Option<String>) -> Result<Option<String>, ServerError> {
    match q {
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => {
            crate::storage::index::check_text(&t).map_err(|e| bad(format!("q: {e}")))?;
            Ok(Some(t))
        }
        None => Ok(None),
    }
}

/// What the signed-in user may see of the index: their scopes.
pub(crate) fn readable(p: &Profile) -> Readable {
    Readable::Scopes(p.scopes.clone())
}

/// Whether a report is overdue at `now` (`ReportRow::passed_limits`).
pub(crate) fn overdue(r: &ReportRow, now: i64) -> bool {
    !r.passed_limits(now).is_empty()
}

/// A report row with whether it is overdue now.
#[derive(Debug, Serialize)]
pub(crate) struct ReportItem {
    /// The row.
    #[serde(flatten)]
    pub(crate) row: ReportRow,
    /// Overdue now.
    pub(crate) overdue: bool,
}

/// A page of a listing.
#[derive(Debug, Serialize)]
pub(crate) struct Listing<T> {
    /// The rows of the page.
    pub(crate) items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next: Option<String>,
}

/// The filters of `GET /api/v1/reports`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    status: Option<String>,
    category: Option<String>,
    scope: Option<String>,
    assignee: Option<String>,
    created_by: Option<String>,
    overdue: Option<bool>,
    from: Option<i64>,
    to: Option<i64>,
    q: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

impl ReportQuery {
    /// The index filter and page this query asks for, for `reader`.
    pub(crate) fn filter(
        self,
        reader: &Profile,
        now: i64,
    ) -> Result<(ReportFilter, PageRequest), ServerError> {
        let page = page(self.sort.as_deref(), self.after.as_deref(), self.limit)?;
        let filter = ReportFilter {
            readable: readable(reader),
            scope: self.scope,
            statuses: list_of::<ReportStatus>("status", self.status.as_deref())?,
            categories: list_of::<ReportCategory>("category", self.category.as_deref())?,
            assignee: self.assignee,
            created_by: self.created_by,
            overdue_at: self.overdue.unwrap_or(false).then_some(now),
            created_from: self.from,
            created_to: self.to,
            text: text(self.q)?,
        };
        Ok((filter, page))
    }
}

/// Reports the reader may read, with whether each is overdue.
pub(crate) fn readable_reports(
    reader: &Profile,
    rows: Vec<ReportRow>,
    now: i64,
) -> Vec<ReportItem> {
    rows.into_iter()
        .filter(|r| can_read(reader, &IndexRow::Report(r.clone()).audience()))
        .map(|row| ReportItem { overdue: overdue(&row, now), row })
        .collect()
}

/// `GET /api/v1/reports`.
pub(crate) async fn reports(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(query): Params<ReportQuery>,
) -> Result<Response, ServerError> {
    let now = app.clock.now_ms();
    let (filter, page) = query.filter(&session.profile, now)?;
    let found = app.storage().list_reports(filter, page).await?;
    let items = readable_reports(&session.profile, found.rows, now);
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}

/// The filters of `GET /api/v1/patrols`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatrolQuery {
    status: Option<String>,
    scope: Option<String>,
    area: Option<String>,
    member: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/patrols`.
pub(crate) async fn patrols(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<PatrolQuery>,
) -> Result<Response, ServerError> {
    let page = page(q.sort.as_deref(), q.after.as_deref(), q.limit)?;
    if !matches!(page.sort, Sort::Created | Sort::Updated) {
        return Err(bad("sort: patrol logs sort by created or updated"));
    }
    let filter = PatrolFilter {
        readable: readable(&session.profile),
        scope: q.scope,
        statuses: list_of::<PatrolStatus>("status", q.status.as_deref())?,
        area: q.area,
        member: q.member,
        started_from: q.from,
        started_to: q.to,
    };
    let found = app.storage().list(filter, page).await?;
    let items: Vec<PatrolRow> = found
        .rows
        .into_iter()
        .filter(|p| can_read(&session.profile, &IndexRow::PatrolLog(p.clone()).audience()))
        .collect();
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}

/// The filters of `GET /api/v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseQuery {
    status: Option<String>,
    category: Option<String>,
    scope: Option<String>,
    mediator: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/cases`: mediation cases, for the roles that may read them (dispatchers,
/// supervisors); others get an empty listing, as a phone of theirs would hold none.
pub(crate) async fn cases(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<CaseQuery>,
) -> Result<Response, ServerError> {
    let page = page(q.sort.as_deref(), q.after.as_deref(), q.limit)?;
    if !matches!(page.sort, Sort::Created | Sort::Updated) {
        return Err(bad("sort: cases sort by created or updated"));
    }
    let filter = CaseFilter {
        readable: readable(&session.profile),
        scope: q.scope,
        statuses: list_of::<CaseStatus>("status", q.status.as_deref())?,
        categories: list_of::<CaseCategory>("category", q.category.as_deref())?,
        mediator: q.mediator,
        opened_from: q.from,
        opened_to: q.to,
    };
    if !matches!(session.profile.role, Role::Dispatcher | Role::Supervisor | Role::Mediator) {
        return json::answer(StatusCode::OK, &Listing::<CaseRow> { items: Vec::new(), next: None });
    }
    let found = app.storage().list(filter, page).await?;
    let items: Vec<CaseRow> = found
        .rows
        .into_iter()
        .filter(|c| can_read(&session.profile, &IndexRow::MediationCase(c.clone()).audience()))
        .collect();
    json::answer(StatusCode::OK, &Listing { items, next: found.next.map(|c| c.to_string()) })
}
