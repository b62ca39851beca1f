//! The server over HTTP on a loopback port, driven with raw protocol messages: push, dedupe,
//! refusals, catch-up and log paging, echo suppression, and every request-level error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use crate::common::*;
use automerge::AutoCommit;
use automerge::transaction::Transactable;
use fieldsync_core::DocId;
use fieldsync_core::protocol::{self, PushDoc, PushOutcome, SyncRequest, VERSION, limits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_another_device_catches_up() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("roof-top building");
    let resp = server.sync(&a.request(None, "", vec![a.push_saved(id)])).await.unwrap();
    assert_eq!(resp.v, VERSION);
    assert_eq!(resp.epoch, server.epoch());
    assert_eq!(resp.results.len(), 1);
    let PushOutcome::Acked { heads } = &resp.results[0].outcome else {
        panic!("{:?}", resp.results[0].outcome)
    };
    assert_eq!(protocol::from_wire(heads), a.heads(id));
    // The pushing device's catch-up still holds the document whole (catch-up is not filtered).
    assert!(resp.cursor.starts_with('l'), "{}", resp.cursor);

    let b = Phone::new("dispatcher-1");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    assert_eq!(resp.docs.len(), 1);
    assert!(resp.docs[0].whole);
    assert!(!resp.more);
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.store.get(id).unwrap(), a.store.get(id).unwrap());
    assert_eq!(b.heads(id), a.heads(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_twice_is_harmless() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("noise at night");
    a.comment(id, "still going on");
    for _ in 0..3 {
        let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
        assert_acked(&resp);
    }
    let log = server.running.server().storage().audit(0, 1000).await.unwrap();
    let changes = a.store.load(id).unwrap().get_changes(&[]).len();
    assert_eq!(log.len(), changes, "each change logged once");
    let hashes: HashSet<[u8; 32]> = log.iter().map(|e| e.hash).collect();
    assert_eq!(hashes.len(), changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_dependencies_are_retried_and_nothing_is_stored() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("blocked fire exit");
    let created = a.heads(id);
    a.comment(id, "first");
    // Only the comment: the server lacks the document it depends on.
    let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &created)])).await.unwrap();
    assert!(matches!(
        &resp.results[0].outcome,
        PushOutcome::Retry { code, .. } if code == "missing_dependencies"
    ));
    assert!(server.running.server().storage().audit(0, 10).await.unwrap().is_empty());
    assert!(resp.docs.is_empty());

    // With everything, it goes through.
    let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
    assert_acked(&resp);
    // Heads the server does not hold (a change not sent) are not acknowledged.
    let heads = a.heads(id);
    a.comment(id, "second");
    let mut push = a.push_after(id, &heads);
    push.changes.clear();
    let resp = server.sync(&a.request(None, "", vec![push])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("missing_dependencies"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_changes_fail_their_document_only() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let good = a.report("good");
    let bad = a.report("bad");
    let mut truncated = a.push_after(bad, &[]);
    truncated.changes.truncate(truncated.changes.len() - 7);
    let mut flipped = a.push_after(bad, &[]);
    let at = flipped.changes.len() / 2;
    flipped.changes[at] ^= 0x5a;
    let garbage = PushDoc {
        doc: DocId::random(),
        changes: b"not automerge at all".to_vec(),
        heads: vec![],
        signed: vec![],
    };
    let resp = server
        .sync(&a.request(None, "", vec![truncated, a.push_after(good, &[]), garbage]))
        .await
        .unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("malformed_changes"));
    assert!(matches!(resp.results[1].outcome, PushOutcome::Acked { .. }));
    assert_eq!(outcome_code(&resp.results[2].outcome), Some("malformed_changes"));
    let resp = server.sync(&a.request(None, "", vec![flipped])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("malformed_changes"));

    let storage = server.running.server().storage();
    assert_eq!(storage.doc_ids().await.unwrap(), vec![good]);
    assert!(storage.audit(0, 1000).await.unwrap().iter().all(|e| e.doc == good));
    // The document refused is taken once its bytes are whole.
    let resp = server.sync(&a.request(None, "", vec![a.push_after(bad, &[])])).await.unwrap();
    assert_acked(&resp);
}

/// A bulk upload (a week offline) is ingested on several threads: each answer is still the
/// one of its own document, in push order, and a bad document among the good fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_push_is_answered_in_order_and_bad_documents_fail_alone() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let mut push = Vec::new();
    let mut good = Vec::new();
    for i in 0..120 {
        if i % 10 == 3 {
            push.push(PushDoc {
                doc: DocId::random(),
                changes: format!("not automerge {i}").into_bytes(),
                heads: vec![],
                signed: vec![],
            });
        } else {
            let id = a.report(&format!("bulk {i}"));
            good.push(id);
            push.push(a.push_after(id, &[]));
        }
    }
    let sent: Vec<DocId> = push.iter().map(|p| p.doc).collect();
    let resp = server.sync(&a.request(None, "", push)).await.unwrap();
    let answered: Vec<DocId> = resp.results.iter().map(|r| r.doc).collect();
    assert_eq!(answered, sent, "one answer per document, in push order");
    for (i, r) in resp.results.iter().enumerate() {
        if i % 10 == 3 {
            assert_eq!(outcome_code(&r.outcome), Some("malformed_changes"), "document {i}");
        } else {
            assert!(matches!(r.outcome, PushOutcome::Acked { .. }), "document {i}: {r:?}");
        }
    }
    let storage = server.running.server().storage();
    let mut stored = storage.doc_ids().await.unwrap();
    stored.sort();
    good.sort();
    assert_eq!(stored, good);
    assert!(storage.audit(0, 1000).await.unwrap().iter().all(|e| good.contains(&e.doc)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_are_not_records_are_rejected() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let mut doc = AutoCommit::new().with_actor(a.store.identity().actor);
    doc.put(automerge::ROOT, "title", "no header here").unwrap();
    let push = PushDoc {
        doc: DocId::random(),
        changes: doc.save(),
        heads: protocol::to_wire(&doc.get_heads()),
        signed: vec![],
    };
    let resp = server.sync(&a.request(None, "", vec![push])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("invalid_document"));
    assert!(matches!(resp.results[0].outcome, PushOutcome::Rejected { .. }));

    // A record pushed under another document's id is not valid either.
    let id = a.report("mine");
    let mut push = a.push_after(id, &[]);
    push.doc = DocId::random();
    let resp = server.sync(&a.request(None, "", vec![push])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("invalid_document"));
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_device_catches_up_in_pages_then_follows_the_log() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let mut ids = Vec::new();
    for i in 0..40 {
        let id = a.store.create(&new_report(&format!("report {i}"))).unwrap();
        // Text that does not compress, so that each document takes about a kilobyte.
        let text: String = (0..300)
            .map(|_| char::from_u32(0x4e00 + rand::random::<u32>() % 0x5000).unwrap())
            .collect();
        a.comment(id, &text);
        ids.push(id);
    }
    let pushes: Vec<PushDoc> = ids.iter().map(|id| a.push_after(*id, &[])).collect();
    let resp = server.sync(&a.request(None, "", pushes)).await.unwrap();
    assert_acked(&resp);

    let b = Phone::new("grid-leader-1");
    let mut cursor = String::new();
    let mut epoch = None;
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let mut req = b.request(epoch.clone(), &cursor, vec![]);
        req.page_bytes = 16 * 1024;
        let resp = server.sync(&req).await.unwrap();
        pages += 1;
        let bytes: usize = resp.docs.iter().map(|d| d.bytes.len()).sum();
        assert!(bytes <= 16 * 1024 || resp.docs.len() == 1, "page of {bytes} bytes");
        for d in &resp.docs {
            assert!(d.whole);
            b.store.merge_remote(d.doc, &d.bytes).unwrap();
            got.push(d.doc);
        }
        epoch = Some(resp.epoch.clone());
        cursor = resp.cursor.clone();
        if resp.more {
            assert!(cursor.starts_with('c'), "{cursor}");
            assert!(resp.remaining > 0);
        } else {
            assert!(cursor.starts_with('l'), "{cursor}");
            break;
        }
        assert!(pages < 100);
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(got, ids, "every document once, in server order");

    // Then the log: a change made on A arrives as changes, not whole.
    let before = a.heads(ids[7]);
    a.accept(ids[7], "on it");
    let resp =
        server.sync(&a.request(epoch.clone(), "", vec![a.push_after(ids[7], &before)])).await;
    assert_acked(&resp.unwrap());
    let resp = server.sync(&b.request(epoch.clone(), &cursor, vec![])).await.unwrap();
    assert_eq!(resp.docs.len(), 1);
    assert!(!resp.docs[0].whole);
    assert_eq!(resp.docs[0].doc, ids[7]);
    b.store.merge_remote(ids[7], &resp.docs[0].bytes).unwrap();
    assert_eq!(b.store.get(ids[7]).unwrap(), a.store.get(ids[7]).unwrap());
    assert!(!resp.more);
    assert_eq!(resp.remaining, 0);

    // Nothing changed: one small exchange.
    let req = b.request(epoch, &resp.cursor, vec![]);
    let up = protocol::encode(&req).len();
    let (status, down) = server.post_raw("/v1/sync", protocol::encode(&req)).await;
    assert_eq!(status, 200);
    assert!(up + down.len() <= 512, "{} bytes", up + down.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wanted_documents_come_whole_and_once() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("wanted");
    let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
    let cursor = resp.cursor;
    let before = a.heads(id);
    a.comment(id, "more");
    server.sync(&a.request(None, &cursor, vec![a.push_after(id, &before)])).await.unwrap();

    let b = Phone::new("other");
    let mut req = b.request(Some(server.epoch()), &cursor, vec![]);
    req.want = vec![id, id, DocId::random()];
    let resp = server.sync(&req).await.unwrap();
    assert_eq!(resp.docs.len(), 1, "a wanted document is not also sent as changes");
    assert!(resp.docs[0].whole);
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), a.heads(id));
    assert!(!resp.more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_does_not_get_its_own_changes_back() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let b = Phone::new("resident-2");
    let first = server.sync(&a.request(None, "", vec![])).await.unwrap();
    let start_cursor = first.cursor.clone();
    let epoch = Some(first.epoch.clone());

    let ida = a.report("from a");
    let idb = b.report("from b");
    let ra =
        server.sync(&a.request(epoch.clone(), &start_cursor, vec![a.push_after(ida, &[])])).await;
    let ra = ra.unwrap();
    assert_acked(&ra);
    assert!(ra.docs.is_empty(), "A's own changes are not echoed");
    assert!(ra.cursor != start_cursor, "the cursor still moves past them");
    let rb =
        server.sync(&b.request(epoch.clone(), &start_cursor, vec![b.push_after(idb, &[])])).await;
    let rb = rb.unwrap();
    assert_eq!(rb.docs.iter().map(|d| d.doc).collect::<Vec<_>>(), vec![ida]);

    let ra = server.sync(&a.request(epoch, &ra.cursor, vec![])).await.unwrap();
    assert_eq!(ra.docs.iter().map(|d| d.doc).collect::<Vec<_>>(), vec![idb]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cursors_and_epochs_are_refused_before_anything_is_applied() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("r");
    let epoch = Some(server.epoch());

    for (cursor, code) in [("l999999", "cursor_ahead"), ("c999999.0", "cursor_ahead")] {
        let err = server.sync(&a.request(epoch.clone(), cursor, vec![a.push_after(id, &[])])).await;
        let (status, body) = err.unwrap_err();
        assert_eq!((status, body.code.as_str()), (400, code), "{cursor}");
    }
    for cursor in ["zzz", "l", "l-4", &"l1".repeat(100)] {
        let (status, body) =
            server.sync(&a.request(epoch.clone(), cursor, vec![])).await.unwrap_err();
        assert_eq!((status, body.code.as_str()), (400, "invalid_cursor"), "{cursor}");
    }
    let (status, body) = server
        .sync(&a.request(Some("another-epoch".into()), "l0", vec![a.push_after(id, &[])]))
        .await
        .unwrap_err();
    assert_eq!((status, body.code.as_str()), (409, "epoch_mismatch"));
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());

    // A fresh start (empty cursor) with a stale epoch is a catch-up, not a mismatch.
    let resp = server.sync(&a.request(Some("old".into()), "", vec![])).await.unwrap();
    assert_eq!(resp.epoch, server.epoch());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_typed_errors_and_the_server_keeps_serving() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let good = protocol::encode(&a.request(None, "", vec![]));

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not gzip", b"hello".to_vec(), 400, "malformed_body"),
        ("truncated gzip", good[..good.len() - 5].to_vec(), 400, "malformed_body"),
        ("wrong message", protocol::encode(&vec![1, 2, 3]), 400, "malformed_body"),
        ("over the limit", vec![0u8; limits::BODY_BYTES + 1], 413, "too_large"),
        ("empty", Vec::new(), 400, "malformed_body"),
    ];
    for (what, body, status, code) in cases {
        let (s, b) = server.post_raw("/v1/sync", body.clone()).await;
        assert_eq!(s, status, "{what}");
        assert_eq!(error_body(&b).code, code, "{what}");
        let (s, b) = server.post_raw("/v1/reconcile", body).await;
        assert_eq!((s, error_body(&b).code.as_str()), (status, code), "reconcile: {what}");
    }

    // Sync versions 1 and 2 are served, each answered in its own; 3 is not.
    let mut v2 = a.request(None, "", vec![]);
    v2.v = protocol::SYNC_VERSION;
    assert_eq!(server.sync(&v2).await.unwrap().v, protocol::SYNC_VERSION);
    assert_eq!(server.sync(&a.request(None, "", vec![])).await.unwrap().v, VERSION);
    let mut v3 = a.request(None, "", vec![]);
    v3.v = protocol::SYNC_VERSION + 1;
    let (status, body) = server.sync(&v3).await.unwrap_err();
    assert_eq!((status, body.code.as_str()), (400, "unsupported_version"));
    assert!(body.message.contains("speaks 1 and 2"), "{}", body.message);
    // Signatures come with version 2 only.
    let mut signed = a.push_saved(a.report("signed in version 1"));
    signed.signed = vec![protocol::SignedBy { actor: a.actor(), sigs: vec![], credential: None }];
    let (status, body) = server.sync(&a.request(None, "", vec![signed])).await.unwrap_err();
    assert_eq!((status, body.code.as_str()), (400, "invalid_request"));
    // A message of another version with another shape is still named as such.
    #[derive(serde::Serialize)]
    struct Future {
        v: u32,
        something: String,
    }
    let (s, b) = server
        .post_raw("/v1/sync", protocol::encode(&Future { v: 9, something: "x".into() }))
        .await;
    assert_eq!((s, error_body(&b).code.as_str()), (400, "unsupported_version"));

    // Limits on counts and sizes.
    let many: Vec<PushDoc> = (0..=limits::PUSH_DOCS)
        .map(|_| PushDoc { doc: DocId::random(), changes: vec![], heads: vec![], signed: vec![] })
        .collect();
    let (status, body) = server.sync(&a.request(None, "", many)).await.unwrap_err();
    assert_eq!((status, body.code.as_str()), (413, "too_large"));
    // At most RELAYED_AUTHORS other devices' signatures; this device's own do not count.
    let authors = |n: usize, own: bool| {
        let mut signed: Vec<protocol::SignedBy> = (0..n)
            .map(|i| protocol::SignedBy {
                actor: vec![0xa0, i as u8, 7],
                sigs: vec![],
                credential: None,
            })
            .collect();
        if own {
            signed.push(protocol::SignedBy { actor: a.actor(), sigs: vec![], credential: None });
        }
        let doc = PushDoc { doc: DocId::random(), changes: vec![], heads: vec![], signed };
        let mut req = a.request(None, "", vec![doc]);
        req.v = protocol::SYNC_VERSION;
        req
    };
    let most = authors(limits::RELAYED_AUTHORS, true);
    assert!(server.sync(&most).await.is_ok(), "64 others and this device");
    let (status, body) =
        server.sync(&authors(limits::RELAYED_AUTHORS + 1, false)).await.unwrap_err();
    assert_eq!((status, body.code.as_str()), (413, "too_large"), "{}", body.message);
    let mut want = a.request(None, "", vec![]);
    want.want = (0..=limits::WANT_DOCS).map(|_| DocId::random()).collect();
    assert_eq!(server.sync(&want).await.unwrap_err().0, 413);
    let heavy = PushDoc {
        doc: DocId::random(),
        changes: vec![7; limits::PUSH_BYTES + 1],
        heads: vec![],
        signed: vec![],
    };
    assert_eq!(server.sync(&a.request(None, "", vec![heavy])).await.unwrap_err().0, 413);
    let heads = PushDoc {
        doc: DocId::random(),
        changes: vec![],
        heads: vec![protocol::Hash([1; 32]); limits::HEADS + 1],
        signed: vec![],
    };
    let (status, body) = server.sync(&a.request(None, "", vec![heads])).await.unwrap_err();
    assert_eq!((status, body.code.as_str()), (400, "invalid_request"));
    let mut no_actor = a.request(None, "", vec![]);
    no_actor.actor = vec![];
    assert_eq!(server.sync(&no_actor).await.unwrap_err().1.code, "invalid_request");
    let id = a.report("twice");
    let twice = vec![a.push_after(id, &[]), a.push_after(id, &[])];
    assert_eq!(
        server.sync(&a.request(None, "", twice)).await.unwrap_err().1.code,
        "invalid_request"
    );

    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
    assert!(server.sync(&a.request(None, "", vec![])).await.is_ok());
    let (status, body) = server.get("/nowhere").await;
    assert_eq!((status, error_body(body.as_bytes()).code.as_str()), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_ordered_and_every_entry_is_in_its_document() {
    let server = start().await;
    let phones: Vec<Phone> = (0..3).map(|i| Phone::new(&format!("user-{i}"))).collect();
    let mut ids = Vec::new();
    for p in &phones {
        let id = p.report("shared");
        server.sync(&p.request(None, "", vec![p.push_after(id, &[])])).await.unwrap();
        ids.push(id);
    }
    // Each phone comments on its report a few times, pushing concurrently.
    let mut tasks = Vec::new();
    for (p, id) in phones.iter().zip(&ids) {
        let before = p.heads(*id);
        for n in 0..3 {
            p.comment(*id, &format!("comment {n}"));
        }
        let req = p.request(None, "", vec![p.push_after(*id, &before)]);
        let http = server.http.clone();
        let url = server.url("/v1/sync");
        let token = server.token_for(&p.actor());
        tasks.push(tokio::spawn(async move {
            let post = http.post(url).bearer_auth(token).body(protocol::encode(&req));
            post.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let storage = server.running.server().storage();
    let log = storage.audit(0, 10_000).await.unwrap();
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    let expected: usize = phones
        .iter()
        .zip(&ids)
        .map(|(p, id)| p.store.load(*id).unwrap().get_changes(&[]).len())
        .sum();
    assert_eq!(log.len(), expected);
    let mut seen: HashSet<automerge::ChangeHash> = HashSet::new();
    for e in &log {
        let stored = storage.load(vec![e.doc]).await.unwrap().pop().unwrap().unwrap();
        let mut doc = AutoCommit::load(&stored.bytes).unwrap();
        let change =
            doc.get_change_by_hash(&automerge::ChangeHash(e.hash)).expect("in the document");
        assert_eq!(change.actor_id().to_bytes(), e.actor.as_slice());
        // Causal order: what a change depends on was logged before it.
        for d in change.deps() {
            assert!(seen.contains(d), "seq {} logged before its dependency", e.seq);
        }
        seen.insert(change.hash());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_to_one_document_all_land() {
    let server = start().await;
    let owner = Phone::new("resident-1");
    let id = owner.report("shared");
    server.sync(&owner.request(None, "", vec![owner.push_after(id, &[])])).await.unwrap();
    let base = owner.store.saved_bytes(id).unwrap();
    let created = owner.heads(id);
    let mut tasks = Vec::new();
    let mut phones = Vec::new();
    for i in 0..8 {
        let p = Phone::new(&format!("user-{i}"));
        p.store.merge_remote(id, &base).unwrap();
        p.comment(id, &format!("from {i}"));
        let req = p.request(None, "", vec![p.push_after(id, &created)]);
        let http = server.http.clone();
        let url = server.url("/v1/sync");
        let token = server.token_for(&p.actor());
        tasks.push(tokio::spawn(async move {
            let body = http
                .post(url)
                .bearer_auth(token)
                .body(protocol::encode(&req))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            protocol::decode::<protocol::SyncResponse>(&body).unwrap()
        }));
        phones.push(p);
    }
    for t in tasks {
        assert_acked(&t.await.unwrap());
    }
    let stored =
        server.running.server().storage().load(vec![id]).await.unwrap().pop().unwrap().unwrap();
    let mut doc = AutoCommit::load(&stored.bytes).unwrap();
    for p in &phones {
        for h in p.heads(id) {
            assert!(doc.get_change_by_hash(&h).is_some());
        }
    }
    let log = server.running.server().storage().audit(0, 1000).await.unwrap();
    assert_eq!(log.len(), doc.get_changes(&[]).len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("counted");
    server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
    // A document new to the server is kept loaded (a small push); the next push finds it.
    let before = a.heads(id);
    a.comment(id, "counted twice");
    server.sync(&a.request(None, "", vec![a.push_after(id, &before)])).await.unwrap();
    let _ = server.post_raw("/v1/sync", b"junk".to_vec()).await;
    assert_eq!(server.get("/healthz").await, (200, "ok".into()));
    let (status, text) = server.metrics().await;
    assert_eq!(status, 200);
    for needle in [
        "fieldsync_requests_total{route=\"/v1/sync\",status=\"200\"} 2",
        "fieldsync_requests_total{route=\"/v1/sync\",status=\"400\"} 1",
        "fieldsync_changes_accepted_total 2",
        "fieldsync_documents_cached 1",
        "fieldsync_cache_misses_total 1",
        "fieldsync_log_seq 2",
        "fieldsync_request_duration_seconds_count{route=\"/v1/sync\"} 3",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("resident memory reported");
    assert!(rss > 1024 * 1024, "a running server holds more than 1 MiB: {rss}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_a_restart_and_the_epoch_stays() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir).await;
    let epoch = server.epoch();
    let a = Phone::new("resident-1");
    let id = a.report("durable");
    let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
    assert_acked(&resp);
    let TestServer { dir, running, .. } = server;
    running.abort().await;

    let server = start_in(dir).await;
    assert_eq!(server.epoch(), epoch);
    let b = Phone::new("other");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    assert_eq!(resp.docs.len(), 1);
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), a.heads(id));
    // The old cursor is still good.
    let again = server.sync(&a.request(Some(epoch), &resp.cursor, vec![])).await.unwrap();
    assert!(again.docs.is_empty());
    server.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_request_round_trips_through_the_default_page_size() {
    // page_bytes 0 means the default; a request with everything empty is answered.
    let server = start().await;
    let req = SyncRequest {
        v: VERSION,
        epoch: None,
        cursor: String::new(),
        actor: vec![1; 16],
        push: vec![],
        want: vec![],
        page_bytes: 0,
    };
    let resp = server.sync(&req).await.unwrap();
    // The cursor names the log position and the rights it was issued under.
    assert!(resp.cursor.starts_with("l0~") && !resp.rescoped, "{}", resp.cursor);
    assert!(!resp.more && resp.docs.is_empty() && resp.results.is_empty());
}

/// Follows the log from `cursor` to its end in pages of `page_bytes`; returns every pulled
/// piece (document, bytes) in order and the requests it took.
async fn follow(
    server: &TestServer,
    phone: &Phone,
    epoch: &str,
    cursor: &str,
    page_bytes: u32,
) -> (Vec<(DocId, Vec<u8>)>, usize) {
    let mut cursor = cursor.to_string();
    let mut pieces = Vec::new();
    for requests in 1..1000 {
        let mut req = phone.request(Some(epoch.to_string()), &cursor, vec![]);
        req.page_bytes = page_bytes;
        let resp = server.sync(&req).await.unwrap();
        pieces.extend(resp.docs.into_iter().map(|d| (d.doc, d.bytes)));
        cursor = resp.cursor;
        if !resp.more {
            return (pieces, requests);
        }
    }
    panic!("the log never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_segments_are_spliced_the_same_for_every_reader_without_echoes() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let b = Phone::new("resident-2");
    let first = server.sync(&a.request(None, "", vec![])).await.unwrap();
    let (epoch, start_cursor) = (first.epoch.clone(), first.cursor.clone());
    // 150 changes from A, then 50 from B, then 30 more from A: several sealed segments, one of
    // them mixed, and an open tail.
    let mut a_ids = Vec::new();
    for i in 0..150 {
        let id = a.report(&format!("a {i}"));
        a_ids.push(id);
        server
            .sync(&a.request(Some(epoch.clone()), "", vec![a.push_after(id, &[])]))
            .await
            .unwrap();
    }
    let mut b_ids = Vec::new();
    for i in 0..50 {
        let id = b.report(&format!("b {i}"));
        b_ids.push(id);
        server
            .sync(&b.request(Some(epoch.clone()), "", vec![b.push_after(id, &[])]))
            .await
            .unwrap();
    }
    for (i, id) in a_ids.iter().take(30).enumerate() {
        let before = a.heads(*id);
        a.comment(*id, &format!("again {i}"));
        let push = a.push_after(*id, &before);
        server.sync(&a.request(Some(epoch.clone()), "", vec![push])).await.unwrap();
    }

    // A third device reads everything: twice (the second time from the cache), in big and in
    // small pages; always the same pieces, in log order.
    let c = Phone::new("dispatcher-1");
    let (all, _) = follow(&server, &c, &epoch, &start_cursor, 4 << 20).await;
    let (again, _) = follow(&server, &c, &epoch, &start_cursor, 4 << 20).await;
    let (small, requests) = follow(&server, &c, &epoch, &start_cursor, 16 * 1024).await;
    assert_eq!(all, again);
    let joined = |pieces: &[(DocId, Vec<u8>)]| {
        let mut per: std::collections::BTreeMap<DocId, Vec<u8>> = Default::default();
        for (d, b) in pieces {
            per.entry(*d).or_default().extend_from_slice(b);
        }
        per
    };
    assert_eq!(joined(&all), joined(&small), "page size changes how, not what");
    assert!(requests > 1, "16 KiB pages split 230 changes");
    assert_eq!(joined(&all).len(), 200);
    let (metrics_status, metrics) = server.metrics().await;
    assert_eq!(metrics_status, 200);
    assert!(!metrics.contains("fieldsync_feed_segments_cached 0\n"), "{metrics}");

    // A never gets its own changes back, B never gets its own: only the other's documents.
    let (to_a, _) = follow(&server, &a, &epoch, &start_cursor, 4 << 20).await;
    let to_a: HashSet<DocId> = to_a.into_iter().map(|(d, _)| d).collect();
    assert_eq!(to_a, b_ids.iter().copied().collect::<HashSet<_>>());
    let (to_b, _) = follow(&server, &b, &epoch, &start_cursor, 4 << 20).await;
    let to_b: HashSet<DocId> = to_b.into_iter().map(|(d, _)| d).collect();
    assert_eq!(to_b, a_ids.iter().copied().collect::<HashSet<_>>());
    // In small pages, each starting inside a sealed segment that holds the reader's own
    // changes: the same, and C's small pages above gave what its big ones did.
    let (to_a_small, _) = follow(&server, &a, &epoch, &start_cursor, 1024).await;
    let to_a_small: HashSet<DocId> = to_a_small.into_iter().map(|(d, _)| d).collect();
    assert_eq!(to_a_small, b_ids.iter().copied().collect::<HashSet<_>>());
    let (to_b_small, _) = follow(&server, &b, &epoch, &start_cursor, 1024).await;
    assert_eq!(joined(&to_b_small).len(), 150);
    assert_eq!(
        joined(&to_b_small),
        joined(&all).into_iter().filter(|(d, _)| a_ids.contains(d)).collect()
    );

    // What C pulled rebuilds A's documents exactly.
    let dir = tempfile::tempdir().unwrap();
    let store = fieldsync_core::Store::open(dir.path().join("c.db")).unwrap();
    for (id, bytes) in joined(&all) {
        store.merge_remote(id, &bytes).unwrap();
    }
    for id in &a_ids {
        assert_eq!(store.get(*id).unwrap(), a.store.get(*id).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_enrolled_device_syncs_and_only_with_its_own_actor() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let b = Phone::new("resident-2");
    let token_a = server.token_for(&a.actor());
    let id = a.report("mine");
    let body = || protocol::encode(&a.request(None, "", vec![a.push_after(id, &[])]));

    // No token, a malformed one, an unknown one: refused before anything is read or stored.
    let (status, resp) = server.post_with(None, "/v1/sync", body()).await;
    assert_eq!((status, error_body(&resp).code.as_str()), (401, "missing_token"));
    let (status, resp) = server.post_with(Some("short"), "/v1/sync", body()).await;
    assert_eq!((status, error_body(&resp).code.as_str()), (401, "malformed_token"));
    let unknown = "0".repeat(64);
    let (status, resp) = server.post_with(Some(&unknown), "/v1/sync", body()).await;
    assert_eq!((status, error_body(&resp).code.as_str()), (401, "unknown_token"));

    // B's token with A's request: the request names an actor that is not B's.
    let token_b = server.token_for(&b.actor());
    let (status, resp) = server.post_with(Some(&token_b), "/v1/sync", body()).await;
    assert_eq!((status, error_body(&resp).code.as_str()), (403, "actor_mismatch"));

    // B pushes A's changes as new ones under its own name: forged, rejected, nothing stored.
    let mut forged = b.request(None, "", vec![a.push_after(id, &[])]);
    forged.actor = b.actor();
    let resp = server.sync(&forged).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("forged_actor"));
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());

    // A's own push goes through; once the server holds them, B may pass A's changes on.
    let (status, _) = server.post_with(Some(&token_a), "/v1/sync", body()).await;
    assert_eq!(status, 200);
    let resp = server.sync(&forged).await.unwrap();
    assert_acked(&resp);

    // Revoked: typed refusal, the phone's data untouched.
    let device = server
        .running
        .server()
        .accounts()
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.actor == a.actor())
        .unwrap();
    server.running.server().accounts().revoke(&device.id).unwrap();
    let (status, resp) = server.post_with(Some(&token_a), "/v1/sync", body()).await;
    assert_eq!((status, error_body(&resp).code.as_str()), (403, "device_revoked"));
    assert_eq!(a.store.doc_ids().unwrap(), vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visible_asks_about_a_bounded_number_of_documents() {
    let server = start().await;
    let ask = |n: usize| protocol::VisibleRequest {
        v: VERSION,
        ids: (0..n).map(|_| DocId::random()).collect(),
    };
    let (status, body) = server.post_raw("/v1/visible", protocol::encode(&ask(3))).await;
    assert_eq!(status, 200);
    let answer: protocol::VisibleResponse = protocol::decode(&body).unwrap();
    assert_eq!(answer.hidden.len(), 3, "ids that do not exist are hidden");
    let (status, body) =
        server.post_raw("/v1/visible", protocol::encode(&ask(limits::WANT_DOCS + 1))).await;
    assert_eq!((status, error_body(&body).code.as_str()), (413, "too_large"));
    let (status, body) = server.post_with(None, "/v1/visible", protocol::encode(&ask(1))).await;
    assert_eq!((status, error_body(&body).code.as_str()), (401, "missing_token"));
}

/// A gzip bomb — a body within the size limit that inflates to 256 MiB — is refused once
/// inflating passes the limit, without the server holding the whole of it; the server keeps
/// serving and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_refused_before_it_is_inflated() {
    use std::io::Write;

    let server = start().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < limits::BODY_BYTES, "the bomb passes the body limit: {} B", bomb.len());
    for path in ["/v1/sync", "/v1/reconcile", "/v1/visible", "/v1/enroll"] {
        let (status, body) = server.post_raw(path, bomb.clone()).await;
        assert_eq!((status, error_body(&body).code.as_str()), (413, "too_large"), "{path}");
    }
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
    let a = Phone::new("after-the-bomb");
    let answer = server.sync(&a.request(None, "", vec![])).await.unwrap();
    assert!(answer.docs.is_empty(), "nothing was stored from the bomb");
}
