//! A patrol phone with a day's work syncs through a 2G-like link that keeps dropping: it gets
//! everything to the server through repeated interruptions, never sends again a change the
//! server acknowledged to it, keeps reporting progress, and shrinks its requests to fit.
//! The link's seed is printed; `FIELDSYNC_LINK_SEED=<seed>` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use automerge::ChangeHash;
use fieldsync_core::changes::parse_changes;
use fieldsync_core::model::*;
use fieldsync_core::protocol::{self, PushOutcome, SyncRequest, SyncResponse};
use fieldsync_core::sync::{HttpTransport, SyncOptions, SyncProgress, Transport, TransportError};
use fieldsync_core::{CoreError, DocId};
use fieldsync_server::{Server, ServerConfig};
use fieldsync_tests::link::{LinkEmulator, LinkProfile};
use fieldsync_tests::phone::{Phone, enroll_http};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// What crossed the link in sync requests, and what the phone was told was acknowledged.
#[derive(Default)]
struct Ledger {
    /// Change hashes per document the phone received an acknowledgement for.
    acked: HashMap<DocId, HashSet<ChangeHash>>,
    /// Changes sent again after the phone had been told they were acknowledged.
    resent_acked: u64,
    /// Document pushes sent (a document once per request it is in).
    doc_pushes: u64,
    /// Request bodies sent to /v1/sync, bytes.
    bytes_up: u64,
    /// Push outcomes received: acked, rejected, retry.
    outcomes: (u64, u64, u64),
    /// Sync requests sent, and answered.
    requests: (u64, u64),
    /// Largest request body that got an answer.
    largest_answered: usize,
}

struct Recording<T> {
    inner: T,
    ledger: Arc<Mutex<Ledger>>,
}

impl<T: Transport> Transport for Recording<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let request: Option<SyncRequest> =
            (path == "/v1/sync").then(|| protocol::decode(&body).unwrap());
        let mut sent: HashMap<DocId, Vec<ChangeHash>> = HashMap::new();
        if let Some(r) = &request {
            let mut ledger = self.ledger.lock().unwrap();
            ledger.bytes_up += body.len() as u64;
            ledger.requests.0 += 1;
            for p in &r.push {
                ledger.doc_pushes += 1;
                let hashes: Vec<ChangeHash> = parse_changes(&p.changes, usize::MAX)
                    .unwrap()
                    .iter()
                    .map(|c| c.hash())
                    .collect();
                let acked = ledger.acked.get(&p.doc).cloned().unwrap_or_default();
                ledger.resent_acked += hashes.iter().filter(|h| acked.contains(h)).count() as u64;
                sent.insert(p.doc, hashes);
            }
        }
        let size = body.len();
        let answer = self.inner.post(path, body).await?;
        if request.is_some() {
            let response: SyncResponse = protocol::decode(&answer).unwrap();
            let mut ledger = self.ledger.lock().unwrap();
            ledger.largest_answered = ledger.largest_answered.max(size);
            ledger.requests.1 += 1;
            for r in &response.results {
                match r.outcome {
                    PushOutcome::Acked { .. } => ledger.outcomes.0 += 1,
                    PushOutcome::Rejected { .. } => ledger.outcomes.1 += 1,
                    PushOutcome::Retry { .. } => ledger.outcomes.2 += 1,
                }
                if matches!(r.outcome, PushOutcome::Acked { .. }) {
                    let hashes = sent.remove(&r.doc).unwrap_or_default();
                    ledger.acked.entry(r.doc).or_default().extend(hashes);
                }
            }
        }
        Ok(answer)
    }
}

fn report(i: usize) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::SafetyHazard,
            title: format!("Loose railing #{i}"),
            description: format!("Railing post {i} on the north lake trail moves by hand."),
            location: None,
            photos: vec![],
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_days_work_crosses_a_2g_link_that_keeps_dropping() {
    let seed: u64 =
        std::env::var("FIELDSYNC_LINK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(2026);
    println!("link seed {seed} (FIELDSYNC_LINK_SEED={seed} replays this run)");
    let dir = tempfile::tempdir().unwrap();
    let config =
        ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    let server = Server::start(&config).await.unwrap();
    let link = LinkEmulator::start(server.addr(), LinkProfile::two_g(), seed).await.unwrap();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let enrolled = enroll_http(&server, "police-li");
    let token = enrolled.token.clone();
    let device = enrolled.map(|_| Recording {
        inner: HttpTransport::new(&link.url()).unwrap().with_token(token),
        ledger: ledger.clone(),
    });
    let phone = Phone::with_config(dir.path(), "police-li", device, SyncOptions::default());

    // A day offline: 500 reports and a patrol with 40 entries.
    let mut reports = Vec::new();
    for i in 0..500 {
        reports.push(phone.store.create(&report(i)).unwrap());
    }
    let patrol = phone
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "North lake trail".into(),
                members: vec![TeamMember {
                    user: "police-li".into(),
                    name: "Li".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        })
        .unwrap();
    for i in 0..40 {
        let entry = NewEntry {
            kind: EntryKind::Observation,
            text: format!("Checkpoint {i} clear"),
            location: None,
            photos: vec![],
            checkpoint: None,
        };
        phone.store.execute(patrol, &Command::AddPatrolEntry { entry }).unwrap();
    }

    // Sync until done, as a phone's background job would after each failure.
    let calls = Arc::new(AtomicU64::new(0));
    let last_done = Arc::new(AtomicU64::new(0));
    let (c, d) = (calls.clone(), last_done.clone());
    let listener = move |p: &SyncProgress| {
        c.fetch_add(1, Ordering::SeqCst);
        d.store(p.docs_done.unsigned_abs(), Ordering::SeqCst);
    };
    let mut attempts = 0;
    let mut progressed_attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 60, "no end after {attempts} syncs (seed {seed})");
        let before = calls.load(Ordering::SeqCst);
        let result = phone.client.sync_now(Some(&listener)).await;
        if calls.load(Ordering::SeqCst) > before {
            progressed_attempts += 1;
        }
        match result {
            Ok(_) => break,
            Err(CoreError::Network { .. }) => continue,
            Err(e) => panic!("sync failed with {e} (seed {seed})"),
        }
    }
    let stats = link.stats();
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    println!(
        "{attempts} syncs, {} progress calls; link: {} connections, {} cut, {} truncated, {} B up, {} B down; \
         {:?} requests sent/answered, outcomes {:?}, {} document pushes for 501 documents, {} B of requests, largest answered {} B; budget {:?}",
        calls.load(Ordering::SeqCst),
        stats.connections,
        stats.cuts,
        stats.truncations,
        stats.bytes_up,
        stats.bytes_down,
        ledger.requests,
        ledger.outcomes,
        ledger.doc_pushes,
        ledger.bytes_up,
        ledger.largest_answered,
        phone.client.budget(),
    );

    // The link really interfered, and the phone still finished.
    assert!(
        stats.cuts + stats.truncations >= 3,
        "the link hardly dropped: {stats:?} (seed {seed})"
    );
    assert_eq!(phone.store.sync_status().unwrap().pending_docs, 0);
    // Nothing the server acknowledged to the phone was sent again.
    assert_eq!(ledger.resent_acked, 0, "seed {seed}");
    // (Documents whose acknowledgement was cut off come back acknowledged by the next pull,
    // which carries the server's copy: so fewer than 501 may be acknowledged in an answer.)
    assert!(!ledger.acked.is_empty());
    // Progress kept moving across the interrupted syncs.
    assert!(
        progressed_attempts * 2 >= attempts,
        "{progressed_attempts} of {attempts} syncs made progress"
    );
    assert!(last_done.load(Ordering::SeqCst) > 0);
    // Requests shrank to fit the link: none near the 1 MiB a good link gets.
    assert!(
        ledger.largest_answered <= 256 * 1024,
        "largest answered request {} B",
        ledger.largest_answered
    );
    assert!(phone.client.budget().push_bytes <= 64 * 1024, "{:?}", phone.client.budget());

    // Everything arrived: a second phone on a good link pulls all of it.
    let reader = Phone::new(dir.path(), "dispatch-wu", enroll_http(&server, "dispatch-wu"));
    reader.sync().await;
    assert_eq!(reader.store.doc_ids().unwrap().len(), 501);
    match reader.store.get(patrol).unwrap() {
        Record::PatrolLog { patrol_log: p } => assert_eq!(p.entries.len(), 40),
        other => panic!("{other:?}"),
    }
    for id in reports.iter().step_by(50) {
        reader.store.get(*id).unwrap();
    }
}
