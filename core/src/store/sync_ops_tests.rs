//! A sync as the store keeps it: what a push sends and an acknowledgement leaves pending, and
//! how a pulled page is applied.

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

/// A phone's store in a folder of its own, with its path (for a test that opens it again).
fn phone() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

/// `id` as a catch-up sends it: the whole document as `store` holds it.
fn whole(store: &Store, id: DocId) -> PullDoc {
    PullDoc { doc: id, bytes: store.load(id).unwrap().save(), whole: true, sigs: vec![] }
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

/// A catch-up sends back, whole, the documents this phone pushed. Those it holds every change
/// of are found so without loading them, on disk or loaded, and change nothing: no merge, no
/// news, a local edit made meanwhile still pending. A whole document with a change made
/// elsewhere is merged as before.
#[test]
fn whole_documents_held_already_are_not_merged_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    // More documents than the writer keeps loaded: the first ones are on disk only.
    let ids: Vec<DocId> =
        (0..80).map(|i| store.create(&report(&format!("路灯不亮 {i}"))).unwrap()).collect();
    let comment = |text: &str| Command::CommentReport { text: text.into() };
    // Snapshot and an incremental chunk on disk.
    store.execute(ids[0], &comment("还亮着")).unwrap();
    let none = HashSet::new();
    let (pushed, _) = store.push_batch(1000, usize::MAX, &none).unwrap();
    store.apply_push_results(&pushed, &acked(&pushed)).unwrap();
    let mut page: Vec<PullDoc> = ids.iter().map(|id| whole(&store, *id)).collect();

    // Another phone comments on the last document; the server sends it whole with that.
    let other = Store::open(dir.path().join("other.db")).unwrap();
    other.merge_remote(ids[79], &page[79].bytes).unwrap();
    other.execute(ids[79], &comment("修好了")).unwrap();
    page[79] = whole(&other, ids[79]);
    // This phone edits the second document before the page comes.
    store.execute(ids[1], &comment("又坏了")).unwrap();

    {
        let mut w = store.writer();
        for (i, p) in page.iter().enumerate() {
            let held = merge::held(&mut w, p.doc, &p.bytes).unwrap();
            // The one edited here has moved past what came: found by merging, as the rest.
            assert_eq!(held.is_some(), i != 1 && i != 79, "document {i}");
        }
    }
    let tally = store.apply_pull(&page, "epoch", "cursor", None, &[]).unwrap();
    assert_eq!(tally.changed, vec![ids[79]]);
    assert!(tally.failed.is_empty(), "{:?}", tally.failed);
    assert_eq!(store.load(ids[79]).unwrap().get_heads(), other.load(ids[79]).unwrap().get_heads());
    let (left, _) = store.push_batch(1000, usize::MAX, &none).unwrap();
    let left: Vec<DocId> = left.iter().map(|p| p.doc).collect();
    assert_eq!(left, vec![ids[1]], "only the document edited here waits to be pushed");
}

/// A page of many new documents is prepared on several threads: each is written in page
/// order, a document whose bytes do not apply fails alone (asked for whole next time), and the
/// rest, the cursor with them, are stored.
#[test]
fn a_page_prepared_on_several_threads_is_written_in_order_and_a_bad_document_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(dir.path().join("source.db")).unwrap();
    let ids: Vec<DocId> =
        (0..120).map(|i| source.create(&report(&format!("占道经营 {i}"))).unwrap()).collect();
    let mut page: Vec<PullDoc> = ids.iter().map(|id| whole(&source, *id)).collect();
    // A document cut short on the way, and one whose bytes are not Automerge at all.
    let cut = page[37].bytes.len() / 2;
    page[37].bytes.truncate(cut);
    page[70].bytes = b"not automerge".to_vec();

    let phone = Store::open(dir.path().join("phone.db")).unwrap();
    let tally = phone.apply_pull(&page, "epoch", "cursor-1", None, &[]).unwrap();
    let bad = [ids[37], ids[70]];
    let good: Vec<DocId> = ids.iter().copied().filter(|id| !bad.contains(id)).collect();
    assert_eq!(tally.changed, good, "written in page order");
    let failed: Vec<DocId> = tally.failed.iter().map(|(id, _)| *id).collect();
    assert_eq!(failed, bad);
    for id in &good {
        assert_eq!(phone.load(*id).unwrap().get_heads(), source.load(*id).unwrap().get_heads());
    }
    assert!(phone.load(ids[37]).is_err(), "the cut document is not stored");
    assert_eq!(phone.sync_position().unwrap(), (Some("epoch".into()), "cursor-1".into()));
    let mut wanted = phone.sync_wanted(100, &HashSet::new()).unwrap();
    wanted.sort();
    let mut expected = bad.to_vec();
    expected.sort();
    assert_eq!(wanted, expected, "the failed documents are asked for whole next time");
}

/// A document the server has none of is pushed from its stored bytes, not loaded: the changes
/// of its base (here its changes, a record made on this phone) and of the chunks stored after
/// it, every one of them once, in an order the server can apply, with the document's heads.
/// The same push as from the loaded document. (A snapshot base: the next test but one.)
#[test]
fn a_document_not_pushed_yet_is_pushed_whole_from_its_stored_bytes() {
    let (_dir, path, store) = phone();
    let id = store.create(&report("违章搭建")).unwrap();
    // Two chunks stored after the base.
    store.execute(id, &Command::CommentReport { text: "三楼顶上".into() }).unwrap();
    store.execute(id, &Command::CommentReport { text: "还在施工".into() }).unwrap();
    let mut doc = store.load(id).unwrap();
    drop(store);
    // A new store: nothing loaded.
    let store = Store::open(&path).unwrap();
    assert!(!store.writer().is_cached(id));
    let (pushed, more) = store.push_batch(10, usize::MAX, &HashSet::new()).unwrap();
    assert!(!more);
    let [p] = &pushed[..] else { panic!("one document pushed: {}", pushed.len()) };
    assert_eq!(p.doc, id);
    assert!(!store.writer().is_cached(id), "pushed without loading it");
    assert_eq!(protocol::from_wire(&p.heads), doc.get_heads());
    let sent = crate::changes::parse_changes(&p.changes, usize::MAX).unwrap();
    let mut sent_hashes: Vec<ChangeHash> = sent.iter().map(|c| c.hash()).collect();
    let mut all: Vec<ChangeHash> = doc.get_changes(&[]).iter().map(|c| c.hash()).collect();
    sent_hashes.sort();
    all.sort();
    assert_eq!(sent_hashes, all, "every change, once");
    // Applied one by one in the order sent, nothing waits for a dependency.
    let mut rebuilt = automerge::AutoCommit::new();
    for c in sent {
        rebuilt.apply_changes([c]).unwrap();
        assert!(rebuilt.get_missing_deps(&[]).is_empty(), "sent after what it depends on");
    }
    assert_eq!(rebuilt.get_heads(), doc.get_heads());
    // Acknowledged, it is done with; an edit after that is pushed from the loaded document.
    store.apply_push_results(&pushed, &acked(&pushed)).unwrap();
    store.execute(id, &Command::CommentReport { text: "已拆除".into() }).unwrap();
    let (again, _) = store.push_batch(10, usize::MAX, &HashSet::new()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(crate::changes::parse_changes(&again[0].changes, usize::MAX).unwrap().len(), 1);
}

/// Stored bytes that load but do not read as changes (here a change dated past the year 9999,
/// which Automerge keeps and the change parser refuses) are pushed from the loaded document:
/// every change still goes out, and judging it is the server's part.
#[test]
fn a_document_whose_stored_changes_do_not_parse_is_pushed_from_its_loaded_form() {
    let (_dir, path, store) = phone();
    let id = store.create(&report("井盖缺失")).unwrap();
    let mut doc = store.load(id).unwrap();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "late", 1i64).unwrap();
    let late = crate::changes::MAX_CHANGE_TIME + 1;
    doc.commit_with(automerge::transaction::CommitOptions::default().with_time(late));
    let saved = doc.save();
    assert!(crate::changes::parse_changes(&saved, usize::MAX).is_err());
    {
        let w = store.writer();
        let n = w
            .conn
            .execute(
                "UPDATE docs SET snapshot = ?1, chunk_bytes = 0 WHERE doc_id = ?2",
                rusqlite::params![saved, id.as_bytes()],
            )
            .unwrap();
        assert_eq!(n, 1);
        w.conn.execute("DELETE FROM doc_chunks", []).unwrap();
    }
    drop(store);
    let store = Store::open(&path).unwrap();
    assert!(!store.writer().is_cached(id));
    let (pushed, _) = store.push_batch(10, usize::MAX, &HashSet::new()).unwrap();
    let [p] = &pushed[..] else { panic!("one document pushed: {}", pushed.len()) };
    assert!(store.writer().is_cached(id), "pushed from the loaded document");
    assert_eq!(protocol::from_wire(&p.heads), doc.get_heads());
    let mut sent = automerge::AutoCommit::load(&p.changes).unwrap();
    assert_eq!(sent.get_heads(), doc.get_heads(), "every change, the late one too");
}

/// A record made on this phone is stored as its changes, so that its first push splits them off
/// its bytes instead of loading a snapshot and rebuilding each change; it reads back as made,
/// and is pushed whole without being loaded. One whose changes pass `CHANGE_FORM_BYTES` (a
/// description at its limit) is stored as a snapshot, its columns compressed.
#[test]
fn a_record_made_here_is_stored_as_its_changes_and_a_large_one_as_a_snapshot() {
    let (_dir, path, store) = phone();
    let small = store.create(&report("楼顶违建")).unwrap();
    let NewRecord::Report { report: mut long } = report("楼顶违建") else { unreachable!() };
    long.description = "违".repeat(crate::limits::DESCRIPTION_CHARS);
    let large = store.create(&NewRecord::Report { report: long.clone() }).unwrap();
    let base = |store: &Store, id: DocId| -> Vec<u8> {
        store
            .writer()
            .conn
            .query_row("SELECT snapshot FROM docs WHERE doc_id = ?1", [id.as_bytes()], |r| r.get(0))
            .unwrap()
    };
    let small_base = base(&store, small);
    assert!(!crate::changes::starts_with_document(&small_base), "the small one as its changes");
    assert!(small_base.len() <= crate::store::docs::CHANGE_FORM_BYTES);
    let large_base = base(&store, large);
    assert!(crate::changes::starts_with_document(&large_base), "the large one as a snapshot");
    assert!(large_base.len() < crate::store::docs::CHANGE_FORM_BYTES, "{} bytes", large_base.len());
    let made = [store.get(small).unwrap(), store.get(large).unwrap()];
    drop(store);

    let store = Store::open(&path).unwrap();
    let (pushed, _) = store.push_batch(10, usize::MAX, &HashSet::new()).unwrap();
    assert_eq!(pushed.len(), 2);
    let p = pushed.iter().find(|p| p.doc == small).unwrap();
    assert_eq!(p.changes, small_base, "its stored changes, as they are");
    assert!(!store.writer().is_cached(small), "pushed without loading it");
    // The snapshot's changes are read off its layout too, every one of them.
    let p = pushed.iter().find(|p| p.doc == large).unwrap();
    assert!(!store.writer().is_cached(large), "pushed without loading it");
    let sent = crate::changes::parse_changes(&p.changes, usize::MAX).unwrap();
    let stored = crate::changes::parse_changes(&large_base, usize::MAX).unwrap();
    let hashes = |c: &[automerge::Change]| c.iter().map(|c| c.hash()).collect::<Vec<_>>();
    assert_eq!(hashes(&sent), hashes(&stored));
    assert_eq!([store.get(small).unwrap(), store.get(large).unwrap()], made, "read back as made");
    let crate::model::Record::Report { report: r } = &made[1] else { panic!("a report") };
    assert_eq!(r.description, long.description);
    // An edit appends a chunk to the changes; the record loads from both.
    store.execute(small, &Command::CommentReport { text: "三楼顶上".into() }).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let crate::model::Record::Report { report: r } = store.get(small).unwrap() else {
        panic!("a report")
    };
    assert_eq!(r.comments.len(), 1);
}
