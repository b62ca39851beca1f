//! The record index through the real push path: rows written with each accepted change
//! (creation, dispatch, supervision, patrol entries, case sessions), the same rows rebuilt
//! from the documents by `reindex`, and an empty index filled at start. (Escalations come from
//! the server's own system device, which no phone can enroll as: `index::tests` in the crate
//! pushes one without a device.)

use fieldsync_core::DocId;
use fieldsync_core::model::{
    CaseCategory, Checkpoint, Command, EntryKind, MemberKind, NewCase, NewEntry, NewPatrol,
    NewRecord, Party, ReportStatus, TeamMember,
};
use fieldsync_core::policy::Role;
use fieldsync_core::time::Timestamp;
use fieldsync_server::Storage;
use fieldsync_server::index;
use fieldsync_server::rules::{Priority, Rules};
use fieldsync_server::storage::index::{IndexChange, IndexRow, Outcome};

use crate::common::{GRID, Phone, TestServer, acked, enroll_as, fetch, start_in};

async fn rows(storage: &dyn Storage, docs: &[DocId]) -> Vec<IndexChange> {
    let mut out = Vec::new();
    for d in docs {
        out.push(storage.index_row(*d).await.unwrap().expect("every record is indexed"));
    }
    out
}

/// A report dispatched and supervised, a patrol with entries and a case with a
/// session and an agreement, all pushed by phones; returns the documents.
async fn a_day_of_work(server: &TestServer) -> Vec<DocId> {
    let s = server.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    let report = resident.report("roof-top building");
    acked(server, &resident, report).await;

    // The dispatcher (the tests' default device: a dispatcher of the whole jurisdiction).
    let desk = Phone::new("dispatcher-1");
    fetch(server, &desk, report).await;
    desk.accept(report, "on it");
    let deadline = Timestamp::from_millis(fieldsync_core::time::now_ms() + 86_400_000);
    let dispatch =
        Command::DispatchReport { assignee: "officer-1".into(), deadline, note: String::new() };
    desk.store.execute(report, &dispatch).unwrap();
    desk.store.execute(report, &Command::Supervise { note: "today, please".into() }).unwrap();
    acked(server, &desk, report).await;

    let patrol = desk
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "north trail".into(),
                members: vec![TeamMember {
                    user: "dispatcher-1".into(),
                    name: "Li".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: ["gate", "bridge", "peak"]
                    .iter()
                    .map(|n| Checkpoint { name: n.to_string(), location: None })
                    .collect(),
            },
        })
        .unwrap();
    for (kind, checkpoint) in [
        (EntryKind::CheckpointReached, Some("gate")),
        (EntryKind::HazardFound, None),
        (EntryKind::CheckpointReached, Some("bridge")),
        (EntryKind::CheckpointReached, Some("gate")),
    ] {
        let entry = NewEntry {
            kind,
            text: "seen".into(),
            location: None,
            photos: vec![],
            checkpoint: checkpoint.map(str::to_string),
        };
        desk.store.execute(patrol, &Command::AddPatrolEntry { entry }).unwrap();
    }
    acked(server, &desk, patrol).await;

    let case = desk
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "hall".into(),
                parties: vec![Party {
                    name: "Wang Fang".into(),
                    role: "neighbour".into(),
                    contact: "13800000000".into(),
                }],
                mediators: vec!["dispatcher-1".into()],
            },
        })
        .unwrap();
    acked(server, &desk, case).await;
    let session =
        Command::AddSession { attendees: vec!["dispatcher-1".into()], notes: "talked".into() };
    desk.store.execute(case, &session).unwrap();
    desk.store.execute(case, &Command::RecordAgreement { text: "wall moved".into() }).unwrap();
    acked(server, &desk, case).await;
    vec![report, patrol, case]
}

#[tokio::test]
async fn pushes_keep_the_index_and_reindex_rebuilds_the_same_rows() {
    let server = crate::common::start().await;
    let docs = a_day_of_work(&server).await;
    let storage = server.running.server().storage();
    let kept = rows(storage.as_ref(), &docs).await;

    let IndexRow::Report(r) = &kept[0].row else { panic!("{:?}", kept[0]) };
    assert_eq!(r.status, ReportStatus::Dispatched);
    assert_eq!(r.assignee.as_deref(), Some("officer-1"));
    assert_eq!((r.supervisions, r.reopens), (1, 0));
    assert!(!r.escalated_resolve && !r.escalated_accept);
    assert!(r.accepted_at.is_some() && r.dispatched_at.is_some() && r.resolved_at.is_none());
    assert_eq!(r.submitted_at, Some(r.created_at));
    assert_eq!(r.priority, Priority::High, "illegal construction");
    assert_eq!(r.accept_due - r.created_at, 4 * 3_600_000);
    assert_eq!(r.resolve_due - r.created_at, 72 * 3_600_000);
    assert!(r.description.contains("违章"));
    let IndexRow::PatrolLog(p) = &kept[1].row else { panic!("{:?}", kept[1]) };
    assert_eq!((p.entries, p.checkpoints_reached, p.checkpoints_planned), (4, 2, 3));
    assert_eq!(p.members, vec!["dispatcher-1".to_string()]);
    let IndexRow::MediationCase(c) = &kept[2].row else { panic!("{:?}", kept[2]) };
    assert_eq!((c.sessions, c.outcome), (1, Outcome::Agreed));
    let json = serde_json::to_string(&kept[2].row).unwrap();
    assert!(!json.contains("Wang") && !json.contains("13800000000"), "{json}");

    // Each row carries the seq of its document's last change; the stream resumes from there.
    let log_end = storage.log_end().await.unwrap();
    assert_eq!(kept[2].seq, log_end);
    let changes = storage.index_changes_after(0, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.row.doc()).collect::<Vec<_>>(), docs);

    let done = index::reindex(&storage, &Rules::default()).await.unwrap();
    assert_eq!((done.rows, done.skipped), (3, 0));
    assert_eq!(rows(storage.as_ref(), &docs).await, kept, "rebuilt rows equal the kept ones");

    // Other rules give other due times and priorities on a rebuild.
    let rules =
        Rules::parse("[illegal_construction]\naccept_minutes = 30\npriority = \"urgent\"\n", "t")
            .unwrap();
    index::reindex(&storage, &rules).await.unwrap();
    let IndexRow::Report(r) = storage.index_row(docs[0]).await.unwrap().unwrap().row else {
        panic!()
    };
    assert_eq!((r.accept_due - r.created_at, r.priority), (1_800_000, Priority::Urgent));
}

#[tokio::test]
async fn an_empty_index_is_filled_at_start() {
    let server = crate::common::start().await;
    let docs = a_day_of_work(&server).await;
    let storage = server.running.server().storage();
    let kept = rows(storage.as_ref(), &docs).await;
    // As after the upgrade from version 7: documents, no index.
    storage.clear_index().await.unwrap();
    assert_eq!(storage.index_len().await.unwrap(), 0);
    let dir = server.dir;
    server.running.shutdown().await.unwrap();
    let again = start_in(dir).await;
    let storage = again.running.server().storage();
    assert_eq!(rows(storage.as_ref(), &docs).await, kept);
}
