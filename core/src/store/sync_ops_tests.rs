//! The push half of a sync as the store keeps it: what an acknowledgement leaves pending.

use super::*;
use crate::model::{Command, NewRecord, NewReport, ReportCategory};

fn report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: "jl/cc/grid-7".into(),
            category: ReportCategory::SafetyHazard,
            title: title.into(),
            description: String::new(),
            location: None,
            photos: vec![],
        },
    }
}

/// The server's answer to `pushed`: every document acknowledged at the heads it was sent with.
fn acked(pushed: &[PushDoc]) -> Vec<PushResult> {
    pushed
        .iter()
        .map(|p| PushResult { doc: p.doc, outcome: PushOutcome::Acked { heads: p.heads.clone() } })
        .collect()
}

/// An acknowledged document is done with unless it was written after it was pushed: an edit
/// made while the push was on the way stays to be pushed, whether or not the document is
/// still loaded when the answer comes (the answer reads its heads again only when it changed).
#[test]
fn an_edit_made_while_a_push_was_on_the_way_stays_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    // More documents than the writer keeps loaded, so that the first ones are on disk only
    // when the answer comes.
    let ids: Vec<DocId> =
        (0..80).map(|i| store.create(&report(&format!("井盖缺失 {i}"))).unwrap()).collect();
    let none = HashSet::new();
    let (pushed, more) = store.push_batch(1000, usize::MAX, &none).unwrap();
    assert!(!more);
    assert_eq!(pushed.len(), ids.len());
    // Edited after the push left: the first document (evicted by now) and the last (loaded).
    let edit = Command::CommentReport { text: "还在".into() };
    for id in [ids[0], ids[79]] {
        store.execute(id, &edit).unwrap();
    }
    store.apply_push_results(&pushed, &acked(&pushed)).unwrap();
    let (again, _) = store.push_batch(1000, usize::MAX, &none).unwrap();
    let mut left: Vec<DocId> = again.iter().map(|p| p.doc).collect();
    left.sort();
    let mut edited = vec![ids[0], ids[79]];
    edited.sort();
    assert_eq!(left, edited, "only the documents edited since their push are pending");
    store.apply_push_results(&again, &acked(&again)).unwrap();
    let (rest, _) = store.push_batch(1000, usize::MAX, &none).unwrap();
    assert!(rest.is_empty(), "nothing left to push: {:?}", rest.len());
}
