//! Assessment (考核监督): `GET /api/v1/stats/{reports,patrols,cases}` over the record index, per
//! scope prefix, responder or category over a time range, as JSON or CSV (`format=csv`), and
//! the export of a report listing as CSV or GeoJSON (`GET /api/v1/export/reports.{csv,geojson}`
//! with the filters of `GET /api/v1/reports`). Figures cover only what the signed-in user's
//! scopes hold; case figures only for the roles that read cases.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::policy::Role;
use serde::{Deserialize, Serialize};

use super::extract::Desk;
use super::json;
use super::params::Params;
use super::records::{ReportQuery, readable, readable_reports};
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::{CHINA_UTC_OFFSET_MINUTES, MAX_PAGE, StatsGroup, StatsQuery};

/// The longest range statistics cover: 400 days.
const MAX_RANGE_MS: i64 = 400 * 86_400_000;
/// The most rows one export holds.
const MAX_EXPORT_ROWS: usize = 100_000;

/// The parameters of a statistics request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsParams {
    scope: Option<String>,
    /// Start of the range, ms (default: 30 days before `to`).
    from: Option<i64>,
    /// End of the range, ms (default: now).
    to: Option<i64>,
    /// `all` (default), `scope`, `assignee` or `category`.
    group: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format_of(f: Option<&str>) -> Result<Format, ServerError> {
    match f.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        other => Err(ServerError::InvalidRequest(format!(
            "format: {:?} is not json or csv",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

fn bad(message: impl Into<String>) -> ServerError {
    ServerError::InvalidRequest(message.into())
}

/// A CSV answer of `rows` (a header line from the field names, then one line per row).
pub(crate) fn csv_answer<T: Serialize>(rows: &[T], name: &str) -> Result<Response, ServerError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for r in rows {
        out.serialize(r).map_err(|e| ServerError::Internal(format!("csv: {e}")))?;
    }
    let bytes = out.into_inner().map_err(|e| ServerError::Internal(format!("csv: {e}")))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

fn answer<T: Serialize>(format: Format, rows: &[T], name: &str) -> Result<Response, ServerError> {
    match format {
        Format::Json => json::answer(StatusCode::OK, &rows),
        Format::Csv => csv_answer(rows, name),
    }
}

/// `GET /api/v1/stats/{what}`: `reports`, `patrols` or `cases`.
pub(crate) async fn stats(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(what): Path<String>,
    Params(p): Params<StatsParams>,
) -> Result<Response, ServerError> {
    let now = app.clock.now_ms();
    let to = p.to.unwrap_or(now);
    let from = p.from.unwrap_or(to.saturating_sub(30 * 86_400_000));
    if from >= to || to.saturating_sub(from) > MAX_RANGE_MS {
        return Err(bad("from and to: a range of at most 400 days, from before to"));
    }
    let group = match p.group.as_deref().unwrap_or("all") {
        "all" => StatsGroup::All,
        "scope" => StatsGroup::Scope,
        "assignee" => StatsGroup::Assignee,
        "category" => StatsGroup::Category,
        other => {
            return Err(bad(format!(
                "group: {:?} is not one of all, scope, assignee, category",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let format = format_of(p.format.as_deref())?;
    let query = StatsQuery {
        readable: readable(&session.profile),
        scope: p.scope,
        from,
        to,
        now,
        group,
        utc_offset_minutes: CHINA_UTC_OFFSET_MINUTES,
    };
    let storage = app.storage();
    match what.as_str() {
        "reports" => answer(format, &storage.report_stats(query).await?, "reports"),
        "patrols" => answer(format, &storage.patrol_stats(query).await?, "patrols"),
        "cases" => {
            if !matches!(session.profile.role, Role::Dispatcher | Role::Supervisor) {
                return Err(ServerError::Forbidden {
                    code: "forbidden",
                    message: format!("a {} does not see mediation cases", session.profile.role),
                });
            }
            answer(format, &storage.case_stats(query).await?, "cases")
        }
        _ => Err(ServerError::NotFound("statistics of reports, patrols or cases".into())),
    }
}

/// A report as exported: the index row's fields, flat.
#[derive(Debug, Serialize)]
struct ExportRow {
    id: String,
    scope: String,
    status: String,
    category: String,
    title: String,
    created_by: String,
    assignee: Option<String>,
    created_at: i64,
    accepted_at: Option<i64>,
    dispatched_at: Option<i64>,
    resolved_at: Option<i64>,
    confirmed_at: Option<i64>,
    deadline: Option<i64>,
    priority: String,
    lat: Option<f64>,
    lon: Option<f64>,
    address: Option<String>,
    supervisions: u32,
    reopens: u32,
    overdue: bool,
}

/// `GET /api/v1/export/reports.csv` and `.geojson`: every report of a desk filter (the
/// parameters of `GET /api/v1/reports` but `after` and `limit`), up to 100,000 rows.
pub(crate) async fn export(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(file): Path<String>,
    Params(query): Params<ReportQuery>,
) -> Result<Response, ServerError> {
    let geojson = match file.as_str() {
        "reports.csv" => false,
        "reports.geojson" => true,
        _ => return Err(ServerError::NotFound("exports: reports.csv, reports.geojson".into())),
    };
    let now = app.clock.now_ms();
    let (filter, mut page) = query.filter(&session.profile, now)?;
    if page.after.is_some() {
        return Err(bad("after: an export starts at the first row"));
    }
    page.size = MAX_PAGE;
    let mut rows = Vec::new();
    loop {
        let found = app.storage().list_reports(filter.clone(), page).await?;
        rows.extend(readable_reports(&session.profile, found.rows, now));
        match found.next {
            Some(next) if rows.len() < MAX_EXPORT_ROWS => page.after = Some(next),
            _ => break,
        }
    }
    let flat: Vec<ExportRow> = rows
        .into_iter()
        .map(|item| {
            let overdue = item.overdue;
            let r = item.row;
            ExportRow {
                id: r.doc.to_string(),
                scope: r.scope,
                status: r.status.to_string(),
                category: r.category.to_string(),
                title: r.title,
                created_by: r.created_by,
                assignee: r.assignee,
                created_at: r.created_at,
                accepted_at: r.accepted_at,
                dispatched_at: r.dispatched_at,
                resolved_at: r.resolved_at,
                confirmed_at: r.confirmed_at,
                deadline: r.deadline,
                priority: r.priority.to_string(),
                lat: r.lat,
                lon: r.lon,
                address: r.address,
                supervisions: r.supervisions,
                reopens: r.reopens,
                overdue,
            }
        })
        .collect();
    if !geojson {
        return csv_answer(&flat, "reports");
    }
    let features: Vec<serde_json::Value> = flat
        .iter()
        .filter_map(|r| {
            let (lat, lon) = (r.lat?, r.lon?);
            Some(serde_json::json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [lon, lat] },
                "properties": r,
            }))
        })
        .collect();
    let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
    let body = serde_json::to_vec(&collection)
        .map_err(|e| ServerError::Internal(format!("geojson: {e}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/geo+json"), (header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response())
}
