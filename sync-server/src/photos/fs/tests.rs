//! The file store against real files and a real database in a temporary directory.

use super::*;
use crate::config::Durability;
use crate::storage::{NewUpload, SqliteStorage, Started};
use std::time::SystemTime;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(500, 200, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn chunk(bytes: &[u8], first: usize, len: usize, quota: u64) -> Chunk {
    chunk_of("dev", bytes, first, len, quota)
}

fn chunk_of(device: &str, bytes: &[u8], first: usize, len: usize, quota: u64) -> Chunk {
    Chunk {
        hash: sha(bytes),
        size: bytes.len() as u64,
        media_type: "image/png".into(),
        device: device.into(),
        quota,
        first: first as u64,
        bytes: Bytes::copy_from_slice(&bytes[first..first + len]),
    }
}

/// The server's storage of the database in `dir`.
fn storage(dir: &tempfile::TempDir) -> Arc<dyn Storage> {
    Arc::new(SqliteStorage::open(dir.path().join("t.db"), Durability::Normal).unwrap())
}

async fn open(dir: &tempfile::TempDir, storage: &Arc<dyn Storage>) -> FsPhotoStore {
    FsPhotoStore::open(dir.path(), storage.clone()).await.unwrap()
}

/// Records an upload of `device`'s, whatever its quota.
async fn start(storage: &dyn Storage, hash: &str, size: u64, device: &str) -> Upload {
    let new = NewUpload {
        hash: hash.into(),
        size,
        media_type: "image/png".into(),
        device: device.into(),
    };
    match storage.start_upload(new, u64::MAX).await.unwrap() {
        Started::Upload(u) => u,
        Started::OverQuota { used } => panic!("over quota: {used}"),
    }
}

async fn used(storage: &dyn Storage, device: &str) -> u64 {
    storage.bytes_used(device.into()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_finishes_what_a_crash_interrupted_and_drops_strays() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let record = async |bytes: &[u8], hash: &str, device: &str| {
        start(storage.as_ref(), hash, bytes.len() as u64, device).await
    };
    // Killed while hashing: every byte is in the partial file.
    let held = png();
    let u = record(&held, &sha(&held), "dev").await;
    fs::write(s.partial(&u), &held).unwrap();
    // Another device's upload of the same blob, half way: it goes on when the blob completes.
    let u = record(&held, &sha(&held), "other").await;
    fs::write(s.partial(&u), &held[..10]).unwrap();
    let other_partial = s.partial(&u);
    // A third device's, whole: verified after the first, it makes that device a holder.
    let u = record(&held, &sha(&held), "late").await;
    fs::write(s.partial(&u), &held).unwrap();
    let late_partial = s.partial(&u);
    // Killed after the rename, before the record.
    let placed = b"placed but not recorded".to_vec();
    record(&placed, &sha(&placed), "dev").await;
    fs::create_dir_all(s.complete_dir(&sha(&placed))).unwrap();
    fs::write(s.complete(&sha(&placed)), &placed).unwrap();
    // Killed while hashing bytes that do not verify.
    let wrong = b"these bytes are not the ones named".to_vec();
    let named = sha(b"other bytes of the same length....");
    let u = start(storage.as_ref(), &named, wrong.len() as u64, "dev").await;
    fs::write(s.partial(&u), &wrong).unwrap();
    // Half an upload, a partial file nobody owns, a thumbnail cut short.
    let half = b"0123456789".to_vec();
    let u = record(&half, &sha(&half), "dev").await;
    fs::write(s.partial(&u), &half[..4]).unwrap();
    let stale = s.root.join("partial").join(format!("{}.99", "ee".repeat(32)));
    fs::write(&stale, b"stale").unwrap();
    fs::write(s.root.join("thumbs").join("x.jpg.tmp"), b"cut").unwrap();
    drop(store);

    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let st = s.state(&sha(&held), "other").await.unwrap();
    let m = st.blob.unwrap();
    assert!(m.complete && m.received == held.len() as u64);
    assert!(s.make_thumbnail(&sha(&held)).await.unwrap(), "made at the first request for it");
    assert_eq!(m.uploaded_by, "dev");
    assert_eq!(fs::read(s.complete(&sha(&held))).unwrap(), held);
    assert_eq!(st.holders, ["dev", "late"], "both whole uploads verified");
    assert_eq!(st.upload.map(|u| u.received), Some(10), "the other device's upload goes on");
    assert!(fs::exists(&other_partial).unwrap());
    assert!(!fs::exists(&late_partial).unwrap(), "a verified upload of a stored blob goes");
    assert_eq!(used(storage.as_ref(), "late").await, 0, "stored once, charged once");
    let st = s.state(&sha(&placed), "dev").await.unwrap();
    assert!(st.blob.is_some_and(|m| m.complete && !m.thumbnail));
    assert_eq!(st.holders, ["dev"]);
    let st = s.state(&named, "dev").await.unwrap();
    assert_eq!((st.blob, st.upload), (None, None), "bytes that do not verify are discarded");
    let m = s.state(&sha(&half), "dev").await.unwrap().upload.unwrap();
    assert_eq!((m.received, m.complete), (4, false), "a partial upload resumes");
    assert_eq!(
        s.state(&sha(&half), "other").await.unwrap(),
        PhotoState::default(),
        "none for another"
    );
    assert!(!fs::exists(&stale).unwrap());
    assert!(!fs::exists(s.root.join("thumbs").join("x.jpg.tmp")).unwrap());
    let partials = fs::read_dir(s.root.join("partial")).unwrap().count();
    assert_eq!(partials, 2, "the half upload's file and the other device's are left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_file_of_schema_version_4_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let bytes: Vec<u8> = (0..100u8).collect();
    let hash = sha(&bytes);
    {
        // What a version-4 server left: the upload's row moved by the upgrade, and its file
        // under the blob's name.
        start(storage.as_ref(), &hash, 100, "dev").await;
        fs::create_dir_all(dir.path().join("blobs/partial")).unwrap();
        fs::write(dir.path().join("blobs/partial").join(&hash), &bytes[..30]).unwrap();
    }
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    assert_eq!(s.state(&hash, "dev").await.unwrap().upload.unwrap().received, 30);
    let done = s.write(&chunk(&bytes, 30, 70, 1000)).await.unwrap();
    assert!(done.complete);
    assert_eq!(fs::read(s.complete(&hash)).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_uploads_on_its_own_and_holds_the_blob_only_once_its_own_bytes_verify() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 13 % 251) as u8).collect();
    let hash = sha(&bytes);
    // A device starts the blob with a size of its own making, another sends wrong bytes.
    let mut wrong_size = chunk_of("squatter", &bytes, 0, 10, 5000);
    wrong_size.size = 2000;
    assert_eq!(s.write(&wrong_size).await.unwrap().received, 10);
    let mut garbage = chunk_of("spoiler", &bytes, 0, 600, 5000);
    garbage.bytes = Bytes::from(vec![0u8; 600]);
    assert_eq!(s.write(&garbage).await.unwrap().received, 600);
    // The rightful upload neither meets their sizes nor resumes from their bytes.
    assert_eq!(s.state(&hash, "owner").await.unwrap(), PhotoState::default());
    assert_eq!(s.write(&chunk_of("owner", &bytes, 0, 500, 5000)).await.unwrap().received, 500);
    let done = s.write(&chunk_of("owner", &bytes, 500, 500, 5000)).await.unwrap();
    assert!(done.complete && done.uploaded_by == "owner");
    assert_eq!(fs::read(s.complete(&hash)).unwrap(), bytes);
    assert_eq!(s.state(&hash, "owner").await.unwrap().holders, ["owner"]);
    // The others' uploads go on as if the blob were not there: what each sees of its own is
    // the same, and neither holds the blob.
    let spoiler = s.state(&hash, "spoiler").await.unwrap();
    assert_eq!(spoiler.upload.as_ref().map(|u| (u.received, u.complete)), Some((600, false)));
    assert!(!spoiler.holds("spoiler"));
    let next = s.write(&chunk_of("spoiler", &bytes, 600, 10, 5000)).await.unwrap();
    assert_eq!((next.received, next.complete), (610, false));
    let squatter = s.state(&hash, "squatter").await.unwrap().upload.unwrap();
    assert_eq!((squatter.size, squatter.received), (2000, 10));
    // The spoiler's bytes do not verify at its end: its upload ends, and it holds nothing.
    let last = s.write(&chunk_of("spoiler", &bytes, 610, 390, 5000)).await;
    assert!(matches!(last, Err(PhotoError::HashMismatch { .. })), "{last:?}");
    assert_eq!(s.state(&hash, "spoiler").await.unwrap().holders, ["owner"]);
    // An honest device that sends every byte holds it, and is charged nothing for it.
    assert_eq!(s.write(&chunk_of("honest", &bytes, 0, 400, 5000)).await.unwrap().received, 400);
    assert_eq!(used(storage.as_ref(), "honest").await, 1000, "an upload under way counts");
    let m = s.write(&chunk_of("honest", &bytes, 400, 600, 5000)).await.unwrap();
    assert!(m.complete && m.uploaded_by == "owner");
    assert_eq!(s.state(&hash, "honest").await.unwrap().holders, ["owner", "honest"]);
    assert_eq!(used(storage.as_ref(), "honest").await, 0, "stored once, charged once");
    assert_eq!(used(storage.as_ref(), "owner").await, 1000);
    assert!(s.write(&chunk_of("honest", &bytes, 0, 10, 0)).await.unwrap().complete, "a holder's");
    // Left: the squatter's upload only.
    assert_eq!(fs::read_dir(s.root.join("partial")).unwrap().count(), 1);
    // Wrong bytes end only the upload that sent them.
    let other: Vec<u8> = vec![7; 300];
    assert_eq!(s.write(&chunk_of("a", &other, 0, 100, 5000)).await.unwrap().received, 100);
    let mut bad = chunk_of("b", &other, 0, 300, 5000);
    bad.bytes = Bytes::from(vec![8u8; 300]);
    assert!(matches!(s.write(&bad).await, Err(PhotoError::HashMismatch { .. })));
    assert_eq!(s.state(&sha(&other), "a").await.unwrap().upload.unwrap().received, 100);
    assert_eq!(s.state(&sha(&other), "b").await.unwrap(), PhotoState::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_possession_proof_holds_only_over_the_complete_blobs_own_bytes() {
    use fieldsync_core::protocol::possession_digest;
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let hash = sha(&bytes);
    let nonce = vec![5u8; 64];
    let ranges = crate::photos::challenge::ranges(&nonce, bytes.len() as u64);
    let digest = |b: &[u8]| {
        possession_digest(&nonce, &ranges, &mut std::io::Cursor::new(b)).unwrap().to_vec()
    };
    let proof = |device: &str, digest: Vec<u8>| Possession {
        hash: hash.clone(),
        size: bytes.len() as u64,
        device: device.into(),
        nonce: nonce.clone(),
        ranges: ranges.clone(),
        digest,
    };
    // Nothing to prove against yet: the right digest does not hold either.
    assert!(!s.prove(&proof("late", digest(&bytes))).await.unwrap());
    // The late device starts an upload; then the owner's completes the blob.
    assert_eq!(s.write(&chunk_of("late", &bytes, 0, 1000, 1 << 20)).await.unwrap().received, 1000);
    for at in (0..bytes.len()).step_by(100_000) {
        s.write(&chunk_of("owner", &bytes, at, 100_000, 1 << 20)).await.unwrap();
    }
    let mut other = bytes.clone();
    other[ranges[3][0] as usize] ^= 1;
    assert!(!s.prove(&proof("late", digest(&other))).await.unwrap(), "one byte differs");
    assert!(!s.prove(&proof("late", vec![0; 32])).await.unwrap());
    assert!(
        !s.prove(&Possession { size: 199_999, ..proof("late", digest(&bytes)) }).await.unwrap()
    );
    assert_eq!(s.state(&hash, "late").await.unwrap().holders, ["owner"]);
    // The right answer: a holder, its upload ended (bytes removed, quota free).
    assert!(s.prove(&proof("late", digest(&bytes))).await.unwrap());
    let st = s.state(&hash, "late").await.unwrap();
    assert_eq!((st.holders, st.upload), (vec!["owner".to_string(), "late".into()], None));
    assert_eq!(used(storage.as_ref(), "late").await, 0);
    assert_eq!(fs::read_dir(s.root.join("partial")).unwrap().count(), 0);
    assert!(s.write(&chunk_of("late", &bytes, 0, 10, 0)).await.unwrap().complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_upload_sent_with_another_size_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 11 % 251) as u8).collect();
    let mut other_size = chunk(&bytes, 0, 300, 5000);
    other_size.size = 2000;
    assert_eq!(s.write(&other_size).await.unwrap().received, 300);
    // The same device at the blob's size: the old upload ends, the new one starts at 0.
    let gap = s.write(&chunk(&bytes, 300, 100, 5000)).await;
    assert!(matches!(gap, Err(PhotoError::RangeNotSatisfiable(_))), "{gap:?}");
    assert_eq!(s.state(&sha(&bytes), "dev").await.unwrap(), PhotoState::default());
    assert_eq!(used(storage.as_ref(), "dev").await, 0, "the old size is no longer held");
    assert_eq!(s.write(&chunk(&bytes, 0, 1000, 5000)).await.unwrap().size, 1000);
    assert_eq!(fs::read_dir(s.root.join("partial")).unwrap().count(), 0);
    assert_eq!(fs::read(s.complete(&sha(&bytes))).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_extend_skip_overlaps_and_refuse_gaps_and_quota() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let gap = s.write(&chunk(&bytes, 10, 10, 5000)).await;
    assert!(matches!(gap, Err(PhotoError::RangeNotSatisfiable(_))), "{gap:?}");
    let nothing = s.state(&sha(&bytes), "dev").await.unwrap();
    assert_eq!(nothing, PhotoState::default(), "nothing stored for a refused start");
    assert_eq!(s.write(&chunk(&bytes, 0, 400, 5000)).await.unwrap().received, 400);
    assert_eq!(s.write(&chunk(&bytes, 100, 100, 5000)).await.unwrap().received, 400);
    assert_eq!(s.write(&chunk(&bytes, 300, 300, 5000)).await.unwrap().received, 600);
    // The quota counts the upload under way from its first byte.
    let other: Vec<u8> = vec![9; 4500];
    let r = s.write(&chunk(&other, 0, 10, 5000)).await;
    assert!(matches!(r, Err(PhotoError::QuotaExceeded { used: 1000, .. })), "{r:?}");
    let done = s.write(&chunk(&bytes, 600, 400, 5000)).await.unwrap();
    assert!(done.complete && !done.thumbnail);
    assert_eq!(fs::read(s.complete(&sha(&bytes))).unwrap(), bytes);
    // Complete, and this device holds it: any further chunk is answered with the blob as it is.
    assert!(s.write(&chunk(&bytes, 0, 10, 0)).await.unwrap().complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_idle_past_the_limit_end_and_free_their_quota() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir);
    let store = open(&dir, &storage).await;
    let s = &store.inner;
    let left: Vec<u8> = vec![1; 1000];
    let active: Vec<u8> = vec![2; 1000];
    let done: Vec<u8> = vec![3; 10];
    assert_eq!(s.write(&chunk(&left, 0, 100, 5000)).await.unwrap().received, 100);
    assert_eq!(s.write(&chunk(&active, 0, 100, 5000)).await.unwrap().received, 100);
    assert!(s.write(&chunk(&done, 0, 10, 5000)).await.unwrap().complete);
    // The first upload's last byte came two days ago.
    let up = storage.upload(sha(&left), "dev".into()).await.unwrap().unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    File::options().write(true).open(s.partial(&up)).unwrap().set_modified(two_days_ago).unwrap();
    assert_eq!(used(storage.as_ref(), "dev").await, 2010);

    let ended = store.end_idle_uploads(Duration::from_secs(24 * 3600)).await.unwrap();
    assert_eq!(ended, 1);
    assert_eq!(
        s.state(&sha(&left), "dev").await.unwrap().upload,
        None,
        "ended: it starts again from 0"
    );
    assert!(!fs::exists(s.partial(&up)).unwrap());
    assert_eq!(s.state(&sha(&active), "dev").await.unwrap().upload.unwrap().received, 100);
    assert!(s.state(&sha(&done), "dev").await.unwrap().blob.is_some(), "complete blobs stay");
    assert_eq!(used(storage.as_ref(), "dev").await, 1010, "its quota is free again");
    assert_eq!(store.end_idle_uploads(Duration::from_secs(24 * 3600)).await.unwrap(), 0);
}
