//! Who reads a photo, through the records that name it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The bytes of a photo, lower-case hex SHA-256 and all (`n` bytes that differ with `seed`).
fn photo_bytes(n: usize, seed: u8) -> (Vec<u8>, PhotoRef) {
    use sha2::Digest;
    let bytes: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed)).collect();
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    let photo = PhotoRef { hash, size: n as i64, media_type: "image/jpeg".into() };
    (bytes, photo)
}

/// `GET` of a photo's bytes by `phone`'s device: whether it got them.
async fn reads_photo(server: &TestServer, phone: &Phone, photo: &PhotoRef, bytes: &[u8]) -> bool {
    let token = server.token_for(&phone.actor());
    let url = server.url(&format!("/v1/blobs/{}", photo.hash));
    let resp = server.http.get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    match status {
        200 => {
            assert_eq!(&body[..], bytes, "the photo's bytes");
            true
        }
        404 => {
            assert_eq!(error_body(&body).code, "not_found");
            false
        }
        other => panic!("GET photo: {other} {}", String::from_utf8_lossy(&body)),
    }
}

/// `phone`'s device uploads `bytes` whole.
async fn upload(server: &TestServer, phone: &Phone, photo: &PhotoRef, bytes: &[u8]) {
    let token = server.token_for(&phone.actor());
    let resp = server
        .http
        .put(server.url(&format!("/v1/blobs/{}", photo.hash)))
        .bearer_auth(token)
        .header("content-range", format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len()))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// `phone`'s device asks a possession challenge for `photo` and answers it from `bytes`;
/// returns the status it is answered.
async fn prove(
    server: &TestServer,
    phone: &Phone,
    photo: &PhotoRef,
    bytes: &[u8],
) -> fieldsync_core::protocol::BlobStatus {
    use fieldsync_core::protocol::{self, BlobChallenge, BlobProof};
    let token = server.token_for(&phone.actor());
    let url = server.url(&format!("/v1/blobs/{}/challenge", photo.hash));
    let resp = server.http.get(url).bearer_auth(&token).send().await.unwrap();
    let c: BlobChallenge = protocol::decode(&resp.bytes().await.unwrap()).unwrap();
    let mut source = std::io::Cursor::new(bytes);
    let digest = protocol::possession_digest(&c.nonce, &c.ranges, &mut source).unwrap();
    let proof = BlobProof { v: protocol::VERSION, nonce: c.nonce, digest: digest.to_vec() };
    let (status, body) = server
        .post_with(
            Some(&token),
            &format!("/v1/blobs/{}/proof", photo.hash),
            protocol::encode(&proof),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    protocol::decode(&body).unwrap()
}

/// Who reads a photo, written out by hand: every role × a photo of a mediation case and of a
/// report (inside the user's grid) × the photo of the case **named by a record of one's own**
/// (the attack: a hash and a size are not the bytes) × the same after proving one holds
/// the bytes. A photo is read through a record whose author's device holds it, by whoever may
/// read that record; naming it in one's own record grants nothing until one proves it.
async fn photo_read_matrix(backend: Backend) {
    let may_read = |role: Role, kind: Kind| match kind {
        Kind::Report | Kind::PatrolLog => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        Kind::MediationCase => matches!(role, Role::Mediator | Role::Dispatcher),
        Kind::Bulletin => !matches!(role, Role::Mediator),
        Kind::Visit => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        Kind::Deliberation => !matches!(role, Role::Patrol | Role::Mediator),
    };
    let server = start_on(backend).await;
    let s = server.running.server();
    let hq = Phone::new("hq-1");
    enroll_as(s, &hq, Role::Dispatcher, None, &["jl"]);
    let mut cells = 0;
    for ((role, name), seed) in ROLES.into_iter().zip(1u8..) {
        // Photos of their own for each role: a role that proves it holds one below grants it,
        // rightly, to the readers of its record, who would then read it in the next cells.
        let (case_bytes, case_photo) = photo_bytes(90_000, 2 * seed + 1);
        let (report_bytes, report_photo) = photo_bytes(20_000, 2 * seed + 2);
        for (kind, photo, bytes) in [
            (Kind::MediationCase, &case_photo, &case_bytes),
            (Kind::Report, &report_photo, &report_bytes),
        ] {
            let id = hq.store.create(&record_of(kind, GRID, "hq-1")).unwrap();
            hq.store.execute(id, &Command::AddPhoto { photo: photo.clone(), entry: None }).unwrap();
            acked(&server, &hq, id).await;
            upload(&server, &hq, photo, bytes).await;
        }
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        let case_read = reads_photo(&server, &phone, &case_photo, &case_bytes).await;
        assert_eq!(case_read, may_read(role, Kind::MediationCase), "{name}: a case's photo");
        let report_read = reads_photo(&server, &phone, &report_photo, &report_bytes).await;
        assert_eq!(report_read, may_read(role, Kind::Report), "{name}: a report's photo");

        // The case's photo named by a record of one's own (a kind this role may create).
        let own = if role == Role::Mediator { Kind::MediationCase } else { Kind::Report };
        let id = phone.store.create(&record_of(own, GRID, &format!("{name}-1"))).unwrap();
        let add = Command::AddPhoto { photo: case_photo.clone(), entry: None };
        phone.store.execute(id, &add).unwrap();
        acked(&server, &phone, id).await;
        let named = reads_photo(&server, &phone, &case_photo, &case_bytes).await;
        assert_eq!(named, case_read, "{name}: naming the photo reads nothing new");

        // Proving it holds the bytes: its own record grants them.
        assert!(prove(&server, &phone, &case_photo, &case_bytes).await.complete, "{name}");
        assert!(reads_photo(&server, &phone, &case_photo, &case_bytes).await, "{name}: proven");
        cells += 4;
    }
    assert_eq!(cells, 24);
}
on_both!(photo_read_matrix);
