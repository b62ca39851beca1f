//! The store on real SQLite files: merging remote bytes (good and hostile), queries, search,
//! projection rebuild, compaction, schema versions, observers, and readers beside a writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use crate::common::*;
use fieldsync_core::model::*;
use fieldsync_core::store::*;
use fieldsync_core::{CoreError, DocId, Store};

fn all_report_ids(s: &Store, filter: &ReportFilter, limit: i32) -> Vec<DocId> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let p = s.query_reports(filter, &page).expect("query");
        out.extend(p.items.iter().map(|r| r.id));
        match p.next {
            Some(next) => page.after = Some(next),
            None => return out,
        }
    }
}

#[test]
fn merge_creates_and_updates_documents() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a", "resident-1");
    let b = store(&dir, "b", "dispatcher-1");
    let id = a.create(&new_report("sewage")).unwrap();
    let out = b.merge_remote(id, &a.saved_bytes(id).unwrap()).unwrap();
    assert_eq!(out, MergeOutcome { created: true, changed: true });
    // Duplicate delivery is harmless and reports no change.
    let again = b.merge_remote(id, &a.saved_bytes(id).unwrap()).unwrap();
    assert_eq!(again, MergeOutcome { created: false, changed: false });
    // Only the new changes travel the second time.
    let heads = a.heads(id).unwrap();
    a.execute(id, &Command::CommentReport { text: "still there".into() }).unwrap();
    let delta = a.load(id).unwrap().save_after(&heads);
    assert_eq!(b.merge_remote(id, &delta).unwrap(), MergeOutcome { created: false, changed: true });
    assert_eq!(a.get(id).unwrap(), b.get(id).unwrap());
    assert_eq!(
        b.query_reports(&ReportFilter::default(), &PageRequest::first(10)).unwrap().items.len(),
        1
    );
}

#[test]
fn hostile_bytes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a", "resident-1");
    let b = store(&dir, "b", "dispatcher-1");
    let id = a.create(&new_report("noise at night")).unwrap();
    let full = a.saved_bytes(id).unwrap();
    let heads0 = a.heads(id).unwrap();
    a.execute(id, &Command::CommentReport { text: "louder".into() }).unwrap();
    let delta = a.load(id).unwrap().save_after(&heads0);

    // Unknown document: random, truncated, and dependency-less bytes are refused; nothing stored.
    let unknown = DocId::random();
    let mut rng_bytes = vec![0u8; 300];
    for (i, b) in rng_bytes.iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    for bad in [&rng_bytes[..], &full[..full.len() / 2], &full[..full.len() - 1], &[][..]] {
        assert!(matches!(b.merge_remote(unknown, bad), Err(CoreError::Malformed { .. })));
    }
    let r = b.merge_remote(id, &delta);
    assert!(matches!(r, Err(CoreError::MissingDependencies { .. })), "{r:?}");
    // A real document under another id: its header names a different id.
    assert!(matches!(b.merge_remote(unknown, &full), Err(CoreError::Malformed { .. })));
    assert!(b.doc_ids().unwrap().is_empty());

    // Known document: truncated and corrupt bytes change nothing.
    b.merge_remote(id, &full).unwrap();
    let heads = b.heads(id).unwrap();
    let record = b.get(id).unwrap();
    let mut flipped = delta.clone();
    let n = flipped.len();
    flipped[n - 2] ^= 0x40;
    for bad in [&delta[..delta.len() - 3], &flipped[..], &rng_bytes[..]] {
        assert!(
            matches!(b.merge_remote(id, bad), Err(CoreError::Malformed { .. })),
            "{}",
            bad.len()
        );
        assert_eq!(b.heads(id).unwrap(), heads);
    }
    // A document of another kind sent under this id alters its header: refused.
    let patrol = a.create(&new_patrol()).unwrap();
    let patrol_bytes = a.saved_bytes(patrol).unwrap();
    assert!(matches!(b.merge_remote(id, &patrol_bytes), Err(CoreError::Malformed { .. })));
    assert_eq!(b.heads(id).unwrap(), heads);
    assert_eq!(b.get(id).unwrap(), record);
    // Too many bytes at once.
    let huge = vec![0u8; fieldsync_core::limits::MERGE_BYTES + 1];
    assert!(matches!(b.merge_remote(id, &huge), Err(CoreError::InvalidInput { .. })));
    // And after all that, the good delta still applies.
    b.merge_remote(id, &delta).unwrap();
    assert_eq!(b.get(id).unwrap(), a.get(id).unwrap());
}

#[test]
fn oversized_and_malformed_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a", "resident-1");
    let mut cases = Vec::new();
    let base = match new_report("x") {
        NewRecord::Report { report: r } => r,
        _ => unreachable!(),
    };
    cases.push(NewReport { title: "标".repeat(201), ..base.clone() });
    cases.push(NewReport { title: "   ".into(), ..base.clone() });
    cases.push(NewReport { description: "d".repeat(10_001), ..base.clone() });
    cases.push(NewReport { scope: "a//b".into(), ..base.clone() });
    cases.push(NewReport {
        location: Some(Location { lat: 91.0, lon: 0.0, accuracy: 1.0, address: String::new() }),
        ..base.clone()
    });
    cases.push(NewReport {
        location: Some(Location { lat: f64::NAN, lon: 0.0, accuracy: 1.0, address: String::new() }),
        ..base.clone()
    });
    cases.push(NewReport {
        photos: vec![PhotoRef { hash: "xyz".into(), size: 1, media_type: "image/jpeg".into() }],
        ..base.clone()
    });
    for c in cases {
        assert!(matches!(
            s.create(&NewRecord::Report { report: c }),
            Err(CoreError::InvalidInput { .. })
        ));
    }
    assert!(s.doc_ids().unwrap().is_empty());
    assert!(s.create(&NewRecord::Report { report: base }).is_ok());
}

#[test]
fn queries_filter_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a", "dispatcher-1");
    let mut ids = Vec::new();
    for i in 0..23 {
        let mut r = match new_report(&format!("report {i}")) {
            NewRecord::Report { report: r } => r,
            _ => unreachable!(),
        };
        r.scope = format!("jl/cc/street-1/grid-{}", i % 3);
        ids.push(s.create(&NewRecord::Report { report: r }).unwrap());
    }
    // A scope that shares a prefix string but is not below grid-1.
    let mut other = match new_report("neighbour") {
        NewRecord::Report { report: r } => r,
        _ => unreachable!(),
    };
    other.scope = "jl/cc/street-1/grid-1x".into();
    let neighbour = s.create(&NewRecord::Report { report: other }).unwrap();

    for id in &ids[..6] {
        s.execute(*id, &Command::AcceptReport { note: String::new() }).unwrap();
    }
    s.execute(
        ids[0],
        &Command::DispatchReport {
            assignee: "officer-1".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
            note: String::new(),
        },
    )
    .unwrap();
    s.execute(
        ids[3],
        &Command::DispatchReport {
            assignee: "officer-1".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_950_000_000_000),
            note: String::new(),
        },
    )
    .unwrap();

    let all = all_report_ids(&s, &ReportFilter::default(), 5);
    assert_eq!(all.len(), 24);
    // Newest first across pages (reports made in the same millisecond: the later one first).
    let newest_first: Vec<DocId> =
        std::iter::once(neighbour).chain(ids.iter().rev().copied()).collect();
    assert_eq!(all, newest_first);
    let mut dedup = all;
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 24, "paging neither repeats nor skips");

    let grid1 = ReportFilter { scope: Some("jl/cc/street-1/grid-1".into()), ..Default::default() };
    let grid1_ids: Vec<DocId> =
        ids.iter().enumerate().rev().filter(|(i, _)| i % 3 == 1).map(|(_, id)| *id).collect();
    assert_eq!(all_report_ids(&s, &grid1, 3), grid1_ids);
    let street = ReportFilter { scope: Some("jl/cc/street-1".into()), ..Default::default() };
    assert_eq!(all_report_ids(&s, &street, 50).len(), 24);

    let accepted_grid0 = ReportFilter {
        scope: Some("jl/cc/street-1/grid-0".into()),
        statuses: vec![ReportStatus::Accepted],
        ..Default::default()
    };
    // ids 0 and 3 were dispatched; of ids 0..6 in grid-0 (0, 3) none stays accepted.
    assert_eq!(all_report_ids(&s, &accepted_grid0, 50).len(), 0);
    let dispatched =
        ReportFilter { statuses: vec![ReportStatus::Dispatched], ..Default::default() };
    assert_eq!(all_report_ids(&s, &dispatched, 50).len(), 2);
    // Overdue as of a time between the two deadlines.
    let overdue = ReportFilter {
        overdue_at: Some(fieldsync_core::time::Timestamp::from_millis(1_920_000_000_000)),
        ..Default::default()
    };
    assert_eq!(all_report_ids(&s, &overdue, 50), vec![ids[0]]);
    let mine = ReportFilter { assignee: Some("officer-1".into()), ..Default::default() };
    assert_eq!(all_report_ids(&s, &mine, 50).len(), 2);

    assert!(matches!(
        s.query_reports(
            &ReportFilter::default(),
            &PageRequest { limit: 10, after: Some("garbage".into()) }
        ),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        s.query_reports(&ReportFilter::default(), &PageRequest::first(0)),
        Err(CoreError::InvalidInput { .. })
    ));

    let p = s.create(&new_patrol()).unwrap();
    let c = s.create(&new_case()).unwrap();
    let by_member = PatrolFilter { member: Some("vol-zhao".into()), ..Default::default() };
    assert_eq!(s.query_patrols(&by_member, &PageRequest::first(10)).unwrap().items[0].id, p);
    let nobody = PatrolFilter { member: Some("someone-else".into()), ..Default::default() };
    assert!(s.query_patrols(&nobody, &PageRequest::first(10)).unwrap().items.is_empty());
    let by_mediator = CaseFilter {
        mediator: Some("med-liu".into()),
        statuses: vec![CaseStatus::Intake],
        ..Default::default()
    };
    assert_eq!(s.query_cases(&by_mediator, &PageRequest::first(10)).unwrap().items[0].id, c);
}

#[test]
fn search_finds_chinese_and_ascii() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a", "med-chen");
    let r = s.create(&new_report("屋顶违建 Rooftop shed")).unwrap();
    let c = s.create(&new_case()).unwrap();
    let session = s
        .execute(
            c,
            &Command::AddSession {
                attendees: vec![], notes: "游客与船老板就退票发生争执".into()
            },
        )
        .unwrap()
        .item
        .unwrap();
    let hits = s.search("违章搭建", None, 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![r]);
    assert_eq!(s.search("rooftop", None, 10).unwrap()[0].id, r);
    assert_eq!(s.search("退票", None, 10).unwrap()[0].id, c, "two-character query");
    assert_eq!(s.search("船老板", Some(Kind::MediationCase), 10).unwrap()[0].id, c);
    assert!(s.search("船老板", Some(Kind::Report), 10).unwrap().is_empty());
    // Later edits are searchable at once.
    s.execute(c, &Command::EditNotes { session, pos: 0, delete: 0, insert: "调解成功。".into() })
        .unwrap();
    assert_eq!(s.search("调解成功", None, 10).unwrap()[0].id, c);
    // FTS syntax in a query is just text.
    for q in ["\"", "a AND b", "x*", "NEAR(a b)", "'; DROP TABLE docs; --"] {
        assert!(s.search(q, None, 10).is_ok(), "{q}");
    }
    assert!(matches!(s.search("", None, 10), Err(CoreError::InvalidInput { .. })));
}

/// The people tables of versions 1 to 14, one per kind, as version 14 left them.
const PEOPLE_TABLES_V14: [(&str, &str, &str); 5] = [
    ("patrol_members", "patrols", "patrol_member"),
    ("case_mediators", "cases", "case_mediator"),
    ("bulletin_acks", "bulletins", "bulletin_ack"),
    ("visit_members", "visits", "visit_member"),
    ("deliberation_attendees", "deliberations", "deliberation_attendee"),
];

#[test]
fn a_version_14_store_keeps_the_people_of_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "me", "police-li");
    let p = s.create(&new_patrol()).unwrap();
    let c = s.create(&new_case()).unwrap();
    let b = s
        .create(&NewRecord::Bulletin {
            bulletin: NewBulletin {
                scope: GRID.into(),
                severity: Severity::Red,
                audience: vec![Addressee::Patrols],
                title: "燃气泄漏预警".into(),
                text: "7号楼附近燃气管道泄漏".into(),
                valid_until: fieldsync_core::time::Timestamp::from_millis(
                    fieldsync_core::time::now_ms() + 3_600_000,
                ),
                location: None,
                photos: vec![],
            },
        })
        .unwrap();
    s.execute(b, &Command::AcknowledgeBulletin).unwrap();
    let path = s.path().to_path_buf();
    drop(s);
    {
        // What version 14 held: a table per kind of the people on a record.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (table, parent, role) in PEOPLE_TABLES_V14 {
            conn.execute_batch(&format!(
                "CREATE TABLE {table} (user TEXT NOT NULL, \
                 doc INTEGER NOT NULL REFERENCES {parent}(doc) ON DELETE CASCADE, \
                 PRIMARY KEY (user, doc)) WITHOUT ROWID; \
                 CREATE INDEX {table}_by_doc ON {table}(doc); \
                 INSERT INTO {table} (user, doc) SELECT user, doc FROM doc_users \
                 WHERE role = '{role}';"
            ))
            .unwrap();
        }
        conn.execute_batch("DROP TABLE doc_users; PRAGMA user_version = 14;").unwrap();
    }

    let s = Store::open(&path).unwrap();
    let first = PageRequest::first(5);
    let member = PatrolFilter { member: Some("police-li".into()), ..Default::default() };
    let patrols = s.query_patrols(&member, &first).unwrap().items;
    assert_eq!(patrols.iter().map(|r| r.id).collect::<Vec<_>>(), vec![p]);
    let mediator = CaseFilter { mediator: Some("med-liu".into()), ..Default::default() };
    let cases = s.query_cases(&mediator, &first).unwrap().items;
    assert_eq!(cases.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c]);
    let bulletins = s.query_bulletins(&BulletinFilter::default(), &first).unwrap().items;
    assert_eq!(bulletins.iter().map(|r| (r.id, r.acknowledgements)).collect::<Vec<_>>(), [(b, 1)]);
    let todo = BulletinFilter { unacknowledged_by: Some("police-li".into()), ..Default::default() };
    assert!(s.query_bulletins(&todo, &first).unwrap().items.is_empty());
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (table, _, _) in PEOPLE_TABLES_V14 {
        let left: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE tbl_name = ?1", [table], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 0, "{table} is still there");
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, schema::VERSION);
}

#[test]
fn projections_rebuild_from_documents() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a", "dispatcher-1");
    let r = s.create(&new_report("垃圾堆放")).unwrap();
    s.execute(r, &Command::AcceptReport { note: String::new() }).unwrap();
    let p = s.create(&new_patrol()).unwrap();
    s.create(&new_case()).unwrap();
    let before = (
        s.query_reports(&ReportFilter::default(), &PageRequest::first(50)).unwrap(),
        s.query_patrols(&PatrolFilter::default(), &PageRequest::first(50)).unwrap(),
        s.query_cases(&CaseFilter::default(), &PageRequest::first(50)).unwrap(),
        s.search("垃圾堆放", None, 10).unwrap(),
    );
    {
        // Damage the projections behind the store's back.
        let conn = rusqlite::Connection::open(s.path()).unwrap();
        conn.execute_batch(
            "UPDATE reports SET status = 'bogus'; DELETE FROM patrols; DELETE FROM doc_users; \
             DELETE FROM cases; DELETE FROM search;",
        )
        .unwrap();
    }
    assert!(
        s.query_patrols(&PatrolFilter::default(), &PageRequest::first(50))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(s.rebuild_projections().unwrap(), 3);
    let after = (
        s.query_reports(&ReportFilter::default(), &PageRequest::first(50)).unwrap(),
        s.query_patrols(&PatrolFilter::default(), &PageRequest::first(50)).unwrap(),
        s.query_cases(&CaseFilter::default(), &PageRequest::first(50)).unwrap(),
        s.search("垃圾堆放", None, 10).unwrap(),
    );
    assert_eq!(before, after);
    let member = PatrolFilter { member: Some("police-li".into()), ..Default::default() };
    assert_eq!(s.query_patrols(&member, &PageRequest::first(5)).unwrap().items[0].id, p);
}

#[test]
fn chunks_are_compacted_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let id;
    {
        let s = Store::open(&path).unwrap();
        s.set_user("police-li").unwrap();
        id = s.create(&new_patrol()).unwrap();
        for i in 0..200 {
            s.execute(id, &entry(&format!("entry {i}"))).unwrap();
        }
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.identity().user, "police-li", "identity persists");
    let Record::PatrolLog { patrol_log: p } = s.get(id).unwrap() else { panic!("kind") };
    assert_eq!(p.entries.len(), 200);
    assert_eq!(p.entries[199].text, "entry 199");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (snapshot, chunks): (i64, i64) = conn
        .query_row("SELECT length(snapshot), chunk_bytes FROM docs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(
        chunks <= snapshot,
        "chunks ({chunks} B) are compacted once they outgrow the snapshot ({snapshot} B)"
    );
    let rows: i64 = conn.query_row("SELECT count(*) FROM doc_chunks", [], |r| r.get(0)).unwrap();
    assert!(rows < 50, "{rows} chunk rows left after 200 edits");
    s.integrity_check().unwrap();

    // An edit to a document loaded fresh from disk appends just that edit, not the whole history
    // (a freshly loaded AutoCommit believes nothing is saved yet).
    let small = s.create(&new_report("fresh")).unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    s.execute(small, &Command::CommentReport { text: "one comment".into() }).unwrap();
    let (snapshot, chunks, rows): (i64, i64, i64) = conn
        .query_row(
            "SELECT length(snapshot), chunk_bytes, (SELECT count(*) FROM doc_chunks WHERE doc = docs.id) \
             FROM docs WHERE doc_id = ?1",
            [small.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(rows, 1, "one chunk appended, no compaction (snapshot {snapshot} B)");
    assert!(chunks < 400, "one comment appended {chunks} bytes");
}

/// Words of one or two characters, matched in the text: at a run's end, beside punctuation,
/// in ASCII of either case, CJK as typed, and after the text that held them grew.
#[test]
fn short_words_are_found_in_any_case_and_beside_punctuation() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "s", "resident-1");
    let pipe = s.create(&new_report("楼道水管漏水")).unwrap();
    let sign = s.create(&new_report("Stop sign down, a car hit it")).unwrap();
    let wide = s.create(&new_report("１２号楼Ａ座漏水")).unwrap();
    let ids = |q: &str| -> Vec<DocId> {
        let mut ids: Vec<DocId> = s.search(q, None, 50).unwrap().iter().map(|h| h.id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![pipe, wide];
    both.sort();
    assert_eq!(ids("漏水"), both);
    assert_eq!(ids("水"), both, "a text's last character");
    assert_eq!(ids("道 管"), vec![pipe]);
    assert_eq!(ids("A座"), vec![wide]);
    assert_eq!(ids("a 座"), vec![wide]);
    assert_eq!(ids("12"), vec![wide], "full-width digits, folded");
    assert_eq!(ids("IT"), vec![sign], "ASCII words of two letters, any case");
    assert_eq!(ids("n,"), vec![sign], "punctuation in a word");
    assert_eq!(ids("STOP a"), vec![sign]);
    assert!(ids("水 it").is_empty(), "every word must match one record");
    assert!(ids("漏雨").is_empty());
    s.execute(pipe, &Command::CommentReport { text: "物业已修好".into() }).unwrap();
    assert_eq!(ids("修好"), vec![pipe]);
    assert_eq!(ids("漏水"), both);
}

#[test]
fn newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, CoreError::DatabaseTooNew { found: 99, .. }), "{err:?}");
    assert!(err.to_string().contains("update the app"), "{err}");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RecordChanged>>);

impl StoreObserver for Recorder {
    fn records_changed(&self, changes: &[RecordChanged]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

#[test]
fn observers_hear_local_and_remote_changes() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a", "resident-1");
    let b = store(&dir, "b", "grid-1");
    let rec = Arc::new(Recorder::default());
    b.add_observer(rec.clone());
    let id = a.create(&new_report("hazard")).unwrap();
    b.merge_remote(id, &a.saved_bytes(id).unwrap()).unwrap();
    b.merge_remote(id, &a.saved_bytes(id).unwrap()).unwrap(); // no change: no event
    b.execute(id, &Command::CommentReport { text: "seen".into() }).unwrap();
    let got = rec.0.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            RecordChanged { id, kind: Kind::Report, origin: Origin::Remote, inbox: vec![] },
            RecordChanged { id, kind: Kind::Report, origin: Origin::Local, inbox: vec![] },
        ]
    );
}

#[test]
fn readers_work_while_a_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(&dir, "a", "police-li"));
    let id = s.create(&new_patrol()).unwrap();
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            for i in 0..300 {
                s.execute(id, &entry(&format!("e{i}"))).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..100 {
                    let Record::PatrolLog { patrol_log: p } = s.get(id).unwrap() else {
                        panic!("kind")
                    };
                    assert!(p.entries.len() >= last, "a reader never sees the log shrink");
                    last = p.entries.len();
                    s.query_patrols(&PatrolFilter::default(), &PageRequest::first(10)).unwrap();
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let Record::PatrolLog { patrol_log: p } = s.get(id).unwrap() else { panic!("kind") };
    assert_eq!(p.entries.len(), 300);
}

/// The size of `path`'s WAL file (0 when there is none).
fn wal_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// Writes without pause, with a reader querying beside them the whole time, keep the WAL
/// bounded (before, it grew by ~74 KB per report: 742 MB for 10,000); idle, it shrinks to
/// nothing, and it is gone once the store is dropped.
#[test]
fn the_wal_stays_bounded_under_writes_without_pause_and_goes_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let s = Arc::new(store(&dir, "wal", "resident-1"));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let page = PageRequest { limit: 20, after: None };
                s.query_reports(&ReportFilter::default(), &page).unwrap();
                s.search("违章", None, 10).unwrap();
                reads += 1;
            }
            reads
        })
    };
    let mut largest = 0;
    for i in 0..3_000 {
        s.create(&new_report(&format!("违章建筑 {i}"))).unwrap();
        largest = largest.max(wal_bytes(&path));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 10, "the reader read all along");
    // The log starts over past 10 MiB, past 12 MiB if it can, past 14 MiB waiting for it.
    assert!(largest <= 16 * 1024 * 1024, "the WAL reached {largest} bytes");
    // Idle, the WAL shrinks to nothing within a few seconds.
    let idle = std::time::Instant::now();
    while wal_bytes(&path) > 0 && idle.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let db = std::fs::metadata(&path).unwrap().len();
    assert!(db + wal_bytes(&path) <= db * 3 / 2, "WAL {} beside {db}", wal_bytes(&path));
    s.create(&new_report("one more")).unwrap();
    drop(Arc::into_inner(s).expect("the only handle"));
    assert_eq!(wal_bytes(&path), 0, "no WAL left after the store is dropped");
}

/// Search as Chinese users type: several words, the address and comments, full-width forms,
/// marked snippets for short words, pages past 200 that stay exact while records arrive.
#[test]
fn search_as_chinese_users_type() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "a", "resident-1");
    let with_both = s.create(&new_report("7号楼顶有违章的建筑")).unwrap();
    let one_word = s.create(&new_report("违章停车")).unwrap();
    let ids =
        |q: &str| -> Vec<DocId> { s.search(q, None, 50).unwrap().iter().map(|h| h.id).collect() };
    // Words separated by spaces (an ideographic space too) must all match, anywhere.
    assert_eq!(ids("违章 建筑"), vec![with_both]);
    assert_eq!(ids("违章　建筑"), vec![with_both]);
    assert_eq!(ids("违章"), vec![one_word, with_both]);
    // The address (from new_report: 新华小区7号楼) and the comments are searched.
    assert_eq!(ids("新华小区").len(), 2);
    s.execute(one_word, &Command::CommentReport { text: "车主已联系，明早挪走".into() }).unwrap();
    assert_eq!(ids("挪走"), vec![one_word]);
    assert_eq!(ids("车主 违章"), vec![one_word]);
    // Full-width digits and letters, as a Chinese input method types them, on either side.
    let wide = s.create(&new_report("１２号楼Ａ座漏水")).unwrap();
    assert_eq!(ids("12号楼"), vec![wide]);
    assert_eq!(ids("１２号楼"), vec![wide]);
    assert_eq!(ids("a座"), vec![wide], "ASCII case is folded too");
    // Snippets mark the match whatever its length.
    let hit = &s.search("挪", None, 5).unwrap()[0];
    assert!(hit.snippet.contains("«挪»"), "{}", hit.snippet);
    let hit = &s.search("违章 7号楼顶", None, 5).unwrap()[0];
    assert!(hit.title.contains("7号楼") && hit.snippet.contains("«违章»"), "{:?}", hit);
    // FTS syntax stays text, in every word.
    for q in ["违章 AND", "\"违章\" OR 建筑", "违* 建筑", "NEAR(违 章)"] {
        assert!(s.search(q, None, 10).is_ok(), "{q}");
    }

    // 450 matches, paged 200 at a time while more arrive: each present at the start exactly once.
    let mut matching: Vec<DocId> =
        (0..450).map(|i| s.create(&new_report(&format!("井盖缺失 {i}"))).unwrap()).collect();
    let mut seen = Vec::new();
    let mut page = PageRequest { limit: 200, after: None };
    loop {
        let got = s.search_page("井盖 缺失", Some(Kind::Report), &page).unwrap();
        seen.extend(got.items.iter().map(|h| h.id));
        s.create(&new_report("井盖缺失 又一个")).unwrap();
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    matching.reverse();
    assert_eq!(seen, matching, "newest first, none repeated or skipped");
    assert!(matches!(
        s.search_page("井盖", None, &PageRequest { limit: 10, after: Some("x1".into()) }),
        Err(CoreError::InvalidInput { .. })
    ));
}
