//! A document growing past the per-document limit.

use super::*;

/// Text that does not compress: about 1.8 bytes per character once deflated.
fn noise_text(chars: usize) -> String {
    (0..chars).map(|_| char::from_u32(0x4e00 + rand::random::<u32>() % 0x5000).unwrap()).collect()
}

/// A document that would grow past the server's per-document limit is refused `too_large`; what
/// was stored before stays as it was and is pulled and read whole by another phone; the server
/// takes other documents meanwhile, and a new document over the limit is not stored at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_growing_past_the_limit_is_refused_and_what_was_stored_stays_readable() {
    const LIMIT: usize = 48 * 1024;
    let server = start_with(|c| ServerConfig { doc_bytes: LIMIT, ..c }).await;
    let storage = server.running.server().storage();
    let a = Phone::new("resident-grows");
    let id = a.report("a long-running dispute");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());

    let mut acked = a.heads(id);
    let mut comments = 0;
    let refused = loop {
        assert!(comments < 40, "the document never reached the limit");
        a.comment(id, &noise_text(3000));
        let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &acked)])).await.unwrap();
        match &resp.results[0].outcome {
            PushOutcome::Acked { .. } => {
                acked = a.heads(id);
                comments += 1;
            }
            other => break other.clone(),
        }
    };
    let PushOutcome::Rejected { code, message } = &refused else { panic!("{refused:?}") };
    assert_eq!(code, "too_large", "{message}");
    assert!(message.contains(&LIMIT.to_string()), "{message}");
    assert!(comments >= 3, "{comments} comments fitted in {LIMIT} bytes");

    let before = storage.load(vec![id]).await.unwrap().remove(0).unwrap();
    let log_before = storage.audit(0, 100_000).await.unwrap().len();
    assert!(before.meta.stored_bytes() <= LIMIT as u64);
    // Sending it again, or with more on top, changes nothing.
    for _ in 0..2 {
        a.comment(id, "and more");
        let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &acked)])).await.unwrap();
        assert_eq!(outcome_code(&resp.results[0].outcome), Some("too_large"));
    }
    assert_eq!(storage.load(vec![id]).await.unwrap().remove(0).unwrap(), before);
    assert_eq!(storage.audit(0, 100_000).await.unwrap().len(), log_before);

    // What was stored is whole and readable: another phone pulls it and reads every comment
    // that was acknowledged.
    let b = Phone::new("dispatcher-reads");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    assert_eq!(resp.docs.len(), 1);
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), acked);
    let Record::Report { report } = b.store.get(id).unwrap() else { panic!("not a report") };
    assert_eq!(report.comments.len(), comments);

    // Other documents are still taken.
    let other = a.report("another matter");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(other, &[])])).await.unwrap());

    // A new document over the limit from the start is not stored at all.
    let big = a.report("born too large");
    for _ in 0..comments + 2 {
        a.comment(big, &noise_text(3000));
    }
    let resp = server.sync(&a.request(None, "", vec![a.push_saved(big)])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("too_large"));
    let mut ids = storage.doc_ids().await.unwrap();
    ids.sort();
    let mut want = vec![id, other];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
}
