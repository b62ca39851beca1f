//! The `fieldsync-server` binary as a process: a change it acknowledged survives SIGKILL;
//! SIGTERM stops it cleanly; `new-epoch` gives the database a new epoch.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fieldsync_core::protocol::{self, SyncResponse};

struct Proc {
    child: Child,
    url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

fn spawn(data: &Path) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let url = loop {
        let line =
            lines.recv_timeout(Duration::from_secs(30)).expect("the server logs its address");
        if let Some(rest) = line.split("addr=").nth(1)
            && line.contains("serving")
        {
            let addr = rest.split_whitespace().next().unwrap().trim_matches('"');
            break format!("http://{addr}");
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    };
    Proc { child, url, lines }
}

/// Enrols `phone` as `user` the way an operator does: `user add` and `enroll-code` with the
/// binary on the server's data directory, then `POST /v1/enroll` keeping the phone's actor.
async fn enrol(url: &str, data: &Path, user: &str, phone: &Phone) -> String {
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
            .arg("--data")
            .arg(data)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    cli(&["user", "add", user, "--role", "dispatcher", "--scope", "jl"]);
    let code = cli(&["enroll-code", user]);
    let req = protocol::EnrollRequest {
        v: protocol::VERSION,
        code,
        device_name: "test".into(),
        actor: Some(phone.actor()),
    };
    let body = reqwest::Client::new()
        .post(format!("{url}/v1/enroll"))
        .body(protocol::encode(&req))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let e: protocol::EnrollResponse = protocol::decode(&body).unwrap();
    assert_eq!(e.actor, phone.actor());
    e.token
}

async fn sync(url: &str, token: &str, req: &protocol::SyncRequest) -> SyncResponse {
    let body = reqwest::Client::new()
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

    let mut p = spawn(&data);
    let token = enrol(&p.url, &data, "resident-1", &phone).await;
    let resp =
        sync(&p.url, &token, &phone.request(None, "", vec![phone.push_after(id, &[])])).await;
    assert_acked(&resp);
    let epoch = resp.epoch.clone();
    p.child.kill().unwrap(); // SIGKILL, right after the acknowledgement
    p.child.wait().unwrap();

    let mut p = spawn(&data);
    let other = Phone::new("other");
    let other_token = enrol(&p.url, &data, "other", &other).await;
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
    let mut p = spawn(&data);
    let resp = sync(&p.url, &other_token, &other.request(None, "", vec![])).await;
    assert_ne!(resp.epoch, epoch);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}
