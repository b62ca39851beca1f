//! The points routes of the phones' protocol (`POST /v1/points/…`, CBOR envelopes like the
//! rest of `/v1`): a statement, the goods, a redemption, and the grid leaders' award, goods and
//! collection. The points domain (`crate::points`) decides; this turns its answers and
//! refusals into responses.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldsync_core::protocol::{
    AwardRequest, AwardResponse, CollectRequest, CollectResponse, GoodMsg, GoodRequest,
    GoodResponse, GoodsList, GoodsRequest, PointsEntryMsg, PointsStatement, RedeemRequest,
    RedeemResponse, RedemptionMsg, StatementRequest, VERSION,
};
use serde::de::DeserializeOwned;

use super::App;
use super::auth::Caller;
use super::envelope;
use super::error::ServerError;
use crate::points::{NewGood, PAGE, PointsError, Statement};
use crate::storage::{Good, GoodChange, PointsEntry, Redemption};

/// What a points request body may be.
const BODY_BYTES: usize = 16 * 1024;

/// The status and code of a refusal.
fn status_code(e: &PointsError) -> (StatusCode, &'static str) {
    use crate::storage::RedeemRefusal;
    match e {
        PointsError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
        PointsError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        PointsError::UnknownUser(_) => (StatusCode::NOT_FOUND, "unknown_user"),
        PointsError::UnknownGood(_) => (StatusCode::NOT_FOUND, "unknown_good"),
        PointsError::UnknownVoucher(_) => (StatusCode::NOT_FOUND, "unknown_voucher"),
        PointsError::AlreadyCollected(_) => (StatusCode::CONFLICT, "already_collected"),
        PointsError::Refused(why @ RedeemRefusal::UnknownGood) => {
            (StatusCode::NOT_FOUND, why.code())
        }
        PointsError::Refused(why @ RedeemRefusal::NotInCommunity) => {
            (StatusCode::FORBIDDEN, why.code())
        }
        PointsError::Refused(why) => (StatusCode::CONFLICT, why.code()),
        PointsError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
    }
}

impl From<PointsError> for ServerError {
    fn from(e: PointsError) -> Self {
        match e {
            PointsError::Storage(s) => ServerError::Storage(s),
            other => {
                let (status, code) = status_code(&other);
                ServerError::Refused { status, code, message: other.to_string() }
            }
        }
    }
}

/// An entry as the protocol shows it.
pub(crate) fn entry_msg(e: PointsEntry) -> PointsEntryMsg {
    PointsEntryMsg {
        seq: e.seq,
        amount: e.amount,
        owed_change: e.owed_change,
        kind: e.kind.as_str().to_string(),
        reason: e.reason,
        source: e.source,
        redemption: e.redemption,
        by: e.by,
        at: e.at,
        balance_after: e.balance_after,
    }
}

/// A redemption as the protocol shows it.
pub(crate) fn redemption_msg(r: Redemption) -> RedemptionMsg {
    RedemptionMsg {
        request_id: r.request_id,
        good: r.good,
        good_name: r.good_name,
        community: r.community,
        points: r.points,
        voucher: r.voucher,
        at: r.at,
        collected_at: r.collected_at,
        collected_by: r.collected_by,
    }
}

/// A good as the protocol shows it.
pub(crate) fn good_msg(g: Good) -> GoodMsg {
    GoodMsg {
        id: g.id,
        community: g.community,
        name: g.name,
        points: g.points,
        stock: g.stock,
        withdrawn_at: g.withdrawn_at,
    }
}

/// The request's message, read within the points' body limit and admitted.
async fn request<'a, T: DeserializeOwned + Send + 'static>(
    app: &'a App,
    headers: &HeaderMap,
    body: Body,
) -> Result<(tokio::sync::SemaphorePermit<'a>, T), ServerError> {
    envelope::admitted_small(app, headers, body, BODY_BYTES).await
}

/// `POST /v1/points/statement`: the caller's statement (or a resident's, for a leader of their
/// scope).
pub(crate) async fn statement(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, StatementRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    let account = req.account.unwrap_or_else(|| caller.profile.user.clone());
    let s = app.points.statement(&caller.profile, &account, req.after).await?;
    envelope::answer(statement_msg(s), 0).await
}

/// A statement as the protocol (and the desk, as JSON) shows it.
pub(crate) fn statement_msg(s: Statement) -> PointsStatement {
    let more = s.entries.len() >= PAGE;
    PointsStatement {
        v: VERSION,
        account: s.account,
        balance: s.balance.balance,
        owed: s.balance.owed,
        last_seq: s.balance.last_seq,
        entries: s.entries.into_iter().map(entry_msg).collect(),
        more,
        redemptions: s.redemptions.into_iter().map(redemption_msg).collect(),
    }
}

/// `POST /v1/points/goods`: the goods of the caller's communities.
pub(crate) async fn goods(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, GoodsRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    let goods = app.points.goods(&caller.profile).await?;
    envelope::answer(GoodsList { v: VERSION, goods: goods.into_iter().map(good_msg).collect() }, 0)
        .await
}

/// `POST /v1/points/redeem`: a resident redeems a good, idempotently by request id.
pub(crate) async fn redeem(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, RedeemRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    let now = app.clock.now_ms();
    let (made, again, balance) =
        app.points.redeem(&caller.profile, &req.request_id, &req.good, now).await?;
    let msg = RedeemResponse { v: VERSION, redemption: redemption_msg(made), again, balance };
    envelope::answer(msg, 0).await
}

/// `POST /v1/points/award`: a grid leader awards points to a resident of their scopes.
pub(crate) async fn award(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, AwardRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    let now = app.clock.now_ms();
    let (p, source) = (&caller.profile, req.source);
    let entry = app.points.award(p, &req.account, req.amount, &req.reason, source, now).await?;
    envelope::answer(AwardResponse { v: VERSION, entry: entry_msg(entry) }, 0).await
}

/// `POST /v1/points/goods/add`: a grid leader lists a good.
pub(crate) async fn add_good(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, GoodRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    if req.id.is_some() || req.withdraw {
        return Err(PointsError::InvalidInput(
            "a good to list has no id and is not withdrawn".into(),
        )
        .into());
    }
    let missing = |what: &str| {
        ServerError::from(PointsError::InvalidInput(format!("a good to list needs its {what}")))
    };
    let new = NewGood {
        community: req.community.ok_or_else(|| missing("community"))?,
        name: req.name.ok_or_else(|| missing("name"))?,
        points: req.points.ok_or_else(|| missing("points"))?,
        stock: req.stock.unwrap_or(0),
    };
    let good = app.points.add_good(&caller.profile, new, app.clock.now_ms()).await?;
    envelope::answer(GoodResponse { v: VERSION, good: good_msg(good) }, 0).await
}

/// `POST /v1/points/goods/change`: a grid leader changes a good.
pub(crate) async fn change_good(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, GoodRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    if req.community.is_some() {
        return Err(PointsError::InvalidInput("a good's community does not change".into()).into());
    }
    let id = req.id.ok_or_else(|| PointsError::InvalidInput("which good: no id".into()))?;
    let change = GoodChange {
        id,
        name: req.name,
        points: req.points,
        restock: req.stock,
        withdraw: req.withdraw,
        at: app.clock.now_ms(),
    };
    let good = app.points.change_good(&caller.profile, change).await?;
    envelope::answer(GoodResponse { v: VERSION, good: good_msg(good) }, 0).await
}

/// `POST /v1/points/collect`: a grid leader hands a redeemed good over, once.
pub(crate) async fn collect(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, CollectRequest) = request(&app, &headers, body).await?;
    envelope::check_version(req.v)?;
    let made = app.points.collect(&caller.profile, &req.voucher, app.clock.now_ms()).await?;
    envelope::answer(CollectResponse { v: VERSION, redemption: redemption_msg(made) }, 0).await
}
