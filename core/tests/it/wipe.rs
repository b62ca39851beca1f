//! A wiped store (a lost phone whose administrator asked for it): nothing of what it held is
//! left, not in its tables, not in the bytes of its file, not in its photo folder; observers
//! hear each record go; the store stays usable, empty and unenrolled, with a new actor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use crate::common::*;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::store::*;
use fieldsync_core::{DocId, Store};

#[derive(Default)]
struct Heard(Mutex<Vec<RecordChanged>>);

impl StoreObserver for Heard {
    fn records_changed(&self, changes: &[RecordChanged]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

/// Whether the bytes of the store's files (database, WAL) hold `text`.
fn file_holds(s: &Store, text: &str) -> bool {
    ["", "-wal"].iter().any(|suffix| {
        let bytes = std::fs::read(format!("{}{suffix}", s.path().display())).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

#[test]
fn a_wiped_store_keeps_nothing_and_tells_its_observers() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "phone", "police-li");
    let secret = "witness Wang Fang, 13904310000";
    let report = s.create(&new_report(secret)).unwrap();
    let patrol = s.create(&new_patrol()).unwrap();
    s.execute(patrol, &entry(secret)).unwrap();
    s.add_photo(report, &PhotoSource::Bytes { bytes: jpeg(7, 50_000) }, "image/jpeg", None)
        .unwrap();
    let profile =
        Profile { user: "police-li".into(), role: Role::Patrol, patrol: None, scopes: vec![] };
    let enrollment = Enrollment {
        device: "dev-1".into(),
        token: "secret-token".into(),
        profile,
        server: Some("https://sync.example.org".into()),
    };
    let actor = s.identity().actor;
    s.save_enrollment(&enrollment, actor.clone()).unwrap();
    assert!(!blob_files(&s).is_empty() && file_holds(&s, secret));
    let heard = Arc::new(Heard::default());
    s.add_observer(heard.clone());

    s.wipe().unwrap();

    assert!(s.get(report).is_err() && s.get(patrol).is_err());
    assert!(s.enrollment().unwrap().is_none() && s.profile().is_none());
    assert_eq!(s.sync_status().unwrap().pending_docs, 0);
    assert_ne!(s.identity().actor, actor, "a new actor: nothing links new work to the old");
    assert!(blob_files(&s).is_empty(), "photo files left: {:?}", blob_files(&s));
    assert!(!file_holds(&s, secret), "the text is still in the file's bytes");
    assert!(!file_holds(&s, "secret-token"));
    let mut gone: Vec<(DocId, Origin)> =
        heard.0.lock().unwrap().iter().map(|c| (c.id, c.origin)).collect();
    gone.sort_by_key(|(id, _)| *id);
    let mut expected = vec![(report, Origin::Wiped), (patrol, Origin::Wiped)];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(gone, expected);

    // Still a store: it takes new work, and a reopen finds it empty but for that.
    let fresh = s.create(&new_report("after the wipe")).unwrap();
    let path = s.path().to_path_buf();
    drop(s);
    let again = Store::open(&path).unwrap();
    assert!(again.get(fresh).is_ok() && again.get(report).is_err());
    again.integrity_check().unwrap();
}
