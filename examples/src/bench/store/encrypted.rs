//! The encrypted store's figures (SQLCipher, docs/design.md "Secrets"), beside the plaintext
//! ones of the same run: the fixture copied again and encrypted in place
//! (`store.encrypt_fixture_ms`), opened with its key (`store.open_encrypted_ms`, the median of
//! several opens), then the creates and edits the plaintext store had, drawn from the same seed
//! (`store.create_encrypted_*`, `store.edit_encrypted_*`), to hold against `store.create_*` and
//! `store.edit_*`; and the photos (`store.photo_add_encrypted_ms`, `store.photo_read_encrypted_ms`).

use std::path::Path;

use fieldsync_core::Store;
use fieldsync_core::store::StoreKey;

use super::corpus::Corpus;
use super::{OPENS, RUN_SEED, edits, measure_create, photos, seed};
use crate::bench::{Report, Result, Samples, Unit, timed};

/// Measures the encrypted copy of `fixture`, made in `dir`.
pub(super) fn measure(fixture: &Path, dir: &Path, docs: usize, report: &mut Report) -> Result<()> {
    let db = dir.join("encrypted.db");
    seed::copy(fixture, &db)?;
    let key = StoreKey::generate();
    let (store, took) = timed(|| Store::open_encrypted(&db, key.clone()));
    drop(store?);
    report.record("store.encrypt_fixture_ms", took.as_secs_f64() * 1000.0, Unit::Ms);

    let mut samples = Samples::new();
    for _ in 0..OPENS {
        let (store, took) = timed(|| Store::open_encrypted(&db, key.clone()));
        drop(store?);
        samples.push(took);
    }
    report.record("store.open_encrypted_ms", samples.median(), Unit::Ms);

    let store = Store::open_encrypted(&db, key)?;
    let mut corpus = Corpus::new(RUN_SEED);
    measure_create(&store, &mut corpus, docs, "_encrypted", report)?;
    edits::measure(&store, &mut corpus, "_encrypted", report)?;
    photos::measure(&store, &mut corpus, docs, "_encrypted", report)
}
