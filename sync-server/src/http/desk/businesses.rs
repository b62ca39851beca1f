//! `GET /api/v1/businesses`: the business registry of the signed-in user's scopes, as JSON.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::protocol::BusinessMsg;

use super::extract::Desk;
use super::json;
use crate::http::App;
use crate::http::businesses::business_msg;
use crate::http::error::ServerError;

/// `GET /api/v1/businesses`: the businesses in the user's scopes, by scope then name.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
) -> Result<Response, ServerError> {
    let found: Vec<BusinessMsg> =
        app.businesses.list(&session.profile).await?.into_iter().map(business_msg).collect();
    json::answer(StatusCode::OK, &found)
}
