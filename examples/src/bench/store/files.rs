//! `store.wal_mb`, `store.files_mb`, `store.db_mb`: what the store's files take on disk. The
//! write-ahead log must stay bounded while the app writes without pause (10,000 reports back
//! to back, as a busy sync or an import does), and the files must stay close to the database
//! alone.

use std::path::Path;

use fieldsync_core::Store;
use fieldsync_core::model::NewRecord;

use super::super::corpus::Corpus;
use super::super::{Report, Result, Unit};

/// Reports written back to back.
const BACK_TO_BACK: usize = 10_000;

fn size(path: &Path, suffix: &str) -> u64 {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Writes [`BACK_TO_BACK`] reports one after another into `store` (whose file is `db`),
/// recording the largest WAL seen (`store.wal_mb`), then the database (`store.db_mb`) and all
/// its files (`store.files_mb`: database, WAL and shared memory) once they are written.
pub(super) fn measure(
    store: &Store,
    db: &Path,
    corpus: &mut Corpus,
    docs: usize,
    report: &mut Report,
) -> Result<()> {
    let mut largest = size(db, "-wal");
    for k in 0..BACK_TO_BACK {
        store.create(&NewRecord::Report { report: corpus.report(docs + 1_000_000 + k) })?;
        largest = largest.max(size(db, "-wal"));
    }
    let files = size(db, "") + size(db, "-wal") + size(db, "-shm");
    report.record("store.wal_mb", mb(largest), Unit::Mb);
    report.record("store.db_mb", mb(size(db, "")), Unit::Mb);
    report.record("store.files_mb", mb(files), Unit::Mb);
    Ok(())
}
