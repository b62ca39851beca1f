//! `POST /v1/enroll`: a phone exchanges a single-use code for its device id, bearer token, actor
//! id and profile. Attempts are counted per client address against two budgets
//! ([`super::budget`]),
//! so codes cannot be guessed and junk from one address does not lock out the honest phones
//! behind it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use fieldsync_core::protocol::{EnrollRequest, EnrollResponse, VERSION};

use super::App;
use super::envelope;
use super::error::ServerError;
use crate::accounts;

/// `POST /v1/enroll`.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ServerError> {
    // In-process calls (tests) have no peer address; they share one budget.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = app.trusted_proxies.client(peer, request.headers());
    app.enrollments.admit(client)?;
    let (parts, body) = request.into_parts();
    let body = envelope::read_body_within(&parts.headers, body, app.enroll_body_bytes).await?;
    let req: EnrollRequest = envelope::decode_small(&body)?;
    envelope::check_version(req.v)?;
    let ask = accounts::EnrollAsk {
        code: &req.code,
        device_name: &req.device_name,
        actor: req.actor.as_deref(),
        keep_user: req.keep_user.as_deref(),
        device_key: req.device_key.as_deref(),
    };
    let enrolled = accounts::enroll(app.storage(), ask).await;
    let enrolled = match enrolled {
        Ok(e) => e,
        Err(e) => {
            if e.is_failed_code() {
                app.enrollments.failed(client);
            }
            return Err(e.into());
        }
    };
    tracing::info!(device = %enrolled.device.id, user = %enrolled.profile.user, "device enrolled");
    let credential = app.peers.issue(&enrolled.device, &enrolled.profile, app.clock.now_ms());
    let answer = EnrollResponse {
        v: VERSION,
        device: enrolled.device.id,
        token: enrolled.token,
        actor: enrolled.device.actor,
        user: enrolled.profile.user,
        role: enrolled.profile.role.as_str().to_string(),
        patrol: enrolled.profile.patrol.map(|p| p.as_str().to_string()),
        scopes: enrolled.profile.scopes,
        server_key: Some(app.peers.public_key().to_vec()),
        credential: Some(credential),
    };
    envelope::answer(answer, 0).await
}
