//! `sync.rescope_*`: what a scope change costs a phone over the link.
//!
//! A grid leader's phone holds the reports of one grid (5,000 by default); an admin adds a
//! second grid (100 more reports) to the leader's scopes, and the phone syncs until done. A
//! phone should then receive about the new grid's documents and little else: the figure is the
//! bytes of that sync over the saved size of the new documents (`sync.rescope_ratio`).
//!
//! Both grids lie in an area of their own ([`AREA`]), outside the street the rest of the suite
//! writes in ([`crate::bench::corpus::grid`]), and the leader is named in none of the suite's
//! records: the leader's phone may read the fixture's documents and nothing else, which the
//! phase checks, document by document, before and after the change.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldsync_core::model::NewRecord;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::store::{PageRequest, ReportFilter, schema};
use fieldsync_core::sync::SyncClient;
use fieldsync_core::{DocId, Store};

use super::metered::Metered;
use crate::bench::corpus::Corpus;
use crate::bench::server::BenchServer;
use crate::bench::store::seed::{copy, ensure_fixture};
use crate::bench::{Report, Result, Unit, progress};

/// Bump when what the scope-change fixture holds changes.
const FORMAT: u32 = 1;
/// Seed of the fixture's generator.
const SEED: u64 = 0x5c_09e0;
/// The area both grids are in; the suite's other records are all in another street's grids.
const AREA: &str = "jl/changchun/chaoyang/yongchang/rescope";
/// The dispatcher of [`AREA`] who entered the fixture's reports; their phone pushes them.
const DISPATCHER: &str = "dispatch-rescope";
/// The grid leader whose scopes change.
const LEADER: &str = "leader-rescope";
/// Reports read per page when listing a grid's reports.
const PAGE: i32 = 500;

/// How many reports each grid holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Reports in the grid the leader reads from the start.
    pub held: usize,
    /// Reports in the grid added to the leader's scopes.
    pub added: usize,
}

/// The grid the leader reads from the start.
fn held_grid() -> String {
    format!("{AREA}/grid-01")
}

/// The grid added to the leader's scopes.
fn added_grid() -> String {
    format!("{AREA}/grid-02")
}

/// The cached fixture of `sizes` (seeded first if missing, or if `fresh` is set): the
/// dispatcher's phone store holding both grids' reports.
pub fn ensure(cache_dir: &Path, sizes: Sizes, fresh: bool) -> Result<PathBuf> {
    let path = cache_dir.join(format!(
        "rescope-{}+{}-s{}-v{FORMAT}.db",
        sizes.held,
        sizes.added,
        schema::VERSION
    ));
    ensure_fixture(&path, fresh, |partial| seed(partial, sizes))?;
    Ok(path)
}

/// Writes the fixture: `sizes.held` reports in [`held_grid`], then `sizes.added` in
/// [`added_grid`], each taken through a random point of its workflow.
fn seed(path: &Path, sizes: Sizes) -> Result<()> {
    progress(format_args!(
        "seeding {} + {} reports for the scope change into {}",
        sizes.held,
        sizes.added,
        path.display()
    ));
    let store = Store::open(path)?;
    store.set_user(DISPATCHER)?;
    let mut corpus = Corpus::new(SEED);
    let (held, added) = (held_grid(), added_grid());
    for i in 0..sizes.held + sizes.added {
        let mut report = corpus.report(i);
        report.scope = if i < sizes.held { held.clone() } else { added.clone() };
        let id = store
            .create(&NewRecord::Report { report })
            .map_err(|e| format!("seeding scope-change report {i}: {e}"))?;
        for cmd in corpus.report_steps() {
            store
                .execute(id, &cmd)
                .map_err(|e| format!("seeding scope-change report {i}, {}: {e}", cmd.name()))?;
        }
    }
    Ok(())
}

/// `sync.rescope_*`: the dispatcher's phone pushes the fixture at `fixture` (made by
/// [`ensure`] for `sizes`); the leader's phone, of the held grid, syncs until done; the leader
/// is given the added grid too, and the phone syncs until done again. Returns the documents
/// the phase added to the server.
///
/// Recorded: `sync.rescope_bytes` (up and down, envelopes as sent, `/v1/visible` included),
/// `sync.rescope_requests`, `sync.rescope_visible_bytes` (the part of the bytes that asked
/// which held documents are still readable) and `sync.rescope_ratio`, the bytes over the
/// added documents' saved size: what the phone's store holds in documents (snapshots and
/// change chunks, [`Store::stats`]) after the sync, less what it held before. Documents the
/// phone held already are not written again by a pull, so the difference is the new
/// documents' size alone; the phase fails unless the phone holds exactly both grids' reports.
pub async fn scope_change(
    report: &mut Report,
    server: &BenchServer,
    fixture: &Path,
    dir: &Path,
    sizes: Sizes,
) -> Result<usize> {
    let (held, added) = (held_grid(), added_grid());
    let seeder_path = dir.join("rescope-seeder.db");
    copy(fixture, &seeder_path)?;
    let seeder = Store::open(&seeder_path)?;
    let (held_ids, added_ids) = split(&seeder, &added, sizes)?;

    progress(format_args!("pushing {} + {} reports of two grids", sizes.held, sizes.added));
    let transport =
        server.enroll_as(DISPATCHER, Role::Dispatcher, AREA, seeder.identity().actor.to_bytes())?;
    let seeder = SyncClient::new(Arc::new(seeder), transport);
    let pushed = seeder.sync_now(None).await?;
    let total = sizes.held + sizes.added;
    if pushed.docs_pushed != total as i64 {
        return Err(format!("the server took {} of {total} reports", pushed.docs_pushed).into());
    }

    progress(format_args!("a grid leader's phone pulls the {} reports of a grid", sizes.held));
    let store = Store::open(dir.join("rescope-phone.db"))?;
    let profile =
        Profile { user: LEADER.into(), role: Role::GridLeader, patrol: None, scopes: vec![held] };
    let transport = server.enroll_profile(&profile, store.identity().actor.to_bytes())?;
    // The leader may be left from an earlier run on a server started elsewhere.
    server.accounts().set_scopes(LEADER, &profile.scopes)?;
    let metered = Metered::new(transport, "/v1/visible");
    let phone = SyncClient::new(Arc::new(store), metered.clone());
    phone.sync_now(None).await?;
    holds_exactly(phone.store(), &held_ids, "of one grid")?;
    let before = phone.store().stats()?;

    progress(format_args!("the leader is given a second grid of {} reports", sizes.added));
    server.accounts().set_scopes(LEADER, &[profile.scopes[0].clone(), added])?;
    metered.take();
    let change = phone.sync_now(None).await?;
    let visible_bytes = metered.take();
    let both: HashSet<DocId> = held_ids.union(&added_ids).copied().collect();
    holds_exactly(phone.store(), &both, "of both grids")?;
    let after = phone.store().stats()?;

    let bytes = change.bytes_up + change.bytes_down;
    let saved = after.document_bytes - before.document_bytes;
    if saved <= 0 {
        return Err(format!("the phone's documents grew by {saved} bytes with the new grid").into());
    }
    report.record("sync.rescope_bytes", bytes as f64, Unit::Bytes);
    report.record("sync.rescope_requests", change.requests as f64, Unit::Count);
    report.record("sync.rescope_visible_bytes", visible_bytes as f64, Unit::Bytes);
    report.record("sync.rescope_saved_bytes", saved as f64, Unit::Bytes);
    report.record("sync.rescope_ratio", bytes as f64 / saved as f64, Unit::Ratio);
    Ok(total)
}

/// The fixture's documents in the held grid and in the added one (`added`), checked against
/// `sizes`.
fn split(store: &Store, added: &str, sizes: Sizes) -> Result<(HashSet<DocId>, HashSet<DocId>)> {
    let mut added_ids = HashSet::new();
    let filter = ReportFilter { scope: Some(added.to_string()), ..ReportFilter::default() };
    let mut page = PageRequest::first(PAGE);
    loop {
        let got = store.query_reports(&filter, &page)?;
        added_ids.extend(got.items.iter().map(|r| r.id));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let held_ids: HashSet<DocId> =
        store.doc_ids()?.into_iter().filter(|id| !added_ids.contains(id)).collect();
    if (held_ids.len(), added_ids.len()) != (sizes.held, sizes.added) {
        return Err(format!(
            "the scope-change fixture holds {} + {} reports, not {} + {}",
            held_ids.len(),
            added_ids.len(),
            sizes.held,
            sizes.added
        )
        .into());
    }
    Ok((held_ids, added_ids))
}

/// Fails unless `store` holds `expected` and nothing else (`what` says whose documents those
/// are, for the message).
fn holds_exactly(store: &Store, expected: &HashSet<DocId>, what: &str) -> Result<()> {
    let held: HashSet<DocId> = store.doc_ids()?.into_iter().collect();
    let missing = expected.difference(&held).count();
    let other = held.difference(expected).count();
    if missing > 0 || other > 0 {
        return Err(format!(
            "the grid leader's phone lacks {missing} of the {} reports {what} and holds {other} \
             documents besides",
            expected.len()
        )
        .into());
    }
    Ok(())
}
