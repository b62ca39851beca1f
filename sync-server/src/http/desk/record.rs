//! One record as the desk shows it (`GET /api/v1/records/{id}`): its index row (with
//! `overdue` for a report), the record whole and its photos' desk URLs; missing and
//! unreadable are answered alike.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::model::Record;
use fieldsync_core::policy::{Audience, Profile, can_read, is_addressed, reads_businesses};
use fieldsync_core::protocol::BusinessMsg;
use serde::Serialize;

use super::extract::Desk;
use super::json;
use super::records::{doc_id, not_found, overdue};
use crate::http::App;
use crate::http::businesses::business_msg;
use crate::http::error::ServerError;
use crate::storage::index::IndexRow;

/// A photo of a record, with where the desk reads it.
#[derive(Debug, Serialize)]
struct PhotoView {
    hash: String,
    size: i64,
    media_type: String,
    url: String,
    thumbnail_url: String,
}

/// One record as the desk shows it: its index row (with `overdue` for a report), the record
/// whole (timeline, comments, entries, sessions, conflicts) and its photos' URLs.
#[derive(Debug, Serialize)]
pub(crate) struct RecordView {
    row: IndexRow,
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<bool>,
    record: Record,
    photos: Vec<PhotoView>,
    /// Of a bulletin: the enabled users it is addressed to who have not acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    unacknowledged: Option<Vec<String>>,
    /// Of a visit: the business visited, as the registry holds it now (absent when the reader
    /// does not read the registry, or the registry lost it).
    #[serde(skip_serializing_if = "Option::is_none")]
    business: Option<BusinessMsg>,
}

fn photos_of(record: &Record) -> Vec<PhotoView> {
    record
        .photos()
        .into_iter()
        .map(|p| PhotoView {
            hash: p.hash.clone(),
            size: p.size,
            media_type: p.media_type.clone(),
            url: format!("/api/v1/photos/{}", p.hash),
            thumbnail_url: format!("/api/v1/photos/{}/thumbnail", p.hash),
        })
        .collect()
}

/// Record `id` as `reader` may see it, or `404` (missing and unreadable alike).
pub(crate) async fn view(
    app: &App,
    reader: &Profile,
    id: DocId,
) -> Result<RecordView, ServerError> {
    let missing = || not_found(&id.to_string());
    let row = app.storage().index_row(id).await?.ok_or_else(missing)?.row;
    if !can_read(reader, &row.audience()) {
        return Err(missing());
    }
    let record = crate::documents::read_record(&app.docs, id).await?.ok_or_else(missing)?;
    if !can_read(reader, &Audience::of(&record)) {
        return Err(missing());
    }
    let overdue = match &row {
        IndexRow::Report(r) => Some(overdue(r, app.clock.now_ms())),
        _ => None,
    };
    let unacknowledged = match &row {
        IndexRow::Bulletin(b) => Some(unacknowledged(app, &row.audience(), &b.acknowledged).await?),
        _ => None,
    };
    let business = match &row {
        IndexRow::Visit(v) => visited(app, reader, &v.business).await?,
        _ => None,
    };
    Ok(RecordView { photos: photos_of(&record), row, overdue, record, unacknowledged, business })
}

/// The business `id` of the registry, when `reader` reads the registry of its scope.
async fn visited(
    app: &App,
    reader: &Profile,
    id: &str,
) -> Result<Option<BusinessMsg>, ServerError> {
    if !reads_businesses(reader) {
        return Ok(None);
    }
    let found = app.storage().business(id.to_string()).await?;
    Ok(found.filter(|b| reader.covers(&b.scope)).map(business_msg))
}

/// The enabled users a bulletin with audience `a` is addressed to who are not among
/// `acknowledged`, by user id.
async fn unacknowledged(
    app: &App,
    a: &Audience,
    acknowledged: &[String],
) -> Result<Vec<String>, ServerError> {
    let users = crate::accounts::users(app.storage()).await?;
    let mut pending: Vec<String> = users
        .into_iter()
        .filter(|u| u.disabled_at.is_none())
        .filter(|u| is_addressed(&u.profile, a) && !acknowledged.contains(&u.id))
        .map(|u| u.id)
        .collect();
    pending.sort_unstable();
    Ok(pending)
}

/// `GET /api/v1/records/{id}`.
pub(crate) async fn record(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(id): Path<String>,
) -> Result<Response, ServerError> {
    let id = doc_id(&id)?;
    json::answer(StatusCode::OK, &view(&app, &session.profile, id).await?)
}
