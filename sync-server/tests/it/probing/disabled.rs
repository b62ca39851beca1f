//! Operators can stop a person: `user disable` refuses every device of the user on every
//! endpoint at once and withdraws their unused codes; `user enable` lets their devices in again
//! (a revoked device stays revoked, a withdrawn code stays withdrawn); `enroll-code list` shows
//! codes by id and state and `enroll-code revoke` withdraws one. Driven through the real
//! binary on the database of a running server.

use std::path::Path;
use std::process::Command;

use super::*;
use fieldsync_core::protocol::{self, EnrollRequest, EnrollResponse, SyncRequest, VERSION};

/// Runs `fieldsync-server --data <dir> <args>`; its stdout, failing the test if it failed.
fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

async fn enroll(server: &TestServer, code: &str) -> Result<EnrollResponse, (u16, String)> {
    let req = EnrollRequest {
        v: VERSION,
        code: code.into(),
        device_name: "phone".into(),
        actor: None,
        keep_user: None,
        device_key: None,
    };
    let (status, body) = server.post_with(None, "/v1/enroll", protocol::encode(&req)).await;
    if status == 200 {
        Ok(protocol::decode(&body).unwrap())
    } else {
        Err((status, error_body(&body).code))
    }
}

/// The status and error code (empty on success) of each endpoint a device uses.
async fn every_endpoint(server: &TestServer, device: &EnrollResponse) -> Vec<(u16, String)> {
    let sync = SyncRequest {
        v: VERSION,
        epoch: None,
        cursor: String::new(),
        actor: device.actor.clone(),
        push: vec![],
        want: vec![],
        page_bytes: 0,
    };
    let visible = protocol::VisibleRequest { v: VERSION, ids: vec![] };
    let mut answers = Vec::new();
    for (method, path, body) in [
        ("GET", "/v1/me".to_string(), None),
        ("POST", "/v1/sync".to_string(), Some(protocol::encode(&sync))),
        ("POST", "/v1/visible".to_string(), Some(protocol::encode(&visible))),
        ("GET", format!("/v1/blobs/{}/status", "0".repeat(64)), None),
    ] {
        let mut req = match method {
            "GET" => server.http.get(server.url(&path)),
            _ => server.http.post(server.url(&path)).body(body.unwrap_or_default()),
        };
        req = req.bearer_auth(&device.token);
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        let code = if status >= 400 { error_body(&body).code } else { String::new() };
        answers.push((status, code));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_refused_everywhere_until_enabled() {
    let server = start().await;
    let dir = server.dir.path().to_path_buf();
    cli(&dir, &["user", "add", "res-1", "--role", "resident", "--scope", GRID]);
    // The old form of issuing a code still works, and so does the new one.
    let first = cli(&dir, &["enroll-code", "res-1"]).trim().to_string();
    let second = cli(&dir, &["enroll-code", "issue", "res-1", "--hours", "2"]).trim().to_string();
    let unused = cli(&dir, &["enroll-code", "issue", "res-1"]).trim().to_string();
    let phone = enroll(&server, &first).await.unwrap();
    let old_phone = enroll(&server, &second).await.unwrap();
    cli(&dir, &["device", "revoke", &old_phone.device]);
    let ok = every_endpoint(&server, &phone).await;
    assert!(ok.iter().all(|(s, _)| *s != 401 && *s != 403), "{ok:?}");

    let out = cli(&dir, &["user", "disable", "res-1"]);
    assert!(out.contains("1 device(s)") && out.contains("1 unused code(s)"), "{out}");
    let refused = every_endpoint(&server, &phone).await;
    assert!(refused.iter().all(|a| *a == (403, "user_disabled".to_string())), "{refused:?}");
    assert_eq!(enroll(&server, &unused).await.unwrap_err(), (403, "user_disabled".into()));
    assert!(cli(&dir, &["user", "list"]).contains("res-1\tresident"));
    assert!(cli(&dir, &["user", "list"]).contains("disabled"));

    cli(&dir, &["user", "enable", "res-1"]);
    assert_eq!(every_endpoint(&server, &phone).await, ok, "enabling restores the device");
    let revoked = every_endpoint(&server, &old_phone).await;
    assert!(revoked.iter().all(|a| *a == (403, "device_revoked".to_string())), "{revoked:?}");
    assert_eq!(enroll(&server, &unused).await.unwrap_err(), (403, "code_revoked".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_listed_by_id_and_withdrawn_by_id_or_by_code() {
    let server = start().await;
    let dir = server.dir.path().to_path_buf();
    cli(&dir, &["user", "add", "res-2", "--role", "resident", "--scope", GRID]);
    cli(&dir, &["user", "add", "res-3", "--role", "resident", "--scope", GRID]);
    let used = cli(&dir, &["enroll-code", "res-2"]).trim().to_string();
    let by_id = cli(&dir, &["enroll-code", "res-2"]).trim().to_string();
    let by_code = cli(&dir, &["enroll-code", "res-3"]).trim().to_string();
    let device = enroll(&server, &used).await.unwrap().device;

    let listed = cli(&dir, &["enroll-code", "list", "--user", "res-2"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "only the unused code of res-2: {listed}");
    assert!(lines[0].contains("res-2") && lines[0].ends_with("unused"), "{listed}");
    assert!(!listed.contains(&by_id) && !listed.contains(&used), "codes are never shown");
    let all = cli(&dir, &["enroll-code", "list", "--all"]);
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(all.contains(&format!("by {device}")), "{all}");

    let id = lines[0].split('\t').next().unwrap();
    assert!(cli(&dir, &["enroll-code", "revoke", id]).contains("res-2"));
    assert_eq!(enroll(&server, &by_id).await.unwrap_err(), (403, "code_revoked".into()));
    cli(&dir, &["enroll-code", "revoke", &by_code.to_lowercase()]);
    assert_eq!(enroll(&server, &by_code).await.unwrap_err(), (403, "code_revoked".into()));
    assert!(cli(&dir, &["enroll-code", "list"]).trim().is_empty());
    let all = cli(&dir, &["enroll-code", "list", "--all"]);
    assert_eq!(all.matches("\trevoked ").count(), 2, "{all}");
    // A used code is not withdrawn: its device is revoked instead.
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["--data", dir.to_str().unwrap(), "enroll-code", "revoke", &used])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&device));
}
