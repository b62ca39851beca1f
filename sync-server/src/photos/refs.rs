//! The blobs a record references (its photos) and, for a write, which of them the author's
//! changes added: what the server records in `blob_refs` with the document.

use std::collections::HashSet;

use fieldsync_core::model::{PhotoRef, Record};

use crate::storage::BlobRef;

fn keys<'a>(photos: impl IntoIterator<Item = &'a PhotoRef>) -> HashSet<(&'a str, i64)> {
    photos.into_iter().map(|p| (p.hash.as_str(), p.size)).collect()
}

/// The references to record with a write of a document, or `None` to leave those recorded.
///
/// - `merged`: the document after the write, as stored (every reference it holds is listed);
/// - `before` and `after`: the record before and after the author's changes in the author's
///   own view (see `ingest::view`); the references in `after` and not in `before` are the ones
///   `device` added. `before` is `None` for a document new to the server.
/// - `before_known`: whether `before` is known (false for an existing document written without
///   an author: then the full list is recorded, whatever it holds).
pub(crate) fn of_write(
    merged: &Record,
    before: Option<&Record>,
    after: &Record,
    device: Option<&str>,
    before_known: bool,
) -> Option<Vec<BlobRef>> {
    let held = merged.photos();
    let had = before.map(Record::photos).unwrap_or_default();
    if before_known && held.is_empty() && had.is_empty() {
        return None;
    }
    let had = keys(had);
    let added: HashSet<(&str, i64)> = match device {
        Some(_) => keys(after.photos()).into_iter().filter(|k| !had.contains(k)).collect(),
        None => HashSet::new(),
    };
    let mut seen = HashSet::new();
    let refs = held
        .into_iter()
        .filter(|p| seen.insert((p.hash.as_str(), p.size)))
        .map(|p| BlobRef {
            hash: p.hash.clone(),
            // Sizes of a valid record are positive (model::validate).
            size: p.size.max(0).unsigned_abs(),
            media_type: p.media_type.clone(),
            added_by: device
                .filter(|_| added.contains(&(p.hash.as_str(), p.size)))
                .map(str::to_string),
        })
        .collect();
    Some(refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_core::Store;
    use fieldsync_core::model::{Command, NewRecord, NewReport, ReportCategory};

    fn photo(n: u8, size: i64) -> PhotoRef {
        PhotoRef { hash: hex::encode([n]).repeat(32), size, media_type: "image/jpeg".into() }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("p.db")).unwrap();
        store.set_user("resident-1").unwrap();
        (dir, store)
    }

    #[test]
    fn the_author_adds_only_what_was_not_there_before() {
        let (_d, store) = store();
        let id = store
            .create(&NewRecord::Report {
                report: NewReport {
                    scope: "jl/grid-07".into(),
                    category: ReportCategory::IllegalConstruction,
                    title: "roof".into(),
                    description: String::new(),
                    location: None,
                    photos: vec![photo(1, 10)],
                },
            })
            .unwrap();
        let before = store.get(id).unwrap();
        // A new document: every photo is the author's.
        let refs = of_write(&before, None, &before, Some("dev-a"), true).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].added_by.as_deref(), Some("dev-a"));

        let add = |p: PhotoRef| Command::AddPhoto { photo: p, entry: None };
        store.execute(id, &add(photo(2, 20))).unwrap();
        // The same photo twice is one reference.
        store.execute(id, &add(photo(2, 20))).unwrap();
        let after = store.get(id).unwrap();
        let refs = of_write(&after, Some(&before), &after, Some("dev-b"), true).unwrap();
        let by: Vec<(u64, Option<&str>)> =
            refs.iter().map(|r| (r.size, r.added_by.as_deref())).collect();
        assert_eq!(by, vec![(10, None), (20, Some("dev-b"))]);

        // Without an author nobody is credited, and the list is written out in full.
        let refs = of_write(&after, None, &after, None, false).unwrap();
        assert!(refs.iter().all(|r| r.added_by.is_none()) && refs.len() == 2);
    }

    #[test]
    fn records_without_photos_leave_the_references_alone() {
        let (_d, store) = store();
        let id = store
            .create(&NewRecord::Report {
                report: NewReport {
                    scope: "jl/grid-07".into(),
                    category: ReportCategory::Other,
                    title: "noise".into(),
                    description: String::new(),
                    location: None,
                    photos: vec![],
                },
            })
            .unwrap();
        let r = store.get(id).unwrap();
        assert_eq!(of_write(&r, Some(&r), &r, Some("dev"), true), None);
        assert_eq!(of_write(&r, None, &r, Some("dev"), true), None);
        // Unknown before: say explicitly that there are none.
        assert_eq!(of_write(&r, None, &r, None, false), Some(vec![]));
    }
}
