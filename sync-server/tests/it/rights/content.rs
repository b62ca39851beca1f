//! The server validates what the phone validates: record content past a limit, or a field the
//! schema does not know, pushed as changes to a stored record or whole as a new one, is refused
//! `invalid_document` and nothing of it is stored.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use fieldsync_core::DocId;
use fieldsync_core::model::{
    Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::{PushDoc, PushOutcome};
use proptest::prelude::*;

use super::*;

/// Content that breaks a rule, written with raw Automerge operations (the phone's commands
/// would refuse it); `n` says how far past the limit.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A title of `200 + n` characters (the phone allows 200).
    LongTitle,
    /// A field the schema does not know, holding `n` kB.
    UnknownField,
    /// `201 + n` photo references (the phone allows 200).
    ManyPhotos,
    /// A latitude past 90 and a longitude past ±180.
    BadLocation,
    /// A comment dated 1970.
    Dated1970,
    /// A comment map with a key the schema does not know.
    UnknownKeyInComment,
    /// A description of `10,000 + n` characters.
    LongDescription,
    /// Bytes where a string belongs.
    Bytes,
}

const FAULTS: [Fault; 8] = [
    Fault::LongTitle,
    Fault::UnknownField,
    Fault::ManyPhotos,
    Fault::BadLocation,
    Fault::Dated1970,
    Fault::UnknownKeyInComment,
    Fault::LongDescription,
    Fault::Bytes,
];

fn list(doc: &AutoCommit, key: &str) -> automerge::ObjId {
    match doc.get(ROOT, key).unwrap() {
        Some((_, obj)) => obj,
        None => panic!("no {key}"),
    }
}

fn comment(doc: &mut AutoCommit, at: i64, extra: bool) {
    let comments = list(doc, "comments");
    let item = doc.insert_object(&comments, doc.length(&comments), ObjType::Map).unwrap();
    doc.put(&item, "id", "c1").unwrap();
    doc.put(&item, "at", ScalarValue::Timestamp(at)).unwrap();
    doc.put(&item, "by", "resident-1").unwrap();
    doc.put(&item, "text", "看这里").unwrap();
    if extra {
        doc.put(&item, "payload", "x").unwrap();
    }
}

impl Fault {
    fn apply(self, doc: &mut AutoCommit, n: usize) {
        match self {
            Fault::LongTitle => doc.put(ROOT, "title", "违".repeat(201 + n)).unwrap(),
            Fault::UnknownField => doc.put(ROOT, "extra", "x".repeat(1024 * n.max(1))).unwrap(),
            Fault::ManyPhotos => {
                let photos = list(doc, "photos");
                for i in 0..201 + n {
                    let p = doc.insert_object(&photos, doc.length(&photos), ObjType::Map).unwrap();
                    doc.put(&p, "hash", format!("{:064x}", i + 1)).unwrap();
                    doc.put(&p, "size", ScalarValue::Uint(1000)).unwrap();
                    doc.put(&p, "media_type", "image/jpeg").unwrap();
                }
            }
            Fault::BadLocation => {
                let loc = doc.put_object(ROOT, "location", ObjType::Map).unwrap();
                doc.put(&loc, "lat", 1e308).unwrap();
                doc.put(&loc, "lon", -999.0 - n as f64).unwrap();
                doc.put(&loc, "accuracy", 5.0).unwrap();
                doc.put(&loc, "address", "").unwrap();
            }
            Fault::Dated1970 => comment(doc, n as i64, false),
            Fault::UnknownKeyInComment => comment(doc, 1_700_000_000_000, true),
            Fault::LongDescription => {
                let text = doc.put_object(ROOT, "description", ObjType::Text).unwrap();
                doc.splice_text(&text, 0, 0, &"述".repeat(10_001 + n)).unwrap();
            }
            Fault::Bytes => doc.put(ROOT, "title", ScalarValue::Bytes(vec![7; n + 1])).unwrap(),
        }
        doc.commit();
    }
}

/// How the faulty content reaches the server.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// As changes to a record the server holds.
    Changes,
    /// As the changes creating a new record.
    Creation,
    /// As a new record's saved document.
    Saved,
}

/// A resident's new report with `fault` in it, pushed `way`; asserts it is refused
/// `invalid_document` and nothing of it is stored.
async fn push_fault(server: &TestServer, resident: &Phone, fault: Fault, n: usize, way: Way) {
    let id = resident.store.create(&report_in(GRID)).unwrap();
    let mut base = vec![];
    if let Way::Changes = way {
        acked(server, resident, id).await;
        base = resident.heads(id);
    }
    let mut doc = resident.store.load(id).unwrap().with_actor(ActorId::from(resident.actor()));
    fault.apply(&mut doc, n);
    let push = match way {
        Way::Saved => PushDoc {
            doc: id,
            changes: doc.save(),
            heads: protocol::to_wire(&doc.get_heads()),
            signed: vec![],
        },
        _ => PushDoc {
            doc: id,
            changes: doc.get_changes(&base).iter().flat_map(|c| c.raw_bytes().to_vec()).collect(),
            heads: protocol::to_wire(&doc.get_heads()),
            signed: vec![],
        },
    };
    let before = stored(server, id).await;
    let resp = server.sync(&resident.request(None, "", vec![push])).await.unwrap();
    let what = format!("{fault:?} n={n} {way:?}");
    match &resp.results[0].outcome {
        PushOutcome::Rejected { code, message } => {
            assert_eq!(code, "invalid_document", "{what}: {message}");
        }
        other => panic!("{what}: expected invalid_document, got {other:?}"),
    }
    assert_eq!(stored(server, id).await, before, "{what}: nothing stored");
}

async fn each_fault_the_probe_found_is_refused_pushed_any_way(backend: Backend) {
    let server = start_on(backend).await;
    let resident = Phone::new("resident-1");
    enroll_as(server.running.server(), &resident, Role::Resident, None, &[GRID]);
    for fault in FAULTS {
        for way in [Way::Changes, Way::Creation, Way::Saved] {
            push_fault(&server, &resident, fault, 200, way).await;
        }
    }
    // 1,000 photo references, a 50,000-character title, a 200 kB unknown field, as found.
    push_fault(&server, &resident, Fault::ManyPhotos, 799, Way::Changes).await;
    push_fault(&server, &resident, Fault::LongTitle, 49_799, Way::Changes).await;
    push_fault(&server, &resident, Fault::UnknownField, 200, Way::Creation).await;
}
on_both!(each_fault_the_probe_found_is_refused_pushed_any_way);

/// A patrol log of one member, `patrol-li`, pushed and acknowledged.
async fn patrol(server: &TestServer, li: &Phone) -> DocId {
    let member =
        TeamMember { user: "patrol-li".into(), name: "李".into(), kind: MemberKind::Police };
    let id = li
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: ELSEWHERE.into(),
                area: "北坡".into(),
                members: vec![member],
                checkpoints: vec![],
            },
        })
        .unwrap();
    acked(server, li, id).await;
    id
}

/// Appends an entry with raw operations (the phone's command would refuse it).
fn raw_entry(doc: &mut AutoCommit, at: i64) {
    let entries = list(doc, "entries");
    let item = doc.insert_object(&entries, doc.length(&entries), ObjType::Map).unwrap();
    for (k, v) in [("id", "e-raw"), ("by", "patrol-li"), ("kind", "observation"), ("text", "x")] {
        doc.put(&item, k, v).unwrap();
    }
    doc.put(&item, "at", ScalarValue::Timestamp(at)).unwrap();
    doc.put(&item, "location", ScalarValue::Null).unwrap();
    doc.put(&item, "checkpoint", ScalarValue::Null).unwrap();
    doc.put_object(&item, "photos", ObjType::List).unwrap();
    doc.commit();
}

async fn patrol_entries_dated_1970_or_added_to_a_finished_patrol_are_refused(backend: Backend) {
    let server = start_on(backend).await;
    let li = Phone::new("patrol-li");
    enroll_as(server.running.server(), &li, Role::Patrol, Some(PatrolKind::Police), &[ELSEWHERE]);
    let id = patrol(&server, &li).await;
    let base = li.heads(id);
    let mut doc = li.store.load(id).unwrap().with_actor(ActorId::from(li.actor()));
    raw_entry(&mut doc, 0);
    let push = PushDoc {
        doc: id,
        changes: doc.get_changes(&base).iter().flat_map(|c| c.raw_bytes().to_vec()).collect(),
        heads: protocol::to_wire(&doc.get_heads()),
        signed: vec![],
    };
    let before = stored(&server, id).await;
    let resp = server.sync(&li.request(None, "", vec![push])).await.unwrap();
    assert!(
        matches!(&resp.results[0].outcome, PushOutcome::Rejected { code, message }
            if code == "invalid_document" && message.contains("entry.at")),
        "{:?}",
        resp.results[0].outcome
    );
    assert_eq!(stored(&server, id).await, before);

    li.store.execute(id, &Command::FinishPatrol { note: String::new() }).unwrap();
    acked(&server, &li, id).await;
    let base = li.heads(id);
    let mut doc = li.store.load(id).unwrap().with_actor(ActorId::from(li.actor()));
    raw_entry(&mut doc, 1_700_000_000_000);
    let push = PushDoc {
        doc: id,
        changes: doc.get_changes(&base).iter().flat_map(|c| c.raw_bytes().to_vec()).collect(),
        heads: protocol::to_wire(&doc.get_heads()),
        signed: vec![],
    };
    let resp = server.sync(&li.request(None, "", vec![push])).await.unwrap();
    assert!(
        matches!(&resp.results[0].outcome, PushOutcome::Rejected { code, message }
            if code == "forbidden" && message.contains("patrol.entries")),
        "{:?}",
        resp.results[0].outcome
    );
    // The phone refuses the same entry itself, typed.
    let entry = NewEntry {
        kind: EntryKind::Observation,
        text: "x".into(),
        location: None,
        photos: vec![],
        checkpoint: None,
    };
    assert!(li.store.execute(id, &Command::AddPatrolEntry { entry }).is_err());
}
on_both!(patrol_entries_dated_1970_or_added_to_a_finished_patrol_are_refused);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any record content past a limit, pushed whole or as changes, is refused and stores
    /// nothing.
    #[test]
    fn content_past_a_limit_is_refused_and_stores_nothing(
        fault in proptest::sample::select(FAULTS.to_vec()),
        n in 0usize..2_000,
        way in proptest::sample::select(vec![Way::Changes, Way::Creation, Way::Saved]),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let server = start().await;
            let resident = Phone::new("resident-1");
            enroll_as(server.running.server(), &resident, Role::Resident, None, &[GRID]);
            push_fault(&server, &resident, fault, n, way).await;
        });
    }
}
