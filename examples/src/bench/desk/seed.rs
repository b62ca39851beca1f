//! The desk suite's fixture: a server database whose record index holds a large jurisdiction
//! (by default 1,000,000 reports, 100,000 patrol logs and 20,000 mediation cases over 5 streets
//! of 20 grids and 120 days), cached under the bench cache dir.
//!
//! Building a million real documents through sync would take hours, and the desk reads only the
//! index. So each record is stored through the storage's own write path (`Storage::commit`, the
//! one every push takes: a document row, one log entry and its index row in one transaction),
//! with a few placeholder bytes as its document, in large batches. The server never loads those
//! bytes during the suite: listings, statistics and the event stream read the index, and the
//! suite's server runs without overdue escalation (the one path that would load them).

use std::path::Path;

use fieldsync_core::DocId;
use fieldsync_core::model::{CaseCategory, CaseStatus, PatrolStatus, ReportCategory, ReportStatus};
use fieldsync_server::Rules;
use fieldsync_server::storage::index::{CaseRow, IndexRow, Outcome, PatrolRow, ReportRow};
use fieldsync_server::storage::{DocBytes, DocWrite, DocumentStorage, NewChange, SqliteStorage};
use fieldsync_server::{Durability, ServerConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bench::{Result, progress};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Streets of the jurisdiction.
pub const STREETS: usize = 5;
/// Grids per street.
pub const GRIDS_PER_STREET: usize = 20;
/// Days the fixture's records span, ending at its seeding time.
pub const DAYS: i64 = 120;
/// Responders per grid (the assignees of its reports).
const RESPONDERS_PER_GRID: usize = 6;
/// Records per storage commit.
const BATCH: usize = 5_000;

/// The scope of the whole jurisdiction (what the benchmark's dispatcher reads).
pub const ROOT: &str = "jl";

/// The scope of grid `g` (0-based) of street `s` (0-based).
pub fn grid(s: usize, g: usize) -> String {
    format!("{ROOT}/changchun/chaoyang/street-{:02}/grid-{:02}", s + 1, g + 1)
}

/// Report titles, in the mix residents write (Chinese mostly, some English).
const TITLES: &[&str] = &[
    "楼顶违章搭建彩钢房",
    "小区门口垃圾堆放",
    "井盖缺失有安全隐患",
    "夜间施工噪音扰民",
    "人行道地砖破损",
    "路灯不亮",
    "占道经营",
    "下水道堵塞污水外溢",
    "邻里纠纷需要调解",
    "广告牌松动",
    "rooftop shed built without permit",
    "broken street light",
    "rubbish piled at the gate",
];

/// What a listing's text search looks for: words the titles hold.
pub const SEARCH_WORDS: &[&str] = &["垃圾", "井盖", "噪音", "违章", "路灯", "street light"];

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut n = rng.random_range(0..total);
    for (item, w) in items {
        if n < *w {
            return *item;
        }
        n -= w;
    }
    items[0].0
}

/// A report's workflow, drawn by its age: old reports are mostly closed, new ones spread over
/// every status.
fn report_row(rng: &mut StdRng, rules: &Rules, end: i64, i: usize) -> ReportRow {
    use ReportStatus as S;
    let s = rng.random_range(0..STREETS);
    let g = rng.random_range(0..GRIDS_PER_STREET);
    let scope = grid(s, g);
    let created_at = end - rng.random_range(0..DAYS * DAY);
    let category = pick(
        rng,
        &[
            (ReportCategory::Sanitation, 30),
            (ReportCategory::IllegalConstruction, 12),
            (ReportCategory::SafetyHazard, 10),
            (ReportCategory::Noise, 15),
            (ReportCategory::RoadFacilityDamage, 18),
            (ReportCategory::Dispute, 5),
            (ReportCategory::Other, 10),
        ],
    );
    let status = if end - created_at > 3 * DAY {
        pick(
            rng,
            &[
                (S::Confirmed, 60),
                (S::Resolved, 20),
                (S::Rejected, 8),
                (S::Dispatched, 3),
                (S::InProgress, 3),
                (S::Accepted, 2),
                (S::Reopened, 2),
                (S::Submitted, 2),
            ],
        )
    } else {
        pick(
            rng,
            &[
                (S::Submitted, 25),
                (S::Accepted, 12),
                (S::Dispatched, 20),
                (S::InProgress, 15),
                (S::Resolved, 15),
                (S::Confirmed, 6),
                (S::Rejected, 5),
                (S::Reopened, 2),
            ],
        )
    };
    let rule = rules.of(category);
    let mut t = created_at;
    let mut step = |rng: &mut StdRng, mean: i64| {
        t = (t + rng.random_range(mean / 4..mean * 2)).min(end);
        t
    };
    let reached = |stage: u8| match status {
        S::Submitted => stage == 0,
        S::Rejected => stage <= 1,
        S::Accepted => stage <= 1,
        S::Dispatched | S::InProgress => stage <= 2,
        S::Resolved | S::Reopened => stage <= 3,
        S::Confirmed => stage <= 4,
    };
    let rejected = status == S::Rejected;
    let accepted_at = (reached(1) && !rejected).then(|| step(rng, 40 * MINUTE));
    let rejected_at = rejected.then(|| step(rng, 2 * HOUR));
    let dispatched_at = reached(2).then(|| step(rng, HOUR));
    let deadline = dispatched_at.map(|d| d + 48 * HOUR);
    let resolved_at = reached(3).then(|| step(rng, 20 * HOUR));
    let confirmed_at = reached(4).then(|| step(rng, DAY));
    let updated_at = t;
    let assignee = dispatched_at.map(|_| {
        format!("responder-{:02}-{:02}-{}", s + 1, g + 1, rng.random_range(0..RESPONDERS_PER_GRID))
    });
    let title = TITLES[rng.random_range(0..TITLES.len())];
    ReportRow {
        doc: DocId::random(),
        scope,
        status,
        category,
        title: title.to_string(),
        description: format!("{title}，工单 GD{i:07}，请尽快处理"),
        created_by: format!("resident-{:05}", rng.random_range(0..50_000)),
        assignee,
        created_at,
        submitted_at: Some(created_at),
        accepted_at,
        dispatched_at,
        resolved_at,
        confirmed_at,
        rejected_at,
        deadline,
        priority: rule.priority,
        lat: Some(43.88 + rng.random_range(-0.05..0.05)),
        lon: Some(125.32 + rng.random_range(-0.05..0.05)),
        address: Some(format!("{}号楼", rng.random_range(1..200))),
        points: if confirmed_at.is_some() { 5 } else { 0 },
        supervisions: if rng.random_ratio(1, 20) { rng.random_range(1..4) } else { 0 },
        reopens: u32::from(status == S::Reopened),
        escalated_accept: false,
        escalated_resolve: false,
        accept_due: created_at + rule.accept_ms,
        resolve_due: created_at + rule.resolve_ms,
        photos: rng.random_range(0..4),
        comments: rng.random_range(0..3),
        updated_at,
    }
}

fn patrol_row(rng: &mut StdRng, end: i64) -> PatrolRow {
    let s = rng.random_range(0..STREETS);
    let g = rng.random_range(0..GRIDS_PER_STREET);
    let started_at = end - rng.random_range(0..DAYS * DAY);
    let finished = end - started_at > 6 * HOUR || rng.random_ratio(1, 2);
    let planned = rng.random_range(4..12);
    let ended_at = finished.then(|| (started_at + rng.random_range(HOUR..5 * HOUR)).min(end));
    PatrolRow {
        doc: DocId::random(),
        scope: grid(s, g),
        area: format!("area-{:02}-{:02}", s + 1, g + 1),
        members: (0..3).map(|m| format!("patrol-{:02}-{:02}-{m}", s + 1, g + 1)).collect(),
        status: if finished { PatrolStatus::Finished } else { PatrolStatus::Active },
        entries: rng.random_range(2..30),
        checkpoints_reached: rng.random_range(planned / 2..=planned),
        checkpoints_planned: planned,
        started_at,
        ended_at,
        updated_at: ended_at.unwrap_or(started_at + HOUR).min(end),
    }
}

fn case_row(rng: &mut StdRng, end: i64) -> CaseRow {
    let s = rng.random_range(0..STREETS);
    let g = rng.random_range(0..GRIDS_PER_STREET);
    let opened_at = end - rng.random_range(0..DAYS * DAY);
    let (status, outcome) = pick(
        rng,
        &[
            ((CaseStatus::Intake, Outcome::None), 10),
            ((CaseStatus::Mediating, Outcome::None), 15),
            ((CaseStatus::Agreed, Outcome::Agreed), 50),
            ((CaseStatus::Failed, Outcome::Failed), 10),
            ((CaseStatus::Escalated, Outcome::Escalated), 5),
            ((CaseStatus::Closed, Outcome::Agreed), 10),
        ],
    );
    let closed_at =
        (outcome != Outcome::None).then(|| (opened_at + rng.random_range(HOUR..10 * DAY)).min(end));
    CaseRow {
        doc: DocId::random(),
        scope: grid(s, g),
        status,
        category: CaseCategory::ALL[rng.random_range(0..CaseCategory::ALL.len())],
        mediators: vec![format!("mediator-{:02}-{:02}", s + 1, g + 1)],
        sessions: rng.random_range(1..5),
        outcome,
        opened_at,
        closed_at,
        updated_at: closed_at.unwrap_or(opened_at),
    }
}

/// The storage write of one seeded record: a placeholder document, one log entry, the row.
fn write_of(row: IndexRow, rng: &mut StdRng) -> DocWrite {
    let audience = row.audience();
    // Rows of patrol logs and cases keep no creator: their first member or mediator is.
    let created_by = match audience.created_by.as_str() {
        "" => audience.participants.first().cloned().unwrap_or_default(),
        creator => creator.to_string(),
    };
    let mut hash = [0u8; 32];
    rng.fill(&mut hash);
    DocWrite {
        doc: row.doc(),
        base: None,
        kind: audience.kind,
        scope: audience.scope,
        created_by,
        participants: audience.participants,
        addressed: audience.addressed,
        until: audience.until,
        bytes: DocBytes::Snapshot(b"bench-desk-seed".to_vec()),
        changes: vec![NewChange {
            hash,
            actor: b"bench-desk-seeder".to_vec(),
            bytes: vec![0],
            device: None,
            sig: None,
        }],
        device: None,
        blobs: None,
        index: Some(row),
        // The seed writes index rows, not documents a reporter confirmed: no points move.
        points: None,
    }
}

/// How many records of each kind the fixture holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Reports.
    pub reports: usize,
    /// Patrol logs.
    pub patrols: usize,
    /// Mediation cases.
    pub cases: usize,
}

/// Seeds the database of a server data directory `data` with `size` records whose times end
/// at `end` (ms).
pub async fn seed(data: &Path, size: Size, end: i64) -> Result<()> {
    std::fs::create_dir_all(data)?;
    let storage = SqliteStorage::open(ServerConfig::new(data).db_path(), Durability::Normal)?;
    let rules = Rules::default();
    let mut rng = StdRng::seed_from_u64(0xde5c_5eed);
    let total = size.reports + size.patrols + size.cases;
    let started = std::time::Instant::now();
    let mut done = 0usize;
    while done < total {
        let n = BATCH.min(total - done);
        let writes: Vec<DocWrite> = (done..done + n)
            .map(|i| {
                let row = if i < size.reports {
                    IndexRow::Report(report_row(&mut rng, &rules, end, i))
                } else if i < size.reports + size.patrols {
                    IndexRow::PatrolLog(patrol_row(&mut rng, end))
                } else {
                    IndexRow::MediationCase(case_row(&mut rng, end))
                };
                write_of(row, &mut rng)
            })
            .collect();
        for outcome in storage.commit(writes).await? {
            outcome?;
        }
        done += n;
        if done % 100_000 < BATCH {
            progress(format_args!(
                "seeded {done} of {total} records ({:.0} s)",
                started.elapsed().as_secs_f64()
            ));
        }
    }
    Ok(())
}

/// Seeds the database of `data` with `open` reports still being handled (not confirmed or
/// rejected) in street 1, made as [`seed`] makes them over the last three days before `end`,
/// so that some are overdue: the board's fixture (`bench board`).
pub async fn seed_open(data: &Path, open: usize, end: i64) -> Result<()> {
    use ReportStatus as S;
    std::fs::create_dir_all(data)?;
    let storage = SqliteStorage::open(ServerConfig::new(data).db_path(), Durability::Normal)?;
    let rules = Rules::default();
    let mut rng = StdRng::seed_from_u64(0xb0a2_d5ee);
    let mut done = 0usize;
    let mut i = 0usize;
    while done < open {
        let mut writes = Vec::new();
        while writes.len() < BATCH.min(open - done) {
            i += 1;
            let mut row = report_row(&mut rng, &rules, end, i);
            if end - row.created_at > 3 * DAY || matches!(row.status, S::Confirmed | S::Rejected) {
                continue;
            }
            row.scope = grid(0, i % GRIDS_PER_STREET);
            writes.push(write_of(IndexRow::Report(row), &mut rng));
        }
        done += writes.len();
        for outcome in storage.commit(writes).await? {
            outcome?;
        }
    }
    Ok(())
}
