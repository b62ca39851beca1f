//! Service requests as an API key may see them: the public fields of the reports in its
//! scopes, read from the record index (never the reporter, the assignee, comments, photos or
//! any other record kind), filtered as GeoReport v2 says: by ids, service codes, the time the
//! request was made and open/closed; by default the last [`DEFAULT_DAYS`] days, at most
//! [`MAX_REQUESTS`] requests, newest first.

use fieldsync_core::DocId;
use fieldsync_core::model::{ReportCategory, ReportStatus};
use fieldsync_core::policy::scope_covers;

use super::{ApiKey, Open311Error, Service};
use crate::storage::Storage;
use crate::storage::index::{IndexRow, MAX_PAGE, PageRequest, Readable, ReportFilter, ReportRow};

/// The most requests one listing answers (the spec's limit).
pub const MAX_REQUESTS: usize = 1000;

/// The days a listing covers when no dates are given, and the longest span dates may give.
pub const DEFAULT_DAYS: i64 = 90;

/// The most ids one `service_request_id` may list.
pub const MAX_IDS: usize = 100;

const DAY_MS: i64 = 86_400_000;

/// The spec's two states of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenClosed {
    /// Still to be dealt with: submitted, accepted, dispatched, in progress or reopened.
    Open,
    /// Dealt with: resolved, confirmed by the reporter, or rejected.
    Closed,
}

impl OpenClosed {
    /// The state of a report's status.
    pub fn of(status: ReportStatus) -> OpenClosed {
        match status {
            ReportStatus::Resolved | ReportStatus::Confirmed | ReportStatus::Rejected => {
                OpenClosed::Closed
            }
            ReportStatus::Submitted
            | ReportStatus::Accepted
            | ReportStatus::Dispatched
            | ReportStatus::InProgress
            | ReportStatus::Reopened => OpenClosed::Open,
        }
    }

    /// `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenClosed::Open => "open",
            OpenClosed::Closed => "closed",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<OpenClosed> {
        match s {
            "open" => Some(OpenClosed::Open),
            "closed" => Some(OpenClosed::Closed),
            _ => None,
        }
    }

    fn statuses(self) -> impl Iterator<Item = ReportStatus> {
        ReportStatus::ALL.iter().copied().filter(move |s| OpenClosed::of(*s) == self)
    }
}

/// A public note on where a request is in our workflow (`status_notes`): the finer status
/// behind `open` and `closed`, never a person's words.
fn status_note(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Submitted => "submitted: waiting for the command centre",
        ReportStatus::Accepted => "accepted by the command centre",
        ReportStatus::Dispatched => "dispatched to a responder",
        ReportStatus::InProgress => "a responder is working on it",
        ReportStatus::Resolved => "resolved by the responder",
        ReportStatus::Confirmed => "resolved, and the reporter confirmed it",
        ReportStatus::Rejected => "rejected: not a problem the command centre handles",
        ReportStatus::Reopened => "reopened after a resolution or a rejection",
    }
}

/// What a listing asks for (every filter given must hold).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestQuery {
    /// Only these requests (then the other filters but `jurisdiction` are ignored, as the
    /// spec allows).
    pub ids: Vec<DocId>,
    /// Only these services (empty: any).
    pub services: Vec<ReportCategory>,
    /// Requested at or after this time (ms).
    pub start: Option<i64>,
    /// Requested at or before this time (ms).
    pub end: Option<i64>,
    /// Only in these states (empty: any).
    pub states: Vec<OpenClosed>,
    /// Only inside this scope (`jurisdiction_id`), which must be inside the key's.
    pub jurisdiction: Option<String>,
}

/// A service request: the public fields of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    /// `service_request_id`: the report's document id.
    pub id: DocId,
    /// `status`.
    pub state: OpenClosed,
    /// `status_notes`: our finer status, in words.
    pub status_notes: &'static str,
    /// `service_code` and `service_name`.
    pub service: Service,
    /// `description`: the report's description (its title when that is empty), the public
    /// complaint text.
    pub description: String,
    /// `agency_responsible`: the scope (grid) whose command centre handles it, never a person.
    pub agency_responsible: String,
    /// `requested_datetime` (ms).
    pub requested: i64,
    /// `updated_datetime` (ms).
    pub updated: i64,
    /// `expected_datetime` (ms): the responder's deadline, else the category's resolve limit.
    pub expected: i64,
    /// `address`, when the reporter gave one.
    pub address: Option<String>,
    /// `lat`.
    pub lat: Option<f64>,
    /// `long`.
    pub lon: Option<f64>,
}

impl ServiceRequest {
    /// The public fields of a report's index row.
    pub fn of(row: &ReportRow) -> ServiceRequest {
        let description =
            if row.description.trim().is_empty() { &row.title } else { &row.description };
        ServiceRequest {
            id: row.doc,
            state: OpenClosed::of(row.status),
            status_notes: status_note(row.status),
            service: Service::of(row.category),
            description: description.clone(),
            agency_responsible: row.scope.clone(),
            requested: row.created_at,
            updated: row.updated_at,
            expected: row.deadline.unwrap_or(row.resolve_due),
            address: row.address.clone().filter(|a| !a.trim().is_empty()),
            lat: row.lat,
            lon: row.lon,
        }
    }
}

/// Checks `jurisdiction_id` against the key's scopes.
pub(crate) fn jurisdiction(key: &ApiKey, scope: Option<&str>) -> Result<(), Open311Error> {
    let Some(scope) = scope else { return Ok(()) };
    fieldsync_core::limits::scope(scope)
        .map_err(|e| Open311Error::bad("jurisdiction_id", e.to_string()))?;
    if key.scopes.iter().any(|s| scope_covers(s, scope)) {
        Ok(())
    } else {
        Err(Open311Error::bad("jurisdiction_id", format!("{scope} is outside this key's scopes")))
    }
}

/// Whether `key` (narrowed to `jurisdiction`) may see a report in `scope`.
fn visible(key: &ApiKey, jurisdiction: Option<&str>, scope: &str) -> bool {
    key.scopes.iter().any(|s| scope_covers(s, scope))
        && jurisdiction.is_none_or(|j| scope_covers(j, scope))
}

/// The time range a listing covers, `[from, to)` in ms, from the dates asked for at `now`.
fn range(
    start: Option<i64>,
    end: Option<i64>,
    now: i64,
) -> Result<(i64, Option<i64>), Open311Error> {
    let span = DEFAULT_DAYS * DAY_MS;
    match (start, end) {
        (None, None) => Ok((now.saturating_sub(span), None)),
        (Some(s), None) => Ok((s, Some(s.saturating_add(span)))),
        (None, Some(e)) => Ok((e.saturating_sub(span), Some(e.saturating_add(1)))),
        (Some(s), Some(e)) if e < s => Err(Open311Error::bad("end_date", "is before start_date")),
        (Some(s), Some(e)) if e - s > span => Err(Open311Error::bad(
            "end_date",
            format!("start_date and end_date may span at most {DEFAULT_DAYS} days"),
        )),
        (Some(s), Some(e)) => Ok((s, Some(e.saturating_add(1)))),
    }
}

/// The requests `key` may see that `query` asks for, newest first, at most [`MAX_REQUESTS`].
pub async fn list(
    storage: &dyn Storage,
    key: &ApiKey,
    query: &RequestQuery,
    now: i64,
) -> Result<Vec<ServiceRequest>, Open311Error> {
    jurisdiction(key, query.jurisdiction.as_deref())?;
    if !query.ids.is_empty() {
        if query.ids.len() > MAX_IDS {
            return Err(Open311Error::bad(
                "service_request_id",
                format!("at most {MAX_IDS} ids at once"),
            ));
        }
        let mut found = Vec::with_capacity(query.ids.len());
        for id in &query.ids {
            if let Some(r) = visible_row(storage, key, query.jurisdiction.as_deref(), *id).await? {
                found.push(ServiceRequest::of(&r));
            }
        }
        return Ok(found);
    }
    let (from, to) = range(query.start, query.end, now)?;
    let states: Vec<OpenClosed> = query.states.clone();
    let both = states.contains(&OpenClosed::Open) && states.contains(&OpenClosed::Closed);
    let filter = ReportFilter {
        readable: Readable::Scopes(key.scopes.clone()),
        scope: query.jurisdiction.clone(),
        statuses: if both { vec![] } else { states.iter().flat_map(|s| s.statuses()).collect() },
        categories: query.services.clone(),
        created_from: Some(from),
        created_to: to,
        ..ReportFilter::default()
    };
    let mut out = Vec::new();
    let mut page = PageRequest { size: MAX_PAGE, ..PageRequest::default() };
    loop {
        let got = storage.list_reports(filter.clone(), page).await?;
        let room = MAX_REQUESTS - out.len();
        out.extend(got.rows.iter().take(room).map(ServiceRequest::of));
        match got.next {
            Some(next) if out.len() < MAX_REQUESTS => page.after = Some(next),
            _ => return Ok(out),
        }
    }
}

/// The report `id`'s row, when it is a report `key` may see.
async fn visible_row(
    storage: &dyn Storage,
    key: &ApiKey,
    jurisdiction: Option<&str>,
    id: DocId,
) -> Result<Option<ReportRow>, Open311Error> {
    Ok(match storage.index_row(id).await? {
        Some(c) => match c.row {
            IndexRow::Report(r) if visible(key, jurisdiction, &r.scope) => Some(r),
            _ => None,
        },
        None => None,
    })
}

/// The request `id`, when it is one `key` may see (otherwise `UnknownRequest`, whether it
/// does not exist, is not a report or is outside the key's scopes: nothing is told apart).
pub async fn one(
    storage: &dyn Storage,
    key: &ApiKey,
    id: &str,
    jurisdiction_id: Option<&str>,
) -> Result<ServiceRequest, Open311Error> {
    jurisdiction(key, jurisdiction_id)?;
    let unknown = || Open311Error::UnknownRequest(id.chars().take(40).collect());
    let doc: DocId = id.parse().map_err(|_| unknown())?;
    let row = visible_row(storage, key, jurisdiction_id, doc).await?.ok_or_else(unknown)?;
    Ok(ServiceRequest::of(&row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_open_or_closed_as_the_spec_maps_them() {
        let open: Vec<_> = OpenClosed::Open.statuses().map(|s| s.as_str()).collect();
        let closed: Vec<_> = OpenClosed::Closed.statuses().map(|s| s.as_str()).collect();
        assert_eq!(open, ["submitted", "accepted", "dispatched", "in_progress", "reopened"]);
        assert_eq!(closed, ["resolved", "confirmed", "rejected"]);
    }

    #[test]
    fn ranges_default_to_ninety_days_and_refuse_longer_spans() {
        let (now, day) = (1_800_000_000_000, DAY_MS);
        assert_eq!(range(None, None, now).unwrap(), (now - 90 * day, None));
        assert_eq!(range(Some(now), None, 0).unwrap(), (now, Some(now + 90 * day)));
        assert_eq!(range(None, Some(now), 0).unwrap(), (now - 90 * day, Some(now + 1)));
        assert_eq!(range(Some(now - day), Some(now), 0).unwrap(), (now - day, Some(now + 1)));
        assert!(range(Some(now), Some(now - 1), 0).is_err());
        assert!(range(Some(now - 91 * day), Some(now), 0).is_err());
    }

    #[test]
    fn a_jurisdiction_must_be_inside_the_key() {
        let key = ApiKey {
            id: "k".into(),
            name: "app".into(),
            scopes: vec!["jl/cc/grid-01".into()],
            hash: vec![],
        };
        assert!(jurisdiction(&key, None).is_ok());
        assert!(jurisdiction(&key, Some("jl/cc/grid-01/block-2")).is_ok());
        assert!(jurisdiction(&key, Some("jl/cc")).is_err());
        assert!(jurisdiction(&key, Some("jl/cc/grid-012")).is_err());
        assert!(jurisdiction(&key, Some("jl//x")).is_err());
        assert!(visible(&key, None, "jl/cc/grid-01/b"));
        assert!(!visible(&key, Some("jl/cc/grid-01/a"), "jl/cc/grid-01/b"));
    }
}
