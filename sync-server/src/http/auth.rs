//! Who is asking: the bearer token of an enrolled device, checked on every request that reads or
//! writes documents. The answers say what is wrong with the credentials and nothing else.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::{DeviceInfo, VERSION};

use crate::accounts::{self, AccountError, Device, secret};
use crate::http::App;
use crate::http::envelope;
use crate::http::error::ServerError;
use crate::ingest::Author;

/// The enrolled device a request comes from, as the middleware found it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The device.
    pub(crate) device: Device,
    /// Its user's profile now.
    pub(crate) profile: Profile,
}

impl Caller {
    /// The author of this caller's changes, once the actor a request names is checked to be
    /// the device's own.
    pub(crate) fn author(&self, actor: &[u8]) -> Result<Author, ServerError> {
        if actor != self.device.actor.as_slice() {
            return Err(ServerError::Forbidden {
                code: "actor_mismatch",
                message: format!(
                    "the request names actor {}, but this device writes as {}",
                    hex::encode(actor),
                    hex::encode(&self.device.actor)
                ),
            });
        }
        Ok(Author {
            device: self.device.id.clone(),
            actor: self.device.actor.clone(),
            profile: self.profile.clone(),
            rights_changed: false,
            key: self.device.key.clone(),
        })
    }
}

fn unauthorized(code: &'static str, message: impl Into<String>) -> ServerError {
    ServerError::Unauthorized { code, message: message.into() }
}

/// The token of an `Authorization: Bearer <token>` header, checked for form.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ServerError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized("missing_token", "send `Authorization: Bearer <token>` from enrollment")
    })?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("malformed_token", "the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| {
            unauthorized("malformed_token", "the Authorization header is not `Bearer <token>`")
        })?
        .trim();
    if !secret::is_token(token) {
        return Err(unauthorized(
            "malformed_token",
            format!(
                "a token is {} hex digits; this one has {} characters",
                secret::TOKEN_HEX,
                token.chars().count()
            ),
        ));
    }
    Ok(token)
}

/// Finds the device behind the request's token.
pub(crate) async fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, ServerError> {
    let token = bearer(headers)?;
    let found = accounts::authenticate(app.storage(), token).await?;
    let found = found.ok_or_else(|| {
        unauthorized("unknown_token", "this token belongs to no device; enroll the phone again")
    })?;
    if let Some(at) = found.device.revoked_at {
        let at = fieldsync_core::time::format_ms(at);
        let message = if found.device.wipe {
            format!("this device was revoked on {at}, and its store is to be wiped")
        } else {
            format!(
                "this device was revoked on {at}; what it saved stays on the phone; enroll again"
            )
        };
        return Err(ServerError::DeviceRevoked { message, wipe: found.device.wipe });
    }
    // Read on every request, not cached: disabling a user stops their devices at once.
    if found.user_disabled_at.is_some() {
        return Err(AccountError::UserDisabled.into());
    }
    Ok(Caller { device: found.device, profile: found.profile })
}

/// Middleware: refuses a request without a valid device token; otherwise hands the handler
/// the [`Caller`].
pub(crate) async fn require_device(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ServerError> {
    let caller = caller(&app, request.headers()).await?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// `GET /v1/me`: the device and the profile it acts with now (a phone learns of a scope or
/// role change here).
pub(crate) async fn me(request: Request) -> Result<Response, ServerError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ServerError::Internal("`me` reached without authentication".into()))?;
    let p = caller.profile;
    let info = DeviceInfo {
        v: VERSION,
        device: caller.device.id,
        actor: caller.device.actor,
        user: p.user,
        role: p.role.as_str().to_string(),
        patrol: p.patrol.map(|k| k.as_str().to_string()),
        scopes: p.scopes,
    };
    envelope::answer(info, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn says_what_is_wrong_with_the_header() {
        let code = |h: &HeaderMap| bearer(h).unwrap_err().status_and_code().1;
        assert_eq!(code(&HeaderMap::new()), "missing_token");
        assert_eq!(code(&headers("Basic abc")), "malformed_token");
        assert_eq!(code(&headers("Bearer abc")), "malformed_token");
        assert_eq!(code(&headers(&format!("Bearer {}", "z".repeat(64)))), "malformed_token");
        let t = secret::new_token();
        assert_eq!(bearer(&headers(&format!("Bearer {t}"))).unwrap(), t);
    }
}
