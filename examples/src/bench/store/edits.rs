//! The edit figures: domain commands on existing records, most on records not touched for a
//! while (so the store has to load them from SQLite), some on a few hot ones it keeps loaded.
//!
//! The whole plan (which record, which command) is drawn before the clock starts, from what the
//! store's own queries say about the seeded records, so only `Store::execute` is timed.

use std::collections::{HashMap, HashSet};

use fieldsync_core::model::{CaseStatus, Command, PatrolStatus, Record, ReportStatus};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::store::{CaseFilter, Enrollment, PageRequest, PatrolFilter, ReportFilter};
use fieldsync_core::{DocId, Store};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::bench::corpus::Corpus;
use crate::bench::{Report, Result, Samples, Unit, timed};

/// Timed edits.
const SAMPLES: usize = 3_000;
/// Of which on hot records.
const HOT_SAMPLES: usize = 500;
/// Opened edits timed again on the enrolled store.
const ENROLLED_SAMPLES: usize = 1_000;
/// Hot records (reports, patrols, cases): few enough that they stay in the store's cache of
/// loaded documents between two edits.
const HOT: (usize, usize, usize) = (3, 3, 2);

/// What an edit does, for the per-command figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Comment,
    Dispatch,
    Entry,
    Notes,
}

impl Op {
    const ALL: [Op; 4] = [Op::Comment, Op::Dispatch, Op::Entry, Op::Notes];

    fn name(self) -> &'static str {
        match self {
            Op::Comment => "comment",
            Op::Dispatch => "dispatch",
            Op::Entry => "entry",
            Op::Notes => "notes",
        }
    }

    /// The mix of cold edits: comments 35%, dispatches 15%, patrol entries 30%, note splices 20%.
    fn draw(rng: &mut impl Rng, hot: bool) -> Op {
        match (rng.random_range(0..100), hot) {
            (0..35, _) => Op::Comment,
            (35..50, false) => Op::Dispatch,
            (35..50, true) => Op::Comment,
            (50..80, _) => Op::Entry,
            _ => Op::Notes,
        }
    }
}

struct Planned {
    id: DocId,
    cmd: Command,
    op: Op,
    hot: bool,
    /// Read with `Store::get` just before the (timed) edit, as a user opens a record to edit it.
    opened: bool,
}

/// Records the seeded store holds that each kind of edit can apply to.
struct Pools {
    reports: Vec<DocId>,
    dispatchable: Vec<DocId>,
    patrols: Vec<DocId>,
    cases: Vec<DocId>,
}

impl Pools {
    /// The records an edit of kind `op` draws from.
    fn of(&mut self, op: Op) -> &mut Vec<DocId> {
        match op {
            Op::Comment => &mut self.reports,
            Op::Dispatch => &mut self.dispatchable,
            Op::Entry => &mut self.patrols,
            Op::Notes => &mut self.cases,
        }
    }

    fn discover(store: &Store, corpus: &mut Corpus) -> Result<Pools> {
        let mut reports = Vec::new();
        let mut dispatchable = Vec::new();
        let mut after = None;
        loop {
            let page = store.query_reports(
                &ReportFilter::default(),
                &PageRequest { limit: 500, after: after.take() },
            )?;
            for r in &page.items {
                reports.push(r.id);
                if r.status == ReportStatus::Accepted || r.status == ReportStatus::Reopened {
                    dispatchable.push(r.id);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut patrols = Vec::new();
        let filter = PatrolFilter { status: Some(PatrolStatus::Active), ..Default::default() };
        loop {
            let page =
                store.query_patrols(&filter, &PageRequest { limit: 500, after: after.take() })?;
            patrols.extend(page.items.iter().map(|p| p.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut cases = Vec::new();
        let filter = CaseFilter {
            statuses: vec![CaseStatus::Mediating, CaseStatus::Agreed, CaseStatus::Failed],
            ..Default::default()
        };
        loop {
            let page =
                store.query_cases(&filter, &PageRequest { limit: 500, after: after.take() })?;
            cases.extend(page.items.iter().map(|c| c.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        for pool in [&mut reports, &mut dispatchable, &mut patrols, &mut cases] {
            pool.shuffle(corpus.rng());
        }
        Ok(Pools { reports, dispatchable, patrols, cases })
    }
}

/// Draws the edits: commands, records and the order, before anything is timed.
struct Planner<'a> {
    store: &'a Store,
    corpus: &'a mut Corpus,
    used: HashSet<DocId>,
    /// Session key and current length (in characters) of the notes of each case planned so far.
    notes: HashMap<DocId, (String, i64)>,
}

impl Planner<'_> {
    fn take(&mut self, pool: &mut Vec<DocId>) -> Option<DocId> {
        while let Some(id) = pool.pop() {
            if self.used.insert(id) {
                return Some(id);
            }
        }
        None
    }

    fn command(&mut self, op: Op, id: DocId) -> Result<Command> {
        Ok(match op {
            Op::Comment => self.corpus.comment(),
            Op::Dispatch => self.corpus.dispatch(),
            Op::Entry => self.corpus.entry(&[]),
            Op::Notes => {
                let (session, len) = match self.notes.get(&id) {
                    Some(known) => known.clone(),
                    None => session_of(self.store, id)?,
                };
                let pos = self.corpus.rng().random_range(0..=len);
                let delete = if pos < len && self.corpus.rng().random_bool(0.3) { 1 } else { 0 };
                let insert = self.corpus.notes_insert();
                let new_len = len - delete + insert.encode_utf16().count() as i64;
                self.notes.insert(id, (session.clone(), new_len));
                Command::EditNotes { session, pos, delete, insert }
            }
        })
    }
}

/// The key and length (in UTF-16 code units, `EditNotes`'s unit) of the first session of a
/// case.
fn session_of(store: &Store, id: DocId) -> Result<(String, i64)> {
    match store.get(id)? {
        Record::MediationCase { mediation_case: c } => {
            let s = c.sessions.first().ok_or_else(|| format!("case {id} has no session"))?;
            Ok((s.id.clone(), s.notes.encode_utf16().count() as i64))
        }
        other => Err(format!("{id} is a {}, not a case", other.header().kind).into()),
    }
}

/// Measures `store.edit_*`; with `tag` (`"_encrypted"`), `store.edit{tag}_*`, without the
/// enrolled figures.
pub fn measure(store: &Store, corpus: &mut Corpus, tag: &str, report: &mut Report) -> Result<()> {
    let mut pools = Pools::discover(store, corpus)?;
    let mut planner = Planner { store, corpus, used: HashSet::new(), notes: HashMap::new() };
    let mut hot: Vec<(DocId, Vec<Op>)> = Vec::new();
    for (n, pool, ops) in [
        (HOT.0, &mut pools.reports, vec![Op::Comment]),
        (HOT.1, &mut pools.patrols, vec![Op::Entry]),
        (HOT.2, &mut pools.cases, vec![Op::Notes]),
    ] {
        for _ in 0..n {
            let id = planner.take(pool).ok_or("too few records for the hot set")?;
            hot.push((id, ops.clone()));
        }
    }
    // One untimed edit each, so the hot records start loaded.
    let mut warm = Vec::new();
    for (id, ops) in &hot {
        warm.push((*id, planner.command(ops[0], *id)?));
    }
    let mut flags = vec![true; HOT_SAMPLES];
    flags.resize(SAMPLES, false);
    flags.shuffle(planner.corpus.rng());
    let mut plan = Vec::with_capacity(SAMPLES);
    for is_hot in flags {
        let op = Op::draw(planner.corpus.rng(), is_hot);
        let (id, op) = if is_hot {
            let fitting: Vec<DocId> =
                hot.iter().filter(|(_, ops)| ops.contains(&op)).map(|(id, _)| *id).collect();
            let id = fitting[planner.corpus.rng().random_range(0..fitting.len())];
            (id, op)
        } else {
            match planner.take(pools.of(op)) {
                Some(id) => (id, op),
                // A small store may run out of one kind; a comment on any report stands in.
                None => (planner.take(&mut pools.reports).ok_or("too few reports")?, Op::Comment),
            }
        };
        let cmd = planner.command(op, id)?;
        let opened = !is_hot && planner.corpus.rng().random_bool(0.5);
        plan.push(Planned { id, cmd, op, hot: is_hot, opened });
    }

    for (id, cmd) in &warm {
        store.execute(*id, cmd)?;
    }
    let mut all = Samples::new();
    let (mut opened, mut cold, mut hot_samples) = (Samples::new(), Samples::new(), Samples::new());
    let mut by_op: HashMap<Op, Samples> = HashMap::new();
    for p in &plan {
        if p.opened {
            store.get(p.id)?;
        }
        let (result, took) = timed(|| store.execute(p.id, &p.cmd));
        result.map_err(|e| format!("{} on {}: {e}", p.cmd.name(), p.id))?;
        all.push(took);
        if p.hot {
            hot_samples.push(took)
        } else if p.opened {
            opened.push(took);
            by_op.entry(p.op).or_default().push(took);
        } else {
            cold.push(took)
        }
    }
    // The headline: a record the user just opened, edited (change + save + chunk + projection,
    // committed). Cold: a record nobody read for a while (as a sync might touch it). Hot: the
    // same few records edited again and again (a patrol log during a patrol).
    report.record(format!("store.edit{tag}_p50_ms"), opened.median(), Unit::Ms);
    report.record(format!("store.edit{tag}_p99_ms"), opened.percentile(99.0), Unit::Ms);
    report.record(format!("store.edit{tag}_cold_p50_ms"), cold.median(), Unit::Ms);
    report.record(format!("store.edit{tag}_cold_p99_ms"), cold.percentile(99.0), Unit::Ms);
    report.record(format!("store.edit{tag}_hot_p50_ms"), hot_samples.median(), Unit::Ms);
    report.record(format!("store.edit{tag}_hot_p99_ms"), hot_samples.percentile(99.0), Unit::Ms);
    report.record(format!("store.edit{tag}_mixed_p50_ms"), all.median(), Unit::Ms);
    report.record(format!("store.edit{tag}_mixed_p99_ms"), all.percentile(99.0), Unit::Ms);
    for op in Op::ALL {
        if let Some(s) = by_op.get_mut(&op) {
            report.record(format!("store.edit{tag}_{}_p50_ms", op.name()), s.median(), Unit::Ms);
        }
    }
    if tag.is_empty() {
        measure_enrolled(store, &mut pools, &mut planner, report)?;
    }
    Ok(())
}

/// `store.edit_enrolled_*`: opened edits of records not edited so far, with the store enrolled
/// as a dispatcher of the whole jurisdiction, as every phone is: each command is checked
/// against the access policy before it commits. Compare with `store.edit_p50_ms` of the same run.
fn measure_enrolled(
    store: &Store,
    pools: &mut Pools,
    planner: &mut Planner<'_>,
    report: &mut Report,
) -> Result<()> {
    let profile = Profile {
        user: "dispatch-bench".into(),
        role: Role::Dispatcher,
        patrol: None,
        scopes: vec!["jl".into()],
    };
    let enrollment =
        Enrollment { device: "bench".into(), token: "bench".into(), profile, server: None };
    store.save_enrollment(&enrollment, store.identity().actor)?;
    let mut plan = Vec::with_capacity(ENROLLED_SAMPLES);
    let mut misses = 0;
    while plan.len() < ENROLLED_SAMPLES && misses < 100 {
        let op = Op::draw(planner.corpus.rng(), false);
        match planner.take(pools.of(op)) {
            Some(id) => plan.push((id, planner.command(op, id)?)),
            None => misses += 1,
        }
    }
    let mut samples = Samples::new();
    for (id, cmd) in &plan {
        store.get(*id)?;
        let (result, took) = timed(|| store.execute(*id, cmd));
        result.map_err(|e| format!("{} on {id} (enrolled): {e}", cmd.name()))?;
        samples.push(took);
    }
    if !samples.is_empty() {
        report.record("store.edit_enrolled_p50_ms", samples.median(), Unit::Ms);
        report.record("store.edit_enrolled_p99_ms", samples.percentile(99.0), Unit::Ms);
    }
    Ok(())
}
