//! Changes whose dependencies never arrive: refused, kept nowhere, asked for once.

use super::*;

/// One of the server's gauges from `/metrics`.
async fn gauge(server: &TestServer, name: &str) -> u64 {
    let (_, text) = server.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// `count` change chunks of `phone`'s for `id`, each depending on the one before, the first on
/// a change of the phone's that nobody else has; with that change.
fn orphans_of(phone: &Phone, id: DocId, count: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let before = phone.heads(id);
    phone.comment(id, "a comment that is never sent");
    let missing = phone.changes_after(id, &before);
    let after = phone.heads(id);
    let mut doc = phone.store.load(id).unwrap();
    doc.set_actor(phone.store.identity().actor);
    for i in 0..count as i64 {
        doc.put(ROOT, "orphan", i).unwrap();
        doc.commit();
    }
    let orphans = doc.get_changes(&after).iter().map(|c| c.raw_bytes().to_vec()).collect();
    (missing, orphans)
}

/// Thousands of changes whose dependencies never arrive, pushed again and again, for a stored
/// document and for documents the server does not have: every push is answered
/// `missing_dependencies` (retry), nothing is stored, and the server keeps none of them — the
/// loaded document stays as it was (the cache gauges do not move), and when the missing change
/// finally arrives alone, it is the only change stored: none of the earlier ones was waiting in
/// a queue to be released by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_whose_dependencies_never_arrive_are_refused_and_kept_nowhere() {
    let server = start().await;
    let storage = server.running.server().storage();
    let a = Phone::new("resident-orphans");
    let id = a.report("a report");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());
    let stored = storage.load(vec![id]).await.unwrap();
    let log = storage.audit(0, 100_000).await.unwrap();
    let (missing, orphans) = orphans_of(&a, id, 3000);
    let cached = gauge(&server, "fieldsync_documents_cached").await;
    let cache_bytes = gauge(&server, "fieldsync_cache_bytes").await;
    let accepted = gauge(&server, "fieldsync_changes_accepted_total").await;
    let rss_before = gauge(&server, "process_resident_memory_bytes").await;

    let unknown: Vec<DocId> = (0..200).map(|_| DocId::random()).collect();
    let rounds = 5;
    let started = Instant::now();
    for round in 0..rounds {
        let mut push =
            vec![PushDoc { doc: id, changes: orphans.concat(), heads: vec![], signed: vec![] }];
        push.extend(unknown.iter().enumerate().map(|(i, doc)| PushDoc {
            doc: *doc,
            changes: orphans[(i * 15) % 2985..][..15].concat(),
            heads: vec![],
            signed: vec![],
        }));
        let resp = server.sync(&a.request(None, "", push)).await.unwrap();
        assert_eq!(resp.results.len(), 201);
        for r in &resp.results {
            assert!(
                matches!(&r.outcome, PushOutcome::Retry { code, .. } if code == "missing_dependencies"),
                "round {round}: {:?}",
                r.outcome
            );
        }
        assert_eq!(storage.load(vec![id]).await.unwrap(), stored, "round {round}");
        assert_eq!(storage.audit(0, 100_000).await.unwrap(), log, "round {round}");
        assert_eq!(storage.doc_ids().await.unwrap(), vec![id]);
        assert_eq!(gauge(&server, "fieldsync_documents_cached").await, cached);
        assert_eq!(gauge(&server, "fieldsync_cache_bytes").await, cache_bytes);
        assert_eq!(gauge(&server, "fieldsync_documents_locked").await, 0);
        assert_eq!(gauge(&server, "fieldsync_changes_accepted_total").await, accepted);
    }
    let rss_after = gauge(&server, "process_resident_memory_bytes").await;
    eprintln!(
        "{} orphan changes pushed in {rounds} rounds in {:.1} s; resident memory {} -> {} MiB",
        rounds * (3000 + 200 * 15),
        started.elapsed().as_secs_f64(),
        rss_before >> 20,
        rss_after >> 20
    );

    // The missing change alone: it is all that is stored.
    let mut push = PushDoc { doc: id, changes: missing, heads: vec![], signed: vec![] };
    let mut on_phone = a.store.load(id).unwrap();
    let comment_hash = split_chunks(&push.changes)
        .map(|c| automerge::Change::try_from(c[0].1).unwrap().hash())
        .unwrap();
    push.heads = protocol::to_wire(&[comment_hash]);
    assert_acked(&server.sync(&a.request(None, "", vec![push])).await.unwrap());
    let entries = storage.audit(0, 100_000).await.unwrap();
    assert_eq!(entries.len(), log.len() + 1);
    assert_eq!(entries.last().unwrap().hash, comment_hash.0);
    let bytes = storage.load(vec![id]).await.unwrap().remove(0).unwrap().bytes;
    let mut on_server = AutoCommit::load(&bytes).unwrap();
    assert_eq!(on_server.get_heads(), vec![comment_hash]);
    assert!(on_server.get_missing_deps(&[]).is_empty());
    assert_eq!(
        on_server.get_changes(&[]).len(),
        on_phone.get_changes(&[]).len(),
        "the server holds the phone's changes, and none of the orphans"
    );
    // A fresh phone pulls exactly that.
    let b = Phone::new("dispatcher-fresh");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), vec![comment_hash]);
}

/// On the phone: `merge_remote` with changes whose dependencies are missing is a typed error
/// and stores nothing, however often it comes, for a held document or an unknown one; when the
/// missing change arrives, the orphans are not applied with it (nothing kept them).
#[test]
fn the_phone_refuses_changes_missing_dependencies_and_keeps_none() {
    let a = Phone::new("resident-writes");
    let id = a.report("on the phone");
    let b = Phone::new("resident-reads");
    b.store.merge_remote(id, &a.store.saved_bytes(id).unwrap()).unwrap();
    let (missing, orphans) = orphans_of(&a, id, 3000);
    let heads = b.heads(id);
    let saved = b.store.saved_bytes(id).unwrap();
    let all = orphans.concat();
    for _ in 0..5 {
        match b.store.merge_remote(id, &all) {
            Err(CoreError::MissingDependencies { id: refused, missing }) => {
                assert_eq!(refused, id);
                assert!(missing >= 1);
            }
            other => panic!("{other:?}"),
        }
        let unknown = DocId::random();
        assert!(matches!(
            b.store.merge_remote(unknown, &orphans[10..20].concat()),
            Err(CoreError::MissingDependencies { .. })
        ));
        assert_eq!(b.heads(id), heads);
        assert_eq!(b.store.saved_bytes(id).unwrap(), saved);
        assert_eq!(b.store.doc_ids().unwrap(), vec![id]);
    }
    b.store.merge_remote(id, &missing).unwrap();
    let mut doc = b.store.load(id).unwrap();
    let comment = automerge::Change::try_from(&missing[..]).unwrap();
    assert_eq!(doc.get_heads(), vec![comment.hash()], "only the missing change was applied");
    assert!(doc.get_missing_deps(&[]).is_empty());
}

/// Wraps a transport: every sync answer is changed by `inject`, and the `want` of every sync
/// request is recorded.
struct Injecting<T> {
    inner: T,
    inject: Box<dyn Fn(&mut SyncResponse) + Send + Sync>,
    wants: Arc<Mutex<Vec<Vec<DocId>>>>,
}

impl<T: Transport> Transport for Injecting<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        if path == "/v1/sync" {
            let req: SyncRequest = protocol::decode(&body).unwrap();
            self.wants.lock().unwrap().push(req.want);
        }
        let answer = self.inner.post(path, body).await?;
        if path != "/v1/sync" {
            return Ok(answer);
        }
        let mut resp: SyncResponse = protocol::decode(&answer).unwrap();
        (self.inject)(&mut resp);
        Ok(protocol::encode(&resp))
    }
}

/// How often each document was asked for in `wants`; at most [`limits::WANT_DOCS`] a request.
fn asked(wants: &[Vec<DocId>]) -> HashMap<DocId, usize> {
    let mut asked: HashMap<DocId, usize> = HashMap::new();
    for w in wants {
        assert!(w.len() <= limits::WANT_DOCS, "{} documents wanted at once", w.len());
        for d in w {
            *asked.entry(*d).or_default() += 1;
        }
    }
    asked
}

/// A sync client whose answers carry changes it cannot apply (their dependencies never come) —
/// for documents the server does not have, more than one request may ask for, and for one it
/// holds — asks for each whole at most once per sync, and the sync finishes: it does not ask for
/// the same documents round after round. The documents the server says nothing of are then no
/// longer asked for; the one it holds is taken whole. Nothing of the orphans is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_client_that_cannot_apply_what_it_pulls_asks_once_and_finishes() {
    let server = start().await;
    let a = Phone::new("resident-source");
    let id = a.report("held by the server");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());
    let (_, orphans) = orphans_of(&a, id, 20);
    let unknown: Vec<DocId> = (0..limits::WANT_DOCS + 300).map(|_| DocId::random()).collect();
    let once = std::sync::atomic::AtomicBool::new(false);
    let injected: Vec<PullDoc> = unknown
        .iter()
        .map(|doc| PullDoc { doc: *doc, bytes: orphans[5].clone(), whole: false, sigs: Vec::new() })
        .collect();
    let for_held =
        PullDoc { doc: id, bytes: orphans[3..].concat(), whole: false, sigs: Vec::new() };
    // Every answer that does not bring the held document whole brings orphans for it; the
    // first answer brings orphans for the unknown documents as well.
    let inject = move |resp: &mut SyncResponse| {
        if !resp.docs.iter().any(|d| d.doc == id && d.whole) {
            resp.docs.push(for_held.clone());
        }
        if !once.swap(true, Ordering::Relaxed) {
            resp.docs.extend(injected.iter().cloned());
        }
    };

    let p = Phone::new("dispatcher-pulls");
    let token = server.token_for(&p.actor());
    let wants = Arc::new(Mutex::new(Vec::new()));
    let transport = Injecting {
        inner: HttpTransport::new(&server.running.url()).unwrap().with_token(token),
        inject: Box::new(inject),
        wants: wants.clone(),
    };
    let config = SyncOptions { max_requests: 50, ..SyncOptions::default() };
    let client = SyncClient::new(p.store.clone(), transport).with_options(config);
    // The first sync takes the catch-up and sees the orphans fail.
    let summary = client.sync_now(None).await.unwrap();
    assert!(summary.docs_failed >= unknown.len() as i64, "{summary:?}");
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
    wants.lock().unwrap().clear();

    // The next asks for them whole, each once, in requests of at most WANT_DOCS, and finishes.
    let summary = client.sync_now(None).await.unwrap();
    let second = std::mem::take(&mut *wants.lock().unwrap());
    eprintln!(
        "second sync: {} requests, documents wanted per request {:?}",
        summary.requests,
        second.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(summary.requests <= 5, "{summary:?}");
    let asked_second = asked(&second);
    assert!(asked_second.values().all(|n| *n == 1), "a document was asked for twice in one sync");
    assert!(unknown.iter().all(|d| asked_second.contains_key(d)), "each failed document is asked");
    assert!(asked_second.contains_key(&id));
    // The held document is as the server has it; nothing else is stored.
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
    let mut doc = p.store.load(id).unwrap();
    assert!(doc.get_missing_deps(&[]).is_empty());
    let storage = server.running.server().storage();
    let on_server = storage.load(vec![id]).await.unwrap().remove(0).unwrap().bytes;
    assert_eq!(doc.get_heads(), AutoCommit::load(&on_server).unwrap().get_heads());

    // The one after is short: the documents the server said nothing of are not asked again.
    let summary = client.sync_now(None).await.unwrap();
    let third = asked(&wants.lock().unwrap());
    assert!(summary.requests <= 3, "{summary:?}");
    assert!(unknown.iter().all(|d| !third.contains_key(d)), "{third:?}");
    assert!(third.values().all(|n| *n == 1));
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
}
