//! The `load` suite: a thousand devices of real users sync with a real server (a child process)
//! over several rounds each, writing and reading at once, and must all end up holding what the
//! server holds.
//!
//! Devices are users of a street's grids with their roles and scopes ([`population`]): per grid
//! of twenty, twelve residents, four patrol members, two mediators, a grid leader and a
//! dispatcher whose five grids overlap the next dispatchers'. Each device holds the documents it
//! may read in memory, applies what it pulls, and speaks the protocol directly
//! ([`crate::bench::sim`]).
//!
//! Each device goes through `--rounds` rounds (default 5); at most `--concurrency` devices are in
//! a round at once (default 64). Round kinds come in turn, each device starting at another place
//! of the turn, so that every round mixes them, in these proportions:
//! - 50% write: a sync that pulls what is new (as a phone does when its user opens the app),
//!   then a few local changes as its role makes them on what it holds ([`workload`]): new records
//!   (about a third of the changes), workflow steps, comments, patrol entries and notes, many on
//!   records that other devices change too (a report its reporter, leader, responder and
//!   dispatchers all touch; a patrol log its team appends to; a case's notes both mediators
//!   splice: about half the records end up changed by two devices or more, `load.docs_shared`);
//!   then a sync that pushes them. A sync pulls the feed after the device's cursor page
//!   by page (`--page-bytes`, default 32 KiB, so busy devices take several pages);
//! - 30% pull: a sync with nothing to push, reading the feed to its end;
//! - 10% `POST /v1/visible` about every document the device holds (nothing may be hidden: no
//!   one's rights change);
//! - 10% `POST /v1/reconcile` about twenty of its documents, applying what the server sends.
//!
//! Figures: `load.syncs_per_s` (sync requests answered per second of the rounds),
//! `load.requests_per_s` (all requests), `load.p50_ms` and `load.p99_ms` (latency of every
//! request, from sending to the whole answer), the same p99 for pushing syncs, pull-only syncs
//! and the read-style requests, `load.errors` (failed requests and refusals an honest device
//! never meets: must be 0), the server child's CPU time over the rounds (`load.server_cpu_s`,
//! and per request: on a shared machine, what the server cost rather than how long it waited),
//! on PostgreSQL the CPU time of the database's backends serving the run (`load.db_cpu_s`,
//! `load.db_cpu_ms_per_request`), the database's size at the end (`load.stored_mb`: SQLite's
//! file and log, or the schema's tables and indexes) and per change made
//! (`load.stored_bytes_per_change`), and the server's resident memory at the end
//! (`load.server_rss_mb`, VmRSS) and at its peak (`load.server_peak_rss_mb`, VmHWM).
//!
//! Then every device syncs to the end and the convergence check runs ([`verify`]): every
//! document every device holds must have the server's heads, no device may lack a document it
//! may read, and the server must have accepted exactly as many changes as the devices made. The
//! suite fails (after recording every figure) if any of that does not hold or errors > 0.
//!
//! With `--storage postgres://…` the suite runs twice in one run: first on SQLite, then on
//! `--instances` servers sharing one PostgreSQL database (a schema made for the run), the
//! devices spread over the instances in turn as behind a load balancer; the second run's
//! figures are named `postgres.…`. The server figures (CPU, memory) are then those of all
//! instances together.

mod drive;
mod population;
mod verify;
mod workload;

use std::collections::HashSet;
use std::time::Duration;

use automerge::ActorId;

use self::drive::Tally;
use self::workload::Agent;
use super::server::{Backend, BenchServer};
use super::sim::{Pulled, SimDevice};
use super::{Report, Result, Unit, progress};

/// Seed of what the devices draw (device `i` draws from a seed made of this and `i`).
const RUN_SEED: u64 = 0x10ad_5eed;

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Simulated devices.
    pub devices: usize,
    /// Rounds per device.
    pub rounds: usize,
    /// Devices in a round at once.
    pub concurrency: usize,
    /// Page size the devices ask for.
    pub page_bytes: u32,
    /// The backends the suite runs on, one after the other, each with its figures' prefix
    /// ([`Backend::prefix`]).
    pub backends: Vec<Backend>,
}

/// Runs the suite against servers it starts on each of `opts.backends` in turn, recording each
/// figure in `report`; fails if any request failed unexpectedly or the devices did not
/// converge (on any backend: every backend still runs).
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let mut failed = Vec::new();
    for backend in &opts.backends {
        progress(format_args!("the load suite on {backend}"));
        report.set_prefix(backend.prefix());
        let done = run_on(opts, backend, report);
        report.set_prefix("");
        if let Err(e) = done {
            failed.push(format!("{backend}: {e}"));
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join("; ").into()) }
}

/// Runs the suite once, on servers of `backend`.
fn run_on(opts: &Options, backend: &Backend, report: &mut Report) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start_on(backend, &dir.path().join("server"), &[])?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(phases(opts, report, &server))
}

async fn phases(opts: &Options, report: &mut Report, server: &BenchServer) -> Result<()> {
    progress(format_args!("enrolling {} devices", opts.devices));
    let mut agents = Vec::with_capacity(opts.devices);
    for (i, member) in population::members(opts.devices).into_iter().enumerate() {
        let actor = ActorId::random();
        let transport = server.enroll_profile(&member.profile, actor.to_bytes())?;
        let user = member.profile.user.clone();
        let start = (None, String::new());
        let sim = SimDevice::new(transport, user, actor, start, opts.page_bytes, Pulled::Apply);
        let seed = RUN_SEED ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        agents.push(Agent::new(sim, member, seed));
    }
    report.record("load.devices", opts.devices as f64, Unit::Count);
    report.record("load.rounds", opts.rounds as f64, Unit::Count);
    report.record("load.concurrency", opts.concurrency as f64, Unit::Count);
    let accepted_before = server.metric("fieldsync_changes_accepted_total").await?;
    let cpu_before = server.child_cpu()?;
    let db_cpu_before = server.database_cpu()?;

    progress(format_args!(
        "{} devices, {} rounds each, {} at a time",
        opts.devices, opts.rounds, opts.concurrency
    ));
    let (agents, mut rounds, wall) = drive::rounds(agents, opts.concurrency, opts.rounds).await?;
    let cpu = server.child_cpu()?.zip(cpu_before).map(|(after, before)| after - before);
    let db_cpu = server.database_cpu()?.zip(db_cpu_before).map(|(a, b)| a.saturating_sub(b));
    record_rounds(report, &mut rounds, wall);
    let requests = rounds.all.len().max(1) as f64;
    if let Some(cpu) = cpu {
        report.record("load.server_cpu_s", cpu.as_secs_f64(), Unit::Seconds);
        let per = cpu.as_secs_f64() * 1000.0 / requests;
        report.record("load.server_cpu_ms_per_request", per, Unit::Ms);
    }
    if let Some(cpu) = db_cpu {
        report.record("load.db_cpu_s", cpu.as_secs_f64(), Unit::Seconds);
        report.record(
            "load.db_cpu_ms_per_request",
            cpu.as_secs_f64() * 1000.0 / requests,
            Unit::Ms,
        );
    }

    progress("every device syncs to the end; then each compares its heads with the server's");
    let (agents, settling) = verify::settle(agents, opts.concurrency).await?;
    let (mut agents, checking, convergence) = verify::check(agents, opts.concurrency).await?;
    let made: u64 = agents.iter().map(|a| a.changes).sum();
    let created: u64 = agents.iter().map(|a| a.created).sum();
    let accepted_after = server.metric("fieldsync_changes_accepted_total").await?;
    let accepted = match (accepted_before, accepted_after) {
        (Some(b), Some(a)) => (a - b) as u64,
        _ => return Err("the server does not report fieldsync_changes_accepted_total".into()),
    };
    report.record("load.docs_created", created as f64, Unit::Count);
    report.record("load.changes_made", made as f64, Unit::Count);
    report.record("load.changes_accepted", accepted as f64, Unit::Count);
    let stored = server.stored_bytes()?;
    report.record("load.stored_mb", mib(stored), Unit::Mb);
    report.record("load.stored_bytes_per_change", stored as f64 / made.max(1) as f64, Unit::Bytes);
    report.record("load.docs_shared", shared_docs(&mut agents) as f64, Unit::Count);
    report.record("load.docs_checked", convergence.checked as f64, Unit::Count);
    report.record("load.diverged", convergence.diverged as f64, Unit::Count);
    report.record("load.missing", convergence.missing as f64, Unit::Count);
    let errors = rounds.errors + settling.errors + checking.errors;
    report.record("load.errors", errors as f64, Unit::Count);

    let memory = server.child_memory()?.ok_or("the server is not a child of this run")?;
    report.record("load.server_rss_mb", mib(memory.rss), Unit::Mb);
    if let Some(peak) = memory.peak {
        report.record("load.server_peak_rss_mb", mib(peak), Unit::Mb);
    }

    for f in rounds.failures.iter().chain(&settling.failures).chain(&checking.failures) {
        progress(format_args!("failure: {f}"));
    }
    for d in &convergence.examples {
        progress(format_args!("divergence: {d}"));
    }
    let mut wrong = Vec::new();
    if errors > 0 {
        wrong.push(format!("{errors} requests failed or were refused"));
    }
    if !convergence.holds() {
        wrong.push(format!(
            "{} of {} documents diverged from the server, {} missing",
            convergence.diverged, convergence.checked, convergence.missing
        ));
    }
    if accepted != made {
        wrong.push(format!("the devices made {made} changes, the server accepted {accepted}"));
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong.join("; ").into()) }
}

fn record_rounds(report: &mut Report, t: &mut Tally, wall: Duration) {
    let per_s = |n: usize| n as f64 / wall.as_secs_f64().max(1e-9);
    report.record("load.wall_s", wall.as_secs_f64(), Unit::Seconds);
    report.record("load.requests", t.all.len() as f64, Unit::Count);
    report.record("load.syncs_per_s", per_s(t.push.len() + t.pull.len()), Unit::PerSecond);
    report.record("load.requests_per_s", per_s(t.all.len()), Unit::PerSecond);
    report.record("load.p50_ms", t.all.median(), Unit::Ms);
    report.record("load.p99_ms", t.all.percentile(99.0), Unit::Ms);
    report.record("load.push_p99_ms", t.push.percentile(99.0), Unit::Ms);
    report.record("load.pull_p99_ms", t.pull.percentile(99.0), Unit::Ms);
    report.record("load.read_p99_ms", t.read.percentile(99.0), Unit::Ms);
    report.record("load.docs_acked", t.acked as f64, Unit::Count);
    report.record("load.docs_pulled", t.pulled as f64, Unit::Count);
    let syncs = (t.push.len() + t.pull.len()).max(1) as f64;
    report.record("load.bytes_up_per_sync", t.bytes.0 as f64 / syncs, Unit::Bytes);
    report.record("load.bytes_down_per_sync", t.bytes.1 as f64 / syncs, Unit::Bytes);
}

/// Documents changed by two devices or more (each counted once, from a device that holds it).
fn shared_docs(agents: &mut [Agent]) -> usize {
    let mut seen = HashSet::new();
    let mut shared = 0;
    for a in agents {
        let ids: Vec<_> = a.sim.ids().filter(|id| seen.insert(*id)).collect();
        shared += ids.into_iter().filter(|id| a.sim.writers(*id) > 1).count();
    }
    shared
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
