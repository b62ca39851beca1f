//! A photo is readable only by those entitled to it (issue 13, item 1): a reference grants
//! reading only when the device that added it proved it holds the bytes — it uploaded them, or
//! answered a possession challenge — and nothing a device that does not hold them asks tells it
//! whether another device uploaded them.

use super::*;

/// What a device gets for the bytes, the thumbnail and the status of `hash`.
async fn reads(ts: &TestServer, token: &str, hash: &str) -> Vec<(u16, String, Vec<u8>)> {
    let mut out = Vec::new();
    for tail in ["", "/thumbnail", "/status"] {
        out.push(get(ts, token, &format!("/v1/blobs/{hash}{tail}"), None).await.seen());
    }
    out
}

/// The attack: a resident of another grid, who learnt a mediation case's photo hash and
/// size, names it in a new report of their own; a grid leader of that grid reads the report; a
/// grid leader of the case's own grid, whose role may never read cases, names it too. None of
/// them reads the photo, and the intruder cannot tell it from a photo nobody uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_a_photo_in_a_record_of_ones_own_reads_nothing_and_tells_nothing() {
    let ts = start().await;
    let mediator = Device::enrolled(&ts, "mediator-chen", Role::Mediator, GRID);
    let intruder = Device::enrolled(&ts, "resident-wang", Role::Resident, OTHER_GRID);
    let their_leader = Device::enrolled(&ts, "leader-zhou", Role::GridLeader, OTHER_GRID);
    let case_leader = Device::enrolled(&ts, "leader-li", Role::GridLeader, GRID);
    let data = noise(300 * KIB, 30);
    // The same size, never uploaded by anyone.
    let never = noise(data.len(), 31);
    let (photo, unknown) = (photo_of(&data, "image/jpeg"), photo_of(&never, "image/jpeg"));
    let case = mediator.case_with(&ts, GRID, &[&photo]).await;
    upload_from(&ts, &mediator.token, &data, 0, 64 * KIB).await;
    let path = format!("/v1/blobs/{}", photo.hash);
    assert_eq!(get(&ts, &mediator.token, &path, None).await.body, data, "the author reads it");

    let report = intruder.report_in(&ts, OTHER_GRID, &[&photo, &unknown]).await;
    case_leader.report_in(&ts, GRID, &[&photo]).await;
    // The leader of the other grid reads the intruder's report (and so would read a photo it
    // legitimately held); the case's own leader does not read the case.
    assert!(their_leader.readable_docs(&ts).await.contains(&report));
    assert!(!case_leader.readable_docs(&ts).await.contains(&case));

    let missing = sha256(b"a photo no record names");
    for (who, device) in [("intruder", &intruder), ("their leader", &their_leader)] {
        let made_up = reads(&ts, &device.token, &missing).await;
        let got = reads(&ts, &device.token, &photo.hash).await;
        if who == "intruder" {
            // Its own reference: its own upload's progress only (none), as for the photo
            // nobody uploaded.
            assert_eq!(got[..2], made_up[..2], "{who}: bytes and thumbnail");
            let s = status(&ts, &device.token, &photo.hash).await.status();
            let u = status(&ts, &device.token, &unknown.hash).await.status();
            assert_eq!((s.size, s.received, s.complete), (photo.size.unsigned_abs(), 0, false));
            assert_eq!((u.size, u.received, u.complete), (s.size, s.received, s.complete));
        } else {
            assert_eq!(got, made_up, "{who}: the answers for a missing blob, word for word");
        }
    }
    let got = reads(&ts, &case_leader.token, &photo.hash).await;
    assert_eq!(got[..2], reads(&ts, &case_leader.token, &missing).await[..2], "case leader");
    assert!(!status(&ts, &case_leader.token, &photo.hash).await.status().complete);

    // Nothing the intruder can ask tells the two photos apart: a challenge (always issued), a
    // wrong answer to it, the first range of an upload.
    let mut seen = Vec::new();
    for p in [&photo, &unknown] {
        let c = challenge(&ts, &intruder.token, &p.hash, "").await.challenge();
        assert_eq!(
            (c.size, c.ranges.len()),
            (p.size.unsigned_abs(), usize::from(fieldsync_server::photos::challenge::RANGES))
        );
        let guess = BlobProof { v: VERSION, nonce: c.nonce, digest: vec![0x5a; 32] };
        let answered = post_proof(&ts, &intruder.token, &p.hash, protocol::encode(&guess)).await;
        let s = answered.status();
        let first = put_raw(
            &ts,
            &intruder.token,
            &p.hash,
            &ContentRange::of(0, 1000, p.size.unsigned_abs()).unwrap().to_string(),
            vec![0; 1000],
        )
        .await
        .status();
        seen.push(((s.size, s.received, s.complete), (first.received, first.complete)));
    }
    assert_eq!(seen[0], seen[1], "a photo someone uploaded and one nobody did");
    assert_eq!(seen[0], ((photo.size.unsigned_abs(), 0, false), (1000, false)));
    // Still nothing to read, for anyone of them.
    for device in [&intruder, &their_leader, &case_leader] {
        assert_eq!(get(&ts, &device.token, &path, None).await.code(), (404, "not_found".into()));
    }
}

/// A device that holds a photo (here: the same picture, taken from the same file) proves it
/// with a challenge: no byte of it crosses the link, and from then on the readers of its own
/// record read the photo, though they may not read the record it was first uploaded with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_holds_a_photo_proves_it_and_its_readers_read_it_with_no_byte_sent() {
    let ts = start().await;
    let mediator = Device::enrolled(&ts, "mediator-chen", Role::Mediator, GRID);
    let resident = Device::enrolled(&ts, "resident-ma", Role::Resident, GRID);
    let leader = Device::enrolled(&ts, "leader-li", Role::GridLeader, GRID);
    let dispatcher = Device::dispatcher(&ts, "dispatcher-zhao");
    let large = noise(300 * KIB, 41);
    let small = image_bytes(120, 90, ImageFormat::Png);
    assert!(small.len() as u64 <= fieldsync_server::photos::challenge::WHOLE_BYTES);
    let (pl, ps) = (photo_of(&large, "image/jpeg"), photo_of(&small, "image/png"));
    mediator.case_with(&ts, GRID, &[&pl, &ps]).await;
    upload_from(&ts, &mediator.token, &large, 0, 64 * KIB).await;
    upload_from(&ts, &mediator.token, &small, 0, 64 * KIB).await;
    resident.report_with(&ts, &[&pl, &ps]).await;
    // A dispatcher reads the case, and names the photo in a report of its own (in another
    // grid): it reads the photo, yet its status is that of its own upload, not started: its
    // report grants the photo to its readers only once it holds the bytes.
    dispatcher.report_in(&ts, OTHER_GRID, &[&pl]).await;
    let path = format!("/v1/blobs/{}", pl.hash);
    assert_eq!(get(&ts, &dispatcher.token, &path, None).await.body, large);
    let s = status(&ts, &dispatcher.token, &pl.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (pl.size.unsigned_abs(), 0, false));
    assert!(prove(&ts, &dispatcher.token, &large).await.status().complete);
    // The thumbnails are made after the uploads' answers: ask for them (which waits for them)
    // before listing the files, so that the list does not change under the test.
    for p in [&pl, &ps] {
        get(&ts, &mediator.token, &format!("/v1/blobs/{}/thumbnail", p.hash), None).await;
    }
    let stored = blob_files(ts.dir.path());
    for p in [&pl, &ps] {
        let path = format!("/v1/blobs/{}", p.hash);
        assert_eq!(get(&ts, &leader.token, &path, None).await.code().1, "not_found", "not yet");
    }

    for (bytes, p) in [(&large, &pl), (&small, &ps)] {
        let c =
            challenge(&ts, &resident.token, &p.hash, &format!("?size={}", p.size.unsigned_abs()))
                .await;
        let c = c.challenge();
        assert_eq!(
            (c.v, c.hash.as_str(), c.size),
            (VERSION, p.hash.as_str(), p.size.unsigned_abs())
        );
        assert_eq!(c.check(&p.hash, p.size.unsigned_abs()), Ok(()), "a challenge a phone answers");
        if p.size.unsigned_abs() <= fieldsync_server::photos::challenge::WHOLE_BYTES {
            assert_eq!(
                c.ranges,
                vec![[0, p.size.unsigned_abs() - 1]],
                "a small photo is asked whole"
            );
        } else {
            assert_eq!(c.ranges.len(), 16);
            assert!(
                c.ranges
                    .iter()
                    .all(|[a, b]| b - a + 1 == 4 * KIB as u64 && *b < p.size.unsigned_abs())
            );
        }
        let proven =
            post_proof(&ts, &resident.token, &p.hash, protocol::encode(&answer_to(&c, bytes)));
        let s = proven.await.status();
        assert_eq!(
            (s.size, s.received, s.complete),
            (p.size.unsigned_abs(), p.size.unsigned_abs(), true)
        );
        assert!(status(&ts, &resident.token, &p.hash).await.status().complete);
        // Its readers read it now: the resident, and the grid leader, who reads its report
        // but not the case.
        let path = format!("/v1/blobs/{}", p.hash);
        assert_eq!(get(&ts, &resident.token, &path, None).await.body, *bytes);
        assert_eq!(get(&ts, &leader.token, &path, None).await.body, *bytes);
        let thumb = get(&ts, &leader.token, &format!("{path}/thumbnail"), None).await;
        assert_eq!(thumb.status, if p.hash == ps.hash { 200 } else { 404 }, "noise has none");
        // A second proof changes nothing.
        let again = prove(&ts, &resident.token, bytes).await.status();
        assert!(again.complete);
    }
    assert_eq!(blob_files(ts.dir.path()), stored, "nothing stored twice, nothing under way");
}

/// A device that does not hold a stored photo uploads it, as if nobody had: its own upload,
/// from 0, verified at its end; then it holds the photo and its readers read it. The bytes are
/// stored once, and no quota carries them twice. Wrong bytes fail at the end as they would for
/// a photo nobody uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_own_upload_of_a_stored_photo_verifies_and_then_reads() {
    let size = 200 * KIB;
    let ts = start_with(|c| ServerConfig { blob_quota_bytes: (size + size / 2) as u64, ..c }).await;
    let mediator = Device::enrolled(&ts, "mediator-chen", Role::Mediator, GRID);
    let resident = Device::enrolled(&ts, "resident-ma", Role::Resident, GRID);
    let spoiler = Device::enrolled(&ts, "resident-niu", Role::Resident, GRID);
    let leader = Device::enrolled(&ts, "leader-li", Role::GridLeader, GRID);
    let data = noise(size, 51);
    let photo = photo_of(&data, "image/jpeg");
    mediator.case_with(&ts, GRID, &[&photo]).await;
    upload_from(&ts, &mediator.token, &data, 0, 64 * KIB).await;
    resident.report_with(&ts, &[&photo]).await;
    spoiler.report_with(&ts, &[&photo]).await;
    let stored = blob_files(ts.dir.path());

    // Chunk by chunk, each answer is the resident's own progress; the last one completes.
    assert_eq!(upload_from(&ts, &resident.token, &data, 0, 64 * KIB).await, size);
    let path = format!("/v1/blobs/{}", photo.hash);
    assert_eq!(get(&ts, &resident.token, &path, None).await.body, data);
    assert_eq!(get(&ts, &leader.token, &path, None).await.body, data);
    assert_eq!(blob_files(ts.dir.path()), stored, "stored once, its upload's file gone");
    // Charged once: a photo of the same size still fits the resident's quota of 1.5 of it.
    let other = noise(size, 52);
    let p2 = photo_of(&other, "image/jpeg");
    resident.report_with(&ts, &[&p2]).await;
    assert_eq!(upload_from(&ts, &resident.token, &other, 0, 64 * KIB).await, size);

    // Bytes that are not the photo's: refused at the end, as for a photo nobody uploaded.
    let mut wrong = data.clone();
    wrong[size - 1] ^= 1;
    for (first, len) in [(0, size - 10), (size - 10, 10)] {
        let range = ContentRange::of(first as u64, len as u64, size as u64).unwrap().to_string();
        let body = wrong[first..first + len].to_vec();
        let r = put_raw(&ts, &spoiler.token, &photo.hash, &range, body).await;
        if first == 0 {
            assert_eq!(r.status().received, len as u64);
        } else {
            assert_eq!(r.code(), (422, "hash_mismatch".into()));
        }
    }
    let s = status(&ts, &spoiler.token, &photo.hash).await.status();
    assert_eq!((s.received, s.complete), (0, false));
    assert_eq!(get(&ts, &spoiler.token, &path, None).await.code().1, "not_found");
}
