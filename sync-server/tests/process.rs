//! The `fieldsync-server` binary as a process: a change it acknowledged survives SIGKILL;
//! SIGTERM stops it cleanly; `new-epoch` gives the database a new epoch.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod child;
mod common;

use std::process::Command;
use std::time::Duration;

use child::Proc;
use common::*;
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
    let token = child::enrol(&p.url, &data, "resident-1", phone.actor()).await;
    let resp =
        sync(&p.url, &token, &phone.request(None, "", vec![phone.push_after(id, &[])])).await;
    assert_acked(&resp);
    let epoch = resp.epoch.clone();
    p.child.kill().unwrap(); // SIGKILL, right after the acknowledgement
    p.child.wait().unwrap();

    let mut p = Proc::spawn(&data, "127.0.0.1:0");
    let other = Phone::new("other");
    let other_token = child::enrol(&p.url, &data, "other", other.actor()).await;
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
