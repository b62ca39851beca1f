//! The projection read through a [`ReadOnce`] view against the same code reading the document
//! one key at a time (the reference): the same rows, search text, conflicts and errors, and the
//! same photo references, on merged, conflicted and damaged documents.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};

use super::Projection;
use crate::id::DocId;
use crate::model::command::{apply, create};
use crate::model::read_tests::{AT, conflicted_report, report, stamp};
use crate::model::{
    Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, PhotoRef, ReadOnce, TeamMember,
};
use crate::store::blob_refs;
use crate::time::Timestamp;

fn photo(n: u8) -> PhotoRef {
    PhotoRef {
        hash: format!("{n:02x}").repeat(32),
        size: 1000 + n as i64,
        media_type: "image/jpeg".into(),
    }
}

/// Both reads give the same projection (or the same error) and the same photo references;
/// returns the projection's debug form.
fn same(doc: &AutoCommit, id: DocId) -> String {
    let view = ReadOnce::new(doc);
    let fast = Projection::read(&view, id).map(|p| format!("{p:?}")).map_err(|e| e.to_string());
    let reference = Projection::read(doc, id).map(|p| format!("{p:?}")).map_err(|e| e.to_string());
    assert_eq!(fast, reference);
    assert_eq!(Projection::of(doc, id).map(|p| format!("{p:?}")).map_err(|e| e.to_string()), fast);
    if let Ok(kind) = crate::model::doc::read_header(doc, id).map(|h| h.kind) {
        let photos = |r: crate::error::Result<Vec<PhotoRef>>| r.map_err(|e| e.to_string());
        assert_eq!(
            photos(blob_refs::scan(&view, kind, id)),
            photos(blob_refs::scan(doc, kind, id))
        );
    }
    fast.unwrap_or_else(|e| e)
}

#[test]
fn a_report_with_a_timeline_comments_and_photos_projects_the_same() {
    let (id, mut doc) = report();
    same(&doc, id);
    for (i, c) in [
        Command::AcceptReport { note: "on it".into() },
        Command::DispatchReport {
            assignee: "officer-1".into(),
            deadline: Timestamp::from_millis(AT + 86_400_000),
            note: "today".into(),
        },
        Command::CommentReport { text: "第 1 次 still there".into() },
        Command::AddPhoto { photo: photo(3), entry: None },
        Command::CommentReport { text: "已拆除".into() },
    ]
    .iter()
    .enumerate()
    {
        apply(&mut doc, id, &stamp("cc-1", AT + 1 + i as i64), c).expect("command");
    }
    let projected = same(&doc, id);
    assert!(projected.contains("officer-1") && projected.contains("已拆除"), "{projected}");
}

#[test]
fn concurrent_registers_project_the_same_conflict() {
    let (id, a) = conflicted_report();
    let projected = same(&a, id);
    assert!(projected.contains("conflicted: true"), "{projected}");
    let (id, doc) = report();
    assert!(same(&doc, id).contains("conflicted: false"));
}

#[test]
fn a_patrol_with_photos_in_its_entries_projects_the_same() {
    let new = NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: "jl/area".into(),
            area: "valley".into(),
            members: vec![TeamMember {
                user: "p-1".into(),
                name: "Li".into(),
                kind: MemberKind::Police,
            }],
            checkpoints: vec![],
        },
    };
    let (id, mut doc) = create(&new, &stamp("p-1", AT), ActorId::random()).expect("create");
    for i in 0..4u8 {
        let entry = NewEntry {
            kind: EntryKind::Observation,
            text: format!("entry {i}"),
            location: None,
            photos: vec![photo(10 + i)],
            checkpoint: None,
        };
        apply(&mut doc, id, &stamp("p-1", AT + i64::from(i)), &Command::AddPatrolEntry { entry })
            .expect("entry");
    }
    let projected = same(&doc, id);
    assert!(projected.contains("entry 3"), "{projected}");
}

#[test]
fn damaged_documents_fail_the_same_way() {
    let (id, mut doc) = report();
    let mut typed = doc.fork();
    typed.put(ROOT, "title", 7i64).unwrap();
    assert!(same(&typed, id).contains("title"));
    let mut listed = doc.fork();
    listed.put_object(ROOT, "timeline", automerge::ObjType::Map).unwrap();
    same(&listed, id);
    assert!(Projection::of(&listed, id).is_err());
    same(&AutoCommit::new(), id);
    assert!(Projection::of(&AutoCommit::new(), id).is_err());
}
