//! The `desk` suite: the command centre's API over HTTP against a server whose record index
//! holds a large jurisdiction (`seed`), measured as a signed-in desk sees it.
//!
//! In order: filtered pages of 50 (`desk.page_p50_ms`, `desk.page_p99_ms`: grid scopes,
//! statuses, categories, overdue, text, every sort, deep pages through cursors); statistics of
//! one grid and of the whole jurisdiction over 90 days (`desk.stats_grid_ms`,
//! `desk.stats_all_ms`); 100 desks on the live event stream while a phone pushes reports
//! (`desk.event_p99_ms`, `events`); and what maintaining the index costs a server's
//! throughput (`desk.index_overhead`, `overhead`).

pub mod client;
pub mod events;
mod overhead;
pub mod seed;

use std::path::{Path, PathBuf};
use std::time::Instant;

use fieldsync_core::policy::Role;
use fieldsync_server::ServerConfig;

use self::client::DeskClient;
use self::seed::{GRIDS_PER_STREET, ROOT, SEARCH_WORDS, STREETS, Size, grid};
use super::server::BenchServer;
use super::{Report, Result, Samples, Unit, progress};

const DAY: i64 = 86_400_000;

/// Bump when what the fixture holds changes.
const SEED_FORMAT: u32 = 2;

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reports in the index (patrol logs a tenth of it, cases a fiftieth).
    pub reports: usize,
    /// Desks on the live event stream.
    pub desks: usize,
    /// Reports a phone pushes while they listen.
    pub pushes: usize,
    /// Simulated devices pushing one change each, per throughput run of `desk.index_overhead`
    /// (0 skips it).
    pub overhead_devices: usize,
    /// Where the seeded fixture is cached.
    pub cache_dir: PathBuf,
    /// Seed a new fixture even if a cached one exists.
    pub fresh: bool,
}

/// Runs the suite.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(opts, report))
}

async fn run_async(opts: &Options, report: &mut Report) -> Result<()> {
    let size = Size { reports: opts.reports, patrols: opts.reports / 10, cases: opts.reports / 50 };
    let (fixture, end) = ensure_fixture(opts, size).await?;
    let run_dir = tempfile::tempdir()?;
    copy_dir(&fixture, run_dir.path())?;
    let position = events::feed_end(run_dir.path()).await?;

    let server = BenchServer::start_with(run_dir.path(), &["--no-escalation"])?;
    let desk = DeskClient::sign_in(&server, "desk-dispatcher", Role::Dispatcher, ROOT).await?;

    pages(report, &desk, end).await?;
    stats(report, &desk, end).await?;
    events::measure(opts, report, &server, &desk, position).await?;
    drop(server);
    if opts.overhead_devices > 0 {
        overhead::measure(opts.overhead_devices, report).await?;
    }
    Ok(())
}

/// The cached fixture of `size` (seeded on first use) and the time its records end at.
async fn ensure_fixture(opts: &Options, size: Size) -> Result<(PathBuf, i64)> {
    let dir = opts.cache_dir.join(format!("desk-v{SEED_FORMAT}-{}", size.reports));
    let end_file = dir.join("end-ms");
    if !opts.fresh
        && let Ok(text) = std::fs::read_to_string(&end_file)
        && let Ok(end) = text.trim().parse::<i64>()
    {
        progress(format_args!("reusing the desk fixture {}", dir.display()));
        return Ok((dir, end));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let end = fieldsync_core::time::now_ms();
    progress(format_args!(
        "seeding {} reports, {} patrol logs, {} cases into {} (once; cached)",
        size.reports,
        size.patrols,
        size.cases,
        dir.display()
    ));
    seed::seed(&dir, size, end).await?;
    std::fs::write(&end_file, end.to_string())?;
    Ok((dir, end))
}

/// Copies the files of a data directory (the database and its WAL, if any).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    // The database must be where a server over `to` looks for it.
    if !ServerConfig::new(to).db_path().exists() {
        return Err(format!("{} holds no server database", from.display()).into());
    }
    Ok(())
}

/// The listings a desk asks for: every filter alone and mixed, every sort, over one grid or
/// the whole jurisdiction. Each is `(query, deep)`: deep ones are followed through 20 pages.
fn page_queries(end: i64) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let week = end - 7 * DAY;
    let statuses = ["submitted", "dispatched", "in_progress", "resolved", "submitted,reopened"];
    let categories = ["sanitation", "illegal_construction", "noise", "safety_hazard"];
    let sorts = ["created", "deadline", "priority", "updated"];
    for i in 0..STREETS * GRIDS_PER_STREET / 4 {
        let g = grid(i % STREETS, (i * 7) % GRIDS_PER_STREET);
        let status = statuses[i % statuses.len()];
        let category = categories[i % categories.len()];
        let sort = sorts[i % sorts.len()];
        let word = SEARCH_WORDS[i % SEARCH_WORDS.len()];
        out.push((format!("scope={g}"), i % 5 == 0));
        out.push((format!("scope={g}&status={status}"), false));
        out.push((format!("scope={g}&category={category}&sort={sort}"), false));
        out.push((format!("scope={g}&sort={sort}"), i % 5 == 1));
        out.push((format!("scope={g}&overdue=true"), false));
        out.push((format!("scope={g}&q={word}"), false));
        out.push((format!("scope={g}&status={status}&category={category}"), false));
        out.push((format!("status={status}&sort={sort}"), i % 5 == 2));
        out.push((format!("category={category}&from={week}"), false));
        out.push(("overdue=true&sort=deadline".to_string(), i % 5 == 3));
        out.push((format!("q={word}"), false));
        out.push((format!("sort={sort}"), i % 5 == 4));
    }
    out
}

/// `desk.page_*`: pages of 50 over HTTP.
async fn pages(report: &mut Report, desk: &DeskClient, end: i64) -> Result<()> {
    let queries = page_queries(end);
    progress(format_args!("{} listings of 50, some followed 20 pages deep", queries.len()));
    // One pass to warm the page cache as a server that has run a while has it.
    for (q, _) in queries.iter().take(20) {
        desk.page(q, None).await?;
    }
    let mut samples = Samples::new();
    let mut rows = 0usize;
    for (q, deep) in &queries {
        let mut after: Option<String> = None;
        for _ in 0..if *deep { 20 } else { 1 } {
            let start = Instant::now();
            let (n, next) = desk.page(q, after.as_deref()).await?;
            samples.push(start.elapsed());
            rows += n;
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    progress(format_args!("{} pages, {rows} rows", samples.len()));
    report.record("desk.page_p50_ms", samples.median(), Unit::Ms);
    report.record("desk.page_p99_ms", samples.percentile(99.0), Unit::Ms);
    Ok(())
}

/// `desk.stats_*`: statistics over 90 days, of one grid and of everything.
async fn stats(report: &mut Report, desk: &DeskClient, end: i64) -> Result<()> {
    let from = end - 90 * DAY;
    let mut grids = Samples::new();
    for i in 0..7 {
        let g = grid(i % STREETS, (i * 3) % GRIDS_PER_STREET);
        let start = Instant::now();
        desk.stats(&format!("scope={g}&from={from}&to={end}&group=category")).await?;
        grids.push(start.elapsed());
    }
    report.record("desk.stats_grid_ms", grids.median(), Unit::Ms);
    let mut all = Samples::new();
    for _ in 0..3 {
        let start = Instant::now();
        desk.stats(&format!("from={from}&to={end}&group=scope")).await?;
        all.push(start.elapsed());
    }
    report.record("desk.stats_all_ms", all.median(), Unit::Ms);
    Ok(())
}
