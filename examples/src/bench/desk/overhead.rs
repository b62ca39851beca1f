//! `desk.index_overhead`: the fraction of `server.changes_per_s` that maintaining the record
//! index costs. Measured as the `sync` suite measures that figure (simulated devices each push
//! one change to their own report and pull a page, 32 at a time), on two servers of the same
//! build over fresh databases: one as served, one started with the hidden
//! `serve --no-index-writes` (its writes leave the index as it is). Runs alternate between the
//! two, twice each, so that the machine's drift touches both alike; the overhead is
//! `1 - with / without` of the summed rates (negative when the noise exceeds the cost).

use fieldsync_core::model::NewRecord;
use fieldsync_core::policy::Role;

use super::seed::grid;
use super::{Report, Result, Unit, progress};
use crate::bench::corpus::Corpus;
use crate::bench::server::BenchServer;
use crate::bench::sim::{Pulled, SimDevice};
use crate::bench::sync::rounds;

/// Devices syncing at once (as the `sync` suite's default).
const CONCURRENCY: usize = 32;
/// Runs of each build.
const RUNS: usize = 2;

/// Measures both servers, alternating, and records the overhead.
pub async fn measure(devices: usize, report: &mut Report) -> Result<()> {
    let mut with = 0.0;
    let mut without = 0.0;
    for run in 0..RUNS * 2 {
        let index = run % 2 == 0;
        let rate = changes_per_s(devices, index).await?;
        progress(format_args!(
            "run {}: {rate:.0} changes/s {} the index",
            run + 1,
            if index { "with" } else { "without" }
        ));
        if index {
            with += rate;
        } else {
            without += rate;
        }
    }
    report.record("desk.changes_per_s_indexed", with / RUNS as f64, Unit::PerSecond);
    report.record("desk.changes_per_s_unindexed", without / RUNS as f64, Unit::PerSecond);
    // Within the machine's noise the figure can come out below 0: shown as measured.
    report.record("desk.index_overhead", 1.0 - with / without.max(1e-9), Unit::Ratio);
    Ok(())
}

/// `server.changes_per_s` of a fresh server, with the index maintained or not.
async fn changes_per_s(devices: usize, index: bool) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let options: &[&str] = if index { &[] } else { &["--no-index-writes"] };
    let server = BenchServer::start_with(dir.path(), options)?;
    let mut corpus = Corpus::new(0x0de5_c0e1);
    let mut sims = Vec::with_capacity(devices);
    for i in 0..devices {
        let scope = grid(i % 5, i % 20);
        let user = format!("resident-{i:05}");
        let actor = automerge::ActorId::random();
        let transport = server.enroll_as(&user, Role::Resident, &scope, actor.to_bytes())?;
        let mut d =
            SimDevice::new(transport, user, actor, (None, String::new()), 32 * 1024, Pulled::Skip);
        let mut new = corpus.report(i);
        new.scope = scope;
        d.create(&NewRecord::Report { report: new })?;
        sims.push(d);
    }
    let (sims, ..) = rounds(sims, CONCURRENCY).await?;
    let mut ready = Vec::with_capacity(sims.len());
    for mut d in sims {
        let own = d.ids().next().ok_or("a simulated device holds no report")?;
        d.edit(own, &corpus.comment())?;
        ready.push(d);
    }
    let (.., wall) = rounds(ready, CONCURRENCY).await?;
    Ok(devices as f64 / wall.as_secs_f64().max(1e-9))
}
