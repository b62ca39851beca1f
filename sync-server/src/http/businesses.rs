//! The business registry's routes of the phones' protocol (`POST /v1/businesses/…`, CBOR
//! envelopes): the businesses of the caller's scopes, and a business registered or changed by
//! those who keep the registry. The domain (`crate::businesses`) decides.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldsync_core::protocol::{
    BusinessList, BusinessMsg, BusinessRequest, BusinessResponse, BusinessesRequest, VERSION,
    VisitRulesMsg,
};

use super::App;
use super::auth::Caller;
use super::envelope;
use super::error::ServerError;
use crate::businesses::{BusinessError, NewBusiness};
use crate::storage::{Business, BusinessChange};

/// What a registry request body may be.
const BODY_BYTES: usize = 16 * 1024;

impl From<BusinessError> for ServerError {
    fn from(e: BusinessError) -> Self {
        let (status, code) = match &e {
            BusinessError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            BusinessError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            BusinessError::UnknownBusiness(_) => (StatusCode::NOT_FOUND, "unknown_business"),
            BusinessError::UnknownUser(_) => (StatusCode::NOT_FOUND, "unknown_user"),
            BusinessError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        match e {
            BusinessError::Storage(s) => ServerError::Storage(s),
            other => ServerError::Refused { status, code, message: other.to_string() },
        }
    }
}

/// A business as the protocol (and the desk, as JSON) shows it.
pub(crate) fn business_msg(b: Business) -> BusinessMsg {
    BusinessMsg {
        id: b.id,
        scope: b.scope,
        name: b.name,
        kind: b.kind,
        address: b.address,
        lat: b.location.map(|l| l.0),
        lon: b.location.map(|l| l.1),
        contact: b.contact,
        operator: b.operator,
        created_at: b.created_at,
        closed_at: b.closed_at,
    }
}

/// A location from its two halves: both or neither.
fn location(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>, ServerError> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(Some((lat, lon))),
        (None, None) => Ok(None),
        _ => Err(BusinessError::InvalidInput("a location has both lat and lon".into()).into()),
    }
}

/// `POST /v1/businesses/list`: the businesses of the caller's scopes.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, BusinessesRequest) =
        envelope::admitted_small(&app, &headers, body, BODY_BYTES).await?;
    envelope::check_version(req.v)?;
    let found = app.businesses.list(&caller.profile).await?;
    let visits = app.docs.rules.visits();
    let msg = BusinessList {
        v: VERSION,
        businesses: found.into_iter().map(business_msg).collect(),
        visits: Some(VisitRulesMsg {
            every_days: visits.every_days,
            checklist: visits.checklist.clone(),
        }),
    };
    envelope::answer(msg, 0).await
}

/// `POST /v1/businesses/add`: registers a business.
pub(crate) async fn add(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, BusinessRequest) =
        envelope::admitted_small(&app, &headers, body, BODY_BYTES).await?;
    envelope::check_version(req.v)?;
    if req.id.is_some() || req.close {
        return Err(BusinessError::InvalidInput(
            "a business to register has no id and is open".into(),
        )
        .into());
    }
    let missing = |what: &str| {
        ServerError::from(BusinessError::InvalidInput(format!(
            "a business to register needs its {what}"
        )))
    };
    let new = NewBusiness {
        location: location(req.lat, req.lon)?,
        scope: req.scope.ok_or_else(|| missing("scope"))?,
        name: req.name.ok_or_else(|| missing("name"))?,
        kind: req.kind.ok_or_else(|| missing("kind"))?,
        address: req.address.unwrap_or_default(),
        contact: req.contact.unwrap_or_default(),
        operator: req.operator,
    };
    let made = app.businesses.add(&caller.profile, new, app.clock.now_ms()).await?;
    envelope::answer(BusinessResponse { v: VERSION, business: business_msg(made) }, 0).await
}

/// `POST /v1/businesses/change`: changes a business.
pub(crate) async fn change(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, BusinessRequest) =
        envelope::admitted_small(&app, &headers, body, BODY_BYTES).await?;
    envelope::check_version(req.v)?;
    if req.scope.is_some() {
        return Err(BusinessError::InvalidInput("a business's scope does not change".into()).into());
    }
    let id = req.id.ok_or_else(|| BusinessError::InvalidInput("which business: no id".into()))?;
    let change = BusinessChange {
        location: location(req.lat, req.lon)?,
        id,
        name: req.name,
        kind: req.kind,
        address: req.address,
        contact: req.contact,
        operator: req.operator,
        close: req.close,
        at: app.clock.now_ms(),
    };
    let changed = app.businesses.change(&caller.profile, change).await?;
    envelope::answer(BusinessResponse { v: VERSION, business: business_msg(changed) }, 0).await
}
