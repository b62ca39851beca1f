//! Desk sign-in and sessions against the real server on a loopback port: the cookie and its
//! flags, the CSRF token, idle expiry and revocation, refused roles, the sign-in rate limit,
//! bad bodies, and the first start's admin code (in-process and from the binary).

mod bad_input;
mod csrf;
mod expiry;
mod first_start;
mod sign_in;

use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};
use reqwest::Method;
use serde_json::Value;

use crate::common::{GRID, TestServer};

pub const SESSION: &str = "/api/v1/session";

/// A signed-in desk as the browser holds it.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `fieldsync_session=<token>`, as a `Cookie` header sends it.
    pub cookie: String,
    /// The whole `Set-Cookie` header of the sign-in.
    pub set_cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The sign-in's JSON answer.
    pub body: Value,
}

fn admin() -> Profile {
    Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
}

/// A sign-in code of `user` (added with `role` in the test grid if new).
pub fn code_for(ts: &TestServer, user: &str, role: Role) -> String {
    let accounts = ts.running.server().accounts();
    if accounts.user(user).unwrap().is_none() {
        let patrol = (role == Role::Patrol).then_some(fieldsync_core::policy::PatrolKind::Police);
        accounts.add_user(user, role, patrol, &[GRID.to_string()]).unwrap();
    }
    accounts.issue_code(user, &admin(), Duration::from_secs(600)).unwrap().code
}

/// `POST /api/v1/session` with `body` as JSON.
pub async fn post_session(ts: &TestServer, body: impl Into<reqwest::Body>) -> reqwest::Response {
    ts.http
        .post(ts.url(SESSION))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The status and JSON body of an answer (`Null` for an empty body).
pub async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {bytes:?}"))
    };
    (status, value)
}

/// Signs in with `code`; the sign-in must succeed.
pub async fn sign_in(ts: &TestServer, code: &str) -> Signed {
    let resp = post_session(ts, serde_json::json!({ "code": code }).to_string()).await;
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 201, "{body}");
    let cookie = set_cookie.split(';').next().unwrap().trim().to_string();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    Signed { cookie, set_cookie, csrf, body }
}

/// Signs in a new desk of `user` (added with `role` if new).
pub async fn desk(ts: &TestServer, user: &str, role: Role) -> Signed {
    let code = code_for(ts, user, role);
    sign_in(ts, &code).await
}

/// A request to the session endpoint with this cookie and CSRF token (either may be absent).
pub async fn call(
    ts: &TestServer,
    method: Method,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> (u16, Value) {
    let mut req = ts.http.request(method, ts.url(SESSION));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    json_of(req.send().await.unwrap()).await
}

/// `GET /api/v1/session` with `s`'s cookie.
pub async fn whoami(ts: &TestServer, s: &Signed) -> (u16, Value) {
    call(ts, Method::GET, Some(&s.cookie), None).await
}

/// The error code of a JSON error body.
pub fn err_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}
