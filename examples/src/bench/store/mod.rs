//! The `store` suite: the phone's SQLite store holding a large number of records.
//!
//! It seeds (or reuses) a fixture of N records of mixed kinds in fifty grids, copies it so every
//! run starts from the same state, then measures in this order: opening the store, creating
//! reports, editing records (mostly cold, some hot), reading a filtered page of reports, full-text
//! search, and the bytes stored per record. A few diagnostic figures follow (loading and reading a
//! record outside a command) that show where an edit's time goes; then the files on disk while
//! 10,000 reports are written back to back (`store.wal_mb`, `store.files_mb`); last, photos
//! (`photos`: `store.photo_add_ms`, `store.photo_read_ms`). Then the same fixture again,
//! encrypted (`encrypted`): encrypting it, opening it with its key, and the same creates, edits
//! and photos as the plaintext run (`store.*_encrypted_*`, `store.photo_add_encrypted_ms`,
//! `store.photo_read_encrypted_ms`), to compare within one run.

mod edits;
mod encrypted;
mod files;
mod photos;
pub mod seed;

use std::path::PathBuf;

use fieldsync_core::Store;
use fieldsync_core::model::{Kind, NewRecord, ReportStatus};
use fieldsync_core::store::{PageRequest, ReportFilter};
use rand::Rng;

use super::corpus::{self, Corpus};
use super::{Report, Result, Samples, Unit, progress, timed};

/// Seed of the generator that draws what a run does (separate from the fixture's).
const RUN_SEED: u64 = 0xbe_4c40;
/// Times the store is opened for `store.open_ms`.
const OPENS: usize = 7;
/// Reports created for `store.create_*`.
const CREATES: usize = 1_000;
/// Queries for `store.query_page_ms`.
const QUERIES: usize = 200;
/// Reports per page.
const PAGE: i32 = 50;
/// Rounds over the search terms for `store.search_ms`.
const SEARCH_ROUNDS: usize = 3;
/// Work order numbers searched for per round.
const TICKETS: usize = 6;
/// Hits asked of one search (a screenful).
const HITS: i32 = 20;
/// Cold records loaded for the diagnostic figures.
const LOADS: usize = 300;

const STATUSES: [ReportStatus; 8] = [
    ReportStatus::Submitted,
    ReportStatus::Accepted,
    ReportStatus::Dispatched,
    ReportStatus::InProgress,
    ReportStatus::Resolved,
    ReportStatus::Confirmed,
    ReportStatus::Rejected,
    ReportStatus::Reopened,
];

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records in the fixture.
    pub docs: usize,
    /// Where fixtures are cached.
    pub cache_dir: PathBuf,
    /// Seed a new fixture even if one is cached.
    pub fresh: bool,
}

/// Runs the suite, recording its figures in `report`.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    report.record("store.docs", opts.docs as f64, Unit::Count);
    let (fixture, seeded) = seed::ensure(&opts.cache_dir, opts.docs, opts.fresh)?;
    match seeded {
        Some(took) => report.record("store.seed_s", took.as_secs_f64(), Unit::Seconds),
        None => progress(format_args!("using the cached fixture {}", fixture.display())),
    }
    // Beside the fixture rather than in /tmp, so the copy is on the same kind of disk.
    let work = tempfile::Builder::new().prefix("run-").tempdir_in(&opts.cache_dir)?;
    let db = work.path().join("store.db");
    seed::copy(&fixture, &db)?;

    progress("measuring open");
    measure_open(&db, report)?;
    let store = Store::open(&db)?;
    let stats = store.stats()?;
    if stats.documents != opts.docs as i64 {
        return Err(format!(
            "the fixture {} holds {} records, not {}: rerun with --fresh",
            fixture.display(),
            stats.documents,
            opts.docs
        )
        .into());
    }
    let mut corpus = Corpus::new(RUN_SEED);
    progress("measuring create");
    measure_create(&store, &mut corpus, opts.docs, "", report)?;
    progress("measuring edits");
    edits::measure(&store, &mut corpus, "", report)?;
    progress("measuring queries");
    measure_query(&store, &mut corpus, report)?;
    progress("measuring search");
    measure_search(&store, &mut corpus, opts.docs, report)?;

    let stats = store.stats()?;
    let docs = stats.documents.max(1) as f64;
    report.record("store.bytes_per_doc", stats.file_bytes as f64 / docs, Unit::Bytes);
    report.record("store.doc_bytes_per_doc", stats.document_bytes as f64 / docs, Unit::Bytes);

    progress("measuring loads (diagnostic)");
    measure_loads(&store, &mut corpus, opts.docs, report)?;
    progress("measuring the files under writes without pause");
    files::measure(&store, &db, &mut corpus, opts.docs, report)?;
    // Last, as in the encrypted run, so that the phases a build without photos has too run in
    // the order they had (27 MB of photo files written before the loads, they read x1.107
    // slower in one alternated run).
    progress("measuring photos");
    photos::measure(&store, &mut corpus, opts.docs, "", report)?;
    drop(store);
    progress("measuring the encrypted store");
    encrypted::measure(&fixture, work.path(), opts.docs, report)?;
    work.close()?;
    Ok(())
}

/// `store.open_ms`: the median of several opens of the copied fixture, each closed again.
fn measure_open(db: &std::path::Path, report: &mut Report) -> Result<()> {
    let mut samples = Samples::new();
    for _ in 0..OPENS {
        let (store, took) = timed(|| Store::open(db));
        drop(store?);
        samples.push(took);
    }
    report.record("store.open_ms", samples.median(), Unit::Ms);
    Ok(())
}

/// `store.create{tag}_*`: new reports, each committed on its own.
fn measure_create(
    store: &Store,
    corpus: &mut Corpus,
    docs: usize,
    tag: &str,
    report: &mut Report,
) -> Result<()> {
    store.set_user("resident-bench")?;
    let mut samples = Samples::new();
    for k in 0..CREATES {
        let new = NewRecord::Report { report: corpus.report(docs + k) };
        let (id, took) = timed(|| store.create(&new));
        id?;
        samples.push(took);
    }
    report.record(format!("store.create{tag}_p50_ms"), samples.median(), Unit::Ms);
    report.record(format!("store.create{tag}_p99_ms"), samples.percentile(99.0), Unit::Ms);
    Ok(())
}

/// `store.query_page_ms`: the first page of reports with one status in one grid.
fn measure_query(store: &Store, corpus: &mut Corpus, report: &mut Report) -> Result<()> {
    let filter = |corpus: &mut Corpus| {
        let rng = corpus.rng();
        ReportFilter {
            scope: Some(corpus::grid(rng.random_range(1..=corpus::GRIDS))),
            statuses: vec![STATUSES[rng.random_range(0..STATUSES.len())]],
            ..Default::default()
        }
    };
    // The first read opens a reader connection; that is not what is measured.
    store.query_reports(&filter(corpus), &PageRequest::first(PAGE))?;
    let mut samples = Samples::new();
    let mut items = 0;
    for _ in 0..QUERIES {
        let f = filter(corpus);
        let (page, took) = timed(|| store.query_reports(&f, &PageRequest::first(PAGE)));
        items += page?.items.len();
        samples.push(took);
    }
    report.record("store.query_page_ms", samples.median(), Unit::Ms);
    report.record("store.query_page_p99_ms", samples.percentile(99.0), Unit::Ms);
    progress(format_args!(
        "queries returned {:.1} reports a page on average",
        items as f64 / QUERIES as f64
    ));
    Ok(())
}

/// `store.search_ms`: common terms, work order numbers (one record each) and terms that occur
/// nowhere, in Chinese and ASCII.
fn measure_search(
    store: &Store,
    corpus: &mut Corpus,
    docs: usize,
    report: &mut Report,
) -> Result<()> {
    store.search(corpus::COMMON_QUERIES[0], None, HITS)?;
    let (mut all, mut common, mut rare, mut missing) =
        (Samples::new(), Samples::new(), Samples::new(), Samples::new());
    for _ in 0..SEARCH_ROUNDS {
        let tickets: Vec<String> = (0..TICKETS)
            .map(|_| {
                loop {
                    let i = corpus.rng().random_range(0..docs);
                    if corpus::kind_of(i) == Kind::Report {
                        break corpus::ticket(i);
                    }
                }
            })
            .collect();
        let terms = corpus::COMMON_QUERIES
            .iter()
            .map(|t| (*t, 0))
            .chain(tickets.iter().map(|t| (t.as_str(), 1)))
            .chain(corpus::MISSING_QUERIES.iter().map(|t| (*t, 2)));
        for (term, class) in terms {
            let (hits, took) = timed(|| store.search(term, None, HITS));
            let hits = hits?;
            match (class, hits.len()) {
                (0 | 1, 0) => progress(format_args!("warning: search for {term:?} found nothing")),
                (2, n) if n > 0 => progress(format_args!("warning: {term:?} found {n} records")),
                _ => {}
            }
            all.push(took);
            [&mut common, &mut rare, &mut missing][class].push(took);
        }
    }
    report.record("store.search_ms", all.median(), Unit::Ms);
    report.record("store.search_p99_ms", all.percentile(99.0), Unit::Ms);
    report.record("store.search_common_ms", common.median(), Unit::Ms);
    report.record("store.search_rare_ms", rare.median(), Unit::Ms);
    report.record("store.search_missing_ms", missing.median(), Unit::Ms);
    let mut multi = Samples::new();
    for _ in 0..SEARCH_ROUNDS {
        for term in corpus::MULTI_QUERIES {
            let (hits, took) = timed(|| store.search(term, None, HITS));
            if hits?.is_empty() {
                progress(format_args!("warning: search for {term:?} found nothing"));
            }
            multi.push(took);
        }
    }
    report.record("store.search_multi_ms", multi.median(), Unit::Ms);
    Ok(())
}

/// Diagnostics: loading a record from SQLite (bytes read and `AutoCommit::load`) and reading it
/// as a typed record, outside any command, on records no edit touched.
fn measure_loads(
    store: &Store,
    corpus: &mut Corpus,
    docs: usize,
    report: &mut Report,
) -> Result<()> {
    let ids = store.doc_ids()?;
    let (mut load, mut get, mut bytes) = (Samples::new(), Samples::new(), Vec::new());
    for _ in 0..LOADS {
        // Seeded records only; the run's own creations sit after them in storage order.
        let mut pick = || ids[corpus.rng().random_range(0..docs.min(ids.len()))];
        let id = pick();
        bytes.push(store.saved_bytes(id)?.len() as f64);
        let (doc, took) = timed(|| store.load(id));
        doc?;
        load.push(took);
        let id = pick();
        let (record, took) = timed(|| store.get(id));
        record?;
        get.push(took);
    }
    bytes.sort_by(f64::total_cmp);
    report.record("store.load_p50_ms", load.median(), Unit::Ms);
    report.record("store.load_p99_ms", load.percentile(99.0), Unit::Ms);
    report.record("store.get_p50_ms", get.median(), Unit::Ms);
    report.record("store.saved_bytes_p50", super::percentile(&bytes, 50.0), Unit::Bytes);
    Ok(())
}
