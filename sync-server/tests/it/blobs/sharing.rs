//! One blob, several devices: deduplication, uploads of the same hash, access like the documents'.

use super::*;

/// A blob uploaded once is stored once. Another device that references it is not told it is
/// there: it sends the bytes or proves it holds them, and only then sees it complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_device_that_references_a_stored_blob_proves_it_and_it_is_stored_once() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let b = Device::resident(&ts, "resident-b");
    let data = image_bytes(640, 480, ImageFormat::Jpeg);
    let photo = photo_of(&data, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    upload_from(&ts, &a.token, &data, 0, 8 * KIB).await;
    // The thumbnail is made after the last answer; asking for it waits for it.
    let thumb = get(&ts, &a.token, &format!("/v1/blobs/{}/thumbnail", photo.hash), None).await;
    assert_eq!(thumb.status, 200);
    let before = blob_files(ts.dir.path());

    // Before its own record references the photo, the resident may neither upload nor read it.
    assert_eq!(put(&ts, &b.token, &data, 0, 8 * KIB).await.code().1, "not_referenced");
    assert_eq!(status(&ts, &b.token, &photo.hash).await.code().1, "not_found");
    assert_eq!(challenge(&ts, &b.token, &photo.hash, "").await.code().1, "not_found");
    b.report_with(&ts, &[&photo]).await;
    // Its own record: its own upload, not started; not "complete".
    let s = status(&ts, &b.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (photo.size.unsigned_abs(), 0, false));
    let s = prove(&ts, &b.token, &data).await.status();
    assert!(s.complete && s.received == data.len() as u64);
    let s = put(&ts, &b.token, &data, 0, 8 * KIB).await.status();
    assert!(s.complete, "a holder's upload is done at once");
    assert_eq!(blob_files(ts.dir.path()), before, "nothing stored twice");
    let got = get(&ts, &b.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data, "its own report references it: it may read it");
}

/// A device that knows a photo's hash (it can read a report holding it) may reference it in a
/// record of its own, with the right size or a wrong one, and start uploads of it. Neither
/// blocks nor spoils the author's upload: each device uploads on its own, and the first upload
/// that verifies makes the blob. The others go on as if it were not there (each device sees
/// only its own upload), and end, at their last byte, in a hash mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_devices_upload_of_the_same_hash_neither_blocks_nor_spoils_the_authors() {
    let ts = start().await;
    let author = Device::resident(&ts, "resident-author");
    let squatter = Device::resident(&ts, "resident-squatter");
    let spoiler = Device::resident(&ts, "resident-spoiler");
    let data = image_bytes(640, 480, ImageFormat::Jpeg);
    let photo = photo_of(&data, "image/jpeg");
    author.report_with(&ts, &[&photo]).await;
    // The squatter claims the hash with a size of its own making and starts an upload of it.
    let wrong = PhotoRef { size: photo.size * 2, ..photo.clone() };
    squatter.report_with(&ts, &[&wrong]).await;
    let range = ContentRange::of(0, 100, wrong.size.unsigned_abs()).unwrap().to_string();
    let s = put_raw(&ts, &squatter.token, &photo.hash, &range, vec![0; 100]).await.status();
    assert_eq!((s.size, s.received, s.complete), (wrong.size.unsigned_abs(), 100, false));
    // The spoiler claims it with the right size and sends bytes that are not the photo's.
    spoiler.report_with(&ts, &[&photo]).await;
    let range = ContentRange::of(0, 4 * KIB as u64, photo.size.unsigned_abs()).unwrap().to_string();
    let s = put_raw(&ts, &spoiler.token, &photo.hash, &range, vec![0; 4 * KIB]).await.status();
    assert_eq!(s.received, 4 * KIB as u64);

    // The author's upload starts at 0, not at what others sent, and completes.
    let s = status(&ts, &author.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (photo.size.unsigned_abs(), 0, false));
    assert_eq!(upload_from(&ts, &author.token, &data, 0, 8 * KIB).await, data.len());
    let got = get(&ts, &author.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data);
    // The others see their own uploads, as before the author's completed: nothing tells them
    // the photo is there, and neither reads it.
    let s = status(&ts, &spoiler.token, &photo.hash).await.status();
    assert_eq!(
        (s.size, s.received, s.complete),
        (photo.size.unsigned_abs(), 4 * KIB as u64, false)
    );
    let s = status(&ts, &squatter.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (wrong.size.unsigned_abs(), 100, false));
    assert_eq!(partial_bytes(ts.dir.path()), 100 + 4 * KIB as u64);
    for device in [&spoiler, &squatter] {
        let r = get(&ts, &device.token, &format!("/v1/blobs/{}", photo.hash), None).await;
        assert_eq!(r.code().1, "not_found");
    }
    // The spoiler's bytes fail at its last byte, and its upload ends.
    let rest = ContentRange::of(
        4 * KIB as u64,
        photo.size.unsigned_abs() - 4 * KIB as u64,
        photo.size.unsigned_abs(),
    )
    .unwrap();
    let rest = rest.to_string();
    let r = put_raw(&ts, &spoiler.token, &photo.hash, &rest, data[4 * KIB..].to_vec()).await;
    assert_eq!(r.code(), (422, "hash_mismatch".into()));
    assert_eq!(partial_bytes(ts.dir.path()), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_without_access_gets_the_answer_for_a_missing_blob() {
    let ts = start().await;
    let a = Device::resident(&ts, "resident-a");
    let b = Device::resident(&ts, "resident-b");
    let leader = Phone::new("leader-1");
    enroll_as(ts.running.server(), &leader, Role::GridLeader, None, &[GRID]);
    let leader_token = ts.token_for(&leader.actor());
    let done = image_bytes(400, 300, ImageFormat::Jpeg);
    let partial = noise(200 * KIB, 6);
    let (p_done, p_partial) = (photo_of(&done, "image/jpeg"), photo_of(&partial, "image/jpeg"));
    a.report_with(&ts, &[&p_done, &p_partial]).await;
    upload_from(&ts, &a.token, &done, 0, 64 * KIB).await;
    put(&ts, &a.token, &partial, 0, 64 * KIB).await.status();
    let missing = sha256(b"never uploaded, never referenced");

    // The grid leader reads the reports of the grid: the complete photo, with its thumbnail.
    let path = |h: &str, tail: &str| format!("/v1/blobs/{h}{tail}");
    assert_eq!(get(&ts, &leader_token, &path(&p_done.hash, ""), None).await.body, done);
    assert_eq!(get(&ts, &leader_token, &path(&p_done.hash, "/thumbnail"), None).await.status, 200);
    assert!(status(&ts, &leader_token, &p_done.hash).await.status().complete);

    // Another resident may not read the report: every answer is the one for a missing blob,
    // and so is an incomplete blob for a device that may read but not upload it.
    for tail in ["/status", "", "/thumbnail"] {
        let reference = get(&ts, &b.token, &path(&missing, tail), None).await;
        assert_eq!(reference.code(), (404, "not_found".to_string()), "{tail}");
        let cases = [
            (&b.token, &p_done.hash),
            (&b.token, &p_partial.hash),
            (&leader_token, &p_partial.hash),
        ];
        for (token, hash) in cases {
            let r = get(&ts, token, &path(hash, tail), None).await;
            assert_eq!(
                (r.status, &r.content_type, &r.body),
                (reference.status, &reference.content_type, &reference.body),
                "{tail} of {hash}"
            );
        }
    }
    // Nor may the grid leader upload what the resident's report references.
    let r = put(&ts, &leader_token, &partial, 64 * KIB, 64 * KIB).await;
    assert_eq!(r.code(), (409, "not_referenced".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_of_patrol_entries_and_cases_are_uploaded_by_their_authors() {
    use fieldsync_core::model::{
        CaseCategory, EntryKind, MemberKind, NewCase, NewEntry, NewPatrol, NewRecord, Party,
        TeamMember,
    };
    let ts = start().await;
    let a = Device::dispatcher(&ts, "dispatcher-a");
    let (p1, p2) = (noise(20 * KIB, 20), noise(30 * KIB, 21));
    let (r1, r2) = (photo_of(&p1, "image/jpeg"), photo_of(&p2, "image/jpeg"));
    let store = &a.phone.store;
    let patrol = store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "north loop".into(),
                members: vec![TeamMember {
                    user: "dispatcher-a".into(),
                    name: "A".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        })
        .unwrap();
    let entry = NewEntry {
        kind: EntryKind::HazardFound,
        text: "护栏松动".into(),
        location: None,
        photos: vec![r1.clone()],
        checkpoint: None,
    };
    store.execute(patrol, &Command::AddPatrolEntry { entry }).unwrap();
    let case = store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "马".into(),
                    role: "owner".into(),
                    contact: String::new(),
                }],
                mediators: vec![],
            },
        })
        .unwrap();
    store.execute(case, &Command::AddPhoto { photo: r2.clone(), entry: None }).unwrap();
    let push = vec![a.phone.push_saved(patrol), a.phone.push_saved(case)];
    assert_acked(&ts.sync(&a.phone.request(None, "", push)).await.unwrap());
    upload_from(&ts, &a.token, &p1, 0, 8 * KIB).await;
    upload_from(&ts, &a.token, &p2, 0, 8 * KIB).await;
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{}", r1.hash), None).await.body, p1);
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{}", r2.hash), None).await.body, p2);
}

/// The photos of a warning bulletin reach the phones the bulletin reaches: a patrol's phone
/// enrolled while it was in force reads them; one enrolled after it expired is not sent the
/// bulletin, and gets, for its photos, the answers for a missing blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_enrolled_after_a_bulletin_expired_gets_none_of_its_photos() {
    use fieldsync_core::model::{Addressee, NewBulletin, Severity};
    use fieldsync_core::policy::PatrolKind;
    use fieldsync_core::time::{Timestamp, now_ms};

    let ts = start().await;
    let hq = Device::dispatcher(&ts, "hq-photos");
    let data = image_bytes(320, 240, ImageFormat::Jpeg);
    let photo = photo_of(&data, "image/jpeg");
    let bulletin = NewRecord::Bulletin {
        bulletin: NewBulletin {
            scope: GRID.into(),
            severity: Severity::Orange,
            audience: vec![Addressee::Patrols],
            title: "落石预警".into(),
            text: "北坡步道封闭".into(),
            valid_until: Timestamp::from_millis(now_ms() + 1_500),
            location: None,
            photos: vec![],
        },
    };
    let id = hq.record_with(&ts, &bulletin, &[&photo]).await;
    upload_from(&ts, &hq.token, &data, 0, 64 * KIB).await;
    let patrol = |user: &str| {
        let phone = Phone::new(user);
        enroll_as(ts.running.server(), &phone, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
        Device { token: ts.token_for(&phone.actor()), phone }
    };
    let early = patrol("patrol-early");
    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    let late = patrol("patrol-late");

    let path = |tail: &str| format!("/v1/blobs/{}{tail}", photo.hash);
    assert!(early.readable_docs(&ts).await.contains(&id));
    assert_eq!(get(&ts, &early.token, &path(""), None).await.body, data);
    assert_eq!(get(&ts, &early.token, &path("/thumbnail"), None).await.status, 200);
    assert!(status(&ts, &early.token, &photo.hash).await.status().complete);

    assert!(!late.readable_docs(&ts).await.contains(&id));
    for tail in ["/status", "", "/thumbnail"] {
        let r = get(&ts, &late.token, &path(tail), None).await;
        assert_eq!(r.code(), (404, "not_found".to_string()), "{tail}");
    }
    assert_eq!(challenge(&ts, &late.token, &photo.hash, "").await.code().1, "not_found");
}
