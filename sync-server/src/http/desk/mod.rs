//! The desk API (`/api/v1/…`, JSON), what the command centre's browsers call: signing in and
//! out (`session`), and who is signed in ([`Desk`], the extractor every desk handler takes).
//! Every state-changing request but the sign-in passes [`extract::require_csrf`] first.
//! `docs/protocol.md`, "Desk sessions", is the contract.

pub(crate) mod cookie;
pub(crate) mod extract;
pub(crate) mod json;
mod session;

pub(crate) use extract::Desk;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::post;

use super::App;
use super::error::error_response;

/// The path of the session: `POST` signs in, `GET` says who, `DELETE` signs out.
pub(crate) const SESSION_PATH: &str = "/api/v1/session";

/// The desk API's routes, behind the CSRF layer. Routes of `/api/v1` go here, before the
/// layer, so that it covers them.
pub(crate) fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route(
            SESSION_PATH,
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out)
                .fallback(method_not_allowed),
        )
        .route_layer(middleware::from_fn_with_state(app, extract::require_csrf))
}

/// A method a desk route does not take, answered in JSON like every other refusal.
async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method".into(),
    )
}
