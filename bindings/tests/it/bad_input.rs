//! Bad input through the phone API: every id, path, URL, free text, number and photo an app can
//! pass is checked and answered with a typed `FieldError`; nothing panics (a panic would reach
//! the app as an internal error) and nothing already saved changes. These call the exported Rust functions
//! directly: the same code the generated bindings call.

use crate::KEY;
use std::sync::Arc;

use fieldsync_bindings::{FieldError, FieldStore};
use fieldsync_core::model::{
    CaseCategory, Command, Location, NewCase, NewReport, Party, PhotoRef, ReportCategory,
};
use fieldsync_core::store::{PageRequest, PhotoSource, PhotoVariant, ReportFilter};
use fieldsync_core::sync::SyncOptions;
use fieldsync_core::time::TimeSpan;

const GRID: &str = "jl/cc/xinhua/grid-07";

fn store(dir: &tempfile::TempDir) -> Arc<FieldStore> {
    let store = FieldStore::new(dir.path().join("phone.db").display().to_string(), KEY.to_vec())
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
        invalid_input(
            &format!("open {bad:?}"),
            FieldStore::new(bad.clone(), KEY.to_vec()).map(|_| ()),
        );
    }
    let store = store(&dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for url in
        ["", "ftp://x", "https://", "example.org", "https://a b", "https://x/?a=1", "http://u@h"]
    {
        let result =
            runtime.block_on(store.enroll(url.into(), "ABCDE-FGHJK".into(), "p".into(), false));
        invalid_input(&format!("url {url:?}"), result);
    }
    let url = "http://127.0.0.1:9".to_string();
    for name in ["", "   ", &"n".repeat(65)] {
        let result =
            runtime.block_on(store.enroll(url.clone(), "ABCDE-FGHJK".into(), name.into(), false));
        invalid_input(&format!("device name {name:?}"), result);
    }
    let code = "C".repeat(1000);
    invalid_input(
        "a 1000-character code",
        runtime.block_on(store.enroll(url.clone(), code, "p".into(), false)),
    );
    // Nothing listens on port 9: a typed network error, and the store stays unenrolled.
    let refused = runtime.block_on(store.enroll(url, "ABCDE-FGHJK".into(), "p".into(), false));
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
            pos: i64::MAX,
            delete: i64::MAX,
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
    let defaults = store.sync_options().unwrap();
    let refused = |options: SyncOptions| match store.set_sync_options(options) {
        Err(FieldError::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    assert_eq!(refused(SyncOptions { page_bytes: 1, ..defaults }), "page_bytes");
    assert_eq!(refused(SyncOptions { attempts: 0, ..defaults }), "attempts");
    let negative = TimeSpan::from_millis(-200);
    assert_eq!(refused(SyncOptions { backoff: negative, ..defaults }), "backoff");
    assert_eq!(refused(SyncOptions { deadline: negative, ..defaults }), "deadline");
    assert_eq!(
        refused(SyncOptions { request_timeout: TimeSpan::from_millis(0), ..defaults }),
        "request_timeout"
    );
    assert_eq!(store.sync_options().unwrap(), defaults, "a refused option changed nothing");
    invalid_input("photos of a negative size", store.photos_to_download(Some(-1)));

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
    for (pos, delete) in [(4, 0), (0, 4), (i64::MAX, 0), (2, i64::MAX), (-1, 0), (0, -1)] {
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

/// Every file under `dir` (recursively).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { files_under(&p) } else { vec![p] }
        })
        .collect()
}

#[test]
fn photos_bad_input_is_typed_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let id = store.submit_report(report("Rubbish dumped by the river")).unwrap();
    let bytes = |b: &[u8]| PhotoSource::Bytes { bytes: b.to_vec() };
    let jpeg = "image/jpeg".to_string();
    let photo = b"\xff\xd8\xff\xe0 not really a JPEG, but bytes".to_vec();

    // Sources: empty, oversized, a file that is missing, a folder, an empty file, a bad path.
    invalid_input("zero bytes", store.add_photo(id.clone(), bytes(b""), jpeg.clone(), None));
    let huge = vec![7u8; (fieldsync_core::limits::BLOB_BYTES + 1) as usize];
    let over = store.add_photo(id.clone(), PhotoSource::Bytes { bytes: huge }, jpeg.clone(), None);
    invalid_input("20 MiB + 1 byte", over);
    let empty_file = dir.path().join("empty.jpg");
    std::fs::write(&empty_file, b"").unwrap();
    for path in [
        dir.path().join("no-such-photo.jpg").display().to_string(),
        dir.path().display().to_string(),
        empty_file.display().to_string(),
        String::new(),
        "a\0b.jpg".into(),
        "p".repeat(5000),
    ] {
        let result = store.add_photo(
            id.clone(),
            PhotoSource::File { path: path.clone() },
            jpeg.clone(),
            None,
        );
        invalid_input(&format!("file {path:.60?}"), result);
    }
    // Media types.
    // Media types: only the photo types core lists; a page, a script or a document is refused
    // by name, as is anything that is no media type at all.
    for media in [
        "",
        "jpeg",
        "image/",
        "/jpeg",
        "image/jpeg; q=1",
        "text/plain\0",
        "imäge/png",
        "text/html",
        "text/plain",
        "image/svg+xml",
        "application/pdf",
    ] {
        match store.add_photo(id.clone(), bytes(&photo), media.into(), None) {
            Err(FieldError::InvalidInput { field, .. }) => assert_eq!(field, "media_type"),
            other => panic!("media type {media:?}: expected InvalidInput, got {other:?}"),
        }
    }
    let long = format!("image/{}", "x".repeat(200));
    invalid_input("a long media type", store.add_photo(id.clone(), bytes(&photo), long, None));
    // Where it goes: an id that is not one, a record not here, an entry on a report, an empty
    // entry key.
    let result = store.add_photo("nope".into(), bytes(&photo), jpeg.clone(), None);
    assert!(matches!(result, Err(FieldError::InvalidId { .. })), "{result:?}");
    let elsewhere = fieldsync_core::DocId::random().to_string();
    let result = store.add_photo(elsewhere, bytes(&photo), jpeg.clone(), None);
    assert!(matches!(result, Err(FieldError::NotFound { .. })), "{result:?}");
    let on_report = store.add_photo(id.clone(), bytes(&photo), jpeg.clone(), Some("k1".into()));
    invalid_input("an entry on a report", on_report);
    invalid_input(
        "empty entry",
        store.add_photo(id.clone(), bytes(&photo), jpeg.clone(), Some(String::new())),
    );

    // A reference to bytes that are not on this phone, through a command or a new record.
    let phantom = PhotoRef { hash: "ab".repeat(32), size: 10, media_type: jpeg.clone() };
    let result =
        store.execute(id.clone(), Command::AddPhoto { photo: phantom.clone(), entry: None });
    invalid_input("AddPhoto of bytes not here", result);
    let mut with_photo = report("With a photo from nowhere");
    with_photo.photos = vec![phantom];
    invalid_input("a report naming bytes not here", store.submit_report(with_photo));

    // Hashes: malformed everywhere.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upper = "AB".repeat(32);
    for hash in ["", "abc", &upper, &"g".repeat(64), &"a".repeat(65), "../../etc/passwd"] {
        let what = format!("hash {hash:?}");
        invalid_input(&what, store.photo(hash.into()));
        invalid_input(&what, store.photo_file(hash.into()));
        invalid_input(&what, store.thumbnail_file(hash.into()));
        invalid_input(&what, store.retry_photo_upload(hash.into()));
        let download = store.download_photo(hash.into(), PhotoVariant::Original, None);
        invalid_input(&what, runtime.block_on(download));
    }
    // A well-formed hash no record here references: not found, before any network.
    let unknown = "0".repeat(64);
    assert_eq!(store.photo(unknown.clone()).unwrap(), None);
    assert_eq!(store.photo_file(unknown.clone()).unwrap(), None);
    let download = store.download_photo(unknown.clone(), PhotoVariant::Thumbnail, None);
    let result = runtime.block_on(download);
    assert!(
        matches!(&result, Err(FieldError::PhotoNotFound { hash, .. }) if *hash == unknown),
        "{result:?}"
    );
    assert!(matches!(store.retry_photo_upload(unknown), Err(FieldError::PhotoNotFound { .. })));

    // Nothing stored: no photo in the record, no file, nothing queued.
    assert!(store.get_report(id.clone()).unwrap().photos.is_empty());
    assert!(store.photos_pending().unwrap().is_empty());
    let blobs = dir.path().join("phone.db.blobs");
    assert_eq!(files_under(&blobs), Vec::<std::path::PathBuf>::new());

    // The same store takes a good photo, and an unenrolled phone reads it back without a
    // server; uploading needs an enrollment.
    let added = store.add_photo(id.clone(), bytes(&photo), jpeg, None).unwrap();
    assert_eq!(store.get_report(id).unwrap().photos, vec![added.clone()]);
    let file = store.photo_file(added.hash.clone()).unwrap().unwrap();
    // The store is encrypted: its file is sealed, and the photo is read through the store.
    assert_ne!(std::fs::read(&file).unwrap(), photo);
    let read = store.photo_bytes(added.hash.clone(), PhotoVariant::Original).unwrap();
    assert_eq!(read, Some(photo));
    let again = store.download_photo(added.hash, PhotoVariant::Original, None);
    assert_eq!(runtime.block_on(again).unwrap(), file);
    assert_eq!(store.photos_pending().unwrap().len(), 1);
    let upload = runtime.block_on(store.upload_photos(None));
    assert!(matches!(upload, Err(FieldError::NotEnrolled { .. })), "{upload:?}");
}
