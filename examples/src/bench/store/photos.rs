//! `store.photo_add{tag}_ms` and `store.photo_read{tag}_ms`: a 3 MB photo added to a report
//! (copied beside the database, hashed, synced, referenced) and read back whole
//! (`Store::photo_bytes`), the median of several. The plaintext store keeps the photo's bytes,
//! the encrypted one seals them (docs/blobs.md, "Files at rest"): run on both, the figures hold
//! the cost of sealing against the plaintext files of the same run.

use fieldsync_core::Store;
use fieldsync_core::model::NewRecord;
use fieldsync_core::store::{PhotoSource, PhotoVariant};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::super::corpus::Corpus;
use super::super::{Report, Result, Samples, Unit, timed};

/// A camera photo's size.
const PHOTO_BYTES: usize = 3_000_000;
/// Photos added (each other bytes, so none is stored once for two), and reads of each.
const PHOTOS: usize = 9;

/// Adds [`PHOTOS`] photos to a new report of `store` and reads each back, recording
/// `store.photo_add{tag}_ms` and `store.photo_read{tag}_ms`.
pub(super) fn measure(
    store: &Store,
    corpus: &mut Corpus,
    docs: usize,
    tag: &str,
    report: &mut Report,
) -> Result<()> {
    let id = store.create(&NewRecord::Report { report: corpus.report(docs + 2_000_000) })?;
    // The same bytes in both runs: noise, as a JPEG's are.
    let mut rng = StdRng::seed_from_u64(0xf0_70);
    let mut adds = Samples::new();
    let mut hashes = Vec::new();
    for _ in 0..PHOTOS {
        let mut bytes = vec![0u8; PHOTO_BYTES];
        rng.fill_bytes(&mut bytes);
        let source = PhotoSource::Bytes { bytes };
        let (photo, took) = timed(|| store.add_photo(id, &source, "image/jpeg", None));
        hashes.push(photo?.hash);
        adds.push(took);
    }
    let mut reads = Samples::new();
    for hash in &hashes {
        let (bytes, took) = timed(|| store.photo_bytes(hash, PhotoVariant::Original));
        match bytes? {
            Some(b) if b.len() == PHOTO_BYTES => reads.push(took),
            other => {
                return Err(format!(
                    "photo {hash} reads back as {:?} bytes",
                    other.map(|b| b.len())
                )
                .into());
            }
        }
    }
    report.record(format!("store.photo_add{tag}_ms"), adds.median(), Unit::Ms);
    report.record(format!("store.photo_read{tag}_ms"), reads.median(), Unit::Ms);
    Ok(())
}
