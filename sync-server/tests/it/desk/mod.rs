//! The desk API against the real server on a loopback port. Sign-in and sessions: the cookie
//! and its flags, the CSRF token, idle expiry and revocation, refused roles, the sign-in rate
//! limit, bad bodies, and the first start's admin code (in-process and from the binary). Then
//! the command centre's work: the loop from a resident's phone to the desk and to the
//! responder's phone (`the_loop`), overdue escalation under a test clock (`escalation`),
//! statistics against figures computed by hand (`stats`), who sees and does what (`access`),
//! answers checked against the served OpenAPI document (`openapi`), bad input at every
//! endpoint (`api_bad_input`), and the grid outlines and counters the board's page reads
//! (`board_api`).

mod access;
mod api_bad_input;
mod bad_input;
mod board_api;
mod bulletins;
mod csrf;
mod deliberations;
mod demo;
mod escalation;
mod events;
mod expiry;
mod first_start;
mod openapi;
mod schema;
mod sign_in;
mod stats;
mod the_loop;
mod visits;

use std::time::Duration;

use fieldsync_core::model::Report;
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

/// `GET path` as the signed-in desk `s`: the status and the JSON body.
pub async fn get(ts: &TestServer, s: &Signed, path: &str) -> (u16, Value) {
    json_of(ts.http.get(ts.url(path)).header("cookie", &s.cookie).send().await.unwrap()).await
}

/// `GET path` as `s`: the status, the content type and the body as text (CSV, GeoJSON).
pub async fn get_text(ts: &TestServer, s: &Signed, path: &str) -> (u16, String, String) {
    let resp = ts.http.get(ts.url(path)).header("cookie", &s.cookie).send().await.unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, resp.text().await.unwrap())
}

/// `POST /api/v1/records/{id}/actions` with this raw body and CSRF token (or none).
pub async fn act_raw(
    ts: &TestServer,
    s: &Signed,
    id: &str,
    body: impl Into<reqwest::Body>,
    csrf: Option<&str>,
) -> (u16, Value) {
    let mut req = ts
        .http
        .post(ts.url(&format!("/api/v1/records/{id}/actions")))
        .header("cookie", &s.cookie)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    json_of(req.send().await.unwrap()).await
}

/// `POST path` with the JSON `body` as the desk `s` (with its CSRF token).
pub async fn post_json(ts: &TestServer, s: &Signed, path: &str, body: Value) -> (u16, Value) {
    let req = ts
        .http
        .post(ts.url(path))
        .header("cookie", &s.cookie)
        .header("content-type", "application/json")
        .header("x-csrf-token", &s.csrf)
        .body(body.to_string());
    json_of(req.send().await.unwrap()).await
}

/// Runs an action on record `id` as the desk `s` (with its CSRF token).
pub async fn act(ts: &TestServer, s: &Signed, id: &str, action: Value) -> (u16, Value) {
    act_raw(ts, s, id, action.to_string(), Some(&s.csrf)).await
}

/// One sync of `phone` with the server over HTTP, with the phone's own sync client.
pub async fn sync(ts: &TestServer, phone: &crate::common::Phone) {
    let transport = fieldsync_core::sync::HttpTransport::new(&ts.running.url())
        .unwrap()
        .with_token(ts.token_for(&phone.actor()));
    let client = fieldsync_core::sync::SyncClient::new(phone.store.clone(), transport);
    client.sync_now(None).await.unwrap();
}

/// The report `id` as `phone` holds it.
pub fn report_on(phone: &crate::common::Phone, id: fieldsync_core::DocId) -> Report {
    match phone.store.get(id).unwrap() {
        fieldsync_core::model::Record::Report { report } => report,
        other => panic!("{id} is not a report: {other:?}"),
    }
}

/// The index row of `id` as `GET /api/v1/records/{id}` shows it to `s`.
pub async fn row_of(ts: &TestServer, s: &Signed, id: &str) -> Value {
    let (status, view) = get(ts, s, &format!("/api/v1/records/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view["row"].clone()
}

/// The last seq of the server's change log (what "nothing changed" compares).
pub async fn log_end(ts: &TestServer) -> u64 {
    ts.running.server().storage().log_end().await.unwrap()
}
