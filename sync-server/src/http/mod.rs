//! The HTTP layer: the API's routes and the layers around them (tracing, panic catching,
//! metrics, the body timeout), `/metrics` on its own, and the handlers they call, which read
//! requests, call the domain (`documents`, `feed`, `accounts`, `photos`, `open311`) and turn
//! its answers and errors into responses. The phones' protocol is under `/v1`, the desk API
//! (`desk`) under `/api/v1`, the command centre's web board (`board`) at `/` and `/board/`,
//! Open311 GeoReport v2 under `/open311/v2`.

pub(crate) mod auth;
pub(crate) mod blobs;
mod board;
pub(crate) mod budget;
pub(crate) mod businesses;
pub(crate) mod client_addr;
pub(crate) mod desk;
pub(crate) mod enroll;
pub(crate) mod envelope;
pub mod error;
pub(crate) mod metrics;
mod open311;
pub(crate) mod points;
pub(crate) mod reconcile;
pub(crate) mod refusals;
pub(crate) mod serve;
mod state;
pub(crate) mod sync;
pub(crate) mod visible;

pub(crate) use state::App;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use self::error::error_response;

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed on this request (a bug); nothing was stored past what it confirmed"
            .into(),
    )
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint".into())
}

/// The server's routes.
pub(crate) fn router(app: Arc<App>) -> Router {
    // Reading or writing documents takes an enrolled, unrevoked device.
    let device = middleware::from_fn_with_state(app.clone(), auth::require_device);
    // `/metrics` is here only behind its token; without one it is an unknown route.
    let metrics = match app.metrics_token {
        Some(_) => get(metrics::handle)
            .route_layer(middleware::from_fn_with_state(app.clone(), metrics::require_token)),
        None => get(not_found),
    };
    Router::new()
        .route("/v1/sync", post(sync::handle).route_layer(device.clone()))
        .route("/v1/reconcile", post(reconcile::handle).route_layer(device.clone()))
        .route("/v1/visible", post(visible::handle).route_layer(device.clone()))
        .route("/v1/refusals", get(refusals::handle).route_layer(device.clone()))
        .route("/v1/enroll", post(enroll::handle))
        .route("/v1/blobs/{hash}", get(blobs::get).put(blobs::put).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/status", get(blobs::status).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/thumbnail", get(blobs::thumbnail).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/challenge", get(blobs::challenge).route_layer(device.clone()))
        .route("/v1/blobs/{hash}/proof", post(blobs::proof).route_layer(device.clone()))
        .route("/v1/businesses/list", post(businesses::list).route_layer(device.clone()))
        .route("/v1/businesses/add", post(businesses::add).route_layer(device.clone()))
        .route("/v1/businesses/change", post(businesses::change).route_layer(device.clone()))
        .route("/v1/points/statement", post(points::statement).route_layer(device.clone()))
        .route("/v1/points/goods", post(points::goods).route_layer(device.clone()))
        .route("/v1/points/goods/add", post(points::add_good).route_layer(device.clone()))
        .route("/v1/points/goods/change", post(points::change_good).route_layer(device.clone()))
        .route("/v1/points/redeem", post(points::redeem).route_layer(device.clone()))
        .route("/v1/points/award", post(points::award).route_layer(device.clone()))
        .route("/v1/points/collect", post(points::collect).route_layer(device.clone()))
        .route("/v1/me", get(auth::me).route_layer(device))
        .merge(desk::router())
        .merge(board::router())
        .route("/healthz", get(|| async { "ok" }))
        .nest("/open311/v2", open311::router())
        .route("/metrics", metrics)
        .fallback(not_found)
        // Before any desk handler: a state-changing desk request without its CSRF token.
        .layer(middleware::from_fn_with_state(app.clone(), desk::extract::require_csrf))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(app.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        // A body whose next bytes do not come within the stall timeout ends with an error the
        // handler answers `408 request_timeout`: a stalled upload does not hold its connection.
        .layer(RequestBodyTimeoutLayer::new(app.stall_timeout))
        .with_state(app)
}

/// `/metrics` alone, for its own listener.
pub(crate) fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::handle))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(app)
}
