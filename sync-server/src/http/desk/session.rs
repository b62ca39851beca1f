//! `/api/v1/session`: signing a desk in with an enrollment code (`POST`, rate-limited per
//! client address with the enrollment budgets), who is signed in (`GET`), signing out
//! (`DELETE`: the session and its desk device end at once).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::extract::Desk;
use super::{cookie, json};
use crate::accounts::{self, DeskSession, SessionEnd};
use crate::http::App;
use crate::http::error::ServerError;

/// `POST /api/v1/session`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    /// An enrollment code of a desk user, as typed.
    code: String,
}

/// What the sign-in and `GET /api/v1/session` answer.
#[derive(Debug, Serialize)]
struct SessionAnswer<'a> {
    /// The session's id.
    session: &'a str,
    /// The signed-in user.
    user: &'a str,
    /// Their role.
    role: &'a str,
    /// Their scopes.
    scopes: &'a [String],
    /// The desk device the session is bound to.
    device: &'a str,
    /// Its Automerge actor id, in hex.
    actor: String,
    /// What `X-CSRF-Token` must carry on every state-changing request.
    csrf_token: &'a str,
    /// The session ends after this many seconds without a request.
    expires_idle_after_secs: u64,
}

fn answer(app: &App, s: &DeskSession, status: StatusCode) -> Result<Response, ServerError> {
    let body = SessionAnswer {
        session: &s.id,
        user: &s.profile.user,
        role: s.profile.role.as_str(),
        scopes: &s.profile.scopes,
        device: &s.device.id,
        actor: hex::encode(&s.device.actor),
        csrf_token: &s.csrf_token,
        expires_idle_after_secs: app.desk_session_idle.as_secs(),
    };
    json::answer(status, &body)
}

/// The client address a request comes from, as the enrollment budgets count it.
fn client(app: &App, request: &Request) -> IpAddr {
    // In-process calls (tests) have no peer address; they share one budget.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    app.trusted_proxies.client(peer, request.headers())
}

/// What the desk device is called: the browser's name for itself, if it gives one.
fn device_name(headers: &HeaderMap) -> String {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let agent: String = agent.chars().take(48).collect();
    if agent.is_empty() { "desk".into() } else { format!("desk: {agent}") }
}

/// `POST /api/v1/session`.
pub(crate) async fn sign_in(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ServerError> {
    let client = client(&app, &request);
    app.enrollments.admit(client)?;
    let (parts, body) = request.into_parts();
    let req: SignInRequest = json::read(&parts.headers, body, app.enroll_body_bytes).await?;
    let name = device_name(&parts.headers);
    let signed_in =
        match accounts::sign_in(app.storage(), &req.code, &name, app.desk_session_idle).await {
            Ok(s) => s,
            Err(e) => {
                if e.is_failed_code() {
                    app.enrollments.failed(client);
                }
                return Err(e.into());
            }
        };
    let s = &signed_in.session;
    tracing::info!(session = %s.id, device = %s.device.id, user = %s.profile.user, "desk signed in");
    let mut response = answer(&app, s, StatusCode::CREATED)?;
    let cookie = cookie::set(&signed_in.token, app.secure_cookies)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `GET /api/v1/session`: the signed-in user and the session's CSRF token.
pub(crate) async fn current(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
) -> Result<Response, ServerError> {
    answer(&app, &session, StatusCode::OK)
}

/// `DELETE /api/v1/session`: the session and its desk device end at once.
pub(crate) async fn sign_out(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
) -> Result<Response, ServerError> {
    accounts::end_session(app.storage(), &session.id, SessionEnd::SignedOut).await?;
    tracing::info!(session = %session.id, user = %session.profile.user, "desk signed out");
    let clear = cookie::clear(app.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}
