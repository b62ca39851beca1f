//! `GET /open311/v2/requests.{xml,json}` (the requests a key may see, with the spec's
//! filters), `GET /open311/v2/requests/{id}.{xml,json}` (one of them) and
//! `POST /open311/v2/requests.{xml,json}` (an app files a request; form-encoded).
//!
//! Every one needs an `api_key`: the spec lets a server answer GETs without one, but only the
//! reports in the scopes a key may see are public to its app, so a key says which those are.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

use super::bodies::{FiledOut, RequestOut, RequestsXml};
use super::format::{Format, answer, error};
use super::params::{MAX_FORM_BYTES, MAX_QUERY_BYTES, Params};
use crate::http::App;
use crate::open311::{self, ApiKey, NewRequest, Open311Error, RequestQuery, keys, time};

/// Parameters of a listing.
const LIST: &[&str] = &[
    "api_key",
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
];

/// Parameters of one request's GET.
const ONE: &[&str] = &["api_key", "jurisdiction_id"];

/// Parameters of a POST. `address_id`, `device_id`, `account_id` and `media_url` are the
/// spec's and accepted, but not used (this server has no address ids or accounts, and fetches
/// no URL an app names); the contact fields are read and dropped, never stored.
const FILE: &[&str] = &[
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
];

async fn key(app: &App, params: &Params) -> Result<ApiKey, Open311Error> {
    keys::authenticate(app.storage(), params.get("api_key")).await
}

fn requests_answer(format: Format, found: &[open311::ServiceRequest]) -> Response {
    let out: Vec<RequestOut> = found.iter().map(RequestOut::from).collect();
    answer(format, StatusCode::OK, "service_requests", &out, &RequestsXml { request: &out })
}

/// The requests the key may see that the query asks for.
pub(super) async fn list(app: &App, format: Format, query: &str) -> Response {
    let listed = async {
        let params = Params::parse(query.as_bytes(), MAX_QUERY_BYTES, LIST)?;
        let key = key(app, &params).await?;
        let query = RequestQuery {
            ids: params.ids()?,
            services: params.services()?,
            start: params.time("start_date")?,
            end: params.time("end_date")?,
            states: params.states()?,
            jurisdiction: params.get("jurisdiction_id").map(str::to_string),
        };
        open311::list(app.storage(), &key, &query, fieldsync_core::time::now_ms()).await
    };
    match listed.await {
        Ok(found) => requests_answer(format, &found),
        Err(e) => error(format, &e),
    }
}

/// One request, by id.
pub(super) async fn one(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((id, format)) = super::format::file(path) else {
        return error(Format::Xml, &Open311Error::NoSuchResource);
    };
    let found = async {
        let query = query.unwrap_or_default();
        let params = Params::parse(query.as_bytes(), MAX_QUERY_BYTES, ONE)?;
        let key = key(&app, &params).await?;
        open311::one(app.storage(), &key, &id, params.get("jurisdiction_id")).await
    };
    match found.await {
        Ok(r) => requests_answer(format, &[r]),
        Err(e) => error(format, &e),
    }
}

/// Whether the body is declared form-encoded (`application/x-www-form-urlencoded`, any
/// parameters such as a charset).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Files a request: a new report, answered with its id.
pub(super) async fn file(
    app: &App,
    format: Format,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Response {
    let filed = async {
        if !is_form(headers) {
            return Err(Open311Error::bad(
                "request",
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
            Open311Error::bad(
                "request",
                format!("a body over {MAX_FORM_BYTES} bytes, or one cut short"),
            )
        })?;
        let params = Params::parse(&bytes, MAX_FORM_BYTES, FILE)?;
        let key = key(app, &params).await?;
        let lat = params.degrees("lat", 90.0)?;
        let lon = params.degrees("long", 180.0)?;
        let position = match (lat, lon) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            (None, None) => None,
            _ => return Err(Open311Error::bad("long", "lat and long are given together")),
        };
        let req = NewRequest {
            service: params.service()?,
            position,
            address: params.get("address_string").map(str::to_string),
            description: params.get("description").unwrap_or_default().to_string(),
            jurisdiction: params.get("jurisdiction_id").map(str::to_string),
        };
        let _turn = app.admit().await.map_err(|e| Open311Error::Unavailable(e.to_string()))?;
        let now = fieldsync_core::time::now_ms();
        let id = open311::file(&app.docs, &key, req, now).await?;
        let notice = match app.storage().index_row(id).await {
            Ok(Some(c)) => match c.row {
                crate::storage::index::IndexRow::Report(r) => format!(
                    "received; to be accepted by {} and resolved by {}",
                    time::format(r.accept_due),
                    time::format(r.resolve_due)
                ),
                _ => "received".to_string(),
            },
            _ => "received".to_string(),
        };
        Ok(FiledOut { service_request_id: id.to_string(), service_notice: notice })
    };
    match filed.await {
        Ok(out) => {
            let list = [out];
            answer(
                format,
                StatusCode::CREATED,
                "service_requests",
                &list,
                &RequestsXml { request: &list },
            )
        }
        Err(e) => error(format, &e),
    }
}
