//! The desk's points views and actions (`/api/v1/points/…`, JSON): the goods of the signed-in
//! user's scopes, a resident's statement, and a grid leader's award and voucher collection.
//! The points domain (`crate::points`) decides, as for phones; the answers are the protocol's
//! points messages as JSON (a statement with its protocol version `v`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldsync_core::DocId;
use fieldsync_core::protocol::GoodMsg;
use serde::Deserialize;

use super::extract::Desk;
use super::json;
use crate::http::App;
use crate::http::error::ServerError;
use crate::http::points::{entry_msg, good_msg, redemption_msg, statement_msg};

/// The largest body of an award or a collection.
const BODY_BYTES: usize = 8 * 1024;

/// `GET /api/v1/points/goods`: the goods of the exchanges inside the user's scopes.
pub(crate) async fn goods(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
) -> Result<Response, ServerError> {
    let goods: Vec<GoodMsg> =
        app.points.goods(&session.profile).await?.into_iter().map(good_msg).collect();
    json::answer(StatusCode::OK, &goods)
}

/// `GET /api/v1/points/accounts/{user}`: a resident's balance, entries (the first 500) and
/// vouchers, for a grid leader, dispatcher or admin of their scope.
pub(crate) async fn account(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(user): Path<String>,
) -> Result<Response, ServerError> {
    let s = app.points.statement(&session.profile, &user, 0).await?;
    json::answer(StatusCode::OK, &statement_msg(s))
}

/// The body of `POST /api/v1/points/awards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwardBody {
    account: String,
    amount: i64,
    reason: String,
    /// A deliberation the resident attended, the award's source record.
    #[serde(default)]
    source: Option<String>,
}

/// `POST /api/v1/points/awards`: a grid leader awards points to a resident of their scopes;
/// answers the entry written.
pub(crate) async fn award(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let b: AwardBody = json::read(&headers, body, BODY_BYTES).await?;
    let now = app.clock.now_ms();
    let source = match b.source.as_deref() {
        Some(s) => Some(s.parse::<DocId>().map_err(|_| {
            ServerError::InvalidRequest(format!("source: {s:?} is not a document id"))
        })?),
        None => None,
    };
    let p = &session.profile;
    let entry = app.points.award(p, &b.account, b.amount, &b.reason, source, now).await?;
    json::answer(StatusCode::OK, &entry_msg(entry))
}

/// The body of `POST /api/v1/points/collect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectBody {
    voucher: String,
}

/// `POST /api/v1/points/collect`: a grid leader marks a voucher's good handed over, once;
/// answers the redemption.
pub(crate) async fn collect(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let b: CollectBody = json::read(&headers, body, BODY_BYTES).await?;
    let made = app.points.collect(&session.profile, &b.voucher, app.clock.now_ms()).await?;
    json::answer(StatusCode::OK, &redemption_msg(made))
}
