//! The blobs' part of the conformance suite: the references documents make, uploads and the
//! quota, completion and holders, thumbnails pending, the challenge key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use fieldsync_core::DocId;

use super::documents::sample_write;
use super::join::futures_join;
use crate::storage::{BlobRef, NewUpload, Proof, Started, Storage, Upload};

/// A reference to a made-up blob `n` of `size` bytes.
pub fn blob_ref(n: u8, size: u64, added_by: Option<&str>) -> BlobRef {
    BlobRef {
        hash: hex::encode([n]).repeat(32),
        size,
        media_type: "image/jpeg".into(),
        added_by: added_by.map(str::to_string),
    }
}

/// A document's blob references commit with it; later writes keep who added a reference,
/// add new ones with their device, drop those no longer listed, or (`None`) leave them.
pub async fn blob_refs_follow_the_writes(s: &dyn Storage) {
    let (a, b) = (DocId::random(), DocId::random());
    let mut wa = sample_write(a, None, 1);
    wa.blobs = Some(vec![blob_ref(1, 10, Some("dev-a")), blob_ref(2, 20, Some("dev-a"))]);
    let mut wb = sample_write(b, None, 1);
    wb.blobs = Some(vec![blob_ref(1, 10, None)]);
    for r in s.commit(vec![wa, wb]).await.unwrap() {
        r.unwrap();
    }
    let hash1 = blob_ref(1, 0, None).hash;
    let mut refs = s.blob_refs(hash1.clone()).await.unwrap();
    refs.sort_by_key(|r| r.doc != a);
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert_eq!((refs[0].doc, refs[0].size, refs[0].device.as_deref()), (a, 10, Some("dev-a")));
    assert_eq!((refs[1].doc, refs[1].device.as_deref()), (b, None));
    assert_eq!(refs[0].media_type, "image/jpeg");
    assert_eq!(refs[0].audience.scope, "jl/changchun/grid-07");

    // `None`: unchanged. Then blob 2 goes, blob 3 comes from another device, blob 1 stays
    // with the device that added it.
    s.commit(vec![sample_write(a, Some(1), 1)]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(s.blob_refs(blob_ref(2, 0, None).hash).await.unwrap().len(), 1);
    let mut wa = sample_write(a, Some(2), 1);
    wa.blobs = Some(vec![blob_ref(1, 10, None), blob_ref(3, 30, Some("dev-b"))]);
    s.commit(vec![wa]).await.unwrap().pop().unwrap().unwrap();
    assert!(s.blob_refs(blob_ref(2, 0, None).hash).await.unwrap().is_empty());
    let three = s.blob_refs(blob_ref(3, 0, None).hash).await.unwrap();
    assert_eq!(three.len(), 1);
    assert_eq!((three[0].doc, three[0].device.as_deref()), (a, Some("dev-b")));
    let one = s.blob_refs(hash1.clone()).await.unwrap();
    assert!(one.iter().any(|r| r.doc == a && r.device.as_deref() == Some("dev-a")), "{one:?}");
    assert_eq!(one.len(), 2);

    // A write that fails leaves the references as they were.
    let mut stale = sample_write(a, Some(1), 1);
    stale.blobs = Some(vec![]);
    assert!(s.commit(vec![stale]).await.unwrap().pop().unwrap().is_err());
    assert_eq!(s.blob_refs(hash1).await.unwrap().len(), 2);
    assert!(s.blob_refs("00".repeat(32)).await.unwrap().is_empty());
}

fn new_upload(n: u8, size: u64, device: &str) -> NewUpload {
    NewUpload {
        hash: hex::encode([n]).repeat(32),
        size,
        media_type: "image/jpeg".into(),
        device: device.into(),
    }
}

async fn start(s: &dyn Storage, n: u8, size: u64, device: &str, quota: u64) -> Upload {
    match s.start_upload(new_upload(n, size, device), quota).await.unwrap() {
        Started::Upload(u) => u,
        Started::OverQuota { used } => panic!("blob {n} of {device} over its quota: {used} used"),
    }
}

/// Uploads are one per blob and device, each found by both; a device's quota counts its
/// uploads under way at their declared sizes, and an upload that would pass it is refused with
/// what the device uses, recording nothing.
pub async fn uploads_start_one_per_blob_and_device_within_the_quota(s: &dyn Storage) {
    let a = start(s, 1, 100, "dev-a", 1000).await;
    assert_eq!((a.size, a.received, a.media_type.as_str()), (100, 0, "image/jpeg"));
    let b = start(s, 1, 300, "dev-b", 1000).await;
    assert_ne!(a.id, b.id);
    assert!(s.start_upload(new_upload(1, 100, "dev-a"), 1000).await.is_err(), "one per device");
    assert_eq!(s.upload(a.hash.clone(), "dev-a".into()).await.unwrap(), Some(a.clone()));
    assert_eq!(s.upload(a.hash.clone(), "dev-c".into()).await.unwrap(), None);

    start(s, 2, 800, "dev-a", 1000).await;
    assert_eq!(s.bytes_used("dev-a".into()).await.unwrap(), 900);
    let over = s.start_upload(new_upload(3, 101, "dev-a"), 1000).await.unwrap();
    assert_eq!(over, Started::OverQuota { used: 900 });
    assert_eq!(s.upload(hex::encode([3]).repeat(32), "dev-a".into()).await.unwrap(), None);
    start(s, 3, 100, "dev-a", 1000).await;

    s.set_received(a.id, 40).await.unwrap();
    assert_eq!(s.upload(a.hash.clone(), "dev-a".into()).await.unwrap().unwrap().received, 40);
    let all: Vec<i64> = s.uploads().await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "in the order they started");
    s.drop_upload(a.id).await.unwrap();
    assert_eq!(s.upload(a.hash, "dev-a".into()).await.unwrap(), None);
    assert_eq!(s.bytes_used("dev-a".into()).await.unwrap(), 900);
}

/// Uploads of one device started together each check the quota against the others: the
/// room for one is given to one.
pub async fn a_quota_holds_against_uploads_started_together(s: &dyn Storage) {
    let starts = (1..=6u8).map(|n| s.start_upload(new_upload(n, 600, "dev-a"), 1000));
    let results = futures_join(starts).await;
    let started = results.iter().filter(|r| matches!(r, Ok(Started::Upload(_)))).count();
    assert_eq!(started, 1, "{results:?}");
    assert_eq!(s.bytes_used("dev-a".into()).await.unwrap(), 600);
}

/// Completing an upload records the blob (as its first upload gives it), its thumbnail to
/// make, its device a holder, and ends the upload; its quota now carries the blob. Another
/// device's upload of the blob goes on until it verifies too: then its device holds the blob
/// and its quota carries nothing of it.
pub async fn completing_an_upload_records_the_blob_and_its_holder(s: &dyn Storage) {
    let hash = hex::encode([1]).repeat(32);
    let a = start(s, 1, 100, "dev-a", 1000).await;
    let b = start(s, 1, 100, "dev-b", 1000).await;
    assert_eq!(s.blob(hash.clone()).await.unwrap(), None);
    s.complete_upload(a.clone()).await.unwrap();
    let blob = s.blob(hash.clone()).await.unwrap().unwrap();
    assert_eq!((blob.size, blob.uploaded_by.as_str(), blob.thumbnail), (100, "dev-a", false));
    assert!(s.thumbnail_pending(hash.clone()).await.unwrap());
    assert_eq!(s.upload(hash.clone(), "dev-a".into()).await.unwrap(), None);
    assert_eq!(s.bytes_used("dev-a".into()).await.unwrap(), 100, "the blob, not the upload");

    let record = s.blob_record(hash.clone(), "dev-b".into()).await.unwrap();
    assert_eq!(record.blob, Some(blob.clone()));
    assert_eq!(record.upload, Some(b.clone()), "the other device's upload goes on");
    assert_eq!(record.holders, ["dev-a"]);

    s.verified_upload(b).await.unwrap();
    let record = s.blob_record(hash.clone(), "dev-b".into()).await.unwrap();
    assert_eq!((record.upload, record.holders), (None, vec!["dev-a".into(), "dev-b".into()]));
    assert_eq!(s.bytes_used("dev-b".into()).await.unwrap(), 0, "stored once, charged once");
    assert_eq!(s.blob(hash.clone()).await.unwrap(), Some(blob), "the blob stays as recorded");
    assert_eq!(s.blob_record("00".repeat(32), "dev-a".into()).await.unwrap(), Default::default());
}

/// A device proven a holder keeps its first proof; holders come in the order they proved it.
pub async fn holders_keep_their_first_proof(s: &dyn Storage) {
    let hash = hex::encode([1]).repeat(32);
    s.hold(hash.clone(), "dev-b".into(), Proof::Challenge).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.hold(hash.clone(), "dev-a".into(), Proof::Challenge).await.unwrap();
    s.hold(hash.clone(), "dev-b".into(), Proof::Upload).await.unwrap();
    let record = s.blob_record(hash, "dev-a".into()).await.unwrap();
    assert_eq!(record.holders, ["dev-b", "dev-a"]);
}

/// A complete blob's thumbnail is pending until it is made, or found not to be makeable.
pub async fn thumbnails_are_pending_until_made(s: &dyn Storage) {
    let (one, two) = (hex::encode([1]).repeat(32), hex::encode([2]).repeat(32));
    let a = start(s, 1, 10, "dev-a", 1000).await;
    let b = start(s, 2, 10, "dev-a", 1000).await;
    s.complete_upload(a).await.unwrap();
    s.complete_upload(b).await.unwrap();
    s.thumbnail_made(one.clone(), true).await.unwrap();
    s.thumbnail_made(two.clone(), false).await.unwrap();
    for (hash, made) in [(one, true), (two, false)] {
        assert!(!s.thumbnail_pending(hash.clone()).await.unwrap());
        assert_eq!(s.blob(hash).await.unwrap().unwrap().thumbnail, made);
    }
    assert!(!s.thumbnail_pending("00".repeat(32)).await.unwrap(), "no blob, nothing to make");
}

/// The challenge key is made once and the same ever after.
pub async fn the_challenge_key_is_made_once(s: &dyn Storage) {
    let key = s.challenge_key().await.unwrap();
    assert_ne!(key, [0; 32]);
    assert_eq!(s.challenge_key().await.unwrap(), key);
}
