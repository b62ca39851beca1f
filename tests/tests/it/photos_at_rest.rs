//! Photos of encrypted stores end to end (docs/blobs.md, "Files at rest"): a phone whose store
//! is encrypted adds a photo, its upload is cut and resumes from the sealed file at an offset,
//! another phone with an encrypted store downloads it through a cut link (resuming at the last
//! whole chunk it sealed) and reads the same bytes, and neither phone's files show a byte of the
//! photo in clear; a flipped byte on disk is a typed error, never a photo.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::store::{PhotoSource, PhotoVariant, StoreKey, sha256_hex};
use fieldsync_core::sync::{PhotoProgress, PhotoTransfer, SyncOptions};
use fieldsync_core::{CoreError, Store};
use fieldsync_tests::phone::{Phone, blob_files, enroll_http};

use crate::photos::{faulty_on, jpeg, report, start};

/// Text no file of an encrypted store may show.
const MARKER: &[u8] = b"fieldsync-marker: resident Zhang San, 3 Xinhua Road";

/// A JPEG of noise with [`MARKER`] in a comment segment right after its start.
fn marked_jpeg() -> Vec<u8> {
    let plain = jpeg(640, 480, 20);
    let len = u16::try_from(MARKER.len() + 2).unwrap().to_be_bytes();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xfe, len[0], len[1]]);
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&plain[2..]);
    out
}

fn encrypted(dir: &Path, name: &str) -> Arc<Store> {
    Arc::new(Store::open_encrypted(dir.join(format!("{name}.db")), StoreKey::generate()).unwrap())
}

/// No file of `store` starts with the JPEG magic or shows the marker or a run of the photo.
fn nothing_in_clear(store: &Store, photo: &[u8]) {
    let files = blob_files(store);
    assert!(!files.is_empty(), "no file at all");
    let runs: Vec<&[u8]> =
        [100, photo.len() / 2, photo.len() - 40].map(|at| &photo[at..at + 32]).into();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.starts_with(&[0xff, 0xd8]), "{} is a JPEG", f.display());
        for text in std::iter::once(MARKER).chain(runs.iter().copied()) {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text),
                "{} shows the photo",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_phones_photo_reaches_another_encrypted_phone_and_stays_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let options =
        SyncOptions { backoff: Duration::from_millis(50).into(), ..SyncOptions::default() };
    let a = Phone::with_store(
        encrypted(dir.path(), "grid-leader-wu"),
        "grid-leader-wu",
        enroll_http(&server, "grid-leader-wu"),
        options,
    );
    let photo = marked_jpeg();
    assert!(photo.len() > 300_000, "{} bytes", photo.len());
    let id = a.store.create(&report("Extension on the roof")).unwrap();
    let p = a
        .store
        .add_photo(id, &PhotoSource::Bytes { bytes: photo.clone() }, "image/jpeg", None)
        .unwrap();
    assert_eq!(p.hash, sha256_hex(&photo));
    nothing_in_clear(&a.store, &photo);
    a.sync().await;

    // The upload is cut once the server holds 64 KiB: the next one resumes from the sealed
    // file at what the server holds, not from 0.
    let cut = Arc::new(tokio::sync::Notify::new());
    let told = cut.clone();
    let listener = move |p: &PhotoProgress| {
        if p.transfer == PhotoTransfer::Upload && p.done >= 65_536 && p.done < p.total {
            told.notify_one();
        }
    };
    tokio::select! {
        done = a.client.upload_photos(Some(&listener)) => panic!("not cut: {done:?}"),
        () = cut.notified() => {}
    }
    // What the phone recorded the server to hold; the server holds at least that.
    let held = a.store.photo(&p.hash).unwrap().unwrap().received;
    assert!(held > 0, "{held}");
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!(sum.uploaded, 1, "{sum:?}");
    assert!(sum.bytes_up <= photo.len() as i64 - held, "{sum:?} after {held} held");

    // Another phone, its store encrypted too, downloads it through a link cut after
    // 100,000 bytes: it resumes at the end of its last whole sealed chunk (64 KiB).
    let (b, faults) =
        faulty_on(encrypted(dir.path(), "dispatcher-zhao"), &server, "dispatcher-zhao");
    b.sync().await;
    *faults.cut_get_after.lock().unwrap() = Some(100_000);
    b.client.download_photo(&p.hash, PhotoVariant::Original, None).await.unwrap();
    assert_eq!(*faults.froms.lock().unwrap(), vec![0, 65_536]);
    assert_eq!(b.store.photo_bytes(&p.hash, PhotoVariant::Original).unwrap(), Some(photo.clone()));
    b.client.download_photo(&p.hash, PhotoVariant::Thumbnail, None).await.unwrap();
    let thumb = b.store.photo_bytes(&p.hash, PhotoVariant::Thumbnail).unwrap().unwrap();
    assert!(thumb.starts_with(&[0xff, 0xd8, 0xff]), "the thumbnail is a JPEG once read");
    nothing_in_clear(&b.store, &photo);
    nothing_in_clear(&a.store, &photo);

    // A byte flipped on B's disk: a typed error, never a photo.
    let file = b.store.photo_file(&p.hash).unwrap().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[200_000] ^= 0x80;
    std::fs::write(&file, &bytes).unwrap();
    match b.store.photo_bytes(&p.hash, PhotoVariant::Original) {
        Err(CoreError::DamagedFile { .. }) => {}
        other => panic!("expected DamagedFile, got {:?}", other.map(|b| b.map(|b| b.len()))),
    }
}
