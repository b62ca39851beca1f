//! The desk API (`/api/v1/…`, JSON), what the command centre's browsers call: signing in and
//! out (`session`), and who is signed in ([`Desk`], the extractor every desk handler takes).
//! Every state-changing request under `/api/` but the sign-in passes
//! [`extract::require_csrf`] first, a layer over the whole router.
//! `docs/protocol.md`, "Desk sessions", is the contract.

pub(crate) mod cookie;
pub(crate) mod extract;
pub(crate) mod json;
mod session;

pub(crate) use extract::Desk;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use super::App;
use super::error::error_response;

/// The path of the session: `POST` signs in, `GET` says who, `DELETE` signs out.
pub(crate) const SESSION_PATH: &str = "/api/v1/session";

/// What every desk API path starts with (the CSRF layer guards these).
pub(crate) const API_PREFIX: &str = "/api/";

/// The desk API's routes; [`extract::require_csrf`] guards them from `http::router`.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new().route(
        SESSION_PATH,
        post(session::sign_in)
            .get(session::current)
            .delete(session::sign_out)
            .fallback(method_not_allowed),
    )
}

/// A method a desk route does not take, answered in JSON like every other refusal.
async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method".into(),
    )
}
