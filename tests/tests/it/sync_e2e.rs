//! Phones and a real server on a loopback port, each test once on SQLite and once on
//! PostgreSQL (`on_both!`), real SQLite files on the phones: offline work converges, edits made
//! during a sync survive, a server dying mid-sync loses nothing, repeated and replayed rounds
//! are harmless, and the cost of a sync follows what changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fieldsync_core::model::*;
use fieldsync_core::sync::{HttpTransport, SyncOptions, Transport, TransportError};
use fieldsync_core::{DocId, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};
use fieldsync_tests::backend::{Backend, TestStorage};
use fieldsync_tests::on_both;
use fieldsync_tests::phone::{Counting, Duplicating, Enrolled, Phone, Replaying, enroll_http};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// A server on a loopback port with its data in `dir` and on `storage`.
async fn server(dir: &std::path::Path, storage: &TestStorage) -> RunningServer {
    let mut config =
        ServerConfig::new(dir.join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    config.storage = storage.choice();
    Server::start(&config).await.expect("server starts")
}

/// A new enrolled device of `user` on `s`, over HTTP.
fn http(s: &RunningServer, user: &str) -> Enrolled<HttpTransport> {
    enroll_http(s, user)
}

fn report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::SafetyHazard,
            title: title.into(),
            description: "护栏松动 loose railing".into(),
            location: None,
            photos: vec![],
        },
    }
}

fn patrol(members: &[&str]) -> NewRecord {
    NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: GRID.into(),
            area: "north loop".into(),
            members: members
                .iter()
                .map(|m| TeamMember {
                    user: (*m).into(),
                    name: (*m).into(),
                    kind: MemberKind::VillageCadre,
                })
                .collect(),
            checkpoints: vec![],
        },
    }
}

fn entry(text: &str) -> Command {
    Command::AddPatrolEntry {
        entry: NewEntry {
            kind: EntryKind::Observation,
            text: text.into(),
            location: None,
            photos: vec![],
            checkpoint: None,
        },
    }
}

/// Every document of every store, with its heads: equal across stores when they converged.
fn state(store: &Store) -> BTreeSet<(DocId, Vec<String>)> {
    store
        .doc_ids()
        .unwrap()
        .into_iter()
        .map(|id| (id, store.heads(id).unwrap().iter().map(|h| h.to_string()).collect()))
        .collect()
}

async fn three_phones_converge_after_offline_work(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = TestStorage::new(backend).await;
    let s = server(dir.path(), &storage).await;
    let team = ["police-li", "cadre-wang", "vol-zhao"];
    let phones: Vec<_> = team.iter().map(|n| Phone::new(dir.path(), n, http(&s, n))).collect();
    let resident = Phone::new(dir.path(), "resident-sun", http(&s, "resident-sun"));

    let log = phones[0].store.create(&patrol(&team)).unwrap();
    phones[0].sync().await;
    for p in &phones[1..] {
        p.sync().await;
        assert!(p.store.get(log).is_ok(), "{} got the patrol log", p.name);
    }
    // Offline: five entries each, and a resident's report.
    for p in &phones {
        for i in 0..5 {
            p.store.execute(log, &entry(&format!("{} #{i}", p.name))).unwrap();
        }
    }
    let r = resident.store.create(&report("roof-top shed")).unwrap();
    // Back in signal: everyone syncs, then everyone again.
    for _ in 0..2 {
        for p in phones.iter().chain([&resident]) {
            p.sync().await;
        }
    }
    let expected = state(&resident.store);
    assert_eq!(expected.len(), 2);
    for p in &phones {
        assert_eq!(state(&p.store), expected, "{} converged", p.name);
        assert_eq!(p.store.sync_status().unwrap().pending_docs, 0);
        let Record::PatrolLog { patrol_log: l } = p.store.get(log).unwrap() else { panic!("kind") };
        assert_eq!(l.entries.len(), 15, "no entry lost on {}", p.name);
        assert!(p.store.get(r).is_ok());
    }
    s.shutdown().await.unwrap();
}
on_both!(three_phones_converge_after_offline_work);

async fn edits_made_during_a_sync_are_kept_and_go_out_next_time(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = TestStorage::new(backend).await;
    let s = server(dir.path(), &storage).await;
    let config = SyncOptions { push_docs: 10, push_bytes: 8 * 1024, ..SyncOptions::default() };
    let a = Arc::new(Phone::with_config(dir.path(), "grid-1", http(&s, "grid-1"), config));
    let ids: Vec<DocId> =
        (0..120).map(|i| a.store.create(&report(&format!("r{i}"))).unwrap()).collect();
    let syncing = {
        let a = a.clone();
        tokio::spawn(async move { a.sync().await })
    };
    // Meanwhile, the user keeps working.
    let mut comments = Vec::new();
    for (i, id) in ids.iter().enumerate().step_by(7) {
        let key = a
            .store
            .execute(*id, &Command::CommentReport { text: format!("during sync {i}") })
            .unwrap();
        comments.push((*id, key.item.unwrap()));
        tokio::task::yield_now().await;
    }
    syncing.await.unwrap();
    a.sync().await;
    assert_eq!(a.store.sync_status().unwrap().pending_docs, 0);
    let b = Phone::new(dir.path(), "grid-2", http(&s, "grid-2"));
    b.sync().await;
    assert_eq!(state(&b.store), state(&a.store));
    for (id, key) in comments {
        let Record::Report { report: r } = b.store.get(id).unwrap() else { panic!("kind") };
        assert!(
            r.comments.iter().any(|c| c.id == key),
            "comment made during the sync reached the server"
        );
    }
    s.shutdown().await.unwrap();
}
on_both!(edits_made_during_a_sync_are_kept_and_go_out_next_time);

/// A transport whose server can be swapped: the phone keeps its client across a server restart.
struct Swappable(std::sync::Mutex<HttpTransport>);

impl Transport for Swappable {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let t = self.0.lock().unwrap().clone();
        t.post(path, body).await
    }
}

async fn a_server_dying_mid_sync_loses_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = TestStorage::new(backend).await;
    let s = server(dir.path(), &storage).await;
    let a = Phone::new(dir.path(), "disp-1", http(&s, "disp-1"));
    for i in 0..300 {
        let mut r = report(&format!("report {i}"));
        if let NewRecord::Report { report: r } = &mut r {
            r.description = "巡查发现 ".repeat(40);
        }
        a.store.create(&r).unwrap();
    }
    let pushed = a.sync().await;
    assert_eq!(pushed.docs_pushed, 300, "{pushed:?}");

    // A fresh phone pulls in small pages; the server dies after a few of them.
    let small = SyncOptions { page_bytes: 16 * 1024, attempts: 2, ..SyncOptions::default() };
    let device = http(&s, "disp-2");
    let token = device.token.clone();
    let swap = Arc::new(Swappable(std::sync::Mutex::new(device.transport.clone())));
    let counting = Counting::new(SharedT(swap.clone()));
    let counts = counting.counts.clone();
    let b = Phone::with_config(dir.path(), "disp-2", device.map(|_| counting), small);
    let (pages_tx, mut pages_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let listener = move |p: &fieldsync_core::sync::SyncProgress| {
        let _ = pages_tx.send(p.pages_done.unsigned_abs());
    };
    let b_ref = &b;
    let sync = async move {
        let result = b_ref.client.sync_now(Some(&listener)).await;
        drop(listener);
        result
    };
    let killer = async move {
        let mut server = Some(s);
        while let Some(pages) = pages_rx.recv().await {
            if pages >= 3
                && let Some(s) = server.take()
            {
                s.abort().await;
            }
        }
        server.is_none()
    };
    let (result, killed) = tokio::join!(sync, killer);
    assert!(killed, "the sync ended before the server could be stopped: {result:?}");
    assert!(result.is_err(), "the sync noticed the server going away");
    let got_before = b.store.doc_ids().unwrap().len();
    assert!(got_before > 0 && got_before < 300, "{got_before} documents before the crash");

    // Same data directory, new process state.
    let s2 = server(dir.path(), &storage).await;
    *swap.0.lock().unwrap() = HttpTransport::new(&s2.url()).unwrap().with_token(token);
    let whole_before = counts.whole_docs.load(Ordering::SeqCst);
    b.sync().await;
    assert_eq!(state(&b.store), state(&a.store), "nothing lost, converged");
    let whole_after = counts.whole_docs.load(Ordering::SeqCst);
    // Resumed where it stopped: at most one page (16 KiB, ~30 documents) is fetched again.
    assert!(
        whole_after - whole_before <= (300 - got_before as u64) + 40,
        "{whole_before} then {whole_after}"
    );
    s2.shutdown().await.unwrap();
}
on_both!(a_server_dying_mid_sync_loses_nothing);

/// Lets several owners share one transport.
struct SharedT<T>(Arc<T>);

impl<T: Transport> Transport for SharedT<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.0.post(path, body).await
    }
}

async fn duplicated_and_replayed_rounds_are_harmless(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = TestStorage::new(backend).await;
    let s = server(dir.path(), &storage).await;
    let a = Phone::new(dir.path(), "med-1", http(&s, "med-1").map(Duplicating));
    let b = Phone::new(dir.path(), "med-2", http(&s, "med-2").map(|t| Replaying::new(t, 7)));
    let log = a.store.create(&patrol(&["med-1", "med-2"])).unwrap();
    a.sync().await;
    b.sync().await;
    for round in 0..4 {
        for i in 0..3 {
            a.store.execute(log, &entry(&format!("a{round}.{i}"))).unwrap();
            b.store.execute(log, &entry(&format!("b{round}.{i}"))).unwrap();
        }
        a.sync().await;
        b.sync().await;
    }
    a.sync().await;
    let fresh = Phone::new(dir.path(), "fresh", http(&s, "fresh"));
    fresh.sync().await;
    assert_eq!(state(&a.store), state(&b.store));
    assert_eq!(state(&fresh.store), state(&a.store));
    let Record::PatrolLog { patrol_log: l } = fresh.store.get(log).unwrap() else { panic!("kind") };
    assert_eq!(l.entries.len(), 24, "every entry once: nothing lost, nothing doubled");
    let ids: BTreeSet<_> = l.entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 24);
    s.shutdown().await.unwrap();
}
on_both!(duplicated_and_replayed_rounds_are_harmless);

async fn the_cost_of_a_sync_follows_what_changed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = TestStorage::new(backend).await;
    let s = server(dir.path(), &storage).await;
    let a = Phone::new(dir.path(), "disp-1", http(&s, "disp-1"));
    let ids: Vec<DocId> =
        (0..500).map(|i| a.store.create(&report(&format!("r{i}"))).unwrap()).collect();
    a.sync().await;

    // A fresh device gets stored documents, not a replay of the log.
    let device = http(&s, "disp-2");
    let counting = Counting::new(device.transport.clone());
    let counts = counting.counts.clone();
    let b = Phone::new(dir.path(), "disp-2", device.map(|_| counting));
    let first = b.sync().await;
    assert_eq!(counts.whole_docs.load(Ordering::SeqCst), 500);
    assert_eq!(counts.change_docs.load(Ordering::SeqCst), 0);
    assert_eq!(first.docs_pulled, 500);
    assert_eq!(state(&b.store), state(&a.store));

    // Nothing changed: one small request, whatever the number of documents.
    let (r0, b0) = counts.snapshot();
    b.sync().await;
    let (r1, b1) = counts.snapshot();
    assert_eq!(r1 - r0, 1, "reconnect with nothing changed is one request");
    assert!(b1 - b0 <= 512, "and {} bytes", b1 - b0);

    // One document changed elsewhere: at most two requests and 2 KB.
    a.store.execute(ids[123], &Command::CommentReport { text: "一条新评论".into() }).unwrap();
    let pushed = a.sync().await;
    assert_eq!(
        (pushed.docs_pushed, pushed.changes_pulled),
        (1, 0),
        "the pusher's own change is not echoed back"
    );
    let changes_before = counts.change_docs.load(Ordering::SeqCst);
    b.sync().await;
    let (r2, b2) = counts.snapshot();
    assert!(r2 - r1 <= 2, "{} requests", r2 - r1);
    assert!(b2 - b1 <= 2048, "{} bytes", b2 - b1);
    assert_eq!(counts.change_docs.load(Ordering::SeqCst) - changes_before, 1);
    assert_eq!(b.store.heads(ids[123]).unwrap(), a.store.heads(ids[123]).unwrap());
    s.shutdown().await.unwrap();
}
on_both!(the_cost_of_a_sync_follows_what_changed);
