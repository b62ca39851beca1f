//! An encrypted store's photo files, sealed at rest (docs/blobs.md, "Files at rest"): no byte of
//! a photo in clear on disk, the photo read back whole, a flipped byte a typed error and never a
//! photo, a plaintext store's files sealed when it is encrypted, and a wipe that leaves the
//! store able to keep photos again.

use std::path::Path;

use crate::common::*;
use fieldsync_core::store::*;
use fieldsync_core::{CoreError, Store};

/// A marker no file of an encrypted store may show.
const MARKER: &[u8] = b"fieldsync-marker-\xe5\xbc\xa0\xe4\xb8\x89-roof";

/// A photo of `len` bytes with the JPEG magic first and the marker in it, 20 times over.
fn photo(seed: u8, len: usize) -> Vec<u8> {
    let mut b = jpeg(seed, len);
    for k in 0..20 {
        let at = 3 + k * (len - MARKER.len() - 3) / 20;
        b[at..at + MARKER.len()].copy_from_slice(MARKER);
    }
    b
}

fn shows(path: &Path, text: &[u8]) -> bool {
    std::fs::read(path).unwrap().windows(text.len()).any(|w| w == text)
}

/// No file under the store's blob folder starts with the JPEG magic or holds the marker.
fn nothing_in_clear(s: &Store) {
    let files = blob_files(s);
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.starts_with(&[0xff, 0xd8, 0xff]), "{} is a JPEG", f.display());
        assert!(!shows(&f, MARKER), "{} shows the marker", f.display());
    }
}

fn key(byte: u8) -> StoreKey {
    StoreKey::from_bytes(&[byte; 32]).unwrap()
}

#[test]
fn an_encrypted_stores_photos_are_sealed_and_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let s = Store::open_encrypted(&path, key(1)).unwrap();
    s.set_user("resident-1").unwrap();
    let id = s.create(&new_report("a shed on the roof")).unwrap();
    let big = photo(1, 3 * 1024 * 1024 + 17);
    let small = photo(2, 64 * 1024);
    let b =
        s.add_photo(id, &PhotoSource::Bytes { bytes: big.clone() }, "image/jpeg", None).unwrap();
    let camera = dir.path().join("IMG_0002.jpg");
    std::fs::write(&camera, &small).unwrap();
    let source = PhotoSource::File { path: camera.display().to_string() };
    let c = s.add_photo(id, &source, "image/jpeg", None).unwrap();
    assert_eq!(b.hash, sha256_hex(&big), "a blob is named by its plaintext");
    assert_eq!(c.size, small.len() as i64);
    nothing_in_clear(&s);
    assert_eq!(s.photo_bytes(&b.hash, PhotoVariant::Original).unwrap(), Some(big.clone()));
    assert_eq!(s.photo_bytes(&c.hash, PhotoVariant::Original).unwrap(), Some(small));
    assert_eq!(s.photo_bytes(&b.hash, PhotoVariant::Thumbnail).unwrap(), None);
    drop(s);

    // Reopened with its key (the file secret is in the store), and after a change of key
    // (which rewrites no file).
    let s = Store::open_encrypted(&path, key(1)).unwrap();
    assert_eq!(s.photo_bytes(&b.hash, PhotoVariant::Original).unwrap(), Some(big.clone()));
    let before = std::fs::read(s.photo_file(&b.hash).unwrap().unwrap()).unwrap();
    s.rekey(key(2)).unwrap();
    drop(s);
    let s = Store::open_encrypted(&path, key(2)).unwrap();
    let file = s.photo_file(&b.hash).unwrap().unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(s.photo_bytes(&b.hash, PhotoVariant::Original).unwrap(), Some(big));

    // One flipped byte: a typed error, and not a byte of the photo.
    let mut damaged = before.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    std::fs::write(&file, &damaged).unwrap();
    match s.photo_bytes(&b.hash, PhotoVariant::Original) {
        Err(CoreError::DamagedFile { path, reason }) => {
            assert_eq!(Path::new(&path), file);
            assert!(reason.contains("does not authenticate"), "{reason}");
        }
        other => panic!("expected DamagedFile, got {:?}", other.map(|b| b.map(|b| b.len()))),
    }
    // Cut at a chunk boundary (64 KiB + its tag after the 40-byte header): found too.
    std::fs::write(&file, &before[..40 + 65_552]).unwrap();
    assert!(matches!(
        s.photo_bytes(&b.hash, PhotoVariant::Original),
        Err(CoreError::DamagedFile { .. })
    ));
}

#[test]
fn a_plaintext_stores_photos_are_sealed_when_it_is_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let (id, p, q, big, small) = {
        let s = Store::open(&path).unwrap();
        s.set_user("resident-1").unwrap();
        let id = s.create(&new_report("a shed on the roof")).unwrap();
        let (big, small) = (photo(3, 700_000), photo(4, 1_000));
        let p = s.add_photo(id, &PhotoSource::Bytes { bytes: big.clone() }, "image/jpeg", None);
        let q = s.add_photo(id, &PhotoSource::Bytes { bytes: small.clone() }, "image/png", None);
        // A plaintext store keeps the photo itself.
        let (p, q) = (p.unwrap(), q.unwrap());
        assert_eq!(std::fs::read(s.photo_file(&p.hash).unwrap().unwrap()).unwrap(), big);
        (id, p, q, big, small)
    };
    let s = Store::open_encrypted(&path, key(7)).unwrap();
    nothing_in_clear(&s);
    assert_eq!(s.photo_bytes(&p.hash, PhotoVariant::Original).unwrap(), Some(big));
    assert_eq!(s.photo_bytes(&q.hash, PhotoVariant::Original).unwrap(), Some(small));
    assert_eq!(s.get(id).unwrap().photos().len(), 2);
    assert_eq!(s.photos_pending().unwrap().len(), 2, "still waiting for upload");
    drop(s);
    // Sealed once: a second open finds nothing to seal, and reads the same.
    let s = Store::open_encrypted(&path, key(7)).unwrap();
    nothing_in_clear(&s);
    assert_eq!(s.photo_bytes(&q.hash, PhotoVariant::Original).unwrap().unwrap().len(), 1_000);
}

#[test]
fn a_wiped_encrypted_store_keeps_new_photos_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let s = Store::open_encrypted(&path, key(1)).unwrap();
    s.set_user("resident-1").unwrap();
    let id = s.create(&new_report("a shed on the roof")).unwrap();
    s.add_photo(id, &PhotoSource::Bytes { bytes: photo(5, 5_000) }, "image/jpeg", None).unwrap();
    s.wipe().unwrap();
    assert!(blob_files(&s).is_empty(), "the photos went with the wipe");
    s.set_user("resident-2").unwrap();
    let id = s.create(&new_report("a new report")).unwrap();
    let again = photo(6, 90_000);
    let r = s.add_photo(id, &PhotoSource::Bytes { bytes: again.clone() }, "image/jpeg", None);
    let r = r.unwrap();
    nothing_in_clear(&s);
    drop(s);
    let s = Store::open_encrypted(&path, key(1)).unwrap();
    assert_eq!(s.photo_bytes(&r.hash, PhotoVariant::Original).unwrap(), Some(again));
}
