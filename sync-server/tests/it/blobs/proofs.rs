//! Possession proofs that do not hold: a wrong digest, an expired nonce, another device's
//! nonce, one for another blob, bodies that are not proofs. Each gets a typed answer that does
//! not depend on whether the blob is on the server, and none makes the device a holder.

use fieldsync_server::photos::challenge::{self as nonce, LIFETIME_MS};
use proptest::prelude::*;

use super::*;

/// The key a test server seals its challenges with, read from its database.
fn challenge_key(ts: &TestServer) -> [u8; 32] {
    let conn = rusqlite::Connection::open(ts.dir.path().join("fieldsync.db")).unwrap();
    let hex: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'blob_challenge_key'", [], |r| r.get(0))
        .unwrap();
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    key
}

/// A proof of `bytes` with a nonce sealed by the test for `device`, issued at `at`.
fn sealed_proof(key: &[u8; 32], device: &str, bytes: &[u8], at: i64) -> BlobProof {
    let size = bytes.len() as u64;
    let n = nonce::issue(key, device, &sha256(bytes), size, at, [3; 16]);
    let c = BlobChallenge {
        v: VERSION,
        hash: sha256(bytes),
        size,
        ranges: nonce::ranges(&n, size),
        nonce: n,
    };
    answer_to(&c, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_that_do_not_hold_get_typed_answers_and_make_no_holder() {
    let ts = start().await;
    let author = Device::enrolled(&ts, "mediator-chen", Role::Mediator, GRID);
    let a = Device::enrolled(&ts, "resident-ma", Role::Resident, GRID);
    let b = Device::enrolled(&ts, "resident-niu", Role::Resident, GRID);
    let data = noise(150 * KIB, 61);
    let never = noise(150 * KIB, 62);
    let (photo, unknown) = (photo_of(&data, "image/jpeg"), photo_of(&never, "image/jpeg"));
    author.case_with(&ts, GRID, &[&photo]).await;
    upload_from(&ts, &author.token, &data, 0, 64 * KIB).await;
    a.report_with(&ts, &[&photo, &unknown]).await;
    b.report_with(&ts, &[&photo]).await;
    let hash = photo.hash.as_str();
    let own_status = status(&ts, &a.token, hash).await.seen();

    // A wrong digest: the answer is the device's status, word for word, whether the blob is
    // on the server or not.
    let c = challenge(&ts, &a.token, hash, "").await.challenge();
    let mut wrong = answer_to(&c, &data);
    wrong.digest[0] ^= 1;
    let r = post_proof(&ts, &a.token, hash, protocol::encode(&wrong)).await;
    assert_eq!(r.seen(), own_status);
    let cu = challenge(&ts, &a.token, &unknown.hash, "").await.challenge();
    let ru = post_proof(&ts, &a.token, &unknown.hash, protocol::encode(&answer_to(&cu, &never)));
    let su = ru.await.status();
    let s = r.status();
    assert_eq!((s.size, s.received, s.complete), (su.size, su.received, su.complete));
    // Bytes that differ in one byte the challenge reads: the same.
    let mut close = data.clone();
    close[c.ranges[5][0] as usize] ^= 0x80;
    let r = post_proof(&ts, &a.token, hash, protocol::encode(&answer_to(&c, &close))).await;
    assert_eq!(r.seen(), own_status);

    // Nonces that are not this device's for this blob, now: 400 invalid_request, whatever the
    // blob (the same for the photo nobody uploaded).
    let key = challenge_key(&ts);
    let a_id = a.id(&ts).await;
    let now = fieldsync_core::time::now_ms();
    let expired = sealed_proof(&key, &a_id, &data, now - LIFETIME_MS - 5_000);
    let r = post_proof(&ts, &a.token, hash, protocol::encode(&expired)).await;
    let (code, e) = r.error();
    assert_eq!((code, e.code.as_str()), (400, "invalid_request"));
    assert!(e.message.contains("ask for a new one"), "{}", e.message);
    let expired_unknown = sealed_proof(&key, &a_id, &never, now - LIFETIME_MS - 5_000);
    let r = post_proof(&ts, &a.token, &unknown.hash, protocol::encode(&expired_unknown)).await;
    assert_eq!(r.code(), (400, "invalid_request".into()));
    // Another device's nonce, a challenge of another blob, a nonce sealed with another key,
    // one cut short.
    let theirs = challenge(&ts, &b.token, hash, "").await.challenge();
    let cases: Vec<(&str, &str, BlobProof)> = vec![
        ("another device's nonce", hash, answer_to(&theirs, &data)),
        ("a nonce of another blob", hash, answer_to(&cu, &data)),
        ("another key", hash, sealed_proof(&[7; 32], &a_id, &data, now)),
        (
            "a nonce cut short",
            hash,
            BlobProof { nonce: c.nonce[..40].to_vec(), ..answer_to(&c, &data) },
        ),
        ("a digest of 31 bytes", hash, BlobProof { digest: vec![1; 31], ..answer_to(&c, &data) }),
    ];
    for (what, hash, proof) in cases {
        let r = post_proof(&ts, &a.token, hash, protocol::encode(&proof)).await;
        assert_eq!(r.code(), (400, "invalid_request".into()), "{what}");
    }
    // Bodies that are not proofs, and a hash that is none.
    let bodies: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not gzip", b"hello".to_vec(), 400, "malformed_body"),
        ("another message", protocol::encode(&c), 400, "malformed_body"),
        (
            "another version",
            protocol::encode(&BlobProof { v: 9, ..answer_to(&c, &data) }),
            400,
            "unsupported_version",
        ),
        ("a large body", vec![0; 5 * KIB], 413, "too_large"),
    ];
    for (what, body, status_code, code) in bodies {
        let r = post_proof(&ts, &a.token, hash, body).await;
        assert_eq!(r.code(), (status_code, code.to_string()), "{what}");
    }
    let r = post_proof(&ts, &a.token, "NOT-A-HASH", protocol::encode(&answer_to(&c, &data))).await;
    assert_eq!(r.code(), (400, "invalid_request".into()));
    // Challenges only for the device's own references, at their size.
    let missing = sha256(b"nobody names this");
    for (token, hash, query, expected) in [
        (&a.token, missing.as_str(), "", (404, "not_found")),
        (&author.token, unknown.hash.as_str(), "", (404, "not_found")),
        (&a.token, hash, "?size=7", (404, "not_found")),
        (&a.token, hash, "?size=abc", (400, "invalid_request")),
        (&a.token, "abc", "", (400, "invalid_request")),
    ] {
        let r = challenge(&ts, token, hash, query).await;
        assert_eq!(r.code(), (expected.0, expected.1.to_string()), "{hash} {query}");
    }
    let r = Answer::of(
        ts.http.get(ts.url(&format!("/v1/blobs/{hash}/challenge"))).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.code(), (401, "missing_token".into()));

    // After all that, still no holder: nothing to read.
    assert_eq!(status(&ts, &a.token, hash).await.seen(), own_status);
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{hash}"), None).await.code().1, "not_found");
    // A nonce the test sealed with the server's key, issued now: the forging above was refused
    // for its age or its device, not for the way it was made.
    let fresh = sealed_proof(&key, &a_id, &data, now);
    assert!(post_proof(&ts, &a.token, hash, protocol::encode(&fresh)).await.status().complete);
}

/// Hostile proofs against the real server: any nonce altered anywhere, any digest, any nonce,
/// any bytes for a body — the answer is the device's status (200, not complete) or a typed 4xx
/// with the error body, never a 5xx, and never makes the device a holder. 200 cases;
/// `PROPTEST_CASES=<n>` runs more.
#[test]
fn any_altered_proof_is_refused_with_a_typed_answer() {
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Debug, Clone)]
    enum Hostile {
        FlipNonce(usize, u8),
        Digest(Vec<u8>),
        Nonce(Vec<u8>),
        Body(Vec<u8>),
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ts = rt.block_on(start());
    let author = Device::enrolled(&ts, "mediator-chen", Role::Mediator, GRID);
    let a = Device::enrolled(&ts, "resident-ma", Role::Resident, GRID);
    let data = noise(100 * KIB, 71);
    let photo = photo_of(&data, "image/jpeg");
    let c = rt.block_on(async {
        author.case_with(&ts, GRID, &[&photo]).await;
        upload_from(&ts, &author.token, &data, 0, 64 * KIB).await;
        a.report_with(&ts, &[&photo]).await;
        challenge(&ts, &a.token, &photo.hash, "").await.challenge()
    });
    let right = answer_to(&c, &data);
    let hostile = prop_oneof![
        (0..c.nonce.len(), 0u8..8).prop_map(|(at, bit)| Hostile::FlipNonce(at, bit)),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Hostile::Digest),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Hostile::Nonce),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(Hostile::Body),
    ];
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<(u16, String), usize>::new());
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let result = runner.run(&hostile, |h| {
        let body = match &h {
            Hostile::FlipNonce(at, bit) => {
                let mut p = right.clone();
                p.nonce[*at] ^= 1 << bit;
                protocol::encode(&p)
            }
            Hostile::Digest(d) => {
                protocol::encode(&BlobProof { digest: d.clone(), ..right.clone() })
            }
            Hostile::Nonce(n) => protocol::encode(&BlobProof { nonce: n.clone(), ..right.clone() }),
            Hostile::Body(b) => b.clone(),
        };
        let r = rt.block_on(post_proof(&ts, &a.token, &photo.hash, body));
        prop_assert!(r.status < 500, "{:?}: {} {}", h, r.status, String::from_utf8_lossy(&r.body));
        let code = if r.status == 200 {
            let s: BlobStatus = protocol::decode(&r.body).unwrap();
            prop_assert!(!s.complete, "{:?} made the device a holder", h);
            "status".to_string()
        } else {
            let e = serde_json::from_slice::<ErrorBody>(&r.body);
            prop_assert!(e.is_ok(), "{:?}: {}", h, String::from_utf8_lossy(&r.body));
            e.unwrap().code
        };
        *seen.lock().unwrap().entry((r.status, code)).or_default() += 1;
        Ok(())
    });
    eprintln!("hostile proofs: answers {:?}", seen.lock().unwrap());
    result.unwrap();
    rt.block_on(async {
        let r = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
        assert_eq!(r.code().1, "not_found");
        // The unaltered proof still holds.
        let s = post_proof(&ts, &a.token, &photo.hash, protocol::encode(&right)).await.status();
        assert!(s.complete);
    });
}
