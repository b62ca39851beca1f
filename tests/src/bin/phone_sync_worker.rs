//! Phone-crash helper: a phone that edits and syncs forever, until it is killed.
//!
//! `phone_sync_worker <store-path> <seed> <tag> [final]` opens an enrolled store (the server's
//! URL and the device's token are in it, as on a phone) and loops: a few dozen local edits, each
//! printed as a promise line once the store committed it, then a sync with small requests,
//! printing `sync-start`, one `progress` line per answered request and `synced` at the end (the
//! line protocol is in `fieldsync_tests::phone_crash`). Its transport also prints the changes
//! each request pushes and the documents each answer acknowledged, so the test can tell what the
//! phone sends again after a restart. With `final` it makes no edits: it syncs twice, prints both
//! summaries and exits.
//!
//! Any error is a bug: the worker panics, and the test, which expects death by SIGKILL, fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;

use fieldsync_core::Store;
use fieldsync_core::changes::parse_changes;
use fieldsync_core::protocol::{self, PushOutcome, SyncRequest, SyncResponse};
use fieldsync_core::sync::{
    HttpTransport, SyncClient, SyncOptions, SyncProgress, Transport, TransportError,
};
use fieldsync_tests::phone_crash::{Editor, Line};

/// HTTP to the server, printing what each sync request pushes and what its answer acknowledged.
struct Logging(HttpTransport);

impl Transport for Logging {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let sync = path == "/v1/sync";
        if sync {
            let request: SyncRequest = protocol::decode(&body).expect("a sync request");
            for p in &request.push {
                let changes = parse_changes(&p.changes, usize::MAX).expect("pushed changes");
                emit(&Line::Sending {
                    doc: p.doc,
                    changes: changes.iter().map(|c| c.hash()).collect(),
                });
            }
        }
        let answer = self.0.post(path, body).await?;
        if sync {
            let response: SyncResponse = protocol::decode(&answer).expect("a sync answer");
            for r in &response.results {
                if matches!(r.outcome, PushOutcome::Acked { .. }) {
                    emit(&Line::Acked { doc: r.doc });
                }
            }
        }
        Ok(answer)
    }

    fn server_url(&self) -> Option<String> {
        self.0.server_url()
    }
}

/// Small requests, so a sync of a round's edits takes many of them and a kill lands inside.
fn config() -> SyncOptions {
    SyncOptions {
        push_docs: 4,
        push_bytes: 4 * 1024,
        page_bytes: 16 * 1024,
        ..SyncOptions::default()
    }
}

/// Prints a line and flushes it: once printed, the test may rely on it.
fn emit(line: &Line) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("write to stdout");
    out.flush().expect("flush stdout");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: phone_sync_worker <store-path> <seed> <tag> [final]";
    let path = args.next().expect(usage);
    let seed: u64 = args.next().expect(usage).parse().expect("the seed is a u64");
    let tag = args.next().expect(usage);
    let last = args.next().as_deref() == Some("final");

    let store = Arc::new(Store::open(&path).expect("open the store"));
    let enrollment = store.enrollment().expect("read the enrollment").expect("an enrolled store");
    let url = enrollment.server.expect("the enrollment names its server");
    let transport = HttpTransport::new(&url).expect("server URL").with_token(enrollment.token);
    let client = SyncClient::new(store.clone(), Logging(transport)).with_options(config());
    let listener = |p: &SyncProgress| emit(&Line::progress(p));

    if last {
        for _ in 0..2 {
            emit(&Line::SyncStarted);
            let summary = client.sync_now(Some(&listener)).await.expect("final sync");
            emit(&Line::synced(&summary));
        }
        return;
    }
    let mut editor = Editor::new(seed, &tag);
    editor.refresh(&store).expect("list the records");
    loop {
        for _ in 0..editor.roll(15..60) {
            let written = editor.edit(&store).unwrap_or_else(|e| panic!("edit: {e}"));
            emit(&Line::Wrote(written));
        }
        emit(&Line::SyncStarted);
        let summary =
            client.sync_now(Some(&listener)).await.unwrap_or_else(|e| panic!("sync: {e}"));
        emit(&Line::synced(&summary));
        editor.refresh(&store).expect("list the records");
    }
}
