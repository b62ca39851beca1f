//! The one-pass read ([`read_record`]) against the per-key reference ([`read_record_per_key`]):
//! the same record, conflicts and errors, on merged, conflicted and damaged documents.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};

use crate::id::DocId;
use crate::model::command::{apply, create};
use crate::model::{
    Command, Location, NewRecord, NewReport, PhotoRef, ReportCategory, Stamp, read_record,
    read_record_per_key,
};

pub(crate) const AT: i64 = 1_700_000_000_000;

pub(crate) fn stamp(by: &str, at: i64) -> Stamp {
    Stamp { by: by.into(), at }
}

/// A report with a location and a photo, as created.
pub(crate) fn report() -> (DocId, AutoCommit) {
    let new = NewRecord::Report {
        report: NewReport {
            scope: "jl/cc/grid-7".into(),
            category: ReportCategory::SafetyHazard,
            title: "井盖缺失".into(),
            description: "东门外 manhole".into(),
            location: Some(Location {
                lat: 43.8,
                lon: 125.3,
                accuracy: 8.0,
                address: "新华街 7 号".into(),
            }),
            photos: vec![PhotoRef {
                hash: "ab".repeat(32),
                size: 1234,
                media_type: "image/jpeg".into(),
            }],
        },
    };
    create(&new, &stamp("res-1", AT), ActorId::random()).expect("create")
}

/// Both reads give the same answer (records equal, or the same error).
fn same(doc: &AutoCommit, id: DocId) {
    let fast = read_record(doc, id).map_err(|e| e.to_string());
    let reference = read_record_per_key(doc, id).map_err(|e| e.to_string());
    assert_eq!(fast, reference);
}

#[test]
fn a_record_with_comments_location_and_photos_reads_the_same() {
    let (id, mut doc) = report();
    same(&doc, id);
    for i in 0..5 {
        let c = Command::CommentReport { text: format!("第 {i} 次 still there") };
        apply(&mut doc, id, &stamp("res-1", AT + i), &c).expect("comment");
    }
    apply(&mut doc, id, &stamp("cc-1", AT + 9), &Command::AcceptReport { note: "ok".into() })
        .expect("accept");
    same(&doc, id);
    let record = read_record(&doc, id).expect("read");
    assert!(record.conflicts().is_empty());
}

/// [`report`] accepted on one phone and rejected (and commented) on another, merged: its
/// status holds two concurrent values.
pub(crate) fn conflicted_report() -> (DocId, AutoCommit) {
    let (id, mut doc) = report();
    let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
    let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
    apply(&mut a, id, &stamp("cc-1", AT + 1), &Command::AcceptReport { note: String::new() })
        .expect("accept");
    apply(&mut b, id, &stamp("cc-2", AT + 1), &Command::RejectReport { reason: "dup".into() })
        .expect("reject");
    apply(&mut b, id, &stamp("res-1", AT + 2), &Command::CommentReport { text: "b".into() })
        .expect("comment");
    a.merge(&mut b).expect("merge");
    (id, a)
}

#[test]
fn concurrent_registers_and_appends_read_the_same_conflicts() {
    let (id, a) = conflicted_report();
    same(&a, id);
    let record = read_record(&a, id).expect("read");
    assert!(
        record.conflicts().iter().any(|c| c.field == "status" && c.values.len() == 2),
        "the status conflict is shown: {:?}",
        record.conflicts()
    );
}

#[test]
fn damaged_documents_fail_the_same_way() {
    let (id, mut doc) = report();
    // Another document's id in the header.
    let mut other = doc.fork();
    let header = match other.get(ROOT, "header").unwrap() {
        Some((_, h)) => h,
        None => panic!("no header"),
    };
    other.put(&header, "id", DocId::random().to_string()).unwrap();
    same(&other, id);
    assert!(read_record(&other, id).is_err());
    // A field of the wrong type, and a list where a map belongs.
    let mut typed = doc.fork();
    typed.put(ROOT, "title", 7i64).unwrap();
    same(&typed, id);
    assert!(read_record(&typed, id).is_err());
    let mut listed = doc.fork();
    listed.put_object(ROOT, "location", ObjType::List).unwrap();
    same(&listed, id);
    assert!(read_record(&listed, id).is_err());
    // No header at all.
    same(&AutoCommit::new(), id);
    assert!(read_record(&AutoCommit::new(), id).is_err());
}
