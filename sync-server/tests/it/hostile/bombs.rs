//! Bytes that inflate past the limits: refused before they are inflated.

use super::*;

/// On the phone: a saved document whose deflated column inflates to 512 MiB, or a compressed
/// change inflating to 256 MiB, is refused by `merge_remote` before Automerge inflates it, and
/// nothing is stored.
#[test]
fn the_phone_refuses_bytes_that_inflate_past_the_limit() {
    let a = Phone::new("resident-bombs");
    let id = a.report("a bomb");
    let saved = a.store.load(id).unwrap().save();
    let b = Phone::new("resident-receives");
    let before = peak_rss();
    for bomb in [column_bomb(&saved, 512 << 20), change_bomb(256 << 20)] {
        match b.store.merge_remote(id, &bomb) {
            Err(CoreError::InvalidInput { reason, .. }) => assert!(reason.contains("inflate")),
            other => panic!("{other:?}"),
        }
    }
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 200 << 20, "peak memory grew by {} MiB", grew >> 20);
    assert!(b.store.doc_ids().unwrap().is_empty());
    b.store.merge_remote(id, &saved).unwrap();
    assert_eq!(b.heads(id), a.heads(id));
}

/// A saved document (one document chunk) whose last ops column is replaced by deflated zeros
/// that inflate to `inflated` bytes, with the column marked deflated and the chunk's length and
/// checksum right.
fn column_bomb(saved: &[u8], inflated: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut at = 9;
    let len = read_uleb(saved, &mut at) as usize;
    let data = &saved[at..at + len];
    let mut p = 0;
    for _ in 0..read_uleb(data, &mut p) {
        let n = read_uleb(data, &mut p) as usize;
        p += n;
    }
    let heads = read_uleb(data, &mut p) as usize;
    p += 32 * heads;
    let prefix = data[..p].to_vec();
    let meta = |p: &mut usize| {
        let n = read_uleb(data, p);
        (0..n).map(|_| (read_uleb(data, p), read_uleb(data, p) as usize)).collect::<Vec<_>>()
    };
    let change_cols = meta(&mut p);
    let mut ops_cols = meta(&mut p);
    let change_len: usize = change_cols.iter().map(|c| c.1).sum();
    let ops_len: usize = ops_cols.iter().map(|c| c.1).sum();
    let change_data = &data[p..p + change_len];
    let ops_data = &data[p + change_len..p + change_len + ops_len];
    let suffix = &data[p + change_len + ops_len..];
    let last = ops_cols.len() - 1;
    let kept = ops_len - ops_cols[last].1;
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated >> 20 {
        deflated.write_all(&zeros).unwrap();
    }
    let bomb = deflated.finish().unwrap();
    ops_cols[last] = (ops_cols[last].0 | 0b1000, bomb.len());
    let mut body = prefix;
    for cols in [&change_cols, &ops_cols] {
        write_uleb(&mut body, cols.len() as u64);
        for (spec, len) in cols.iter() {
            write_uleb(&mut body, *spec);
            write_uleb(&mut body, *len as u64);
        }
    }
    body.extend_from_slice(change_data);
    body.extend_from_slice(&ops_data[..kept]);
    body.extend_from_slice(&bomb);
    body.extend_from_slice(suffix);
    let mut header = vec![saved[8]];
    write_uleb(&mut header, body.len() as u64);
    let digest = Sha256::new().chain_update(&header).chain_update(&body).finalize();
    [&saved[..4], &digest[..4], &header[..], &body[..]].concat()
}

/// The process's peak resident memory (`VmHWM`; the server runs in this process).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A compressed change chunk (type 2) whose body is deflated zeros inflating to `inflated`
/// bytes; its checksum is made up (it is only checked after inflating).
fn change_bomb(inflated: usize) -> Vec<u8> {
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflated.write_all(&vec![0u8; inflated]).unwrap();
    let data = deflated.finish().unwrap();
    let mut header = vec![2u8];
    write_uleb(&mut header, data.len() as u64);
    [&[0x85, 0x6f, 0x4a, 0x83][..], &[1, 2, 3, 4], &header, &data].concat()
}

/// A saved document of 0.5 MB whose deflated column inflates to 512 MiB — pushed, or inside a
/// reconcile message — is refused `too_large` once inflating passes the per-document limit,
/// without the server holding what it inflated; nothing is stored. (Before, Automerge inflated
/// the whole column: the server's peak memory went from 19 MiB to 1 GiB, and a push of 4 MiB
/// would have asked for 8 GiB.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_document_whose_columns_inflate_past_the_limit_is_refused_before_inflating() {
    let server = start().await;
    let a = Phone::new("bomber");
    let id = a.report("a bomb");
    let saved = a.store.load(id).unwrap().save();
    let bomb = column_bomb(&saved, 512 << 20);
    assert!(bomb.len() < 600 * 1024, "{} bytes", bomb.len());
    let before = peak_rss();
    let started = Instant::now();
    let push = PushDoc { doc: id, changes: bomb.clone(), heads: vec![], signed: vec![] };
    let resp = server.sync(&a.request(None, "", vec![push])).await.unwrap();
    let PushOutcome::Rejected { code, message } = &resp.results[0].outcome else {
        panic!("{:?}", resp.results[0].outcome)
    };
    assert_eq!(code, "too_large", "{message}");
    let req = ReconcileRequest {
        v: VERSION,
        actor: a.actor(),
        docs: vec![SyncMessage { doc: id, message: message_with(vec![bomb]) }],
        have: None,
    };
    let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
    assert_eq!(status, 200);
    let answer: ReconcileResponse = protocol::decode(&body).unwrap();
    assert_eq!(outcome_code(&answer.results[0].outcome), Some("too_large"));
    let grew = peak_rss().saturating_sub(before);
    eprintln!(
        "column bomb refused twice in {:.1} s; peak memory grew by {} MiB",
        started.elapsed().as_secs_f64(),
        grew >> 20
    );
    assert!(grew < 128 << 20, "peak memory grew by {} MiB", grew >> 20);
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());
    // The document itself, saved as it is, is taken.
    let push =
        PushDoc { doc: id, changes: saved, heads: protocol::to_wire(&a.heads(id)), signed: vec![] };
    assert_acked(&server.sync(&a.request(None, "", vec![push])).await.unwrap());
}

/// One request of 4 MiB holding 128 compressed changes of 32 KB that each inflate to almost
/// 32 MiB (one per document, each within the per-document limit): the request inflates at
/// most its own budget of 32 MiB; the first document is measured and refused, the others are
/// answered `too_large` as a retry without being inflated. (Before, every one was inflated —
/// 4 GiB of inflating, 34 s of the debug server's time for one request.) Real compressed
/// changes in one request are still taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_changes_of_one_request_inflate_within_one_budget() {
    let server = start().await;
    let a = Phone::new("bomber");
    let bomb = change_bomb(32 * 1024 * 1024 - 1024);
    let n = limits::PUSH_BYTES / bomb.len();
    assert!(n >= 100, "{n} bombs");
    let push: Vec<PushDoc> = (0..n)
        .map(|_| PushDoc {
            doc: DocId::random(),
            changes: bomb.clone(),
            heads: vec![],
            signed: vec![],
        })
        .collect();
    let started = Instant::now();
    let resp = server.sync(&a.request(None, "", push)).await.unwrap();
    let took = started.elapsed();
    eprintln!("{n} compressed bombs in one request answered in {:.1} s", took.as_secs_f64());
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("malformed_changes"));
    for r in &resp.results[1..] {
        assert!(
            matches!(&r.outcome, PushOutcome::Retry { code, .. } if code == "too_large"),
            "{:?}",
            r.outcome
        );
    }
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());

    // Real changes, compressed as Automerge compresses them, several in one request: taken.
    let ids: Vec<DocId> = (0..3).map(|i| a.report(&format!("long {i}"))).collect();
    let push: Vec<PushDoc> = ids
        .iter()
        .map(|id| {
            let mut doc = a.store.load(*id).unwrap();
            let changes: Vec<u8> =
                doc.get_changes(&[]).iter_mut().flat_map(|c| c.bytes().to_vec()).collect();
            PushDoc { doc: *id, changes, heads: protocol::to_wire(&a.heads(*id)), signed: vec![] }
        })
        .collect();
    assert!(push.iter().all(|p| split_chunks(&p.changes).unwrap().iter().any(|c| c.0 == 2)));
    assert_acked(&server.sync(&a.request(None, "", push)).await.unwrap());
}
