//! A phone works offline through 10,000 edits across 500 documents while two other phones edit
//! 50 of the same documents online; then it syncs once: the sync completes, all phones
//! converge, and every edit of all three is in every copy. The figures (time, bytes, requests)
//! are printed; `cargo test --release -p fieldsync-tests --test long_offline -- --nocapture`
//! gives the ones of the closing note.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use automerge::ChangeHash;
use fieldsync_core::model::*;
use fieldsync_core::{DocId, Store};
use fieldsync_server::{Server, ServerConfig};
use fieldsync_tests::phone::{Counting, Phone, enroll_http};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";
const REPORTS: usize = 400;
const PATROLS: usize = 50;
const CASES: usize = 50;
const OFFLINE_EDITS: usize = 10_000;
/// Documents the online phones edit too, and edits each of them makes.
const SHARED: usize = 50;
const ONLINE_EDITS: usize = 500;

/// The three kinds of documents, each with the key of what gets appended to.
#[derive(Clone)]
enum Target {
    Report(DocId),
    Patrol(DocId),
    Case(DocId, String),
}

impl Target {
    fn id(&self) -> DocId {
        match self {
            Target::Report(id) | Target::Patrol(id) | Target::Case(id, _) => *id,
        }
    }

    /// Makes one edit carrying the unique `text`: a comment, a patrol entry, or text typed at
    /// the start of a session's notes.
    fn edit(&self, store: &Store, text: String) {
        let cmd = match self {
            Target::Report(_) => Command::CommentReport { text },
            Target::Patrol(_) => Command::AddPatrolEntry {
                entry: NewEntry {
                    kind: EntryKind::Observation,
                    text,
                    location: None,
                    photos: vec![],
                    checkpoint: None,
                },
            },
            Target::Case(_, session) => Command::EditNotes {
                session: session.clone(),
                pos: 0,
                delete: 0,
                insert: format!("[{text}]"),
            },
        };
        store.execute(self.id(), &cmd).unwrap();
    }
}

/// Every text a record holds that edits append: comments, entries, notes.
fn texts(record: &Record) -> String {
    match record {
        Record::Report { report: r } => {
            r.comments.iter().map(|c| format!("[{}]", c.text)).collect()
        }
        Record::PatrolLog { patrol_log: p } => {
            p.entries.iter().map(|e| format!("[{}]", e.text)).collect()
        }
        Record::MediationCase { mediation_case: c } => {
            c.sessions.iter().map(|s| s.notes.clone()).collect()
        }
        Record::Bulletin { bulletin: b } => {
            b.acknowledgements.iter().map(|a| format!("[{}]", a.by)).collect()
        }
        Record::Visit { visit: v } => v.findings.iter().map(|f| f.text.clone()).collect(),
        Record::Deliberation { deliberation: d } => {
            let comments = d.comments.iter().map(|c| c.text.clone());
            comments.chain(d.meetings.iter().map(|m| m.minutes.clone())).collect()
        }
    }
}

fn heads(store: &Store) -> BTreeMap<DocId, Vec<ChangeHash>> {
    store.doc_ids().unwrap().into_iter().map(|id| (id, store.heads(id).unwrap())).collect()
}

fn create_documents(store: &Store) -> Vec<Target> {
    let mut targets = Vec::new();
    for i in 0..REPORTS {
        let id = store
            .create(&NewRecord::Report {
                report: NewReport {
                    scope: GRID.into(),
                    category: ReportCategory::IllegalConstruction,
                    title: format!("Roof-top extension #{i}"),
                    description: "A room built on the roof without a permit.".into(),
                    location: None,
                    photos: vec![],
                },
            })
            .unwrap();
        targets.push(Target::Report(id));
    }
    for i in 0..PATROLS {
        let id = store
            .create(&NewRecord::PatrolLog {
                patrol_log: NewPatrol {
                    scope: GRID.into(),
                    area: format!("Scenic trail {i}"),
                    members: vec![TeamMember {
                        user: "patrol-zhao".into(),
                        name: "Zhao".into(),
                        kind: MemberKind::Police,
                    }],
                    checkpoints: vec![],
                },
            })
            .unwrap();
        targets.push(Target::Patrol(id));
    }
    for i in 0..CASES {
        let id = store
            .create(&NewRecord::MediationCase {
                mediation_case: NewCase {
                    scope: GRID.into(),
                    category: CaseCategory::Neighbour,
                    place: format!("Mediation room {i}"),
                    parties: vec![Party {
                        name: "张三".into(),
                        role: String::new(),
                        contact: String::new(),
                    }],
                    mediators: vec![],
                },
            })
            .unwrap();
        let applied = store
            .execute(id, &Command::AddSession { attendees: vec![], notes: "notes:".into() })
            .unwrap();
        targets.push(Target::Case(id, applied.item.unwrap()));
    }
    targets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_offline_edits_merge_with_concurrent_online_work() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    let server = Server::start(&config).await.unwrap();
    let away = enroll_http(&server, "patrol-zhao").map(Counting::new);
    let counts = away.transport.counts.clone();
    let away = Phone::new(dir.path(), "patrol-zhao", away);
    let desk_a = Phone::new(dir.path(), "dispatch-wu", enroll_http(&server, "dispatch-wu"));
    let desk_b = Phone::new(dir.path(), "dispatch-sun", enroll_http(&server, "dispatch-sun"));

    // Everyone starts with the same 500 documents.
    let targets = create_documents(&away.store);
    away.sync().await;
    desk_a.sync().await;
    desk_b.sync().await;
    assert_eq!(desk_b.store.doc_ids().unwrap().len(), targets.len());

    // Offline: 10,000 edits spread over all documents (every tenth goes to the shared ones);
    // meanwhile the two desks edit the 50 shared documents, syncing every 100 edits.
    let started = Instant::now();
    for n in 0..OFFLINE_EDITS {
        // The k-th edit that is not for the shared documents goes to document k mod 500.
        let target = if n % 10 == 0 {
            &targets[(n / 10) % SHARED]
        } else {
            &targets[(n - n / 10 - 1) % targets.len()]
        };
        target.edit(&away.store, format!("zhao {n}"));
    }
    let offline_secs = started.elapsed().as_secs_f64();
    for n in 0..ONLINE_EDITS {
        targets[n % SHARED].edit(&desk_a.store, format!("wu {n}"));
        targets[(n * 7) % SHARED].edit(&desk_b.store, format!("sun {n}"));
        if n % 100 == 99 {
            desk_a.sync().await;
            desk_b.sync().await;
        }
    }
    assert_eq!(away.store.sync_status().unwrap().pending_docs, targets.len() as i64);

    // Back in signal: one sync.
    let (requests_before, bytes_before) = counts.snapshot();
    let up_before = counts.bytes_up.load(std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let summary = away.sync().await;
    let sync_secs = started.elapsed().as_secs_f64();
    let (requests, bytes) = counts.snapshot();
    let up = counts.bytes_up.load(std::sync::atomic::Ordering::SeqCst) - up_before;
    println!(
        "{OFFLINE_EDITS} offline edits over {} documents in {offline_secs:.1} s; then one sync: \
         {sync_secs:.2} s, {} requests, {} B up, {} B down; {} documents pushed, {} pulled",
        targets.len(),
        requests - requests_before,
        up,
        bytes - bytes_before - up,
        summary.docs_pushed,
        summary.docs_pulled,
    );
    assert_eq!(away.store.sync_status().unwrap().pending_docs, 0);
    assert_eq!(summary.docs_rejected + summary.docs_failed, 0);
    assert_eq!(summary.docs_pulled, SHARED as i64, "the desks' edits came back");

    desk_a.sync().await;
    desk_b.sync().await;
    let expected = heads(&away.store);
    assert_eq!(expected.len(), targets.len());
    assert!(heads(&desk_a.store) == expected, "desk A converged");
    assert!(heads(&desk_b.store) == expected, "desk B converged");

    // Nothing lost: every edit of all three is in the copy (the desks' copies have the same
    // heads, so the same content).
    let mut all = String::new();
    for t in &targets {
        all.push_str(&texts(&away.store.get(t.id()).unwrap()));
        all.push('|');
    }
    for n in 0..OFFLINE_EDITS {
        assert!(all.contains(&format!("[zhao {n}]")), "zhao {n} lost");
    }
    for n in 0..ONLINE_EDITS {
        assert!(all.contains(&format!("[wu {n}]")), "wu {n} lost");
        assert!(all.contains(&format!("[sun {n}]")), "sun {n} lost");
    }
    for store in [&away.store, &desk_a.store, &desk_b.store] {
        store.integrity_check().unwrap();
    }
}
