//! `POST /v1/enroll`: a phone exchanges a single-use code for its device id, bearer token, actor
//! id and profile. Attempts are limited per client address, so codes cannot be guessed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use fieldsync_core::protocol::{EnrollRequest, EnrollResponse, VERSION};

use crate::app::App;
use crate::envelope;
use crate::error::ServerError;

/// Attempts one address may make per window.
const ATTEMPTS: u32 = 10;
/// The window.
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered before old windows are dropped.
const MAX_ADDRESSES: usize = 10_000;

/// Counts enrolment attempts per client address in fixed windows.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts an attempt from `ip`; refuses it past [`ATTEMPTS`] in the current window.
    pub(crate) fn attempt(&self, ip: IpAddr) -> Result<(), ServerError> {
        let now = Instant::now();
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| ServerError::Internal("rate limiter lock poisoned".into()))?;
        if seen.len() >= MAX_ADDRESSES {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > ATTEMPTS {
            let wait = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(ServerError::RateLimited(format!(
                "too many enrolment attempts from this address; try again in {} s",
                wait.as_secs().max(1)
            )));
        }
        Ok(())
    }
}

/// `POST /v1/enroll`.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ServerError> {
    // In-process calls (tests) have no peer address; they share one bucket.
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    app.enrolments.attempt(ip)?;
    let (parts, body) = request.into_parts();
    let body = envelope::read_body(&parts.headers, body).await?;
    let req: EnrollRequest = envelope::decode(body).await?;
    envelope::check_version(req.v)?;
    let accounts = app.accounts.clone();
    let enrolled = tokio::task::spawn_blocking(move || {
        accounts.enroll(&req.code, &req.device_name, req.actor.as_deref())
    })
    .await
    .map_err(|e| ServerError::Internal(format!("enrolment task failed: {e}")))??;
    tracing::info!(device = %enrolled.device.id, user = %enrolled.profile.user, "device enrolled");
    let answer = EnrollResponse {
        v: VERSION,
        device: enrolled.device.id,
        token: enrolled.token,
        actor: enrolled.device.actor,
        user: enrolled.profile.user,
        role: enrolled.profile.role.as_str().to_string(),
        patrol: enrolled.profile.patrol.map(|p| p.as_str().to_string()),
        scopes: enrolled.profile.scopes,
    };
    envelope::answer(answer, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_attempts_per_address() {
        let limiter = RateLimiter::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..ATTEMPTS {
            limiter.attempt(a).unwrap();
        }
        let e = limiter.attempt(a).unwrap_err();
        assert_eq!(e.status_and_code().1, "rate_limited");
        limiter.attempt(b).unwrap();
    }
}
