//! The desk API (`/api/v1/…`, JSON), what the command centre's browsers call: signing in and
//! out (`session`), and who is signed in ([`Desk`], the extractor every desk handler takes).
//! Every state-changing request under `/api/` but the sign-in passes
//! [`extract::require_csrf`] first, a layer over the whole router.
//! `docs/protocol.md`, "Desk sessions", is the contract.

mod actions;
mod bulletins;
mod businesses;
pub(crate) mod cookie;
mod counts;
mod deliberations;
mod events;
pub(crate) mod extract;
mod grids;
pub(crate) mod json;
mod params;
mod paths;
mod photos;
mod points;
mod record;
pub(crate) mod records;
mod responders;
mod session;
mod stats;
mod visits;

use paths::SESSION_PATH;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::App;
use super::error::error_response;

/// The desk API's routes; [`extract::require_csrf`] guards them from `http::router`.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            SESSION_PATH,
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out)
                .fallback(method_not_allowed),
        )
        .route("/api/v1/openapi.json", get(openapi).fallback(method_not_allowed))
        .route("/api/v1/reports", get(records::reports).fallback(method_not_allowed))
        .route("/api/v1/reports/counts", get(counts::counts).fallback(method_not_allowed))
        .route("/api/v1/grids", get(grids::grids).fallback(method_not_allowed))
        .route("/api/v1/patrols", get(records::patrols).fallback(method_not_allowed))
        .route("/api/v1/cases", get(records::cases).fallback(method_not_allowed))
        .route("/api/v1/bulletins", get(bulletins::bulletins).fallback(method_not_allowed))
        .route("/api/v1/visits", get(visits::visits).fallback(method_not_allowed))
        .route(
            "/api/v1/deliberations",
            get(deliberations::deliberations).fallback(method_not_allowed),
        )
        .route("/api/v1/records/{id}", get(record::record).fallback(method_not_allowed))
        .route("/api/v1/records/{id}/actions", post(actions::run).fallback(method_not_allowed))
        .route("/api/v1/responders", get(responders::responders).fallback(method_not_allowed))
        .route("/api/v1/stats/{what}", get(stats::stats).fallback(method_not_allowed))
        .route("/api/v1/export/{file}", get(stats::export).fallback(method_not_allowed))
        .route("/api/v1/events", get(events::stream).fallback(method_not_allowed))
        .route("/api/v1/photos/{hash}", get(photos::photo).fallback(method_not_allowed))
        .route(
            "/api/v1/photos/{hash}/thumbnail",
            get(photos::thumbnail).fallback(method_not_allowed),
        )
        .route("/api/v1/businesses", get(businesses::list).fallback(method_not_allowed))
        .route("/api/v1/businesses/overdue", get(visits::overdue).fallback(method_not_allowed))
        .route("/api/v1/points/goods", get(points::goods).fallback(method_not_allowed))
        .route("/api/v1/points/accounts/{user}", get(points::account).fallback(method_not_allowed))
        .route("/api/v1/points/awards", post(points::award).fallback(method_not_allowed))
        .route("/api/v1/points/collect", post(points::collect).fallback(method_not_allowed))
}

/// The desk API's OpenAPI document (what every answer above is checked against in tests).
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`: the desk API's OpenAPI document (no session needed).
async fn openapi() -> Response {
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
        .into_response()
}

/// A method a desk route does not take, answered in JSON like every other refusal.
async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method".into(),
    )
}
