//! Bad input through the phone API: every id, path, URL, free text and number an app can pass is
//! checked and answered with a typed `FieldError`; nothing panics (a panic would reach the app as
//! an internal error) and nothing already saved changes. These call the exported Rust functions
//! directly: the same code the generated bindings call.

use std::sync::Arc;

use fieldsync_bindings::{FieldError, FieldStore};
use fieldsync_core::model::{
    CaseCategory, Command, Location, NewCase, NewReport, Party, ReportCategory,
};
use fieldsync_core::store::{PageRequest, ReportFilter};

const GRID: &str = "jl/cc/xinhua/grid-07";

fn store(dir: &tempfile::TempDir) -> Arc<FieldStore> {
    let store = FieldStore::open(dir.path().join("phone.db").display().to_string())
        .unwrap_or_else(|e| panic!("open: {e}"));
    store.set_user("resident-sun".into()).unwrap_or_else(|e| panic!("set_user: {e}"));
    store
}

fn report(title: &str) -> NewReport {
    NewReport {
        scope: GRID.into(),
        category: ReportCategory::Noise,
        title: title.into(),
        description: String::new(),
        location: None,
        photos: vec![],
    }
}

fn invalid_input<T: std::fmt::Debug>(what: &str, result: Result<T, FieldError>) {
    match result {
        Err(FieldError::InvalidInput { .. }) => {}
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn ids_that_are_not_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let long = "x".repeat(100_000);
    for bad in ["", "automerge:", "not-an-id", "\0", "🙂🙂🙂", &long, "1111111111111111111111"]
    {
        match store.get(bad.into()) {
            Err(FieldError::InvalidId { input, .. }) => assert!(input.chars().count() <= 64),
            other => panic!("{bad:?}: expected InvalidId, got {other:?}"),
        }
        assert!(matches!(
            store.execute(bad.into(), Command::CommentReport { text: "x".into() }),
            Err(FieldError::InvalidId { .. })
        ));
    }
    let elsewhere = fieldsync_core::DocId::random().to_string();
    assert!(
        matches!(store.get_report(elsewhere.clone()), Err(FieldError::NotFound { id }) if id == elsewhere)
    );
    assert!(matches!(store.retry_rejected(elsewhere), Err(FieldError::NotFound { .. })));
}

#[test]
fn paths_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        String::new(),
        "   ".into(),
        "a\0b.db".into(),
        dir.path().display().to_string(),
        dir.path().join("missing/folder/x.db").display().to_string(),
        "x".repeat(5000),
    ] {
        invalid_input(&format!("open {bad:?}"), FieldStore::open(bad.clone()).map(|_| ()));
    }
    let store = store(&dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for url in
        ["", "ftp://x", "https://", "example.org", "https://a b", "https://x/?a=1", "http://u@h"]
    {
        let result = runtime.block_on(store.enroll(url.into(), "ABCDE-FGHJK".into(), "p".into()));
        invalid_input(&format!("url {url:?}"), result);
    }
    let url = "http://127.0.0.1:9".to_string();
    for name in ["", "   ", &"n".repeat(65)] {
        let result = runtime.block_on(store.enroll(url.clone(), "ABCDE-FGHJK".into(), name.into()));
        invalid_input(&format!("device name {name:?}"), result);
    }
    let code = "C".repeat(1000);
    invalid_input(
        "a 1000-character code",
        runtime.block_on(store.enroll(url.clone(), code, "p".into())),
    );
    // Nothing listens on port 9: a typed network error, and the store stays unenrolled.
    let refused = runtime.block_on(store.enroll(url, "ABCDE-FGHJK".into(), "p".into()));
    assert!(matches!(refused, Err(FieldError::Network { .. })), "{refused:?}");
    assert!(store.device().unwrap().is_none());
    assert!(matches!(runtime.block_on(store.sync_now(None)), Err(FieldError::NotEnrolled { .. })));
}

#[test]
fn free_text_numbers_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let id = store.submit_report(report("Loud karaoke")).unwrap();
    let before = store.get_report(id.clone()).unwrap();

    invalid_input("blank title", store.submit_report(report(" \t ")));
    invalid_input("long title", store.submit_report(report(&"长".repeat(201))));
    invalid_input("NUL in a title", store.submit_report(report("a\0b")));
    let mut bad_scope = report("x");
    bad_scope.scope = "a//b".into();
    invalid_input("scope with an empty segment", store.submit_report(bad_scope));
    for (lat, lon) in [(f64::NAN, 0.0), (91.0, 0.0), (0.0, f64::INFINITY), (0.0, -181.0)] {
        let mut r = report("somewhere");
        r.location = Some(Location { lat, lon, accuracy: 5.0, address: String::new() });
        invalid_input(&format!("location {lat},{lon}"), store.submit_report(r));
    }
    invalid_input(
        "a comment over the limit",
        store.execute(id.clone(), Command::CommentReport { text: "c".repeat(4001) }),
    );
    let points =
        store.execute(id.clone(), Command::AwardPoints { points: -5, note: String::new() });
    assert!(
        matches!(
            points,
            Err(FieldError::InvalidInput { .. } | FieldError::InvalidTransition { .. })
        ),
        "{points:?}"
    );
    let wrong = store.execute(
        id.clone(),
        Command::EditNotes {
            session: "s".into(),
            pos: u64::MAX,
            delete: u64::MAX,
            insert: "x".into(),
        },
    );
    assert!(matches!(wrong, Err(FieldError::WrongKind { .. })), "{wrong:?}");

    for query in
        ["\"", "*", "NEAR(", "a OR", ")(", "'; DROP TABLE docs; --", "\0", &"q".repeat(10_000)]
    {
        match store.search(query.into(), None, 10) {
            Ok(_) | Err(FieldError::InvalidInput { .. }) => {}
            Err(e) => panic!("search {query:?}: {e:?}"),
        }
    }
    invalid_input("limit 0", store.search("x".into(), None, 0));
    invalid_input("limit 1000", store.search("x".into(), None, 1000));
    let all = ReportFilter::default();
    for (limit, after) in
        [(0, None), (501, None), (10, Some("garbage".to_string())), (10, Some("\0".into()))]
    {
        let result = store.query_reports(all.clone(), PageRequest { limit, after: after.clone() });
        invalid_input(&format!("page {limit} {after:?}"), result);
    }
    let mut options = store.sync_options();
    options.page_bytes = 1;
    invalid_input("a 1-byte page", store.set_sync_options(options));
    let mut options = store.sync_options();
    options.attempts = 0;
    invalid_input("no attempts", store.set_sync_options(options));

    assert_eq!(store.get_report(id).unwrap(), before, "the refusals changed nothing");
    store.integrity_check().unwrap();
}

#[test]
fn case_notes_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.set_user("mediator-chen".into()).unwrap();
    let case = store
        .open_case(NewCase {
            scope: GRID.into(),
            category: CaseCategory::Neighbour,
            place: "Courtyard".into(),
            parties: vec![Party {
                name: "Zhang".into(),
                role: "tenant".into(),
                contact: String::new(),
            }],
            mediators: vec!["mediator-chen".into()],
        })
        .unwrap();
    let session = store
        .execute(case.clone(), Command::AddSession { attendees: vec![], notes: "abc".into() })
        .unwrap()
        .item
        .unwrap();
    for (pos, delete) in [(4, 0), (0, 4), (u64::MAX, 0), (2, u64::MAX)] {
        let result = store.execute(
            case.clone(),
            Command::EditNotes { session: session.clone(), pos, delete, insert: "x".into() },
        );
        invalid_input(&format!("splice at {pos} deleting {delete}"), result);
    }
    let unknown = store.execute(
        case.clone(),
        Command::EditNotes {
            session: "no-such-session".into(),
            pos: 0,
            delete: 0,
            insert: "x".into(),
        },
    );
    assert!(
        matches!(unknown, Err(FieldError::InvalidInput { .. } | FieldError::NotFound { .. })),
        "{unknown:?}"
    );
    assert_eq!(store.get_case(case).unwrap().sessions[0].notes, "abc");
}
