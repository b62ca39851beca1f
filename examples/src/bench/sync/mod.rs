//! The `sync` suite: phones and a server over HTTP on loopback.
//!
//! In order: a seeding phone pushes N records (a cached store fixture: reports, one in forty a
//! warning bulletin) to the server; a fresh
//! phone pulls them all (`sync.initial_*`); it syncs again with nothing changed (`sync.noop_*`);
//! the seeding phone changes one report and the fresh phone syncs (`sync.one_change_*`); a
//! thousand simulated devices each push one change to their own report and pull a page,
//! concurrently with a bound (`server.changes_per_s`, `server.p99_ms`, and the CPU time the
//! servers spent per change, `server.cpu_ms_per_change`, with PostgreSQL's own beside it,
//! `server.db_cpu_ms_per_change`: its backends serving the run, read from `/proc`, the
//! database on this machine); a resident asks for a document it may not read and for one that
//! does not exist (`server.want_*`, [`privacy`]); an admin gives a grid leader whose phone
//! holds one grid's reports (5,000 by default) a second grid (100 more) and the phone syncs
//! (`sync.rescope_*`, [`rescope`]: the bytes over the link against the new reports' saved size;
//! the two grids are a fixture of their own, whatever `--docs` says); finally the server is
//! filled up to 100,000 documents and its resident memory read (`server.rss_mb`).
//!
//! The phones are real stores and the real sync client; the simulated devices speak the
//! protocol directly, holding one document each in memory. The server is a child process, so
//! its memory is its own, unless `--server URL` names one started elsewhere.
//!
//! With `--storage postgres://…` the whole suite runs twice in one run: first on SQLite, then
//! on `--instances` servers sharing one PostgreSQL database (a schema made for the run), the
//! phones and devices spread over the instances in turn; the second run's figures are named
//! `postgres.…`, so each stands beside its SQLite twin. `server.rss_mb` and the CPU figures
//! are then those of all instances together.

mod bulk;
mod metered;
mod privacy;
pub mod rescope;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_core::Store;
use fieldsync_core::model::{Kind, NewRecord};
use fieldsync_core::store::{PageRequest, ReportFilter, schema};
use fieldsync_core::sync::{HttpTransport, SyncClient, SyncSummary};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::bulk::BulkPusher;
use super::corpus::{Corpus, kind_of};
use super::server::{Backend, BenchServer};
use super::sim::{Exchange, Pulled, SimDevice};
use super::store::seed::{copy, ensure_fixture};
use super::{Report, Result, Samples, Unit, progress};

/// Bump when what the report fixture holds changes (4: records made on the phone are stored as
/// their changes).
const SEED_FORMAT: u32 = 4;
/// Seed of the fixture's generator.
const SEED: u64 = 0x005e_ed5c;
/// Seed of what a run draws.
const RUN_SEED: u64 = 0x5c_4c40;
/// The user who entered the fixture's reports: the command centre's hotline, whose phone is the
/// seeding phone (under access control a device pushes only its own user's records).
const HOTLINE: &str = "hotline-1";
/// The user whose device fills the server for the memory figure.
const FILLER: &str = "filler-1";
/// Documents per request when filling the server for the memory figure.
const FILL_BATCH: usize = 500;

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reports the phones sync.
    pub docs: usize,
    /// Simulated devices in the load phase.
    pub devices: usize,
    /// Simulated devices syncing at once.
    pub concurrency: usize,
    /// Page size the simulated devices ask for.
    pub page_bytes: u32,
    /// Documents the server holds when its memory is read (0: skip that phase).
    pub rss_docs: usize,
    /// A server started elsewhere; `None` starts one.
    pub server: Option<String>,
    /// The data directory of the server started elsewhere (where devices are enrolled).
    pub server_data: Option<PathBuf>,
    /// The metrics listener of the server started elsewhere.
    pub server_metrics: String,
    /// Where fixtures are cached.
    pub cache_dir: PathBuf,
    /// Seed a new fixture even if one is cached.
    pub fresh: bool,
    /// The server started by the suite leaves the record index as it is on every write: what
    /// the index costs these figures (against a run without it).
    pub no_index_writes: bool,
    /// The backends the suite runs on, one after the other, each with its figures' prefix
    /// ([`Backend::prefix`]); a server started elsewhere is measured once, whatever this says.
    pub backends: Vec<Backend>,
    /// The grids of the scope-change phase (`None` skips it).
    pub rescope: Option<rescope::Sizes>,
}

/// Runs the suite on each of `opts.backends` in turn, recording each figure in `report` as it
/// is measured.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let fixture = opts.cache_dir.join(format!(
        "reports-{}-s{}-v{SEED_FORMAT}.db",
        opts.docs,
        schema::VERSION
    ));
    let docs = opts.docs;
    ensure_fixture(&fixture, opts.fresh, |path| seed_reports(path, docs))?;
    let fixtures = Fixtures {
        reports: fixture,
        rescope: match opts.rescope {
            Some(sizes) => Some((rescope::ensure(&opts.cache_dir, sizes, opts.fresh)?, sizes)),
            None => None,
        },
    };
    if opts.server.is_some() {
        return run_on(opts, &Backend::Sqlite, &fixtures, report);
    }
    for backend in &opts.backends {
        progress(format_args!("the sync suite on {backend}"));
        report.set_prefix(backend.prefix());
        let done = run_on(opts, backend, &fixtures, report);
        report.set_prefix("");
        done?;
    }
    Ok(())
}

/// The cached phone stores the suite's phases start from.
struct Fixtures {
    /// The seeding phone's records.
    reports: PathBuf,
    /// The scope-change phase's two grids, and their sizes (`None`: no such phase).
    rescope: Option<(PathBuf, rescope::Sizes)>,
}

/// Runs the suite once, on servers of `backend` (or the one started elsewhere).
fn run_on(
    opts: &Options,
    backend: &Backend,
    fixtures: &Fixtures,
    report: &mut Report,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = match &opts.server {
        Some(url) => {
            let data = opts.server_data.as_deref().ok_or(
                "--server needs --server-data DIR, the server's --data directory, to enroll devices",
            )?;
            BenchServer::remote(url, &opts.server_metrics, data)?
        }
        None => {
            let options: &[&str] = if opts.no_index_writes { &["--no-index-writes"] } else { &[] };
            BenchServer::start_on(backend, &dir.path().join("server"), options)?
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(phases(opts, report, &server, fixtures, dir.path()))
}

async fn phases(
    opts: &Options,
    report: &mut Report,
    server: &BenchServer,
    fixtures: &Fixtures,
    dir: &Path,
) -> Result<()> {
    // The seeding phone pushes everything.
    copy(&fixtures.reports, &dir.join("seeder.db"))?;
    let seeder = client(server, HOTLINE, &dir.join("seeder.db"))?;
    progress(format_args!("pushing {} reports from the seeding phone", opts.docs));
    let push = seeder.sync_now(None).await?;
    report.record("sync.push_docs_per_s", per_s(push.docs_pushed, push.duration), Unit::PerSecond);

    // A fresh phone pulls everything.
    progress("a fresh phone pulls everything");
    let fresh = client(server, "fresh", &dir.join("fresh.db"))?;
    let initial = fresh.sync_now(None).await?;
    let stats = fresh.store().stats()?;
    let pulled = initial.docs_pulled.max(1) as f64;
    report.record(
        "sync.initial_docs_per_s",
        per_s(initial.docs_pulled, initial.duration),
        Unit::PerSecond,
    );
    report.record("sync.initial_bytes_per_doc", initial.bytes_down as f64 / pulled, Unit::Bytes);
    report.record(
        "sync.initial_saved_bytes_per_doc",
        stats.document_bytes as f64 / stats.documents.max(1) as f64,
        Unit::Bytes,
    );
    report.record(
        "sync.initial_wire_ratio",
        initial.bytes_down as f64 / stats.document_bytes.max(1) as f64,
        Unit::Ratio,
    );
    report.record("sync.initial_requests", initial.requests as f64, Unit::Count);
    if stats.documents < opts.docs as i64 {
        return Err(format!(
            "the fresh phone holds {} of {} documents",
            stats.documents, opts.docs
        )
        .into());
    }

    // Nothing changed.
    let noop = fresh.sync_now(None).await?;
    report.record("sync.noop_requests", noop.requests as f64, Unit::Count);
    report.record("sync.noop_bytes", (noop.bytes_up + noop.bytes_down) as f64, Unit::Bytes);

    // One report changed on the seeding phone.
    let mut corpus = Corpus::new(RUN_SEED);
    let page = seeder.store().query_reports(&ReportFilter::default(), &PageRequest::first(1))?;
    let id = page.items.first().map(|r| r.id).ok_or("the seeding phone holds no report")?;
    seeder.store().execute(id, &corpus.comment())?;
    let sent = seeder.sync_now(None).await?;
    let one = fresh.sync_now(None).await?;
    report.record("sync.one_change_requests", one.requests as f64, Unit::Count);
    report.record("sync.one_change_bytes", (one.bytes_up + one.bytes_down) as f64, Unit::Bytes);
    report.record(
        "sync.one_change_push_bytes",
        (sent.bytes_up + sent.bytes_down) as f64,
        Unit::Bytes,
    );
    if one.docs_pulled != 1 {
        return Err(format!("one change elsewhere pulled {} documents", one.docs_pulled).into());
    }

    load(opts, report, server, &fresh, &mut corpus).await?;
    privacy::hidden_vs_missing(report, server, &fresh, id).await?;
    let rescoped = match &fixtures.rescope {
        Some((fixture, sizes)) => {
            rescope::scope_change(report, server, fixture, dir, *sizes).await?
        }
        None => 0,
    };
    if opts.rss_docs > 0 {
        fill_and_measure(opts, report, server, &fresh, rescoped, &mut corpus).await?;
    }
    Ok(())
}

/// A phone syncing the store at `path` (created if missing), enrolled as `user` with the actor
/// its store already writes with.
fn client(server: &BenchServer, user: &str, path: &Path) -> Result<SyncClient<HttpTransport>> {
    let store = Store::open(path)?;
    let transport = server.enroll(user, store.identity().actor.to_bytes())?;
    Ok(SyncClient::new(Arc::new(store), transport))
}

/// `server.*`: simulated devices each push one change to their own report and pull a page.
async fn load(
    opts: &Options,
    report: &mut Report,
    server: &BenchServer,
    phone: &SyncClient<HttpTransport>,
    corpus: &mut Corpus,
) -> Result<()> {
    progress(format_args!("{} simulated devices create their reports", opts.devices));
    let position = phone.store().sync_position()?;
    let mut devices = Vec::with_capacity(opts.devices);
    for i in 0..opts.devices {
        let report = corpus.report(opts.docs + i);
        let user = format!("device-{i:04}");
        let actor = automerge::ActorId::random();
        let transport = server.enroll(&user, actor.to_bytes())?;
        let mut device =
            SimDevice::new(transport, user, actor, position.clone(), opts.page_bytes, Pulled::Skip);
        device.create(&NewRecord::Report { report })?;
        devices.push(device);
    }
    let (devices, _, _, setup_wall) = rounds(devices, opts.concurrency).await?;
    report.record(
        "server.create_changes_per_s",
        per_s(opts.devices as i64, setup_wall),
        Unit::PerSecond,
    );

    // Every device catches up with the others' new reports, as a phone that synced before
    // going out would have; the measured round then pulls only what changed during it.
    let SyncSummary { .. } = phone.sync_now(None).await?;
    let position = phone.store().sync_position()?;
    let mut ready = Vec::with_capacity(devices.len());
    for mut d in devices {
        d.reposition(position.clone());
        let own = d.ids().next().ok_or("a simulated device holds no report")?;
        d.edit(own, &corpus.comment())?;
        ready.push(d);
    }
    let before = server.metric("fieldsync_changes_accepted_total").await?;
    let cpu_before = (server.child_cpu()?, server.database_cpu()?);
    progress(format_args!(
        "{} devices push one change each and pull, {} at a time",
        opts.devices, opts.concurrency
    ));
    let (_, mut latencies, moved, wall) = rounds(ready, opts.concurrency).await?;
    let cpu_after = (server.child_cpu()?, server.database_cpu()?);
    let after = server.metric("fieldsync_changes_accepted_total").await?;
    if let (Some(b), Some(a)) = (before, after)
        && (a - b) < opts.devices as f64
    {
        return Err(format!("the server accepted {} of {} changes", a - b, opts.devices).into());
    }
    report.record("server.changes_per_s", per_s(opts.devices as i64, wall), Unit::PerSecond);
    report.record("server.p50_ms", latencies.median(), Unit::Ms);
    report.record("server.p99_ms", latencies.percentile(99.0), Unit::Ms);
    let n = opts.devices.max(1) as f64;
    report.record("server.bytes_up_per_round", moved.bytes_up as f64 / n, Unit::Bytes);
    report.record("server.bytes_down_per_round", moved.bytes_down as f64 / n, Unit::Bytes);
    let per_change = |after: Option<Duration>, before: Option<Duration>| {
        after.zip(before).map(|(a, b)| a.saturating_sub(b).as_secs_f64() * 1000.0 / n)
    };
    if let Some(ms) = per_change(cpu_after.0, cpu_before.0) {
        report.record("server.cpu_ms_per_change", ms, Unit::Ms);
    }
    if let Some(ms) = per_change(cpu_after.1, cpu_before.1) {
        report.record("server.db_cpu_ms_per_change", ms, Unit::Ms);
    }
    Ok(())
}

/// One round for every device, at most `concurrency` at once; returns the devices, each
/// round's latency, what all rounds moved together, and the wall time of all of them.
pub(crate) async fn rounds(
    devices: Vec<SimDevice>,
    concurrency: usize,
) -> Result<(Vec<SimDevice>, Samples, Exchange, Duration)> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let start = Instant::now();
    for mut d in devices {
        let gate = gate.clone();
        set.spawn(async move {
            let _turn = gate.acquire_owned().await?;
            let t = Instant::now();
            let moved = d.round().await?;
            Ok::<_, super::Error>((d, moved, t.elapsed()))
        });
    }
    let mut out = Vec::new();
    let mut samples = Samples::new();
    let mut total = Exchange::default();
    while let Some(joined) = set.join_next().await {
        let (d, moved, took) = joined??;
        samples.push(took);
        total.bytes_up += moved.bytes_up;
        total.bytes_down += moved.bytes_down;
        out.push(d);
    }
    Ok((out, samples, total, start.elapsed()))
}

/// `server.rss_mb`: fills the server up to `opts.rss_docs` documents (of which `phone` holds
/// all but the devices' reports and the `elsewhere` that phases after its last sync stored),
/// then reads its memory.
async fn fill_and_measure(
    opts: &Options,
    report: &mut Report,
    server: &BenchServer,
    phone: &SyncClient<HttpTransport>,
    elsewhere: usize,
    corpus: &mut Corpus,
) -> Result<()> {
    let stored = phone.store().stats()?.documents as usize + opts.devices + elsewhere;
    let missing = opts.rss_docs.saturating_sub(stored);
    progress(format_args!("filling the server with {missing} more reports"));
    let actor = automerge::ActorId::random();
    let pusher = Arc::new(BulkPusher::new(server.enroll(FILLER, actor.to_bytes())?, actor));
    let (epoch, cursor) = phone.store().sync_position()?;
    let start = Instant::now();
    let mut last = start;
    let mut done = 0usize;
    let mut in_flight = JoinSet::new();
    while done < missing {
        let n = FILL_BATCH.min(missing - done);
        let records: Vec<_> = (0..n)
            .map(|i| {
                let r = corpus.report(opts.docs + opts.devices + done + i);
                (r, corpus.report_steps())
            })
            .collect();
        let p = pusher.clone();
        let docs = tokio::task::spawn_blocking(move || p.build(FILLER, records)).await??;
        let (p, epoch, cursor) = (pusher.clone(), epoch.clone(), cursor.clone());
        in_flight.spawn(async move { p.push(docs, epoch, cursor).await });
        while in_flight.len() >= 2 {
            if let Some(r) = in_flight.join_next().await {
                r??;
            }
        }
        done += n;
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            progress(format_args!("filled {done}/{missing}"));
        }
    }
    while let Some(r) = in_flight.join_next().await {
        r??;
    }
    report.record("server.fill_docs_per_s", per_s(done as i64, start.elapsed()), Unit::PerSecond);
    // Let the server settle (the cache keeps its bound; freed pages go back) as after a run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.metric("process_resident_memory_bytes").await?;
    let rss = rss.ok_or("the server does not report process_resident_memory_bytes")?;
    report.record("server.docs_stored", (stored + done) as f64, Unit::Count);
    report.record("server.rss_mb", rss / (1024.0 * 1024.0), Unit::Mb);
    Ok(())
}

fn per_s(n: i64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Writes the fixture: `docs` records, each report taken through a random point of its
/// workflow; where the corpus's mix has a warning bulletin ([`kind_of`], one in forty), the
/// hotline issues one (what a dispatcher of the whole jurisdiction may create; the mix's
/// visits need a registry and its deliberations a resident, and stay reports here).
fn seed_reports(path: &Path, docs: usize) -> Result<()> {
    progress(format_args!("seeding {docs} records into {}", path.display()));
    let store = Store::open(path)?;
    store.set_user(HOTLINE)?;
    let mut corpus = Corpus::new(SEED);
    for i in 0..docs {
        if kind_of(i) == Kind::Bulletin {
            let new = NewRecord::Bulletin { bulletin: corpus.bulletin() };
            store.create(&new).map_err(|e| format!("seeding bulletin {i}: {e}"))?;
            continue;
        }
        let new = NewRecord::Report { report: corpus.report(i) };
        let id = store.create(&new).map_err(|e| format!("seeding report {i}: {e}"))?;
        for cmd in corpus.report_steps() {
            store
                .execute(id, &cmd)
                .map_err(|e| format!("seeding report {i}, {}: {e}", cmd.name()))?;
        }
    }
    Ok(())
}
