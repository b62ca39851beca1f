//! Photos in the phone's store, on real SQLite files and blob folders: adding one from bytes or
//! from a file (it is in the record at once, in the upload queue, and survives a reopen), bad
//! input refused with nothing stored, the same photo stored once, photos named by records from
//! elsewhere registered as remote, and stores made before photos existed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::common::*;
use fieldsync_core::limits::BLOB_BYTES;
use fieldsync_core::model::*;
use fieldsync_core::store::*;
use fieldsync_core::{CoreError, DocId, Store};

fn bytes(b: &[u8]) -> PhotoSource {
    PhotoSource::Bytes { bytes: b.to_vec() }
}

fn photos_of(s: &Store, id: DocId) -> Vec<PhotoRef> {
    s.get(id).unwrap().photos().into_iter().cloned().collect()
}

#[test]
fn a_photo_from_bytes_is_in_the_record_at_once_and_waits_for_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "phone", "resident-1");
    let id = s.create(&new_report("illegal extension on the roof")).unwrap();
    let photo = jpeg(1, 300_000);
    let r = s.add_photo(id, &bytes(&photo), "image/JPEG", None).unwrap();
    assert_eq!(r.hash, sha256_hex(&photo));
    assert_eq!((r.size, r.media_type.as_str()), (300_000, "image/jpeg"));
    assert_eq!(photos_of(&s, id), vec![r.clone()]);
    let file = s.photo_file(&r.hash).unwrap().expect("the bytes are here");
    assert_eq!(std::fs::read(&file).unwrap(), photo);
    assert!(file.starts_with(format!("{}.blobs", s.path().display())));
    assert!(file.ends_with(Path::new(&r.hash[..2]).join(&r.hash)));
    let info = s.photo(&r.hash).unwrap().unwrap();
    assert_eq!((info.state, info.received, info.documents), (PhotoState::Local, 0, 1));
    assert_eq!(s.photos_pending().unwrap(), vec![info]);
    assert!(s.photos_to_download(None).unwrap().is_empty());
    // The record's change waits to be pushed, like any other edit.
    assert_eq!(s.sync_status().unwrap().pending_docs, 1);
    // Nothing is left in the temporary folder.
    assert_eq!(blob_files(&s), vec![file]);
}

#[test]
fn photos_from_files_on_patrol_entries_and_cases_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let camera = dir.path().join("IMG_0001.jpg");
    let photo = jpeg(2, 1_500_000);
    std::fs::write(&camera, &photo).unwrap();
    let (patrol, case, r) = {
        let s = Store::open(&path).unwrap();
        s.set_user("police-li").unwrap();
        let patrol = s.create(&new_patrol()).unwrap();
        let key = s.execute(patrol, &entry("fallen tree on the north path")).unwrap().item.unwrap();
        let source = PhotoSource::File { path: camera.display().to_string() };
        let r = s.add_photo(patrol, &source, "image/jpeg", Some(key.clone())).unwrap();
        let Record::PatrolLog { patrol_log: p } = s.get(patrol).unwrap() else {
            panic!("not a patrol")
        };
        assert_eq!(p.entries.iter().find(|e| e.id == key).unwrap().photos, vec![r.clone()]);
        let case = s.create(&new_case()).unwrap();
        let png = jpeg(3, 2_000);
        s.add_photo(case, &bytes(&png), "image/png", None).unwrap();
        (patrol, case, r)
    };
    // The camera's file may go: the store has its own copy.
    std::fs::remove_file(&camera).unwrap();
    let s = Store::open(&path).unwrap();
    assert_eq!(photos_of(&s, patrol), vec![r.clone()]);
    assert_eq!(photos_of(&s, case).len(), 1);
    assert_eq!(std::fs::read(s.photo_file(&r.hash).unwrap().unwrap()).unwrap(), photo);
    let pending: Vec<String> = s.photos_pending().unwrap().into_iter().map(|p| p.hash).collect();
    assert_eq!(pending.len(), 2);
    assert!(pending.contains(&r.hash));
    s.integrity_check().unwrap();
}

#[test]
fn bad_photos_are_typed_errors_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "phone", "resident-1");
    let id = s.create(&new_report("broken street light")).unwrap();
    let patrol = s.create(&new_patrol()).unwrap();
    let heads = s.heads(id).unwrap();
    let good = jpeg(4, 10_000);
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    // What, on which record, the photo, its media type, the patrol entry, the field refused.
    type Case<'a> = (&'a str, DocId, PhotoSource, &'a str, Option<String>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("empty bytes", id, bytes(&[]), "image/jpeg", None, "source"),
        (
            "over the limit",
            id,
            bytes(&vec![7u8; BLOB_BYTES as usize + 1]),
            "image/jpeg",
            None,
            "source",
        ),
        (
            "no such file",
            id,
            PhotoSource::File { path: dir.path().join("missing.jpg").display().to_string() },
            "image/jpeg",
            None,
            "source",
        ),
        (
            "a folder",
            id,
            PhotoSource::File { path: folder.display().to_string() },
            "image/jpeg",
            None,
            "source",
        ),
        ("bad media type", id, bytes(&good), "jpeg", None, "media_type"),
        ("media type with parameters", id, bytes(&good), "image/jpeg; q=1", None, "media_type"),
        // A photo is never a page, a script or a document.
        ("a web page", id, bytes(&good), "text/html", None, "media_type"),
        ("plain text", id, bytes(&good), "text/plain", None, "media_type"),
        (
            "an SVG image (it can hold scripts)",
            id,
            bytes(&good),
            "image/svg+xml",
            None,
            "media_type",
        ),
        ("a PDF", id, bytes(&good), "application/pdf", None, "media_type"),
        // The file is written before the command runs, which refuses: it must go again.
        ("patrol photo without an entry", patrol, bytes(&good), "image/jpeg", None, "entry"),
        ("no such entry", patrol, bytes(&good), "image/jpeg", Some("nope".into()), "entry"),
        // A report's photo belongs to the report: an entry key would be silently ignored.
        ("an entry for a report", id, bytes(&good), "image/jpeg", Some("e1".into()), "entry"),
    ];
    for (what, doc, source, media, entry, field) in cases {
        match s.add_photo(doc, &source, media, entry) {
            Err(CoreError::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{what}"),
            other => panic!("{what}: expected InvalidInput, got {other:?}"),
        }
    }
    let empty_file = dir.path().join("empty.jpg");
    std::fs::write(&empty_file, b"").unwrap();
    let source = PhotoSource::File { path: empty_file.display().to_string() };
    assert!(matches!(
        s.add_photo(id, &source, "image/jpeg", None),
        Err(CoreError::InvalidInput { field: "source", .. })
    ));
    // An unknown record: its own typed error, and no file either.
    let unknown = DocId::random();
    assert!(matches!(
        s.add_photo(unknown, &bytes(&good), "image/jpeg", None),
        Err(CoreError::NotFound { id }) if id == unknown
    ));
    assert_eq!(s.heads(id).unwrap(), heads, "the record is unchanged");
    assert!(photos_of(&s, id).is_empty() && photos_of(&s, patrol).is_empty());
    assert!(s.photos_pending().unwrap().is_empty());
    assert_eq!(s.photo(&sha256_hex(&good)).unwrap(), None);
    assert_eq!(s.photo_file(&sha256_hex(&good)).unwrap(), None);
    assert_eq!(blob_files(&s), Vec::<PathBuf>::new(), "no file of a refused photo stays");
    // A malformed hash asked for is a typed error, not a miss.
    assert!(matches!(s.photo_file("ABC"), Err(CoreError::InvalidInput { field: "hash", .. })));
}

/// A reference that names a media type that is not a photo's is refused by the record's own
/// check, whichever way it comes: a command, a new record (a phone's store, or the server's
/// record checks that run the same rule).
#[test]
fn a_reference_to_anything_but_an_image_is_refused_by_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "phone", "resident-1");
    let id = s.create(&new_report("dumped rubbish")).unwrap();
    let heads = s.heads(id).unwrap();
    for media_type in ["text/html", "image/svg+xml", "application/octet-stream", "IMAGE/JPEG", ""] {
        let photo = PhotoRef { hash: "ab".repeat(32), size: 10, media_type: media_type.into() };
        let add = Command::AddPhoto { photo: photo.clone(), entry: None };
        match s.execute(id, &add) {
            Err(CoreError::InvalidInput { field: "photo.media_type", reason }) => {
                assert!(reason.contains("image/jpeg"), "{reason}");
            }
            other => panic!("{media_type:?}: expected InvalidInput, got {other:?}"),
        }
        let mut new = new_report("with a page for a photo");
        let NewRecord::Report { report: r } = &mut new else { unreachable!() };
        r.photos = vec![photo];
        assert!(
            matches!(
                s.create(&new),
                Err(CoreError::InvalidInput { field: "photo.media_type", .. })
            ),
            "{media_type:?}"
        );
    }
    assert_eq!(s.heads(id).unwrap(), heads, "the record is unchanged");
    for media_type in fieldsync_core::protocol::PHOTO_MEDIA_TYPES {
        let photo = PhotoRef { hash: "cd".repeat(32), size: 10, media_type: media_type.into() };
        s.execute(id, &Command::AddPhoto { photo, entry: None }).unwrap();
    }
}

#[test]
fn the_same_photo_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "phone", "resident-1");
    let a = s.create(&new_report("garbage dumped by the river")).unwrap();
    let b = s.create(&new_report("more garbage, same place")).unwrap();
    let photo = jpeg(5, 50_000);
    let file = dir.path().join("same.jpg");
    std::fs::write(&file, &photo).unwrap();
    let r1 = s.add_photo(a, &bytes(&photo), "image/jpeg", None).unwrap();
    let r2 = s
        .add_photo(b, &PhotoSource::File { path: file.display().to_string() }, "image/jpeg", None)
        .unwrap();
    assert_eq!(r1, r2);
    assert_eq!(photos_of(&s, a), vec![r1.clone()]);
    assert_eq!(photos_of(&s, b), vec![r1.clone()]);
    assert_eq!(s.photo(&r1.hash).unwrap().unwrap().documents, 2);
    assert_eq!(s.photos_pending().unwrap().len(), 1, "one upload for both records");
    assert_eq!(blob_files(&s).len(), 1, "one file");
    // A refused second add of the same bytes leaves the first one's file alone.
    assert!(s.add_photo(DocId::random(), &bytes(&photo), "image/jpeg", None).is_err());
    assert_eq!(std::fs::read(s.photo_file(&r1.hash).unwrap().unwrap()).unwrap(), photo);
}

#[test]
fn photos_named_by_records_from_elsewhere_are_registered_as_remote() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a", "resident-1");
    let b = store(&dir, "b", "grid-leader-1");
    let id = a.create(&new_report("cracked wall")).unwrap();
    let small = jpeg(6, 4_000);
    let large = jpeg(7, 900_000);
    let rs = a.add_photo(id, &bytes(&small), "image/jpeg", None).unwrap();
    let rl = a.add_photo(id, &bytes(&large), "image/jpeg", None).unwrap();
    b.merge_remote(id, &a.saved_bytes(id).unwrap()).unwrap();
    assert_eq!(photos_of(&b, id), vec![rs.clone(), rl.clone()]);
    let info = b.photo(&rs.hash).unwrap().unwrap();
    assert_eq!((info.state, info.size, info.documents), (PhotoState::Remote, 4_000, 1));
    assert_eq!(b.photo_file(&rs.hash).unwrap(), None, "the bytes are not here");
    assert!(b.photos_pending().unwrap().is_empty(), "not this phone's to upload");
    let all: Vec<String> =
        b.photos_to_download(None).unwrap().into_iter().map(|p| p.hash).collect();
    assert_eq!(all, vec![rs.hash.clone(), rl.hash], "smallest first");
    let small_only = b.photos_to_download(Some(256 * 1024)).unwrap();
    assert_eq!(small_only.len(), 1);
    assert_eq!(small_only[0].hash, rs.hash);

    // A later change adding a photo registers it too (the merge of changes, not a whole
    // document).
    let heads = a.heads(id).unwrap();
    let third = a.add_photo(id, &bytes(&jpeg(8, 1_000)), "image/webp", None).unwrap();
    b.merge_remote(id, &a.load(id).unwrap().save_after(&heads)).unwrap();
    assert_eq!(b.photo(&third.hash).unwrap().unwrap().state, PhotoState::Remote);

    // The same bytes added on b: they are here now, and b may upload them.
    b.add_photo(b.create(&new_report("same wall")).unwrap(), &bytes(&small), "image/jpeg", None)
        .unwrap();
    assert_eq!(b.photo(&rs.hash).unwrap().unwrap().state, PhotoState::Local);
    assert_eq!(b.photo(&rs.hash).unwrap().unwrap().documents, 2);
    assert_eq!(std::fs::read(b.photo_file(&rs.hash).unwrap().unwrap()).unwrap(), small);

    // A record created with references to photos this phone never had.
    let mut new = new_report("with photos from the gallery app");
    let NewRecord::Report { report: r } = &mut new else { unreachable!() };
    r.photos = vec![PhotoRef { hash: "ab".repeat(32), size: 77, media_type: "image/jpeg".into() }];
    b.create(&new).unwrap();
    assert_eq!(b.photo(&"ab".repeat(32)).unwrap().unwrap().state, PhotoState::Remote);
}

#[test]
fn a_store_from_before_photos_projects_its_references_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let hash = sha256_hex(b"an old photo");
    {
        let s = Store::open(&path).unwrap();
        s.set_user("resident-1").unwrap();
        let mut new = new_report("from an older app");
        let NewRecord::Report { report: r } = &mut new else { unreachable!() };
        r.photos = vec![PhotoRef { hash: hash.clone(), size: 12, media_type: "image/jpeg".into() }];
        s.create(&new).unwrap();
    }
    {
        // What schema version 2 left: no blob rows, and the flag its upgrade sets.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DELETE FROM blob_refs; DELETE FROM blobs; \
             INSERT INTO meta (key, value) VALUES ('blob_refs_rebuild', '1');",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let info = s.photo(&hash).unwrap().unwrap();
    assert_eq!((info.state, info.documents), (PhotoState::Remote, 1));
}
