//! A signed-in desk as a browser is one: a session cookie from `POST /api/v1/session`, sent
//! with every request.

use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};

use crate::bench::Result;
use crate::bench::server::BenchServer;

/// The session cookie's name (the server's `http::desk::cookie::NAME`).
const COOKIE: &str = "fieldsync_session";

/// A desk user's signed-in browser.
#[derive(Debug, Clone)]
pub struct DeskClient {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

/// A one-time sign-in code for `user` (added with `role` in `scope` if new).
pub fn code_for(server: &BenchServer, user: &str, role: Role, scope: &str) -> Result<String> {
    let accounts = server.accounts();
    if accounts.user(user)?.is_none() {
        accounts.add_user(user, role, None, &[scope.to_string()])?;
    }
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    Ok(accounts.issue_code(user, &admin, Duration::from_secs(3600))?.code)
}

impl DeskClient {
    /// Signs `user` in over HTTP, as the sign-in page does.
    pub async fn sign_in(
        server: &BenchServer,
        user: &str,
        role: Role,
        scope: &str,
    ) -> Result<DeskClient> {
        let code = code_for(server, user, role, scope)?;
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{}/api/v1/session", server.url()))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "code": code }).to_string())
            .send()
            .await?;
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        match cookie {
            Some(cookie) if status.as_u16() == 201 => {
                Ok(DeskClient { http, base: server.url().to_string(), cookie })
            }
            _ => Err(format!("desk sign-in answered {status}: {}", resp.text().await?).into()),
        }
    }

    /// A desk signed in with a session token made elsewhere (the admin's side of a sign-in).
    pub fn with_token(server: &BenchServer, token: &str) -> DeskClient {
        DeskClient {
            http: reqwest::Client::new(),
            base: server.url().to_string(),
            cookie: format!("{COOKIE}={token}"),
        }
    }

    /// `GET path?query` as JSON; a status other than 200 is an error.
    async fn get_json(&self, path: &str, query: &str) -> Result<serde_json::Value> {
        let resp = self.get(path, query).await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if status.as_u16() != 200 {
            return Err(format!(
                "GET {path}?{query} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// `GET path?query` with the session cookie.
    pub async fn get(&self, path: &str, query: &str) -> Result<reqwest::Response> {
        Ok(self
            .http
            .get(format!("{}{path}?{}", self.base, encode(query)))
            .header("cookie", &self.cookie)
            .send()
            .await?)
    }

    /// A page of 50 reports of `query`, after `after`: its row count and next cursor.
    pub async fn page(&self, query: &str, after: Option<&str>) -> Result<(usize, Option<String>)> {
        let query = match after {
            Some(a) => format!("{query}&limit=50&after={a}"),
            None => format!("{query}&limit=50"),
        };
        let v = self.get_json("/api/v1/reports", &query).await?;
        let items = v["items"].as_array().ok_or("a listing without items")?;
        Ok((items.len(), v["next"].as_str().map(str::to_string)))
    }

    /// Report statistics of `query`; fails unless it answers with figures.
    pub async fn stats(&self, query: &str) -> Result<serde_json::Value> {
        let v = self.get_json("/api/v1/stats/reports", query).await?;
        if v.is_null() {
            return Err(format!("statistics of {query} answered nothing").into());
        }
        Ok(v)
    }
}

/// Percent-encodes what a query string may not hold as it is (keeps `=`, `&`, `,`, `/`).
fn encode(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for b in query.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~=&,/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_what_a_query_may_not_hold() {
        assert_eq!(encode("q=井&scope=jl/a"), "q=%E4%BA%95&scope=jl/a");
        assert_eq!(encode("q=street light"), "q=street%20light");
    }
}
