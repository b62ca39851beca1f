//! `GET /api/v1/responders`: the people a dispatching desk may assign a report to.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fieldsync_core::policy::Role;
use serde::{Deserialize, Serialize};

use super::extract::Desk;
use super::json;
use super::params::Params;
use crate::accounts;
use crate::http::App;
use crate::http::error::ServerError;

/// A user a desk may dispatch to.
#[derive(Debug, Serialize)]
struct Responder {
    user: String,
    role: String,
    scopes: Vec<String>,
}

/// The filters of `GET /api/v1/responders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponderQuery {
    scope: Option<String>,
}

/// `GET /api/v1/responders?scope=…`: the people the signed-in user may assign a report of
/// `scope` to (patrol members and grid leaders working in it, enabled), for the roles that
/// dispatch (dispatchers, grid leaders).
pub(crate) async fn responders(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(q): Params<ResponderQuery>,
) -> Result<Response, ServerError> {
    let p = &session.profile;
    if !matches!(p.role, Role::Dispatcher | Role::GridLeader) {
        return Err(ServerError::Forbidden {
            code: "forbidden",
            message: format!("a {} does not dispatch", p.role),
        });
    }
    let scope = q.scope.unwrap_or_default();
    if !scope.is_empty() && !p.covers(&scope) {
        return Err(ServerError::Forbidden {
            code: "forbidden",
            message: "that scope is outside yours".into(),
        });
    }
    let users = accounts::users(app.storage()).await?;
    let people: Vec<Responder> = users
        .into_iter()
        .filter(|u| u.disabled_at.is_none())
        .filter(|u| matches!(u.profile.role, Role::Patrol | Role::GridLeader))
        .filter(|u| {
            u.profile.scopes.iter().any(|s| {
                if scope.is_empty() {
                    p.covers(s)
                } else {
                    fieldsync_core::policy::scope_covers(s, &scope)
                        || fieldsync_core::policy::scope_covers(&scope, s)
                }
            })
        })
        .map(|u| Responder {
            user: u.id,
            role: u.profile.role.to_string(),
            scopes: u.profile.scopes,
        })
        .collect();
    json::answer(StatusCode::OK, &people)
}
