//! The `fieldsync-server` binary as a process: a change it acknowledged survives SIGKILL;
//! SIGTERM stops it cleanly; `new-epoch` gives the database a new epoch; its log lines carry
//! no colour codes when they go to a pipe, and are JSON with `--log-format json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::child::Proc;
use crate::common::*;
use fieldsync_core::protocol::{self, SyncResponse};

async fn sync(url: &str, token: &str, req: &protocol::SyncRequest) -> SyncResponse {
    let body = {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::new()
    }
    .post(format!("{url}/v1/sync"))
    .bearer_auth(token)
    .body(protocol::encode(req))
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    protocol::decode(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let phone = Phone::new("resident-1");
    let id = phone.report("survives a crash");

    let mut p = Proc::spawn(&data, "127.0.0.1:0");
    let token = crate::child::enroll(&p.url, &data, "resident-1", phone.actor()).await;
    let resp =
        sync(&p.url, &token, &phone.request(None, "", vec![phone.push_after(id, &[])])).await;
    assert_acked(&resp);
    let epoch = resp.epoch.clone();
    p.child.kill().unwrap(); // SIGKILL, right after the acknowledgement
    p.child.wait().unwrap();

    let mut p = Proc::spawn(&data, "127.0.0.1:0");
    let other = Phone::new("other");
    let other_token = crate::child::enroll(&p.url, &data, "other", other.actor()).await;
    let resp = sync(&p.url, &other_token, &other.request(None, "", vec![])).await;
    assert_eq!(resp.epoch, epoch);
    assert_eq!(resp.docs.len(), 1);
    other.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(other.heads(id), phone.heads(id));

    let pid = p.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = p.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut stopped = false;
    while let Ok(line) = p.lines.recv_timeout(Duration::from_secs(5)) {
        stopped |= line.contains("stopped");
    }
    assert!(stopped, "the server says it stopped");

    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["new-epoch", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut p = Proc::spawn(&data, "127.0.0.1:0");
    let resp = sync(&p.url, &other_token, &other.request(None, "", vec![])).await;
    assert_ne!(resp.epoch, epoch);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// The first log lines of the binary serving on `data` with `args`, its stderr a pipe (as under
/// systemd or a log shipper), up to the line that says it serves. `NO_COLOR` is left unset: the
/// pipe alone must keep the escape codes out.
fn first_log_lines(data: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("FIELDSYNC_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.contains("serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

#[test]
fn log_lines_to_a_pipe_are_plain_text_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = first_log_lines(&dir.path().join("text"), &[]);
    assert!(text.last().is_some_and(|l| l.contains("serving")), "{text:?}");
    for line in &text {
        assert!(!line.contains('\x1b'), "an escape code in {line:?}");
    }

    let json = first_log_lines(&dir.path().join("json"), &["--log-format", "json"]);
    assert!(json.len() >= 2, "{json:?}");
    for line in &json {
        assert!(!line.contains('\x1b'), "an escape code in {line:?}");
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(event["timestamp"].is_string() && event["level"].is_string(), "{line}");
    }
    let serving: serde_json::Value = serde_json::from_str(json.last().unwrap()).unwrap();
    assert_eq!(serving["fields"]["message"], "serving");
    assert!(serving["fields"]["addr"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")));
}
