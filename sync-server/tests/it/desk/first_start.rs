//! The first start: a server on an empty data folder makes the first admin and shows a
//! one-time sign-in code once; later starts show nothing. In-process (`Server::start`) and
//! from the binary, whose operator CLI then lists and revokes the session.

use std::time::Duration;

use fieldsync_server::{Server, ServerConfig};

use super::*;
use crate::child::{Proc, admin};
use crate::common::TestServer;

fn config(dir: &std::path::Path) -> ServerConfig {
    let c = ServerConfig::new(dir).with_listen("127.0.0.1:0".parse().unwrap());
    ServerConfig { first_admin: true, root_scope: "jl/cc".into(), ..c }
}

async fn test_server(dir: tempfile::TempDir, config: &ServerConfig) -> TestServer {
    let running = Server::start(config).await.unwrap();
    fieldsync_core::sync::install_tls_provider();
    TestServer {
        running,
        dir,
        http: reqwest::Client::new(),
        storage: fieldsync_tests::backend::TestStorage::sqlite(),
    }
}

#[tokio::test]
async fn an_empty_server_makes_the_first_admin_with_a_code_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let ts = test_server(dir, &config(&path)).await;
    let code = ts.running.server().first_admin_code().cloned().expect("a code on first start");
    let s = sign_in(&ts, &code.code).await;
    assert_eq!((s.body["user"].as_str(), s.body["role"].as_str()), (Some("admin"), Some("admin")));
    assert_eq!(s.body["scopes"], serde_json::json!(["jl/cc"]));
    let TestServer { dir, running, .. } = ts;
    running.shutdown().await.unwrap();

    let ts = test_server(dir, &config(&path)).await;
    assert!(ts.running.server().first_admin_code().is_none(), "the admin exists");
    assert_eq!(ts.running.server().accounts().users().unwrap().len(), 1);
    assert_eq!(whoami(&ts, &s).await.0, 200, "the session survives the restart");

    // Not asked (in-process servers by default): no admin is made.
    let other = tempfile::tempdir().unwrap();
    let plain = ServerConfig::new(other.path()).with_listen("127.0.0.1:0".parse().unwrap());
    let ts = test_server(other, &plain).await;
    assert!(ts.running.server().first_admin_code().is_none());
    assert!(ts.running.server().accounts().users().unwrap().is_empty());
}

/// The lines the binary writes to stderr within `wait`.
fn lines_within(p: &Proc, wait: Duration) -> Vec<String> {
    let until = std::time::Instant::now() + wait;
    let mut lines = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        match p.lines.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_shows_the_first_admins_code_once_and_its_cli_revokes_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Proc::spawn(&data, "127.0.0.1:0");
    let lines = lines_within(&p, Duration::from_secs(2));
    let framed: Vec<&String> = lines.iter().filter(|l| l.starts_with('|')).collect();
    assert!(framed.len() >= 3, "{lines:#?}");
    let addr = p.url.trim_start_matches("http://");
    assert!(framed.iter().any(|l| l.contains(&format!("http://{addr}/"))), "{lines:#?}");
    assert!(framed.iter().any(|l| l.contains("POST /api/v1/session")), "{lines:#?}");
    let code = framed
        .iter()
        .map(|l| l.trim_matches(|c: char| c == '|' || c.is_whitespace()))
        .find(|t| t.len() == 11 && t.as_bytes()[5] == b'-')
        .expect("the code on a line of its own")
        .to_string();
    assert!(lines.iter().filter(|l| l.starts_with("+=")).count() == 2, "framed: {lines:#?}");

    fieldsync_core::sync::install_tls_provider();
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}{SESSION}", p.url))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "code": code }).to_string())
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap();
    let cookie = cookie.to_string();
    let (status, body) = json_of(resp).await;
    assert_eq!((status, body["role"].as_str()), (201, Some("admin")), "{body}");
    assert_eq!(body["scopes"], serde_json::json!(["jl"]), "the default root");
    let session = body["session"].as_str().unwrap().to_string();

    let listed = admin(&data, &["session", "list"]);
    assert!(listed.starts_with(&session) && listed.contains("admin\t"), "{listed}");
    admin(&data, &["session", "revoke", &session]);
    let get = |cookie: String| {
        let req = http.get(format!("{}{SESSION}", p.url)).header("cookie", cookie);
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (status, e) = get(cookie.clone()).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));
    assert!(admin(&data, &["session", "list"]).is_empty(), "no open session");
    assert!(admin(&data, &["session", "list", "--all"]).contains("(revoked)"));
    p.kill();

    let p = Proc::spawn(&data, "127.0.0.1:0");
    let lines = lines_within(&p, Duration::from_secs(1));
    assert!(!lines.iter().any(|l| l.starts_with('|') || l.contains("one-time")), "{lines:#?}");
    p.kill();
}
