//! Two `FieldStore`s opened on one file (a screen and a background job) share one store, so a
//! record written through one is read and observed through the other; a subscription the app
//! lets go of stops reporting.

use std::sync::{Arc, Mutex};

use fieldsync_bindings::{ChangeObserver, FieldError, FieldStore};
use fieldsync_core::model::{NewReport, ReportCategory};
use fieldsync_core::store::RecordChanged;

struct Seen(Mutex<Vec<RecordChanged>>);

impl ChangeObserver for Seen {
    fn on_change(&self, changes: Vec<RecordChanged>) -> Result<(), FieldError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(changes);
        Ok(())
    }
}

fn report(title: &str) -> NewReport {
    NewReport {
        scope: "jl/cc/grid-07".into(),
        category: ReportCategory::Sanitation,
        title: title.into(),
        description: String::new(),
        location: None,
        photos: vec![],
    }
}

#[test]
fn one_file_opened_twice_is_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("phone.db");
    let other_spelling = dir.path().join(".").join("phone.db");
    let screen = FieldStore::open(plain.display().to_string()).unwrap();
    let job = FieldStore::open(other_spelling.display().to_string()).unwrap();
    screen.set_user("resident-sun".into()).unwrap();

    let seen = Arc::new(Seen(Mutex::new(Vec::new())));
    let subscription = job.observe(seen.clone());
    let id = screen.submit_report(report("Overflowing bin")).unwrap();
    assert_eq!(job.get_report(id).unwrap().title, "Overflowing bin");
    assert_eq!(job.user(), "resident-sun", "one identity per file");
    assert_eq!(seen.0.lock().unwrap().len(), 1, "the other handle's observer heard the write");

    drop(subscription);
    screen.submit_report(report("Broken lamp")).unwrap();
    assert_eq!(seen.0.lock().unwrap().len(), 1, "a dropped subscription hears nothing");

    drop(screen);
    drop(job);
    let reopened = FieldStore::open(plain.display().to_string()).unwrap();
    assert_eq!(reopened.stats().unwrap().documents, 2);
    reopened.integrity_check().unwrap();
}
