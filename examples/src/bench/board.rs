//! The `board` suite: the command centre's web page in a real browser (Debian's chromium,
//! headless, through chromedriver), against a server whose index holds `open` reports still
//! being handled in the dispatcher's scope (10,000 by default; `seed::seed_open`).
//!
//! - `board.interactive_ms`: from the start of a navigation to `#/board` until its rows and
//!   counters are on screen (the page's own clock, `performance.now()`), the median of five
//!   loads; `board.dom_rows` is how many rows are in the DOM then (the list is windowed).
//! - `board.event_to_row_ms`: from a pushed report's event reaching the page (a second
//!   `EventSource` the suite opens in it) to its row being in the board's DOM, median and
//!   worst of the pushes; `board.push_to_row_ms` counts from the phone's push being acknowledged
//!   instead.
//! - `board.assets_kb`: the page's own JavaScript and CSS as loaded (`decodedBodySize` of the
//!   `/board/*.js` and `*.css` resources), uncompressed.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fieldsync_core::model::NewRecord;
use fieldsync_core::policy::Role;
use fieldsync_tests::browser::{Chromium, Launch};
use fieldsync_tests::tools::{self, Tool};
use serde_json::{Value, json};

use super::desk::client::code_for;
use super::desk::copy_dir;
use super::desk::events::feed_end;
use super::desk::seed::{ROOT, grid, seed_open};
use super::server::BenchServer;
use super::sim::{Pulled, SimDevice};
use super::{Report, Result, Samples, Unit, corpus::Corpus, progress};

/// Bump when what the fixture holds changes.
const SEED_FORMAT: u32 = 1;
/// How long the page may take to show what the suite waits for.
const WAIT: Duration = Duration::from_secs(30);
/// Loads measured for `board.interactive_ms`.
const LOADS: usize = 5;
/// The word every pushed report's title holds, which the board is filtered by while they
/// arrive, so that their rows come into view among thousands.
const MARK: &str = "看板测速";

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Open reports in the dispatcher's scope.
    pub open: usize,
    /// Reports a phone pushes while the board is open.
    pub pushes: usize,
    /// Where the seeded fixture is cached.
    pub cache_dir: PathBuf,
    /// Seed a new fixture even if a cached one exists.
    pub fresh: bool,
}

/// Runs the suite.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    for tool in Tool::BROWSER {
        if which(tool.name()).is_none() {
            return Err(format!("{} missing; install with {}", tool.name(), tools::INSTALL).into());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(opts, report))
}

fn which(exe: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(exe)).find(|p| p.is_file())
}

async fn fixture(opts: &Options) -> Result<(PathBuf, i64)> {
    let dir = opts.cache_dir.join(format!("board-v{SEED_FORMAT}-{}", opts.open));
    let end_file = dir.join("end-ms");
    if !opts.fresh
        && let Ok(text) = std::fs::read_to_string(&end_file)
        && let Ok(end) = text.trim().parse::<i64>()
    {
        progress(format_args!("reusing the board fixture {}", dir.display()));
        return Ok((dir, end));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let end = fieldsync_core::time::now_ms();
    progress(format_args!(
        "seeding {} open reports into {} (once; cached)",
        opts.open,
        dir.display()
    ));
    seed_open(&dir, opts.open, end).await?;
    std::fs::write(&end_file, end.to_string())?;
    Ok((dir, end))
}

/// Chromium through its own chromedriver, ended with it.
struct Browser {
    client: Chromium,
}

impl Browser {
    async fn start() -> Result<Browser> {
        Ok(Browser { client: Chromium::start(&Launch::default()).await? })
    }

    async fn js(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Polls `script` until it returns something truthy.
    async fn until(&self, what: &str, script: &str) -> Result<Value> {
        let started = Instant::now();
        loop {
            let v = self.js(script).await?;
            if !matches!(v, Value::Null | Value::Bool(false)) && v != json!(0) {
                return Ok(v);
            }
            if started.elapsed() > WAIT {
                let state = self
                    .js("return [location.href, document.querySelector('#summary')?.textContent,
                                 document.querySelector('#messages')?.textContent,
                                 document.querySelector('#f-q')?.value,
                                 performance.getEntriesByType('resource').slice(-6)
                                     .map(e => [e.name.slice(-90), Math.round(e.duration), e.responseStatus])];")
                    .await?;
                return Err(format!("the page did not show {what} within {WAIT:?}: {state}").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn now_epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn run_async(opts: &Options, report: &mut Report) -> Result<()> {
    let (fixture, _end) = fixture(opts).await?;
    let run_dir = tempfile::tempdir()?;
    copy_dir(&fixture, run_dir.path())?;
    let position = feed_end(run_dir.path()).await?;
    let server = BenchServer::start_with(run_dir.path(), &["--no-escalation"])?;
    let code = code_for(&server, "board-dispatcher", Role::Dispatcher, ROOT)?;
    let base = server.url().trim_end_matches('/').to_string();
    let browser = Browser::start().await?;
    let c = &browser.client;

    c.goto(&format!("{base}/")).await?;
    c.wait_for("#code", WAIT).await?.send_keys(&code).await?;
    c.find("#signin-submit").await?.click().await?;
    browser.until("the board", "return document.querySelectorAll('#rows .row').length;").await?;
    let assets = browser
        .js("return performance.getEntriesByType('resource')
                 .filter(e => /\\/board\\/[^?]*\\.(js|css)(\\?|$)/.test(e.name))
                 .reduce((n, e) => n + e.decodedBodySize, 0);")
        .await?;
    let assets_kb = assets.as_f64().unwrap_or(0.0) / 1024.0;
    if assets_kb <= 0.0 {
        return Err("the page loaded none of its own JavaScript or CSS".into());
    }

    // Interactive: rows and counters on screen, from the navigation's start.
    let mut loads = Samples::new();
    let mut dom_rows = 0u64;
    let mut total = String::new();
    for k in 0..LOADS {
        c.goto(&format!("{base}/?load={k}#/board")).await?;
        let at = browser
            .until(
                "the rows and counters",
                "const rows = document.querySelectorAll('#rows .row').length;
                 const total = document.querySelector('[data-count=total]')?.textContent;
                 return rows > 0 && total && total !== '–' ? performance.now() : 0;",
            )
            .await?;
        loads.push(Duration::from_secs_f64(at.as_f64().unwrap_or(0.0) / 1000.0));
        let shown = browser
            .js("return [document.querySelectorAll('#rows .row').length,
                         document.querySelector('[data-count=total]').textContent];")
            .await?;
        dom_rows = shown[0].as_u64().unwrap_or(0);
        total = shown[1].as_str().unwrap_or("").to_string();
    }
    progress(format_args!("the board shows {total} reports with {dom_rows} rows in the DOM"));
    if total.parse::<usize>().ok() != Some(opts.open) {
        return Err(format!("the board counts {total} open reports, not {}", opts.open).into());
    }
    report.record("board.interactive_ms", loads.median(), Unit::Ms);
    report.record("board.dom_rows", dom_rows as f64, Unit::Count);

    // Events to rows: the board filtered to the pushed reports' word, a second stream and a
    // watch on the rows installed in the page.
    let search = c.find("#f-q").await?;
    search.clear().await?;
    // Typed, then Enter: the filters apply at once.
    search.send_keys(&format!("{MARK}\u{E007}")).await?;
    browser
        .until("the filtered board", "return !document.querySelector('#board-empty').hidden;")
        .await?;
    browser
        .js(
            "window.__bench = { arrived: {}, shown: {} };
             const es = new EventSource('/api/v1/events');
             es.addEventListener('report', (e) => {
               const doc = JSON.parse(e.data).doc;
               if (!(doc in __bench.arrived)) __bench.arrived[doc] = performance.now();
             });
             const rows = document.querySelector('#rows');
             new MutationObserver(() => {
               for (const r of rows.querySelectorAll('.row')) {
                 if (!(r.dataset.doc in __bench.shown)) {
                   __bench.shown[r.dataset.doc] = [performance.now(), performance.timeOrigin + performance.now()];
                 }
               }
             }).observe(rows, { childList: true, subtree: true });
             return new Promise((ok) => es.addEventListener('open', () => ok(true)));",
        )
        .await?;
    let resident = "resident-board-bench";
    let actor = automerge::ActorId::random();
    let transport = server.enroll_as(resident, Role::Resident, &grid(0, 0), actor.to_bytes())?;
    let mut phone =
        SimDevice::new(transport, resident.into(), actor, position, 64 * 1024, Pulled::Skip);
    let mut corpus = Corpus::new(0xb0a2_e7e7);
    let mut to_row = Samples::new();
    let mut from_ack = Samples::new();
    for k in 0..opts.pushes {
        let mut new = corpus.report(k);
        new.scope = grid(0, 0);
        new.title = format!("{MARK} {k} {}", new.title);
        let id = phone.create(&NewRecord::Report { report: new })?.to_string();
        phone.round().await?;
        let acked = now_epoch_ms();
        let times = browser
            .until(
                "the pushed report's row",
                &format!(
                    "const s = __bench.shown['{id}'], a = __bench.arrived['{id}'];
                     return s && a ? [s[0] - a, s[1]] : null;"
                ),
            )
            .await?;
        let event_to_row = times[0].as_f64().unwrap_or(0.0).max(0.0);
        let shown_at = times[1].as_f64().unwrap_or(acked);
        to_row.push(Duration::from_secs_f64(event_to_row / 1000.0));
        from_ack.push(Duration::from_secs_f64((shown_at - acked).max(0.0) / 1000.0));
    }
    report.record("board.event_to_row_ms", to_row.median(), Unit::Ms);
    report.record("board.event_to_row_max_ms", to_row.percentile(100.0), Unit::Ms);
    report.record("board.push_to_row_ms", from_ack.median(), Unit::Ms);
    report.record("board.assets_kb", assets_kb, Unit::Kib);
    let _ = c.close().await;
    drop(browser);
    drop(server);
    Ok(())
}
