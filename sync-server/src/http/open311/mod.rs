//! Open311 GeoReport v2 under `/open311/v2/` (`docs/protocol.md`, "Open311"): one module per
//! concern. `format` (the `.xml` / `.json` suffix and the answers written in it, errors in the
//! spec's format), `params` (query strings and form bodies read as the spec's parameters),
//! `bodies` (what each answer holds, as the spec names its fields), and the handlers:
//! `discovery`, `services`, `requests`. The domain is `crate::open311`.

mod bodies;
mod discovery;
mod format;
mod params;
mod requests;
mod services;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use self::format::{Format, error, file};
use super::App;
use crate::open311::Open311Error;

/// The routes below `/open311/v2`.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/{file}", get(get_top).post(post_top))
        .route("/services/{file}", get(services::definition))
        .route("/requests/{file}", get(requests::one))
}

fn not_found() -> Open311Error {
    Open311Error::NoSuchResource
}

/// `GET /open311/v2/{discovery,services,requests}.{xml,json}`.
async fn get_top(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((stem, format)) = file(path) else {
        return error(Format::Xml, &not_found());
    };
    let query = query.unwrap_or_default();
    match stem.as_str() {
        "discovery" => discovery::handle(format, &headers, &query),
        "services" => services::list(format, &query),
        "requests" => requests::list(&app, format, &query).await,
        _ => error(format, &not_found()),
    }
}

/// `POST /open311/v2/requests.{xml,json}`.
async fn post_top(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    match file(path) {
        Some((stem, format)) if stem == "requests" => {
            requests::file(&app, format, &headers, body).await
        }
        Some((_, format)) => error(format, &not_found()),
        None => error(Format::Xml, &not_found()),
    }
}
