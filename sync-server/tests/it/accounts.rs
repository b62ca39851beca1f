//! Users, devices and enrollment: the admin CLI of the real binary working on the database a
//! running server (on a loopback port) uses, and the enrollment and identity endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use crate::common::*;
use fieldsync_core::protocol::{self, DeviceInfo, EnrollRequest, EnrollResponse, VERSION};

/// Runs `fieldsync-server --data <dir> <args>`; returns success, stdout and stderr.
fn cli(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn code_for(dir: &Path, user: &str, extra: &[&str]) -> String {
    let mut args = vec!["enroll-code", user];
    args.extend_from_slice(extra);
    let (ok, out, err) = cli(dir, &args);
    assert!(ok, "{err}");
    out.trim().to_string()
}

async fn enroll(server: &TestServer, code: &str) -> Result<EnrollResponse, (u16, String)> {
    let req = EnrollRequest {
        v: VERSION,
        code: code.into(),
        device_name: "Pixel 7".into(),
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

async fn me(server: &TestServer, auth: Option<&str>) -> Result<DeviceInfo, (u16, String)> {
    let mut req = server.http.get(server.url("/v1/me"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    if status == 200 {
        Ok(protocol::decode(&body).unwrap())
    } else {
        let e = error_body(&body);
        assert!(!e.message.is_empty());
        // Only a revoked device is ever told to wipe itself.
        assert!(!e.wipe || e.code == "device_revoked", "{e:?}");
        Err((status, if e.wipe { format!("{}+wipe", e.code) } else { e.code }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_adds_users_and_issues_codes_that_enroll_once() {
    let server = start().await;
    let dir = server.dir.path().to_path_buf();
    let (ok, out, err) =
        cli(&dir, &["user", "add", "res-1", "--role", "resident", "--scope", GRID]);
    assert!(ok, "{err}");
    assert!(out.contains("res-1"), "{out}");
    let (ok, _, err) = cli(&dir, &["user", "add", "cop-1", "--role", "patrol", "--scope", GRID]);
    assert!(!ok && err.contains("police, cadre or volunteer"), "{err}");
    let (ok, _, err) = cli(
        &dir,
        &["user", "add", "cop-1", "--role", "patrol", "--patrol", "police", "--scope", GRID],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&dir, &["user", "add", "x", "--role", "mayor", "--scope", GRID]);
    assert!(!ok && err.contains("mayor"), "{err}");
    let (_, list, _) = cli(&dir, &["user", "list"]);
    assert!(list.contains("cop-1\tpatrol/police") && list.contains("res-1\tresident"), "{list}");

    let code = code_for(&dir, "res-1", &[]);
    let e = enroll(&server, &code.to_lowercase()).await.unwrap();
    assert_eq!((e.user.as_str(), e.role.as_str()), ("res-1", "resident"));
    assert_eq!(e.scopes, vec![GRID.to_string()]);
    assert_eq!((e.token.len(), e.actor.len()), (64, 16));
    assert_eq!(enroll(&server, &code).await.unwrap_err(), (403, "code_used".into()));

    let info = me(&server, Some(&format!("Bearer {}", e.token))).await.unwrap();
    assert_eq!((info.device.as_str(), info.actor.as_slice()), (e.device.as_str(), &e.actor[..]));

    // A scope change is seen at once.
    let (ok, _, err) = cli(&dir, &["user", "scopes", "res-1", "--scope", "jl/cc/grid-09"]);
    assert!(ok, "{err}");
    let info = me(&server, Some(&format!("Bearer {}", e.token))).await.unwrap();
    assert_eq!(info.scopes, vec!["jl/cc/grid-09".to_string()]);

    // Revoked from the CLI: the token stops working at once.
    let (_, devices, _) = cli(&dir, &["device", "list"]);
    assert!(devices.contains(&e.device) && devices.contains("active"), "{devices}");
    let (ok, _, err) = cli(&dir, &["device", "revoke", &e.device]);
    assert!(ok, "{err}");
    let refused = me(&server, Some(&format!("Bearer {}", e.token))).await.unwrap_err();
    assert_eq!(refused, (403, "device_revoked".into()));
    let (_, devices, _) = cli(&dir, &["device", "list"]);
    assert!(devices.contains("revoked"), "{devices}");
    let (ok, _, err) = cli(&dir, &["device", "revoke", "dev-nope"]);
    assert!(!ok && err.contains("dev-nope"), "{err}");

    // A lost phone: revoked with a wipe, it is told so (the answer's `wipe`), and the flag
    // stays when it is revoked again without one.
    let code = code_for(&dir, "res-1", &[]);
    let lost = enroll(&server, &code).await.unwrap();
    let (ok, out, err) = cli(&dir, &["device", "revoke", &lost.device, "--wipe"]);
    assert!(ok && out.contains("erases its store"), "{out}{err}");
    let (ok, _, err) = cli(&dir, &["device", "revoke", &lost.device]);
    assert!(ok, "{err}");
    let refused = me(&server, Some(&format!("Bearer {}", lost.token))).await.unwrap_err();
    assert_eq!(refused, (403, "device_revoked+wipe".into()));
    let (_, devices, _) = cli(&dir, &["device", "list"]);
    assert!(devices.contains("(wipe)"), "{devices}");
    // The phone revoked without one is still not told to wipe.
    let refused = me(&server, Some(&format!("Bearer {}", e.token))).await.unwrap_err();
    assert_eq!(refused, (403, "device_revoked".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_codes_and_tokens_get_typed_answers() {
    let server = start().await;
    let dir = server.dir.path().to_path_buf();
    let (ok, _, err) = cli(&dir, &["user", "add", "res-2", "--role", "resident", "--scope", GRID]);
    assert!(ok, "{err}");
    let expired = code_for(&dir, "res-2", &["--hours", "0"]);
    assert_eq!(enroll(&server, &expired).await.unwrap_err(), (403, "code_expired".into()));
    assert_eq!(enroll(&server, "not a code").await.unwrap_err(), (401, "malformed_code".into()));
    assert_eq!(enroll(&server, "00000-00000").await.unwrap_err(), (403, "code_unknown".into()));
    let (ok, _, err) = cli(&dir, &["enroll-code", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");

    assert_eq!(me(&server, None).await.unwrap_err(), (401, "missing_token".into()));
    assert_eq!(me(&server, Some("Token abc")).await.unwrap_err(), (401, "malformed_token".into()));
    assert_eq!(me(&server, Some("Bearer abc")).await.unwrap_err(), (401, "malformed_token".into()));
    let unknown = format!("Bearer {}", "ab".repeat(32));
    assert_eq!(me(&server, Some(&unknown)).await.unwrap_err(), (401, "unknown_token".into()));
    let (_, devices, _) = cli(&dir, &["device", "list"]);
    assert!(devices.trim().is_empty(), "no failed attempt made a device: {devices}");
}
