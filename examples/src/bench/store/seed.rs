//! The store suite's fixture: a phone store holding N records, seeded once through the public
//! API and cached under the target directory, keyed by N, the store's schema version and
//! [`SEED_FORMAT`], so reruns skip the minutes that seeding 100,000 records takes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fieldsync_core::Store;
use fieldsync_core::model::NewRecord;
use fieldsync_core::store::schema;

use crate::bench::corpus::Corpus;
use crate::bench::{Result, progress};

/// Bump when what the seeder writes changes, so stale cached fixtures are not reused. Also
/// when the store writes the same records differently, so that a comparison of two builds
/// measures each on records as it stores them. 4: a record made on the phone is stored as its
/// changes (`88fdbc5`), not as a snapshot.
pub const SEED_FORMAT: u32 = 4;

/// Seed of the generator that writes the fixture.
const SEED: u64 = 0x5eed_f1e1d;

/// Records created by one user before the seeder switches to the next.
const RECORDS_PER_USER: usize = 50;

/// Where the fixture of `docs` records is cached.
pub fn fixture_path(cache_dir: &Path, docs: usize) -> PathBuf {
    cache_dir.join(format!("store-{docs}-s{}-v{SEED_FORMAT}.db", schema::VERSION))
}

/// The cached fixture of `docs` records, seeded first if it is missing (or `fresh` is set);
/// returns its path and, if it was seeded now, how long that took.
pub fn ensure(cache_dir: &Path, docs: usize, fresh: bool) -> Result<(PathBuf, Option<Duration>)> {
    let path = fixture_path(cache_dir, docs);
    let took = ensure_fixture(&path, fresh, |partial| seed(partial, docs))?;
    Ok((path, took))
}

/// Makes sure a store fixture exists at `path`: unless it does (and `fresh` is not set), `seed`
/// writes it under a temporary name, which is renamed once the store is closed, so an
/// interrupted seeding never leaves a fixture behind. Returns how long seeding took, if it ran.
pub fn ensure_fixture(
    path: &Path,
    fresh: bool,
    seed: impl FnOnce(&Path) -> Result<()>,
) -> Result<Option<Duration>> {
    if !fresh && path.exists() {
        return Ok(None);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let partial = path.with_extension("db.partial");
    remove_db(&partial)?;
    remove_db(path)?;
    let start = Instant::now();
    seed(&partial)?;
    let took = start.elapsed();
    // Closed by a writer with no reader beside it, SQLite checkpoints the WAL into the main file
    // and deletes it, so the fixture is one file.
    drop(Store::open(&partial)?);
    std::fs::rename(&partial, path)?;
    let wal = sidecar(&partial, "-wal");
    if wal.exists() {
        std::fs::rename(&wal, sidecar(path, "-wal"))?;
    }
    let _ = std::fs::remove_file(sidecar(&partial, "-shm"));
    progress(format_args!("seeded {} in {:.1} s", path.display(), took.as_secs_f64()));
    Ok(Some(took))
}

/// Copies a closed store (and its WAL, if one was left) to `to`.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    remove_db(to)?;
    std::fs::copy(from, to)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    let wal = sidecar(from, "-wal");
    if wal.exists() {
        std::fs::copy(&wal, sidecar(to, "-wal"))?;
    }
    Ok(())
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_db(db: &Path) -> Result<()> {
    for p in [db.to_path_buf(), sidecar(db, "-wal"), sidecar(db, "-shm")] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", p.display()).into()),
        }
    }
    Ok(())
}

/// Creates `docs` records, each followed by the commands that take it through its workflow.
fn seed(path: &Path, docs: usize) -> Result<()> {
    progress(format_args!("seeding {docs} records into {}", path.display()));
    let store = Store::open(path)?;
    let mut corpus = Corpus::new(SEED);
    let start = Instant::now();
    let mut last_progress = start;
    let mut commands = 0usize;
    for i in 0..docs {
        if i % RECORDS_PER_USER == 0 {
            store.set_user(&format!("user-{:04}", (i / RECORDS_PER_USER) % 1000))?;
        }
        let new = corpus.record(i);
        let steps = match &new {
            NewRecord::Report { .. } => corpus.report_steps(),
            NewRecord::PatrolLog { patrol_log: p } => corpus.patrol_steps(p),
            NewRecord::MediationCase { mediation_case: c } => corpus.case_steps(c),
            NewRecord::Visit { .. } => corpus.visit_steps(),
            NewRecord::Deliberation { .. } => corpus.deliberation_steps(),
            // A bulletin is issued whole; acknowledging is for its readers, not its issuer.
            NewRecord::Bulletin { .. } => Vec::new(),
        };
        let id = store.create(&new).map_err(|e| format!("seeding record {i}: {e}"))?;
        for cmd in &steps {
            store
                .execute(id, cmd)
                .map_err(|e| format!("seeding record {i}, {}: {e}", cmd.name()))?;
        }
        commands += steps.len();
        if last_progress.elapsed() >= Duration::from_secs(5) || i + 1 == docs {
            last_progress = Instant::now();
            let done = i + 1;
            let secs = start.elapsed().as_secs_f64();
            let left = secs / done as f64 * (docs - done) as f64;
            progress(format_args!(
                "seeding: {done}/{docs} records ({:.0}%), {commands} commands, {secs:.0} s, ~{left:.0} s left",
                done as f64 * 100.0 / docs as f64,
            ));
        }
    }
    Ok(())
}
