//! `desk.event_p99_ms`: desks on `GET /api/v1/events` while a resident's phone pushes new
//! reports; for each push and each desk, the time from the push's acknowledgement (the sync
//! answer taken in) to that report's event at the desk. An event that arrives before the
//! acknowledgement counts as 0.

use std::path::Path;
use std::time::{Duration, Instant};

use fieldsync_core::model::NewRecord;
use fieldsync_core::policy::Role;
use fieldsync_server::storage::{DocumentStorage, SqliteStorage};
use fieldsync_server::{Durability, ServerConfig};
use tokio::sync::mpsc;

use super::client::{DeskClient, code_for};
use super::seed::{ROOT, grid};
use super::{Options, Report, Result, Samples, Unit, progress};
use crate::bench::corpus::Corpus;
use crate::bench::server::BenchServer;
use crate::bench::sim::{Pulled, SimDevice};

/// How long a push's events may take before the suite gives up on them.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The epoch and the end of the change log of the database in a data directory: where a phone
/// that has seen everything stands.
pub async fn feed_end(data: &Path) -> Result<(Option<String>, String)> {
    let storage = SqliteStorage::open(ServerConfig::new(data).db_path(), Durability::Normal)?;
    let end = storage.log_end().await?;
    Ok((Some(storage.epoch().to_string()), format!("l{end}")))
}

/// Reads one desk's stream, sending the document id of each report event and when it arrived.
async fn listen(
    desk: usize,
    mut resp: reqwest::Response,
    tx: mpsc::UnboundedSender<(usize, String, Instant)>,
) {
    let mut buf = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let doc = serde_json::from_str::<serde_json::Value>(data.trim())
                .ok()
                .and_then(|v| v["doc"].as_str().map(str::to_string));
            if let Some(doc) = doc
                && tx.send((desk, doc, at)).is_err()
            {
                return;
            }
        }
    }
}

/// Connects `opts.desks` desks, then pushes `opts.pushes` reports one at a time.
pub async fn measure(
    opts: &Options,
    report: &mut Report,
    server: &BenchServer,
    first: &DeskClient,
    position: (Option<String>, String),
) -> Result<()> {
    progress(format_args!(
        "{} desks listen while a phone pushes {} reports",
        opts.desks, opts.pushes
    ));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut desks = vec![first.clone()];
    for i in 1..opts.desks {
        // Sign-ins over HTTP are rate-limited per address; the others sign in as the admin's
        // side of a sign-in does, and use their sessions over HTTP like the first.
        let code = code_for(server, &format!("desk-{i:03}"), Role::Dispatcher, ROOT)?;
        let signed = server.accounts().sign_in(&code, "bench desk", Duration::from_secs(3600))?;
        desks.push(DeskClient::with_token(server, &signed.token));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, desk) in desks.iter().enumerate() {
        let resp = desk.get("/api/v1/events", "").await?;
        if resp.status().as_u16() != 200 {
            return Err(format!("desk {i}: the event stream answered {}", resp.status()).into());
        }
        tasks.spawn(listen(i, resp, tx.clone()));
    }
    drop(tx);

    let resident = "resident-bench";
    let actor = automerge::ActorId::random();
    let transport = server.enroll_as(resident, Role::Resident, &grid(0, 0), actor.to_bytes())?;
    let mut phone =
        SimDevice::new(transport, resident.into(), actor, position, 64 * 1024, Pulled::Skip);
    let mut corpus = Corpus::new(0xde5c_e7e7);
    let mut from_ack = Samples::new();
    let mut from_send = Samples::new();
    for k in 0..opts.pushes {
        let mut new = corpus.report(k);
        new.scope = grid(0, 0);
        let id = phone.create(&NewRecord::Report { report: new })?.to_string();
        let sent = Instant::now();
        phone.round().await?;
        let acked = Instant::now();
        let mut seen = vec![false; desks.len()];
        let mut left = desks.len();
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        while left > 0 {
            let got = tokio::time::timeout_at(deadline, rx.recv()).await;
            let Ok(Some((desk, doc, at))) = got else {
                return Err(format!(
                    "push {k}: {left} desks had no event within {EVENT_TIMEOUT:?}"
                )
                .into());
            };
            if doc == id && !seen[desk] {
                seen[desk] = true;
                left -= 1;
                from_ack.push(at.saturating_duration_since(acked));
                from_send.push(at.saturating_duration_since(sent));
            }
        }
    }
    tasks.abort_all();
    report.record("desk.event_p50_ms", from_ack.median(), Unit::Ms);
    report.record("desk.event_p99_ms", from_ack.percentile(99.0), Unit::Ms);
    report.record("desk.event_from_send_p99_ms", from_send.percentile(99.0), Unit::Ms);
    Ok(())
}
