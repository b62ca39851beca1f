//! The documents' part of the conformance suite: writes and the log, pages, audiences,
//! refusals, closing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{HashMap, HashSet};

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;
use fieldsync_core::policy::{Profile, Role};

use super::join::futures_join;
use crate::storage::{
    CatchUpReader, DocBytes, DocWrite, NewChange, Refused, Storage, StorageError,
};

/// A made-up change of `doc` number `n`.
pub fn change(doc: DocId, n: u32, actor: u8) -> NewChange {
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(doc.as_bytes());
    hash[16..20].copy_from_slice(&n.to_be_bytes());
    NewChange {
        hash,
        actor: vec![actor; 16],
        bytes: format!("change {doc} #{n}").into_bytes(),
        device: None,
        sig: None,
    }
}

/// A write of `doc` with `changes` made-up changes: a snapshot when `base` is `None`.
pub fn sample_write(doc: DocId, base: Option<u64>, changes: u32) -> DocWrite {
    let start = base.map_or(0, |b| b as u32 * 1000);
    let changes: Vec<NewChange> = (start..start + changes).map(|n| change(doc, n, 1)).collect();
    let chunk: Vec<u8> = changes.iter().flat_map(|c| c.bytes.clone()).collect();
    DocWrite {
        doc,
        base,
        kind: Kind::Report,
        scope: "jl/changchun/grid-07".into(),
        created_by: "resident-1".into(),
        participants: base.map_or_else(Vec::new, |b| vec![format!("officer-{b}")]),
        addressed: Vec::new(),
        until: None,
        bytes: if base.is_none() {
            DocBytes::Snapshot([b"snapshot:".as_slice(), &chunk].concat())
        } else {
            DocBytes::Chunk(chunk)
        },
        changes,
        device: Some("device-1".into()),
        blobs: None,
        index: None,
        points: None,
    }
}

pub async fn empty_storage(s: &dyn Storage) {
    assert!(!s.epoch().is_empty());
    assert_eq!(s.log_end().await.unwrap(), 0);
    assert_eq!(s.docs_end().await.unwrap(), 0);
    assert!(s.doc_ids().await.unwrap().is_empty());
    assert_eq!(s.load(vec![DocId::random()]).await.unwrap(), vec![None]);
    let page = s.catch_up(0, 1 << 20, None).await.unwrap();
    assert!(page.docs.is_empty() && page.done);
    let log = s.log_page(0, vec![], 1 << 20).await.unwrap();
    assert!(log.entries.is_empty());
    assert_eq!((log.next, log.end), (0, 0));
    assert!(s.audit(0, 10).await.unwrap().is_empty());
    assert_eq!(s.commit(vec![]).await.unwrap().len(), 0);
}

pub async fn create_append_compact(s: &dyn Storage) {
    let id = DocId::random();
    let create = sample_write(id, None, 2);
    let DocBytes::Snapshot(snapshot) = create.bytes.clone() else { unreachable!() };
    let r = s.commit(vec![create]).await.unwrap();
    let c = r[0].as_ref().unwrap();
    assert_eq!((c.version, c.last_seq), (1, 2));

    let stored = s.load(vec![id]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(stored.bytes, snapshot);
    assert_eq!(stored.meta.kind, Kind::Report);
    assert_eq!(stored.meta.scope, "jl/changchun/grid-07");
    assert_eq!(stored.meta.version, 1);
    assert_eq!(stored.meta.snapshot_bytes, snapshot.len() as u64);
    assert_eq!(stored.meta.chunk_bytes, 0);

    let append = sample_write(id, Some(1), 3);
    let DocBytes::Chunk(chunk) = append.bytes.clone() else { unreachable!() };
    let c = s.commit(vec![append]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!((c.version, c.last_seq), (2, 5));
    let stored = s.load(vec![id]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(stored.bytes, [snapshot.clone(), chunk.clone()].concat());
    assert_eq!(stored.meta.chunk_bytes, chunk.len() as u64);
    assert_eq!(stored.meta, stored.meta.clone());

    // Compaction: a snapshot replaces snapshot and chunks; the log keeps every change.
    let mut compact = sample_write(id, Some(2), 1);
    compact.bytes = DocBytes::Snapshot(b"compacted".to_vec());
    let c = s.commit(vec![compact]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!((c.version, c.last_seq), (3, 6));
    let stored = s.load(vec![id]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(stored.bytes, b"compacted");
    assert_eq!((stored.meta.snapshot_bytes, stored.meta.chunk_bytes), (9, 0));
    assert_eq!(s.audit(0, 100).await.unwrap().len(), 6);
    assert_eq!(s.log_end().await.unwrap(), 6);
    assert_eq!(s.doc_ids().await.unwrap(), vec![id]);

    // The documents named by a stretch of the log: each once, with its version now.
    let other = DocId::random();
    s.commit(vec![sample_write(other, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(s.logged_docs(0, 7, 10).await.unwrap(), vec![(id, 3), (other, 1)]);
    assert_eq!(s.logged_docs(2, 5, 10).await.unwrap(), vec![(id, 3)]);
    assert_eq!(s.logged_docs(6, 7, 10).await.unwrap(), vec![(other, 1)]);
    assert_eq!(s.logged_docs(0, 7, 1).await.unwrap(), vec![(id, 3)]);
    assert!(s.logged_docs(7, 100, 10).await.unwrap().is_empty());

    // The stored versions, in the order asked; `None` for a document not stored.
    let absent = DocId::random();
    let versions = s.versions(vec![other, absent, id, other]).await.unwrap();
    assert_eq!(versions, vec![Some(1), None, Some(3), Some(1)]);
    assert!(s.versions(Vec::new()).await.unwrap().is_empty());
}

pub async fn conflicts_change_nothing(s: &dyn Storage) {
    let id = DocId::random();
    s.commit(vec![sample_write(id, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    // Creating it again, or writing on a version that is not the stored one, is a conflict.
    for w in [sample_write(id, None, 1), sample_write(id, Some(7), 1)] {
        let r = s.commit(vec![w]).await.unwrap().pop().unwrap();
        assert!(matches!(r, Err(StorageError::Conflict { doc, .. }) if doc == id), "{r:?}");
    }
    // Appending to a document that does not exist is a conflict too.
    let other = DocId::random();
    let r = s.commit(vec![sample_write(other, Some(1), 1)]).await.unwrap().pop().unwrap();
    assert!(matches!(r, Err(StorageError::Conflict { .. })), "{r:?}");
    assert_eq!(s.log_end().await.unwrap(), 1);
    assert_eq!(s.load(vec![id]).await.unwrap()[0].as_ref().unwrap().meta.version, 1);
    assert_eq!(s.load(vec![other]).await.unwrap(), vec![None]);
}

pub async fn one_failing_write_spares_the_batch(s: &dyn Storage) {
    let a = DocId::random();
    let b = DocId::random();
    s.commit(vec![sample_write(a, None, 1)]).await.unwrap();
    // The second write repeats a change hash already logged for `a`: refused, alone.
    let mut dup = sample_write(a, Some(1), 1);
    dup.changes[0] = change(a, 0, 1);
    let results = s
        .commit(vec![sample_write(b, None, 2), dup, sample_write(DocId::random(), None, 1)])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert!(results[1].is_err(), "a change hash is logged once per document");
    assert!(results[2].is_ok());
    let log = s.audit(0, 100).await.unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(s.load(vec![a]).await.unwrap()[0].as_ref().unwrap().meta.version, 1);
}

pub async fn seqs_increase_under_concurrency(s: &dyn Storage) {
    let ids: Vec<DocId> = (0..24).map(|_| DocId::random()).collect();
    let creates = ids.iter().map(|id| s.commit(vec![sample_write(*id, None, 2)]));
    for r in futures_join(creates).await {
        assert!(r.unwrap()[0].is_ok());
    }
    let appends = ids.iter().map(|id| s.commit(vec![sample_write(*id, Some(1), 3)]));
    let mut last_seqs = Vec::new();
    for r in futures_join(appends).await {
        last_seqs.push(r.unwrap()[0].as_ref().unwrap().last_seq);
    }
    let unique: HashSet<u64> = last_seqs.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());

    let log = s.audit(0, 10_000).await.unwrap();
    assert_eq!(log.len(), ids.len() * 5);
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq), "seqs strictly increase");
    assert_eq!(log.last().unwrap().seq, s.log_end().await.unwrap());
    for e in &log {
        // Every logged change is in its document's stored bytes (made-up bytes: as a substring).
        let stored = s.load(vec![e.doc]).await.unwrap().pop().unwrap().unwrap();
        assert!(stored.bytes.windows(e.bytes.len()).any(|w| w == e.bytes), "seq {}", e.seq);
        assert_eq!(e.device.as_deref(), Some("device-1"));
        assert_eq!(e.actor, vec![1; 16]);
        assert!(e.received_at > 0);
    }
    // Within one document, its changes are logged in the order given.
    for id in &ids {
        let own: Vec<_> = log.iter().filter(|e| e.doc == *id).map(|e| e.hash).collect();
        let expected: Vec<_> =
            [0, 1, 1000, 1001, 1002].iter().map(|n| change(*id, *n, 1).hash).collect();
        assert_eq!(own, expected);
    }
    // Paging through the audit view.
    let first = s.audit(0, 7).await.unwrap();
    let rest = s.audit(first.last().unwrap().seq, 10_000).await.unwrap();
    assert_eq!(first.len() + rest.len(), log.len());
}

pub async fn log_pages_skip_an_actor_and_respect_the_budget(s: &dyn Storage) {
    let a = DocId::random();
    let b = DocId::random();
    let mut wa = sample_write(a, None, 4);
    wa.changes[1].actor = vec![9; 16];
    wa.changes[3].actor = vec![9; 16];
    s.commit(vec![wa, sample_write(b, None, 2)]).await.unwrap();
    assert_eq!(s.log_end().await.unwrap(), 6);

    let all = s.log_page(0, vec![], 1 << 20).await.unwrap();
    assert_eq!(all.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!((all.next, all.end), (6, 6));
    assert_eq!(all.entries[0].doc, a);
    assert_eq!(all.entries[4].doc, b);

    let others = s.log_page(0, vec![9; 16], 1 << 20).await.unwrap();
    assert_eq!(others.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3, 5, 6]);
    assert_eq!(others.next, 6);

    // Skipped entries at the end still move the position to the end of the log.
    let tail = s.log_page(4, vec![1; 16], 1 << 20).await.unwrap();
    assert!(tail.entries.is_empty());
    assert_eq!(tail.next, 6);

    // A budget smaller than one entry still gives one; the page ends at the last entry given.
    let one = s.log_page(0, vec![], 1).await.unwrap();
    assert_eq!(one.entries.len(), 1);
    assert_eq!(one.next, 1);
    let size = all.entries[0].bytes.len() + all.entries[1].bytes.len();
    let two = s.log_page(0, vec![], size).await.unwrap();
    assert_eq!(two.entries.len(), 2);
    assert_eq!(two.next, 2);
    // Paging to the end gives every entry once.
    let mut seen = Vec::new();
    let mut at = 0;
    loop {
        let p = s.log_page(at, vec![], 40).await.unwrap();
        seen.extend(p.entries.iter().map(|e| e.seq));
        assert!(p.next > at || p.entries.is_empty());
        if p.next == p.end {
            break;
        }
        at = p.next;
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6]);
}

pub async fn catch_up_pages_documents_in_order(s: &dyn Storage) {
    let ids: Vec<DocId> = (0..10).map(|_| DocId::random()).collect();
    for id in &ids {
        s.commit(vec![sample_write(*id, None, 1)]).await.unwrap();
    }
    s.commit(vec![sample_write(ids[3], Some(1), 2)]).await.unwrap();
    let full = s.catch_up(0, 1 << 20, None).await.unwrap();
    assert!(full.done);
    assert_eq!(full.docs.iter().map(|d| d.doc).collect::<Vec<_>>(), ids);
    assert_eq!(full.log_end, 12);
    assert_eq!(full.docs_after, 0);
    let d3 = s.load(vec![ids[3]]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(full.docs[3].bytes, d3.bytes);
    assert!(full.docs.windows(2).all(|w| w[0].pos < w[1].pos));
    assert_eq!(full.docs.last().unwrap().pos, s.docs_end().await.unwrap());

    let one_size = full.docs[0].bytes.len();
    let mut got = Vec::new();
    let mut at = 0;
    let mut pages = 0;
    loop {
        let p = s.catch_up(at, one_size * 3, None).await.unwrap();
        pages += 1;
        assert!(!p.docs.is_empty() || p.done);
        got.extend(p.docs.iter().map(|d| d.doc));
        if p.done {
            assert_eq!(p.docs_after, 0);
            break;
        }
        assert!(p.docs_after > 0);
        at = p.docs.last().unwrap().pos;
    }
    assert_eq!(got, ids);
    assert!(pages >= 4, "{pages} pages");
    // A budget smaller than one document still gives one.
    let p = s.catch_up(0, 1, None).await.unwrap();
    assert_eq!(p.docs.len(), 1);
    assert!(!p.done);
}

/// A catch-up for a device whose rights changed leaves out what its former rights let it read,
/// passing over it without spending the budget, and takes only what the rights now allow.
pub async fn catch_up_leaves_out_what_former_rights_read(s: &dyn Storage) {
    let in_scope = |scope: &str| {
        let mut w = sample_write(DocId::random(), None, 1);
        w.scope = scope.into();
        w
    };
    let mut ids: HashMap<&str, Vec<DocId>> = HashMap::new();
    for scope in ["jl/changchun/grid-07", "jl/changchun/grid-08", "jl/jilin/grid-01"] {
        for _ in 0..3 {
            let w = in_scope(scope);
            ids.entry(scope).or_default().push(w.doc);
            s.commit(vec![w]).await.unwrap();
        }
    }
    let leader = |scopes: &[&str]| Profile {
        user: "lead-1".into(),
        role: Role::GridLeader,
        patrol: None,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    };
    let now = leader(&["jl/changchun/grid-07", "jl/changchun/grid-08"]);
    let rescoped =
        CatchUpReader { profile: now.clone(), held: Some(leader(&["jl/changchun/grid-07"])) };
    let page = s.catch_up(0, 1 << 20, Some(rescoped.clone())).await.unwrap();
    assert_eq!(page.docs.iter().map(|d| d.doc).collect::<Vec<_>>(), ids["jl/changchun/grid-08"]);
    assert!(page.done);
    assert_eq!(page.scanned_to, s.docs_end().await.unwrap());
    let whole = s.catch_up(0, 1 << 20, Some(CatchUpReader { profile: now, held: None })).await;
    let expected = [&ids["jl/changchun/grid-07"][..], &ids["jl/changchun/grid-08"][..]].concat();
    assert_eq!(whole.unwrap().docs.iter().map(|d| d.doc).collect::<Vec<_>>(), expected);

    // Page by page, what is left out costs no budget: one document a page.
    let mut got = Vec::new();
    let mut at = 0;
    loop {
        let p = s.catch_up(at, 1, Some(rescoped.clone())).await.unwrap();
        got.extend(p.docs.iter().map(|d| d.doc));
        if p.done {
            break;
        }
        assert_eq!(p.docs.len(), 1);
        at = p.docs.last().unwrap().pos;
    }
    assert_eq!(got, ids["jl/changchun/grid-08"]);
}

pub async fn whole_reads_in_order_within_budget(s: &dyn Storage) {
    let ids: Vec<DocId> = (0..4).map(|_| DocId::random()).collect();
    for id in &ids {
        s.commit(vec![sample_write(*id, None, 1)]).await.unwrap();
    }
    let unknown = DocId::random();
    let ask = vec![ids[2], unknown, ids[0], ids[1]];
    let (docs, looked) = s.whole(ask.clone(), 1 << 20).await.unwrap();
    assert_eq!(docs.iter().map(|d| d.doc).collect::<Vec<_>>(), vec![ids[2], ids[0], ids[1]]);
    assert_eq!(looked, 4);
    // At least one document, even over the budget; the unknown id counts as looked at.
    let (docs, looked) = s.whole(ask, 1).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(looked, 2);
}

/// Who may read a document is stored with it and comes back with every read of it; the people
/// it names follow its latest write.
pub async fn audiences_follow_the_writes(s: &dyn Storage) {
    let id = DocId::random();
    s.commit(vec![sample_write(id, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    let page = s.catch_up(0, 1 << 20, None).await.unwrap();
    let a = &page.docs[0].audience;
    assert_eq!(
        (a.kind, a.scope.as_str(), a.created_by.as_str()),
        (Kind::Report, "jl/changchun/grid-07", "resident-1")
    );
    assert!(a.participants.is_empty());
    s.commit(vec![sample_write(id, Some(1), 1)]).await.unwrap().pop().unwrap().unwrap();
    let (whole, _) = s.whole(vec![id], 1 << 20).await.unwrap();
    assert_eq!(whole[0].audience.participants, vec!["officer-1".to_string()]);
    let log = s.audit(0, 10).await.unwrap();
    assert!(
        log.iter().all(|e| e.audience == whole[0].audience),
        "the log reads the current audience"
    );
}

/// Each change is logged with its own device when it names one (a change another phone
/// relayed), else with the write's, and with the signature it came with.
pub async fn changes_are_logged_with_their_authors_and_signatures(s: &dyn Storage) {
    let id = DocId::random();
    let mut write = sample_write(id, None, 3);
    write.changes[1].device = Some("author-a".into());
    write.changes[1].sig = Some(vec![5; 64]);
    write.changes[2].sig = Some(vec![6; 64]);
    s.commit(vec![write]).await.unwrap().pop().unwrap().unwrap();
    let log = s.audit(0, 10).await.unwrap();
    let got: Vec<_> = log.iter().map(|e| (e.device.as_deref(), e.sig.clone())).collect();
    assert_eq!(
        got,
        vec![
            (Some("device-1"), None),
            (Some("author-a"), Some(vec![5; 64])),
            (Some("device-1"), Some(vec![6; 64])),
        ]
    );
}

/// The signatures a pull carries are read back per document, in log order, with their signers
/// each once: unsigned changes are passed over, a document with none is left out, and so is
/// one not stored.
pub async fn stored_signatures_are_read_back_per_document(s: &dyn Storage) {
    let (signed, unsigned, missing) = (DocId::random(), DocId::random(), DocId::random());
    let mut created = sample_write(signed, None, 3);
    created.changes[0].sig = Some(vec![1; 64]);
    created.changes[2].actor = vec![2; 16];
    created.changes[2].device = Some("author-b".into());
    created.changes[2].sig = Some(vec![3; 64]);
    s.commit(vec![created.clone(), sample_write(unsigned, None, 2)]).await.unwrap();
    let mut appended = sample_write(signed, Some(1), 2);
    appended.changes[1].sig = Some(vec![4; 64]);
    s.commit(vec![appended.clone()]).await.unwrap().pop().unwrap().unwrap();

    let got = s.signatures(vec![missing, unsigned, signed]).await.unwrap();
    assert_eq!(got.len(), 1, "only the document with signed changes: {got:?}");
    assert_eq!(got[0].doc, signed);
    let pairs: Vec<([u8; 32], [u8; 64])> =
        got[0].sigs.iter().map(|c| (c.hash.0, c.sig.0)).collect();
    assert_eq!(
        pairs,
        vec![
            (created.changes[0].hash, [1; 64]),
            (created.changes[2].hash, [3; 64]),
            (appended.changes[1].hash, [4; 64]),
        ],
        "in log order, across writes"
    );
    assert_eq!(got[0].signers, vec![vec![1; 16], vec![2; 16]], "each signer once");
    assert!(s.signatures(vec![unsigned, missing]).await.unwrap().is_empty());
}

pub async fn close_refuses_writes(s: &dyn Storage) {
    let id = DocId::random();
    s.commit(vec![sample_write(id, None, 1)]).await.unwrap();
    s.close().await;
    assert!(matches!(
        s.commit(vec![sample_write(id, Some(1), 1)]).await,
        Err(StorageError::Closed)
    ));
}

fn refused(doc: DocId, scope: &str, device: &str, at: i64) -> Refused {
    Refused {
        doc,
        kind: Kind::Report,
        scope: scope.into(),
        device: device.into(),
        user: format!("user-of-{device}"),
        code: "stale_rights".into(),
        message: format!("refused at {at}"),
        at,
    }
}

/// Refusals are listed one per document, device and code (a repeat updates the message, the
/// last time and the count, keeping its place), filtered by scope prefix and paged by id.
pub async fn refusals_are_listed_once_per_document_device_and_code(s: &dyn Storage) {
    let (a, b) = (DocId::random(), DocId::random());
    s.record_refusals(vec![
        refused(a, "jl/cc/grid-1", "dev-1", 10),
        refused(b, "jl/bs/grid-2", "dev-1", 11),
        refused(a, "jl/cc/grid-1", "dev-2", 12),
    ])
    .await
    .unwrap();
    s.record_refusals(vec![refused(a, "jl/cc/grid-1", "dev-1", 20)]).await.unwrap();
    let all = s.refusals(vec![], 0, 100).await.unwrap();
    let seen: Vec<_> =
        all.iter().map(|r| (r.refused.doc, r.refused.device.as_str(), r.times)).collect();
    assert_eq!(seen, vec![(a, "dev-1", 2), (b, "dev-1", 1), (a, "dev-2", 1)]);
    assert_eq!((all[0].first_at, all[0].refused.at), (10, 20));
    assert_eq!(all[0].refused.message, "refused at 20");
    assert_eq!(all[0].refused.user, "user-of-dev-1");
    let cc = s.refusals(vec!["jl/cc".into()], 0, 100).await.unwrap();
    assert_eq!(cc.len(), 2);
    assert!(s.refusals(vec!["jl/c".into()], 0, 100).await.unwrap().is_empty(), "by path segments");
    let page = s.refusals(vec![], all[0].id, 1).await.unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![all[1].id]);
}
