//! Regression tests of what fuzzing (`fuzz/`) found, on the server's ingestion and the phone's
//! merge, each with the bytes that showed it.
//!
//! A change's time (ms since 1970) is delta-encoded in Automerge's change graph, and Automerge
//! panics ("delta value overflows i64") when the difference between neighbouring times does
//! not fit in an i64. A change whose time is `i64::MIN + t` (t, the time of the document's
//! latest change) applies, since its own difference is exactly `i64::MIN`; but every change
//! after it, at any later time, then overflows: on the server every honest push to the
//! document was refused as malformed for good, and on a phone that had merged it, every
//! command on the record panicked inside the store. Both now refuse such a change up front.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::{ActorId, AutoCommit, Change};
use fieldsync_core::model::{Command, Location, NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::{CoreError, DocId, Store};
use fieldsync_server::fuzzing::{self, Author, Outcome, Stored};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

fn report() -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::IllegalConstruction,
            title: "roof-top building".into(),
            description: "about 20 m²".into(),
            location: Some(Location { lat: 43.88, lon: 125.32, accuracy: 8.0, address: "".into() }),
            photos: vec![],
        },
    }
}

fn phone(dir: &tempfile::TempDir, name: &str, user: &str, actor: &ActorId) -> Store {
    let store = Store::open(dir.path().join(format!("{name}.db"))).unwrap();
    store.set_user(user).unwrap();
    store.set_actor(actor.clone()).unwrap();
    store
}

fn bytes_of(changes: &[Change]) -> Vec<u8> {
    changes.iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
}

/// A change made again with another time (and so another hash).
fn retimed(change: &Change, time: i64) -> Change {
    let mut expanded = change.decode();
    expanded.time = time;
    Change::from(expanded)
}

struct Case {
    _dir: tempfile::TempDir,
    id: DocId,
    /// The report as the server stores it.
    saved: Vec<u8>,
    /// The dispatcher's comment, made at `i64::MIN` plus the time of the report's latest change.
    hostile: Change,
    dispatcher: Author,
    /// The resident's store, holding the report.
    resident: Store,
    /// The resident's honest comment after the report as stored.
    honest: Vec<u8>,
}

fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let (resident_actor, dispatcher_actor) = (ActorId::random(), ActorId::random());
    let resident = phone(&dir, "resident", "resident-1", &resident_actor);
    let id = resident.create(&report()).unwrap();
    let mut doc = resident.load(id).unwrap();
    let saved = doc.save();
    let heads = doc.get_heads();
    let latest = doc.get_changes(&[]).iter().map(Change::timestamp).max().unwrap();

    let dispatcher = phone(&dir, "dispatcher", "dispatcher-1", &dispatcher_actor);
    dispatcher.merge_remote(id, &saved).unwrap();
    dispatcher.execute(id, &Command::CommentReport { text: "on our list".into() }).unwrap();
    let comment = dispatcher.load(id).unwrap().get_changes(&heads);
    assert_eq!(comment.len(), 1);
    let hostile = retimed(&comment[0], i64::MIN + latest);

    let other = phone(&dir, "other", "resident-1", &resident_actor);
    other.merge_remote(id, &saved).unwrap();
    other.execute(id, &Command::CommentReport { text: "a second storey now".into() }).unwrap();
    let honest = bytes_of(&other.load(id).unwrap().get_changes(&heads));
    let dispatcher = Author {
        device: "dispatcher-phone".into(),
        actor: dispatcher_actor.to_bytes().to_vec(),
        profile: Profile {
            user: "dispatcher-1".into(),
            role: Role::Dispatcher,
            patrol: None,
            scopes: vec!["jl".into()],
        },
    };
    Case { _dir: dir, id, saved, hostile, dispatcher, resident, honest }
}

fn malformed(o: &Outcome) -> bool {
    matches!(o, Outcome::Refused { code: "malformed_changes", retry: false })
}

#[test]
fn the_server_refuses_a_change_whose_time_would_overflow_the_next_ones() {
    let c = case();
    let stored = Stored::new(c.id, c.saved.clone(), false).unwrap();
    let bytes = c.hostile.raw_bytes().to_vec();
    let outcome = fuzzing::ingest(c.id, Some(&stored), &bytes, Some(&c.dispatcher)).unwrap();
    assert!(malformed(&outcome), "{outcome:?}");
    // The same comment at its own time is taken, and honest changes after it too.
    let fine = retimed(&c.hostile, 1_795_000_000_000);
    let outcome =
        fuzzing::ingest(c.id, Some(&stored), fine.raw_bytes(), Some(&c.dispatcher)).unwrap();
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let outcome = fuzzing::ingest(c.id, Some(&stored), &c.honest, None).unwrap();
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    // Inside a saved document (pushed whole, as a phone may) it is refused just the same.
    let mut doc = AutoCommit::load(&c.saved).unwrap();
    doc.apply_changes([c.hostile.clone()]).unwrap();
    let whole = doc.save();
    let outcome = fuzzing::ingest(c.id, None, &whole, None).unwrap();
    assert!(malformed(&outcome), "{outcome:?}");
}

#[test]
fn the_phone_refuses_it_and_keeps_working_on_the_record() {
    let c = case();
    let before = c.resident.saved_bytes(c.id).unwrap();
    let merged = c.resident.merge_remote(c.id, c.hostile.raw_bytes());
    assert!(matches!(merged, Err(CoreError::Malformed { .. })), "{merged:?}");
    assert_eq!(c.resident.saved_bytes(c.id).unwrap(), before, "nothing stored");
    // The record stays editable.
    c.resident.execute(c.id, &Command::CommentReport { text: "still there".into() }).unwrap();
    assert_eq!(c.resident.get(c.id).unwrap().header().id, c.id);

    // A saved document holding it, new to the phone, is refused whole.
    let mut doc = AutoCommit::load(&c.saved).unwrap();
    doc.apply_changes([c.hostile.clone()]).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(fresh.path().join("new.db")).unwrap();
    let merged = store.merge_remote(c.id, &doc.save());
    assert!(matches!(merged, Err(CoreError::Malformed { .. })), "{merged:?}");
    assert!(matches!(store.get(c.id), Err(CoreError::NotFound { .. })));
}
