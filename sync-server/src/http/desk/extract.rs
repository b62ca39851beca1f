//! Who is at the desk: the [`Desk`] extractor every desk handler takes (the signed-in session,
//! or `401` with a JSON body), and [`require_csrf`], the layer in front of the desk API that
//! refuses a state-changing request without its session's CSRF token (`403`) before any
//! handler runs, so a refused request changes nothing.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::cookie;
use crate::accounts::{self, DeskSession, secret};
use crate::http::App;
use crate::http::error::ServerError;

/// The header a state-changing request carries its session's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in desk a request comes from: its session, user profile and desk device (whose
/// actor authors the desk's changes). Refuses with `401` when the request has no open
/// session.
#[derive(Debug, Clone)]
pub(crate) struct Desk(pub(crate) DeskSession);

/// The open session of the request's cookie.
pub(crate) async fn session_of(app: &App, headers: &HeaderMap) -> Result<DeskSession, ServerError> {
    let token = cookie::token(headers).ok_or_else(|| ServerError::Unauthorized {
        code: "no_session",
        message: format!("sign in first: POST /api/v1/session sets the {} cookie", cookie::NAME),
    })?;
    Ok(accounts::session(app.storage(), token, app.desk_session_idle).await?)
}

impl FromRequestParts<Arc<App>> for Desk {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        // Found already by the CSRF layer in front of a state-changing request.
        if let Some(found) = parts.extensions.get::<DeskSession>() {
            return Ok(Desk(found.clone()));
        }
        Ok(Desk(session_of(app, &parts.headers).await?))
    }
}

/// Whether a request is one of the desk API's that changes state, so it needs the CSRF token.
fn changes_desk_state(request: &Request) -> bool {
    let changes =
        matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    changes && request.uri().path().starts_with(super::paths::API_PREFIX)
}

/// Whether this request is the sign-in, which has no session yet.
fn is_sign_in(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path() == super::paths::SESSION_PATH
}

/// Checks the request's `X-CSRF-Token` against its session's.
fn check_csrf(session: &DeskSession, headers: &HeaderMap) -> Result<(), ServerError> {
    let forbidden = |code, message: &str| ServerError::Forbidden { code, message: message.into() };
    let sent = headers.get(CSRF_HEADER).ok_or_else(|| {
        forbidden(
            "csrf_missing",
            "a request that changes something needs the X-CSRF-Token header: the csrf_token of \
             GET /api/v1/session",
        )
    })?;
    let sent = sent.to_str().unwrap_or_default().trim();
    if !secret::same_secret(sent, &session.csrf_token) {
        return Err(forbidden(
            "csrf_mismatch",
            "the X-CSRF-Token header is not this session's token; GET /api/v1/session gives it",
        ));
    }
    Ok(())
}

/// Layer in front of every route (it acts on the desk API's alone, so a desk route added
/// anywhere is covered): a state-changing request under `/api/` (POST, PUT, PATCH, DELETE;
/// the sign-in aside) needs an open session (`401`) and that session's CSRF token (`403`);
/// the session found is handed on to the [`Desk`] extractor.
pub(crate) async fn require_csrf(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ServerError> {
    if changes_desk_state(&request) && !is_sign_in(&request) {
        let session = session_of(&app, request.headers()).await?;
        check_csrf(&session, request.headers())?;
        request.extensions_mut().insert(session);
    }
    Ok(next.run(request).await)
}
