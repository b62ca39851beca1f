//! Limits and bad input: idle uploads, quota and size, malformed uploads, hostile range headers.

use super::*;

/// An upload that receives nothing for the server's idle limit is ended by the running server:
/// its bytes are removed and its device's quota is free again; the device starts over from 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_idle_is_ended_and_its_quota_freed() {
    let idle = std::time::Duration::from_secs(3);
    let ts = start_with(|c| ServerConfig {
        blob_upload_idle: idle,
        blob_quota_bytes: 300 * KIB as u64,
        ..c
    })
    .await;
    let a = Device::resident(&ts, "resident-a");
    let first = noise(200 * KIB, 1);
    let second = noise(200 * KIB, 2);
    let (p1, p2) = (photo_of(&first, "image/jpeg"), photo_of(&second, "image/jpeg"));
    a.report_with(&ts, &[&p1, &p2]).await;
    let started = std::time::Instant::now();
    assert_eq!(put(&ts, &a.token, &first, 0, 8 * KIB).await.status().received, 8 * KIB as u64);
    // The first upload holds 200 KiB of the quota of 300: the second does not fit (unless a
    // loaded machine took longer than the idle limit between the two requests: then the first
    // upload has been ended already, which is what the rest checks).
    let second_put = put(&ts, &a.token, &second, 0, 8 * KIB).await;
    if started.elapsed() < idle {
        assert_eq!(second_put.code(), (403, "quota_exceeded".into()));
    }

    let deadline = std::time::Instant::now() + idle * 5;
    while partial_bytes(ts.dir.path()) > 0 {
        assert!(std::time::Instant::now() < deadline, "the idle upload was not ended");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(&ts, &a.token, &p1.hash).await.status().received, 0, "it starts over");
    assert_eq!(upload_from(&ts, &a.token, &second, 0, 64 * KIB).await, second.len());
    assert!(status(&ts, &a.token, &p2.hash).await.status().complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_and_quota_limits_refuse_with_typed_errors_and_store_nothing() {
    let ts = start_with(|c| ServerConfig {
        max_blob_bytes: 200 * KIB as u64,
        blob_quota_bytes: 300 * KIB as u64,
        ..c
    })
    .await;
    let a = Device::dispatcher(&ts, "officer-a");
    let blobs: Vec<Vec<u8>> = [150 * KIB, 160 * KIB, 250 * KIB, 100 * KIB]
        .iter()
        .zip(10..)
        .map(|(n, s)| noise(*n, s))
        .collect();
    let photos: Vec<PhotoRef> = blobs.iter().map(|b| photo_of(b, "image/jpeg")).collect();
    a.report_with(&ts, &photos.iter().collect::<Vec<_>>()).await;

    upload_from(&ts, &a.token, &blobs[0], 0, 64 * KIB).await;
    // 150 KiB stored: 160 more would pass the quota of 300, from the first byte.
    let before = blob_files(ts.dir.path());
    let (code, e) = put(&ts, &a.token, &blobs[1], 0, 64 * KIB).await.error();
    assert_eq!((code, e.code.as_str()), (403, "quota_exceeded"));
    assert!(e.message.contains(&(300 * KIB).to_string()), "{}", e.message);
    // Over the per-blob limit, whatever the quota.
    let (code, e) = put(&ts, &a.token, &blobs[2], 0, 64 * KIB).await.error();
    assert_eq!((code, e.code.as_str()), (413, "too_large"));
    assert!(e.message.contains(&(200 * KIB).to_string()), "{}", e.message);
    assert_eq!(blob_files(ts.dir.path()), before, "nothing stored for either");
    for p in &photos[1..3] {
        assert_eq!(status(&ts, &a.token, &p.hash).await.status().received, 0);
    }
    // What fits still goes: 150 + 100 KiB.
    upload_from(&ts, &a.token, &blobs[3], 0, 64 * KIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_typed_errors_and_store_nothing() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(3 * MIB, 7);
    let photo = photo_of(&data, "image/jpeg");
    // (A phone store takes no reference to an empty photo: the range alone is refused.)
    let empty = photo_of(b"", "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    let size = data.len();

    // What, hash, Content-Range, body, expected status and code.
    type Case = (&'static str, String, String, Vec<u8>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            "zero-length blob",
            empty.hash.clone(),
            "bytes 0-0/0".into(),
            vec![],
            400,
            "invalid_range",
        ),
        (
            "no Content-Range",
            photo.hash.clone(),
            String::new(),
            data[..10].to_vec(),
            400,
            "invalid_range",
        ),
        (
            "range beyond the declared size",
            photo.hash.clone(),
            format!("bytes {}-{}/{size}", size - 10, size + 9),
            data[..20].to_vec(),
            416,
            "invalid_range",
        ),
        (
            "last before first",
            photo.hash.clone(),
            format!("bytes 10-5/{size}"),
            vec![],
            416,
            "invalid_range",
        ),
        (
            "a body shorter than its range",
            photo.hash.clone(),
            format!("bytes 0-99/{size}"),
            data[..50].to_vec(),
            416,
            "invalid_range",
        ),
        (
            "another size than the reference's",
            photo.hash.clone(),
            format!("bytes 0-99/{}", size + 1),
            data[..100].to_vec(),
            409,
            "not_referenced",
        ),
        (
            "a hash no document references",
            sha256(b"something else"),
            format!("bytes 0-99/{size}"),
            data[..100].to_vec(),
            409,
            "not_referenced",
        ),
        (
            "a malformed hash",
            photo.hash.to_uppercase(),
            format!("bytes 0-99/{size}"),
            data[..100].to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a chunk over 1 MiB",
            photo.hash.clone(),
            format!("bytes 0-{}/{size}", limits::CHUNK_BYTES),
            data[..=limits::CHUNK_BYTES].to_vec(),
            413,
            "too_large",
        ),
        (
            // The last byte's number at the end of u64: its length must not overflow.
            "a range to the end of u64",
            photo.hash.clone(),
            format!("bytes 0-{}/{size}", u64::MAX),
            data[..100].to_vec(),
            413,
            "too_large",
        ),
        (
            "a body over 1 MiB behind a small range",
            photo.hash.clone(),
            format!("bytes 0-99/{size}"),
            data[..limits::CHUNK_BYTES + 1].to_vec(),
            413,
            "too_large",
        ),
    ];
    for (what, hash, range, body, status_code, code) in cases {
        let r = put_raw(&ts, &a.token, &hash, &range, body).await;
        assert_eq!(r.code(), (status_code, code.to_string()), "{what}");
        assert!(blob_files(ts.dir.path()).is_empty(), "{what}: {:?}", blob_files(ts.dir.path()));
    }
    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert_eq!((s.received, s.size), (0, size as u64));
    // A hash that is no hash, on the read side too.
    let r = get(&ts, &a.token, "/v1/blobs/not-a-hash/status", None).await;
    assert_eq!(r.code(), (400, "invalid_request".to_string()));
    // And without a token nothing is answered about blobs at all.
    let r =
        Answer::of(ts.http.get(ts.url(&format!("/v1/blobs/{}", photo.hash))).send().await.unwrap())
            .await;
    assert_eq!(r.code(), (401, "missing_token".to_string()));
    // The whole blob still uploads in 1 MiB chunks, the largest allowed.
    upload_from(&ts, &a.token, &data, 0, limits::CHUNK_BYTES).await;
}

/// Hostile headers on the blob endpoints, against the real server: whatever `Content-Range` and
/// body a device sends for its photo, and whatever `Range` it asks of a complete one, the answer
/// is a success or a typed 4xx with the protocol's error body, never a 5xx; a part sent is the
/// bytes asked for; and what the server holds of the upload stays a prefix of the photo, which
/// then completes and reads back whole. (A `Content-Range` ending at `u64::MAX` once answered
/// 500.)
#[test]
fn hostile_range_headers_get_typed_answers_and_spoil_nothing() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ts = rt.block_on(start());
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(64 * KIB, 21);
    let whole = noise(40 * KIB, 22);
    let (photo, done) = (photo_of(&data, "image/jpeg"), photo_of(&whole, "image/jpeg"));
    rt.block_on(async {
        a.report_with(&ts, &[&photo, &done]).await;
        upload_from(&ts, &a.token, &whole, 0, 16 * KIB).await;
    });
    let size = data.len() as u64;
    let number = || {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(size - 1),
            Just(size),
            Just(size + 1),
            0..2 * size,
            any::<u64>(),
        ]
    };
    // With the body's length when it should match the range (a chunk a phone could send).
    let content_range = prop_oneof![
        4 => (number(), number(), number())
            .prop_map(|(f, l, s)| (format!("bytes {f}-{l}/{s}"), None)),
        4 => (number(), number()).prop_map(move |(f, l)| (format!("bytes {f}-{l}/{size}"), None)),
        4 => (prop_oneof![Just(0), 0..8 * KIB as u64, 0..size], 1..3 * KIB as u64).prop_map(move |(f, n)| {
            let n = n.min(size - f);
            (format!("bytes {f}-{}/{size}", f + n - 1), Some(n as usize))
        }),
        1 => "[ -~]{0,40}".prop_map(|s| (s, None)),
    ];
    let range = prop_oneof![
        (number(), number()).prop_map(|(f, l)| format!("bytes={f}-{l}")),
        number().prop_map(|f| format!("bytes={f}-")),
        number().prop_map(|n| format!("bytes=-{n}")),
        "[ -~]{0,30}",
    ];
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    // 300 cases (under a second); `PROPTEST_CASES=<n>` runs more.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let result =
        runner.run(&(content_range, 0usize..3 * KIB, range), |((cr, fits), len, range)| {
            let len = fits.unwrap_or(len);
            rt.block_on(async {
                // The photo's own bytes from where the header says, so that whatever is taken is
                // right; garbage headers carry some bytes too.
                let first = ContentRange::parse(&cr).map_or(0, |r| r.first.min(size)) as usize;
                let body = data[first..(first + len).min(data.len())].to_vec();
                let r = put_raw(&ts, &a.token, &photo.hash, &cr, body).await;
                *seen.lock().unwrap().entry(r.status).or_default() += 1;
                prop_assert!(r.status < 500, "PUT {cr:?}: {}", String::from_utf8_lossy(&r.body));
                if r.status >= 400 {
                    prop_assert!(serde_json::from_slice::<ErrorBody>(&r.body).is_ok(), "{cr:?}");
                }
                let path = format!("/v1/blobs/{}", done.hash);
                let g = get(&ts, &a.token, &path, Some(&range)).await;
                *seen.lock().unwrap().entry(g.status).or_default() += 1;
                prop_assert!(matches!(g.status, 200 | 206 | 416), "GET {range:?}: {}", g.status);
                if g.status == 206 {
                    let cr = g.headers["content-range"].to_str().unwrap();
                    let part = ContentRange::parse(cr).unwrap();
                    let expected = &whole[part.first as usize..=part.last as usize];
                    prop_assert_eq!(&g.body[..], expected, "GET {:?}", range);
                }
                Ok(())
            })
        });
    eprintln!("hostile range headers: answers by status {:?}", seen.lock().unwrap());
    result.unwrap();
    // What was taken is the photo's prefix: the rest completes it, and it reads back whole.
    rt.block_on(async {
        let held = status(&ts, &a.token, &photo.hash).await.status();
        assert!(held.received <= size);
        if !held.complete {
            upload_from(&ts, &a.token, &data, held.received as usize, 16 * KIB).await;
        }
        let got = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
        assert_eq!(got.body, data);
    });
}
