//! The record index's part of the conformance suite: rows written with their document write
//! (and only then), read back whole, every filter, keyset pages while rows arrive, the
//! reader's scope cut, literal text search, and statistics against figures computed by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;

use fieldsync_core::DocId;
use fieldsync_core::model::{
    Addressee, BulletinStatus, CaseCategory, CaseStatus, DeliberationStatus, PatrolStatus,
    ReportCategory, ReportStatus, Severity, VisitStatus,
};

use super::documents::sample_write;
use crate::rules::Priority;
use crate::storage::index::{
    BulletinFilter, BulletinRow, CaseFilter, CaseRow, DeliberationFilter, DeliberationRow,
    IndexRow, Listings, Outcome, PageRequest, PatrolFilter, PatrolRow, Readable, ReportFilter,
    ReportRow, Sort, StatsGroup, StatsQuery, VisitFilter, VisitRow,
};
use crate::storage::{Storage, StorageError};

const HOUR: i64 = 3_600_000;
/// 2026-03-01 00:00 UTC.
const T0: i64 = 1_772_323_200_000;

/// A submitted report in `scope`, created at `created_at`, with the defaults of a safety hazard.
pub fn report(scope: &str, created_at: i64) -> ReportRow {
    ReportRow {
        doc: DocId::random(),
        scope: scope.into(),
        status: ReportStatus::Submitted,
        category: ReportCategory::SafetyHazard,
        title: "loose railing".into(),
        description: String::new(),
        created_by: "resident-1".into(),
        assignee: None,
        created_at,
        submitted_at: Some(created_at),
        accepted_at: None,
        dispatched_at: None,
        resolved_at: None,
        confirmed_at: None,
        rejected_at: None,
        deadline: None,
        priority: Priority::Urgent,
        lat: Some(43.88),
        lon: Some(125.32),
        address: Some("No. 7".into()),
        points: 0,
        supervisions: 0,
        reopens: 0,
        escalated_accept: false,
        escalated_resolve: false,
        accept_due: created_at + HOUR,
        resolve_due: created_at + 24 * HOUR,
        photos: 1,
        comments: 0,
        updated_at: created_at,
    }
}

fn patrol(scope: &str, area: &str, started_at: i64, members: &[&str]) -> PatrolRow {
    PatrolRow {
        doc: DocId::random(),
        scope: scope.into(),
        area: area.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        status: PatrolStatus::Active,
        entries: 3,
        checkpoints_reached: 2,
        checkpoints_planned: 4,
        started_at,
        ended_at: None,
        updated_at: started_at,
    }
}

fn case(scope: &str, opened_at: i64, outcome: Outcome) -> CaseRow {
    CaseRow {
        doc: DocId::random(),
        scope: scope.into(),
        status: CaseStatus::Mediating,
        category: CaseCategory::Tourist,
        mediators: vec!["med-1".into(), "med-2".into()],
        sessions: 1,
        outcome,
        opened_at,
        closed_at: None,
        updated_at: opened_at,
    }
}

fn bulletin(scope: &str, created_at: i64, severity: Severity) -> BulletinRow {
    BulletinRow {
        doc: DocId::random(),
        scope: scope.into(),
        status: BulletinStatus::Issued,
        severity,
        audience: vec![Addressee::Patrols, Addressee::Residents],
        title: "山洪预警".into(),
        created_by: "police-1".into(),
        created_at,
        valid_until: created_at + 24 * HOUR,
        acknowledged: vec!["patrol-2".into(), "resident-3".into()],
        updated_at: created_at + HOUR,
    }
}

fn deliberation(scope: &str, created_at: i64, status: DeliberationStatus) -> DeliberationRow {
    DeliberationRow {
        doc: DocId::random(),
        scope: scope.into(),
        status,
        topic: "加装电梯".into(),
        created_by: "resident-1".into(),
        created_at,
        comments: 3,
        options: 2,
        meetings: 1,
        next_meeting_at: Some(created_at + 24 * HOUR),
        attendees: vec!["resident-1".into(), "resident-2".into()],
        decided_at: None,
        updated_at: created_at + HOUR,
    }
}

/// Creates the document of `row` with its row; returns the write's last seq.
async fn create(s: &dyn Storage, row: IndexRow) -> u64 {
    let mut w = sample_write(row.doc(), None, 1);
    w.index = Some(row);
    s.commit(vec![w]).await.unwrap().pop().unwrap().unwrap().last_seq
}

async fn create_all(s: &dyn Storage, rows: &[ReportRow]) {
    let writes = rows
        .iter()
        .map(|r| {
            let mut w = sample_write(r.doc, None, 1);
            w.index = Some(IndexRow::Report(r.clone()));
            w
        })
        .collect();
    for r in s.commit(writes).await.unwrap() {
        r.unwrap();
    }
}

/// Every report of a listing, following its pages.
async fn all_pages(s: &dyn Storage, filter: &ReportFilter, sort: Sort, size: usize) -> Vec<DocId> {
    let mut seen = Vec::new();
    let mut page = PageRequest { sort, size, after: None };
    loop {
        let p = s.list_reports(filter.clone(), page).await.unwrap();
        assert!(p.rows.len() <= size);
        seen.extend(p.rows.iter().map(|r| r.doc));
        match p.next {
            Some(next) => page.after = Some(next),
            None => return seen,
        }
    }
}

async fn docs_of(s: &dyn Storage, filter: ReportFilter) -> HashSet<DocId> {
    all_pages(s, &filter, Sort::Created, 200).await.into_iter().collect()
}

pub async fn rows_round_trip_with_their_seq(s: &dyn Storage) {
    assert_eq!(s.index_len().await.unwrap(), 0);
    let mut r = report("jl/cc/grid-07", T0);
    r.description = "屋顶违建 about 20 m²".into();
    r.assignee = Some("officer-1".into());
    r.deadline = Some(T0 + 48 * HOUR);
    let p = patrol("jl/cc/scenic", "north trail", T0, &["pol-1", "vol-2"]);
    let mut c = case("jl/cc/grid-07", T0, Outcome::None);
    c.closed_at = Some(T0 + 5 * HOUR);
    let s1 = create(s, IndexRow::Report(r.clone())).await;
    let s2 = create(s, IndexRow::PatrolLog(p.clone())).await;
    let s3 = create(s, IndexRow::MediationCase(c.clone())).await;
    assert!(s1 < s2 && s2 < s3);
    assert_eq!(s.index_len().await.unwrap(), 3);

    let got = s.index_row(r.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (s1, IndexRow::Report(r.clone())));
    let got = s.index_row(p.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (s2, IndexRow::PatrolLog(p.clone())));
    let got = s.index_row(c.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (s3, IndexRow::MediationCase(c.clone())));
    assert!(s.index_row(DocId::random()).await.unwrap().is_none());

    // A later write replaces the row and moves it to the end of the changes.
    let mut dispatched = r.clone();
    dispatched.status = ReportStatus::Dispatched;
    dispatched.dispatched_at = Some(T0 + HOUR);
    dispatched.updated_at = T0 + HOUR;
    let mut w = sample_write(r.doc, Some(1), 2);
    w.index = Some(IndexRow::Report(dispatched.clone()));
    let s4 = s.commit(vec![w]).await.unwrap().pop().unwrap().unwrap().last_seq;
    assert_eq!(s.index_len().await.unwrap(), 3);
    let changes = s.index_changes_after(0, 10).await.unwrap();
    let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![s2, s3, s4]);
    assert_eq!(changes[2].row, IndexRow::Report(dispatched));
    let after = s.index_changes_after(s2, 10).await.unwrap();
    assert_eq!(after.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![s3, s4]);
    assert_eq!(s.index_changes_after(s2, 1).await.unwrap().len(), 1);
    assert!(s.index_changes_after(s4, 10).await.unwrap().is_empty());

    // A write without a row leaves the row as it is.
    let w = sample_write(p.doc, Some(1), 1);
    s.commit(vec![w]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(s.index_row(p.doc).await.unwrap().unwrap().row, IndexRow::PatrolLog(p));

    // Rows of several tables in one commit (one bulk commit on PostgreSQL): each with its own
    // write's seq, a new row and a replaced one alike.
    let rows = [
        IndexRow::Report(report("jl/cc/grid-08", T0 + 2 * HOUR)),
        IndexRow::PatrolLog(patrol("jl/cc/scenic", "south gate", T0 + HOUR, &["pol-3"])),
        IndexRow::Report(report("jl/cc/grid-07", T0 + 3 * HOUR)),
        IndexRow::Report(ReportRow { updated_at: T0 + 4 * HOUR, ..r.clone() }),
    ];
    let writes = rows
        .iter()
        .map(|row| {
            let base = (row.doc() == r.doc).then_some(2);
            let mut w = sample_write(row.doc(), base, 1);
            w.index = Some(row.clone());
            w
        })
        .collect();
    let committed = s.commit(writes).await.unwrap();
    for (row, c) in rows.iter().zip(committed) {
        let seq = c.unwrap().last_seq;
        let got = s.index_row(row.doc()).await.unwrap().unwrap();
        assert_eq!((got.seq, &got.row), (seq, row));
    }
    assert_eq!(s.index_len().await.unwrap(), 6);
}

/// A row changed by later writes reads back exactly as last written, whatever columns changed
/// (a value set, cleared, a text, a float, the scope), and every listing finds it by its new
/// values only, never by its old ones (a backend may write only the columns that changed).
pub async fn rows_change_column_by_column(s: &dyn Storage) {
    let r = report("jl/cc/grid-07", T0);
    let mut seq = create(s, IndexRow::Report(r.clone())).await;
    let steps: Vec<fn(&mut ReportRow)> = vec![
        |r| r.comments += 1,
        |r| {
            r.status = ReportStatus::Dispatched;
            r.assignee = Some("officer-1".into());
            r.deadline = Some(T0 + 5 * HOUR);
        },
        |r| {
            r.title = "松动的栏杆 loose railing".into();
            r.lat = Some(43.5);
            r.address = None;
        },
        |r| {
            r.assignee = None;
            r.deadline = None;
            r.escalated_accept = true;
            r.priority = Priority::Normal;
        },
        |r| r.scope = "jl/cc/grid-08".into(),
        |_| {},
    ];
    let mut now = r.clone();
    for (version, step) in (1..).zip(steps) {
        step(&mut now);
        now.updated_at += HOUR;
        let mut w = sample_write(r.doc, Some(version), 1);
        w.index = Some(IndexRow::Report(now.clone()));
        let next = s.commit(vec![w]).await.unwrap().pop().unwrap().unwrap().last_seq;
        assert!(next > seq);
        seq = next;
        let got = s.index_row(r.doc).await.unwrap().unwrap();
        assert_eq!(
            (got.seq, got.row),
            (seq, IndexRow::Report(now.clone())),
            "after step {version}"
        );
        let f = ReportFilter::default;
        let found = |filter: ReportFilter| async { docs_of(s, filter).await.contains(&r.doc) };
        assert!(found(ReportFilter { statuses: vec![now.status], ..f() }).await);
        assert!(found(ReportFilter { scope: Some(now.scope.clone()), ..f() }).await);
        let other_scope = if now.scope.ends_with("07") { "jl/cc/grid-08" } else { "jl/cc/grid-07" };
        assert!(!found(ReportFilter { scope: Some(other_scope.into()), ..f() }).await);
        let other = if now.status == ReportStatus::Submitted {
            ReportStatus::Dispatched
        } else {
            ReportStatus::Submitted
        };
        assert!(!found(ReportFilter { statuses: vec![other], ..f() }).await);
        for sort in [Sort::Created, Sort::Deadline, Sort::Priority, Sort::Updated] {
            assert_eq!(all_pages(s, &f(), sort, 10).await, vec![r.doc], "{sort:?}");
        }
    }
}

pub async fn rows_commit_only_with_their_write(s: &dyn Storage) {
    let r = report("jl/cc/grid-07", T0);
    create(s, IndexRow::Report(r.clone())).await;
    let before = s.index_row(r.doc).await.unwrap().unwrap();

    // A write on a stale version: nothing of it, its row included.
    let mut changed = r.clone();
    changed.status = ReportStatus::Rejected;
    let mut stale = sample_write(r.doc, Some(7), 1);
    stale.index = Some(IndexRow::Report(changed.clone()));
    // A creation of a document that exists.
    let mut again = sample_write(r.doc, None, 1);
    again.index = Some(IndexRow::Report(changed.clone()));
    // A row of another document than the write's.
    let other = report("jl/cc/grid-07", T0);
    let mut mixed = sample_write(other.doc, None, 1);
    mixed.index = Some(IndexRow::Report(changed));
    let results = s.commit(vec![stale, again, mixed]).await.unwrap();
    assert!(matches!(results[0], Err(StorageError::Conflict { .. })));
    assert!(matches!(results[1], Err(StorageError::Conflict { .. })));
    assert!(results[2].is_err());
    assert_eq!(s.index_row(r.doc).await.unwrap().unwrap(), before);
    assert!(s.load(vec![other.doc]).await.unwrap()[0].is_none());
    assert!(s.index_row(other.doc).await.unwrap().is_none());
    assert_eq!(s.index_len().await.unwrap(), 1);
    assert_eq!(s.index_changes_after(0, 10).await.unwrap(), vec![before]);
}

pub async fn rebuild_replaces_every_row(s: &dyn Storage) {
    let a = report("jl/cc/grid-07", T0);
    let b = patrol("jl/cc/scenic", "lake", T0, &["pol-1"]);
    create(s, IndexRow::Report(a.clone())).await;
    // A write without a row: its document is in storage, not in the index.
    let w = sample_write(b.doc, None, 3);
    let seq_b = s.commit(vec![w]).await.unwrap().pop().unwrap().unwrap().last_seq;
    assert_eq!(s.index_len().await.unwrap(), 1);
    s.clear_index().await.unwrap();
    assert_eq!(s.index_len().await.unwrap(), 0);
    s.put_index_rows(vec![IndexRow::PatrolLog(b.clone())]).await.unwrap();
    let got = s.index_row(b.doc).await.unwrap().unwrap();
    assert_eq!(
        (got.seq, got.row),
        (seq_b, IndexRow::PatrolLog(b.clone())),
        "the document's last seq"
    );
    // A row of a document not stored: an error, and nothing of the batch.
    let ghost = report("jl/cc/grid-07", T0);
    let r = s.put_index_rows(vec![IndexRow::Report(a.clone()), IndexRow::Report(ghost)]).await;
    assert!(r.is_err());
    assert!(s.index_row(a.doc).await.unwrap().is_none());
    assert_eq!(s.index_len().await.unwrap(), 1);
}

pub async fn reports_filter_by_every_field(s: &dyn Storage) {
    let now = T0 + 30 * HOUR;
    let mut rows = Vec::new();
    // 0: submitted, accept limit passed: overdue.
    rows.push(report("jl/cc/grid-07", T0));
    // 1: accepted in time, resolve limit passed at `now`: overdue.
    let mut r = report("jl/cc/grid-07", T0 + HOUR);
    r.status = ReportStatus::Dispatched;
    r.assignee = Some("officer-1".into());
    r.category = ReportCategory::IllegalConstruction;
    rows.push(r);
    // 2: resolved: not overdue.
    let mut r = report("jl/cc/grid-08", T0 + 2 * HOUR);
    r.status = ReportStatus::Resolved;
    r.assignee = Some("officer-2".into());
    rows.push(r);
    // 3: new, limits ahead.
    let mut r = report("jl/cc/grid-08/block-1", now - HOUR / 2);
    r.created_by = "resident-2".into();
    r.category = ReportCategory::Noise;
    rows.push(r);
    // 4: a sibling scope whose name starts like grid-07's.
    let mut r = report("jl/cc/grid-070", T0 + 3 * HOUR);
    r.status = ReportStatus::Rejected;
    rows.push(r);
    create_all(s, &rows).await;
    let ids = |which: &[usize]| which.iter().map(|i| rows[*i].doc).collect::<HashSet<_>>();
    let f = ReportFilter::default;

    assert_eq!(docs_of(s, f()).await, ids(&[0, 1, 2, 3, 4]));
    assert_eq!(
        docs_of(s, ReportFilter { scope: Some("jl/cc/grid-07".into()), ..f() }).await,
        ids(&[0, 1])
    );
    assert_eq!(
        docs_of(s, ReportFilter { scope: Some("jl/cc/grid-08".into()), ..f() }).await,
        ids(&[2, 3])
    );
    assert_eq!(docs_of(s, ReportFilter { scope: Some("jl".into()), ..f() }).await.len(), 5);
    assert_eq!(docs_of(s, ReportFilter { scope: Some("jl/c".into()), ..f() }).await.len(), 0);
    assert_eq!(
        docs_of(
            s,
            ReportFilter { statuses: vec![ReportStatus::Resolved, ReportStatus::Rejected], ..f() }
        )
        .await,
        ids(&[2, 4])
    );
    assert_eq!(
        docs_of(
            s,
            ReportFilter {
                categories: vec![ReportCategory::Noise, ReportCategory::IllegalConstruction],
                ..f()
            }
        )
        .await,
        ids(&[1, 3])
    );
    assert_eq!(
        docs_of(s, ReportFilter { assignee: Some("officer-1".into()), ..f() }).await,
        ids(&[1])
    );
    assert_eq!(
        docs_of(s, ReportFilter { created_by: Some("resident-2".into()), ..f() }).await,
        ids(&[3])
    );
    assert_eq!(docs_of(s, ReportFilter { overdue_at: Some(now), ..f() }).await, ids(&[0, 1]));
    assert_eq!(docs_of(s, ReportFilter { overdue_at: Some(T0 + HOUR / 2), ..f() }).await, ids(&[]));
    assert_eq!(
        docs_of(
            s,
            ReportFilter { created_from: Some(T0 + HOUR), created_to: Some(T0 + 3 * HOUR), ..f() }
        )
        .await,
        ids(&[1, 2])
    );
    // Filters combine.
    assert_eq!(
        docs_of(
            s,
            ReportFilter {
                scope: Some("jl/cc".into()),
                statuses: vec![ReportStatus::Submitted],
                overdue_at: Some(now),
                ..f()
            }
        )
        .await,
        ids(&[0])
    );
}

/// Counts by status agree with the listing of the same filter, overdue by the one definition.
pub async fn report_counts_agree_with_the_listing(s: &dyn Storage) {
    let now = T0 + 30 * HOUR;
    let mut rows = Vec::new();
    // Submitted, accept limit passed: overdue; and one in time.
    rows.push(report("jl/cc/grid-07", T0));
    rows.push(report("jl/cc/grid-07", now - HOUR / 2));
    // Dispatched past the resolve limit: overdue.
    let mut r = report("jl/cc/grid-07", T0 + HOUR);
    r.status = ReportStatus::Dispatched;
    rows.push(r);
    // Resolved late and rejected: never overdue.
    let mut r = report("jl/cc/grid-08", T0);
    r.status = ReportStatus::Resolved;
    rows.push(r);
    let mut r = report("jl/cc/grid-070", T0);
    r.status = ReportStatus::Rejected;
    rows.push(r);
    create_all(s, &rows).await;
    let counted = |filter: ReportFilter| async move {
        let mut c: Vec<(ReportStatus, u64, u64)> = s
            .count_reports(filter, now)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.status, c.reports, c.overdue))
            .collect();
        c.sort_by_key(|(status, _, _)| status.as_str());
        c
    };
    use ReportStatus as S;
    assert_eq!(
        counted(ReportFilter::default()).await,
        vec![(S::Dispatched, 1, 1), (S::Rejected, 1, 0), (S::Resolved, 1, 0), (S::Submitted, 2, 1)]
    );
    let grid = ReportFilter {
        readable: Readable::Scopes(vec!["jl/cc/grid-07".into()]),
        statuses: vec![S::Submitted, S::Resolved],
        ..ReportFilter::default()
    };
    assert_eq!(counted(grid.clone()).await, vec![(S::Submitted, 2, 1)]);
    assert_eq!(docs_of(s, grid).await.len(), 2, "as many as the listing holds");
    let none = ReportFilter { text: Some("no such words".into()), ..ReportFilter::default() };
    assert_eq!(counted(none).await, vec![]);
}

pub async fn the_reader_cut_keeps_only_rows_in_scope(s: &dyn Storage) {
    let rows = vec![
        report("jl/cc/grid-07", T0),
        report("jl/cc/grid-07/b-1", T0 + 1),
        report("jl/cc/grid-070", T0 + 2),
        report("jl/cc/grid-08", T0 + 3),
        report("jl/other", T0 + 4),
    ];
    create_all(s, &rows).await;
    let ids = |which: &[usize]| which.iter().map(|i| rows[*i].doc).collect::<HashSet<_>>();
    let cut = |scopes: &[&str]| ReportFilter {
        readable: Readable::Scopes(scopes.iter().map(|s| s.to_string()).collect()),
        ..ReportFilter::default()
    };
    assert_eq!(docs_of(s, cut(&["jl/cc/grid-07"])).await, ids(&[0, 1]));
    assert_eq!(docs_of(s, cut(&["jl/cc/grid-07", "jl/cc/grid-08"])).await, ids(&[0, 1, 3]));
    assert_eq!(docs_of(s, cut(&["jl/cc"])).await, ids(&[0, 1, 2, 3]));
    assert_eq!(docs_of(s, cut(&[])).await, ids(&[]));
    assert_eq!(docs_of(s, cut(&["jl/cc/grid"])).await, ids(&[]));
    // The cut and a scope filter together: the intersection.
    let mut both = cut(&["jl/cc/grid-07"]);
    both.scope = Some("jl/cc".into());
    assert_eq!(docs_of(s, both).await, ids(&[0, 1]));
    // Pages are full although most rows are cut.
    let p = s
        .list_reports(cut(&["jl/cc/grid-07"]), PageRequest { size: 2, ..PageRequest::default() })
        .await
        .unwrap();
    assert_eq!(p.rows.len(), 2);
    assert!(p.next.is_none());
    // Patrols and cases take the same cut.
    let pa = patrol("jl/cc/grid-070", "lake", T0, &["pol-1"]);
    create(s, IndexRow::PatrolLog(pa)).await;
    let ca = case("jl/cc/grid-070", T0, Outcome::None);
    create(s, IndexRow::MediationCase(ca)).await;
    let readable = Readable::Scopes(vec!["jl/cc/grid-07".into()]);
    let p = s
        .list(
            PatrolFilter { readable: readable.clone(), ..PatrolFilter::default() },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(p.rows.is_empty());
    let c = s
        .list(CaseFilter { readable, ..CaseFilter::default() }, PageRequest::default())
        .await
        .unwrap();
    assert!(c.rows.is_empty());
}

pub async fn text_search_is_literal_and_finds_chinese(s: &dyn Storage) {
    let texts = [
        ("楼顶违章建筑", "约20平方米"),
        ("违停", "小区门口"),
        ("Roof-top building", "100% covered, under_score"),
        ("quote 'single' and \"double\"", "NEAR(a b) OR c*"),
        ("噪音", "夜间施工"),
    ];
    let rows: Vec<ReportRow> = texts
        .iter()
        .enumerate()
        .map(|(i, (title, description))| {
            let mut r = report("jl/cc/grid-07", T0 + i as i64);
            r.title = title.to_string();
            r.description = description.to_string();
            r
        })
        .collect();
    create_all(s, &rows).await;
    let ids = |which: &[usize]| which.iter().map(|i| rows[*i].doc).collect::<HashSet<_>>();
    let search = |t: &str| ReportFilter { text: Some(t.into()), ..ReportFilter::default() };
    for (query, expect) in [
        ("违", vec![0, 1]),
        ("违章", vec![0]),
        ("建筑", vec![0]),
        ("施工", vec![4]),
        ("平", vec![0]),
        ("roof", vec![2]),
        ("ROOF-TOP", vec![2]),
        ("%", vec![2]),
        ("_", vec![2]),
        ("0%", vec![2]),
        ("'", vec![3]),
        ("\"double\"", vec![3]),
        ("NEAR(", vec![3]),
        ("c*", vec![3]),
        ("OR C", vec![3]),
        ("a OR b", vec![]),
        ("*", vec![3]),
        ("%%", vec![]),
        ("'; DROP TABLE report_index; --", vec![]),
        ("违 停", vec![]),
    ] {
        assert_eq!(docs_of(s, search(query)).await, ids(&expect), "{query:?}");
    }
    assert_eq!(s.index_len().await.unwrap(), 5, "nothing was dropped");
    for bad in ["", "   ", &"长".repeat(101)] {
        let r = s.list_reports(search(bad), PageRequest::default()).await;
        assert!(matches!(r, Err(StorageError::InvalidQuery(_))), "{bad:?}");
    }
}

pub async fn keyset_pages_are_exact_while_rows_arrive(s: &dyn Storage) {
    let priorities = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];
    let make = |i: i64| {
        let mut r = report("jl/cc/grid-07", T0 + (i % 7) * HOUR);
        r.priority = priorities[(i % 4) as usize];
        r.deadline = if i % 3 == 0 { None } else { Some(T0 + (i % 5) * HOUR) };
        r.updated_at = T0 + (i % 6) * HOUR;
        r
    };
    let first: Vec<ReportRow> = (0..40).map(make).collect();
    create_all(s, &first).await;
    let originals: HashSet<DocId> = first.iter().map(|r| r.doc).collect();
    let filter = ReportFilter::default();
    for sort in [Sort::Created, Sort::Deadline, Sort::Priority, Sort::Updated] {
        // Whole listing: each row once, in order.
        let listed = all_pages(s, &filter, sort, 7).await;
        let whole = all_pages(s, &filter, sort, 200).await;
        assert_eq!(listed, whole, "{sort:?}: pages of 7 give the listing of one page");
        assert_eq!(listed.len(), s.index_len().await.unwrap() as usize, "{sort:?}");

        // Rows arriving between pages: the rows there before appear exactly once.
        let mut page = PageRequest { sort, size: 6, after: None };
        let mut seen = Vec::new();
        let mut round = 100;
        loop {
            let p = s.list_reports(filter.clone(), page).await.unwrap();
            seen.extend(p.rows.iter().map(|r| r.doc));
            let arriving: Vec<ReportRow> = (round..round + 3).map(make).collect();
            round += 3;
            create_all(s, &arriving).await;
            match p.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        let unique: HashSet<DocId> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: no row twice");
        assert!(originals.is_subset(&unique), "{sort:?}: no row skipped");
    }
    // The order of each sort.
    let rows = |sort| {
        let f = filter.clone();
        async move {
            s.list_reports(f, PageRequest { sort, size: 200, after: None }).await.unwrap().rows
        }
    };
    let created = rows(Sort::Created).await;
    assert!(created.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let deadline = rows(Sort::Deadline).await;
    let key = |r: &ReportRow| r.deadline.unwrap_or(i64::MAX);
    assert!(deadline.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
    assert!(deadline.last().unwrap().deadline.is_none(), "reports without a deadline last");
    let priority = rows(Sort::Priority).await;
    assert!(
        priority
            .windows(2)
            .all(|w| (w[0].priority, w[0].created_at) >= (w[1].priority, w[1].created_at))
    );
    let updated = rows(Sort::Updated).await;
    assert!(updated.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));
    // Page sizes are bounded; a cursor belongs to its sort.
    let p = s.list_reports(filter.clone(), PageRequest { size: 10_000, ..PageRequest::default() });
    assert_eq!(p.await.unwrap().rows.len(), 200);
    let p = s.list_reports(filter.clone(), PageRequest { size: 2, ..PageRequest::default() });
    let next = p.await.unwrap().next.unwrap();
    let cursor: crate::storage::index::Cursor = next.to_string().parse().unwrap();
    let wrong = PageRequest { sort: Sort::Deadline, size: 2, after: Some(cursor) };
    assert!(matches!(
        s.list_reports(filter.clone(), wrong).await,
        Err(StorageError::InvalidQuery(_))
    ));
}

pub async fn patrols_and_cases_filter_and_page(s: &dyn Storage) {
    let mut finished = patrol("jl/cc/scenic", "north trail", T0 + HOUR, &["pol-1", "vol-2"]);
    finished.status = PatrolStatus::Finished;
    finished.ended_at = Some(T0 + 3 * HOUR);
    let patrols = vec![
        patrol("jl/cc/scenic", "north trail", T0, &["pol-1"]),
        finished,
        patrol("jl/cc/village", "river", T0 + 2 * HOUR, &["vol-22"]),
    ];
    for p in &patrols {
        create(s, IndexRow::PatrolLog(p.clone())).await;
    }
    let list = |f: PatrolFilter| async move {
        let page = PageRequest { size: 1, ..PageRequest::default() };
        let mut out = Vec::new();
        let mut page = page;
        loop {
            let p = s.list(f.clone(), page).await.unwrap();
            out.extend(p.rows.iter().map(|r| r.doc));
            match p.next {
                Some(n) => page.after = Some(n),
                None => return out,
            }
        }
    };
    let d = |i: usize| patrols[i].doc;
    assert_eq!(list(PatrolFilter::default()).await, vec![d(2), d(1), d(0)]);
    let f = PatrolFilter::default;
    assert_eq!(
        list(PatrolFilter { area: Some("north trail".into()), ..f() }).await,
        vec![d(1), d(0)]
    );
    assert_eq!(list(PatrolFilter { member: Some("vol-2".into()), ..f() }).await, vec![d(1)]);
    assert_eq!(
        list(PatrolFilter { statuses: vec![PatrolStatus::Finished], ..f() }).await,
        vec![d(1)]
    );
    assert_eq!(list(PatrolFilter { scope: Some("jl/cc/village".into()), ..f() }).await, vec![d(2)]);
    assert_eq!(
        list(PatrolFilter {
            started_from: Some(T0 + HOUR),
            started_to: Some(T0 + 2 * HOUR),
            ..f()
        })
        .await,
        vec![d(1)]
    );
    let bad = PageRequest { sort: Sort::Deadline, ..PageRequest::default() };
    assert!(matches!(s.list(f(), bad).await, Err(StorageError::InvalidQuery(_))));

    let mut agreed = case("jl/cc/grid-07", T0 + HOUR, Outcome::Agreed);
    agreed.status = CaseStatus::Agreed;
    agreed.category = CaseCategory::Neighbour;
    agreed.mediators = vec!["med-3".into()];
    let cases = vec![case("jl/cc/grid-07", T0, Outcome::None), agreed];
    for c in &cases {
        create(s, IndexRow::MediationCase(c.clone())).await;
    }
    let list = |f: CaseFilter| async move {
        let rows = s.list(f, PageRequest::default()).await.unwrap().rows;
        rows.iter().map(|r| r.doc).collect::<Vec<_>>()
    };
    let c = |i: usize| cases[i].doc;
    let f = CaseFilter::default;
    assert_eq!(list(f()).await, vec![c(1), c(0)]);
    assert_eq!(list(CaseFilter { statuses: vec![CaseStatus::Agreed], ..f() }).await, vec![c(1)]);
    assert_eq!(
        list(CaseFilter { categories: vec![CaseCategory::Tourist], ..f() }).await,
        vec![c(0)]
    );
    assert_eq!(list(CaseFilter { mediator: Some("med-2".into()), ..f() }).await, vec![c(0)]);
    assert_eq!(list(CaseFilter { mediator: Some("med".into()), ..f() }).await, vec![]);
    assert_eq!(list(CaseFilter { opened_from: Some(T0 + 1), ..f() }).await, vec![c(1)]);
}

pub async fn statistics_equal_figures_computed_by_hand(s: &dyn Storage) {
    let now = T0 + 100 * HOUR;
    let at = |h: i64| Some(T0 + h * HOUR);
    let mut rows = Vec::new();
    // a: accepted after 0.5 h, resolved after 10 h, confirmed; in time. officer-1.
    let mut a = report("jl/cc/grid-07", T0);
    (a.accepted_at, a.dispatched_at, a.resolved_at, a.confirmed_at) =
        (Some(T0 + HOUR / 2), at(1), at(10), at(11));
    a.status = ReportStatus::Confirmed;
    a.assignee = Some("officer-1".into());
    a.supervisions = 2;
    rows.push(a);
    // b: accepted after 2 h (late: limit 1 h), resolved after 30 h (late), reopened. officer-1.
    let mut b = report("jl/cc/grid-07", T0 + HOUR);
    (b.accepted_at, b.dispatched_at, b.resolved_at) = (at(3), at(4), at(31));
    b.status = ReportStatus::Resolved;
    b.assignee = Some("officer-1".into());
    b.reopens = 1;
    b.supervisions = 1;
    rows.push(b);
    // c: never accepted, accept limit passed by `now`: overdue.
    rows.push(report("jl/cc/grid-08", T0 + 2 * HOUR));
    // d: rejected in time (no resolve limit then). Illegal construction.
    let mut d = report("jl/cc/grid-08", T0 + 3 * HOUR);
    d.category = ReportCategory::IllegalConstruction;
    d.rejected_at = at(3).map(|t| t + HOUR / 4);
    d.status = ReportStatus::Rejected;
    d.accept_due = d.created_at + 4 * HOUR;
    d.resolve_due = d.created_at + 72 * HOUR;
    rows.push(d);
    // e: accepted after 4 h (in time for its 4 h limit), dispatched to officer-2, not resolved
    // at `now` with 72 h passed: overdue.
    let mut e = report("jl/cc/grid-07", T0 + 4 * HOUR);
    e.category = ReportCategory::IllegalConstruction;
    e.accept_due = e.created_at + 4 * HOUR;
    e.resolve_due = e.created_at + 72 * HOUR;
    (e.accepted_at, e.dispatched_at) = (at(8), at(9));
    e.status = ReportStatus::Dispatched;
    e.assignee = Some("officer-2".into());
    rows.push(e);
    // Outside the range, outside the scope: counted nowhere below.
    rows.push(report("jl/cc/grid-07", T0 - HOUR));
    rows.push(report("jl/xx", T0));
    create_all(s, &rows).await;

    let query = |group| StatsQuery {
        readable: Readable::All,
        scope: Some("jl/cc".into()),
        from: T0,
        to: T0 + 24 * HOUR,
        now,
        group,
        utc_offset_minutes: 480,
    };
    let all = s.report_stats(query(StatsGroup::All)).await.unwrap();
    assert_eq!(all.len(), 1);
    let g = &all[0];
    assert_eq!(g.key, None);
    assert_eq!(
        (g.received, g.accepted, g.dispatched, g.resolved, g.confirmed, g.reopened, g.rejected),
        (5, 3, 3, 2, 1, 1, 1)
    );
    assert_eq!(g.overdue, 3, "b (late on both), c (never accepted), e (not resolved)");
    assert!((g.overdue_rate - 0.6).abs() < 1e-9);
    // Time to accept: a 0.5 h, b 2 h, e 4 h. Nearest rank: median the 2nd, p90 the 3rd.
    assert_eq!((g.accept_median_ms, g.accept_p90_ms), (Some(2 * HOUR), Some(4 * HOUR)));
    // Time to resolve: a 10 h, b 30 h.
    assert_eq!((g.resolve_median_ms, g.resolve_p90_ms), (Some(10 * HOUR), Some(30 * HOUR)));
    assert_eq!(g.supervisions, 3);

    let by_assignee = s.report_stats(query(StatsGroup::Assignee)).await.unwrap();
    let keys: Vec<Option<&str>> = by_assignee.iter().map(|g| g.key.as_deref()).collect();
    assert_eq!(keys, vec![None, Some("officer-1"), Some("officer-2")]);
    let o1 = &by_assignee[1];
    assert_eq!((o1.received, o1.resolved, o1.overdue, o1.supervisions), (2, 2, 1, 3));
    assert_eq!((o1.accept_median_ms, o1.accept_p90_ms), (Some(HOUR / 2), Some(2 * HOUR)));
    assert_eq!(by_assignee[0].received, 2, "c and d were never dispatched");

    let by_scope = s.report_stats(query(StatsGroup::Scope)).await.unwrap();
    let figures: Vec<(Option<&str>, u64, u64)> =
        by_scope.iter().map(|g| (g.key.as_deref(), g.received, g.overdue)).collect();
    assert_eq!(figures, vec![(Some("jl/cc/grid-07"), 3, 2), (Some("jl/cc/grid-08"), 2, 1)]);

    let by_category = s.report_stats(query(StatsGroup::Category)).await.unwrap();
    let figures: Vec<(Option<&str>, u64, u64)> =
        by_category.iter().map(|g| (g.key.as_deref(), g.received, g.rejected)).collect();
    assert_eq!(figures, vec![(Some("illegal_construction"), 2, 1), (Some("safety_hazard"), 3, 0)]);

    // The reader cut applies to statistics too.
    let mut cut = query(StatsGroup::All);
    cut.readable = Readable::Scopes(vec!["jl/cc/grid-08".into()]);
    assert_eq!(s.report_stats(cut).await.unwrap()[0].received, 2);

    // Patrols per area and day in China's calendar: 16:30 UTC is the next day there.
    let late = T0 + 16 * HOUR + HOUR / 2;
    let mut p1 = patrol("jl/cc/scenic", "lake", T0 + HOUR, &["pol-1"]);
    (p1.checkpoints_reached, p1.checkpoints_planned) = (3, 4);
    let mut p2 = patrol("jl/cc/scenic", "lake", T0 + 2 * HOUR, &["pol-1"]);
    (p2.checkpoints_reached, p2.checkpoints_planned) = (4, 4);
    let mut p3 = patrol("jl/cc/scenic", "lake", late, &["pol-1"]);
    (p3.checkpoints_reached, p3.checkpoints_planned) = (1, 5);
    let p4 = patrol("jl/cc/scenic", "hill", T0, &["pol-2"]);
    for p in [p1, p2, p3, p4] {
        create(s, IndexRow::PatrolLog(p)).await;
    }
    let days = s.patrol_stats(query(StatsGroup::All)).await.unwrap();
    let figures: Vec<(&str, &str, u64, u64, u64)> = days
        .iter()
        .map(|d| {
            (
                d.area.as_str(),
                d.day.as_str(),
                d.patrols,
                d.checkpoints_reached,
                d.checkpoints_planned,
            )
        })
        .collect();
    assert_eq!(
        figures,
        vec![
            ("hill", "2026-03-01", 1, 2, 4),
            ("lake", "2026-03-01", 2, 7, 8),
            ("lake", "2026-03-02", 1, 1, 5),
        ]
    );
    let mut utc = query(StatsGroup::All);
    utc.utc_offset_minutes = 0;
    assert_eq!(s.patrol_stats(utc).await.unwrap().len(), 2, "in UTC all on 1 March");

    // Cases: opened, agreed, failed, escalated.
    for (scope, outcome) in [
        ("jl/cc/grid-07", Outcome::Agreed),
        ("jl/cc/grid-07", Outcome::Agreed),
        ("jl/cc/grid-07", Outcome::Failed),
        ("jl/cc/grid-08", Outcome::Escalated),
        ("jl/cc/grid-08", Outcome::None),
    ] {
        create(s, IndexRow::MediationCase(case(scope, T0 + HOUR, outcome))).await;
    }
    let all = s.case_stats(query(StatsGroup::All)).await.unwrap();
    assert_eq!((all[0].opened, all[0].agreed, all[0].failed, all[0].escalated), (5, 2, 1, 1));
    let by_scope = s.case_stats(query(StatsGroup::Scope)).await.unwrap();
    let figures: Vec<(Option<&str>, u64, u64)> =
        by_scope.iter().map(|g| (g.key.as_deref(), g.opened, g.agreed)).collect();
    assert_eq!(figures, vec![(Some("jl/cc/grid-07"), 3, 2), (Some("jl/cc/grid-08"), 2, 0)]);
}

/// Bulletin rows read back whole, listed by every filter, in force or not, cut to the reader.
pub async fn bulletins_filter_and_page(s: &dyn Storage) {
    let red = bulletin("jl/cc/scenic-1", T0, Severity::Red);
    let mut withdrawn = bulletin("jl/cc/scenic-1/grid-2", T0 + HOUR, Severity::Blue);
    withdrawn.status = BulletinStatus::Withdrawn;
    withdrawn.acknowledged = vec![];
    let elsewhere = bulletin("jl/other", T0 + 2 * HOUR, Severity::Red);
    let seq = create(s, IndexRow::Bulletin(red.clone())).await;
    create(s, IndexRow::Bulletin(withdrawn.clone())).await;
    create(s, IndexRow::Bulletin(elsewhere.clone())).await;
    let got = s.index_row(red.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (seq, IndexRow::Bulletin(red.clone())));

    let list = |f: BulletinFilter| async move {
        let page = PageRequest { sort: Sort::Created, size: 10, after: None };
        let rows = s.list(f, page).await.unwrap().rows;
        rows.into_iter().map(|b| b.doc).collect::<Vec<DocId>>()
    };
    let all = BulletinFilter::default();
    assert_eq!(list(all.clone()).await, vec![elsewhere.doc, withdrawn.doc, red.doc]);
    let mine = BulletinFilter { readable: Readable::Scopes(vec!["jl/cc".into()]), ..all.clone() };
    assert_eq!(list(mine.clone()).await, vec![withdrawn.doc, red.doc]);
    let issued = BulletinFilter { statuses: vec![BulletinStatus::Issued], ..mine.clone() };
    assert_eq!(list(issued).await, vec![red.doc]);
    let blue = BulletinFilter { severities: vec![Severity::Blue], ..mine.clone() };
    assert_eq!(list(blue).await, vec![withdrawn.doc]);
    let in_force = |at| BulletinFilter { in_force_at: Some(at), ..all.clone() };
    assert_eq!(list(in_force(T0 + 24 * HOUR)).await, vec![elsewhere.doc, red.doc]);
    assert_eq!(list(in_force(T0 + 24 * HOUR + 1)).await, vec![elsewhere.doc]);
    let by = BulletinFilter { created_by: Some("police-9".into()), ..all.clone() };
    assert!(list(by).await.is_empty());
    let grid = BulletinFilter { scope: Some("jl/cc/scenic-1/grid-2".into()), ..all.clone() };
    assert_eq!(list(grid).await, vec![withdrawn.doc]);
    let range =
        BulletinFilter { created_from: Some(T0 + HOUR), created_to: Some(T0 + 2 * HOUR), ..all };
    assert_eq!(list(range).await, vec![withdrawn.doc]);
    // Two to a page, in order, nothing skipped or repeated.
    let mut page = PageRequest { sort: Sort::Updated, size: 2, after: None };
    let mut seen = Vec::new();
    loop {
        let p = s.list(BulletinFilter::default(), page).await.unwrap();
        seen.extend(p.rows.iter().map(|b| b.doc));
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![elsewhere.doc, withdrawn.doc, red.doc]);
}

fn visit(business: &str, scope: &str, created_at: i64, failed: &[&str]) -> VisitRow {
    VisitRow {
        doc: DocId::random(),
        scope: format!("{scope}/business:{business}"),
        business: business.into(),
        status: VisitStatus::Open,
        visitors: vec!["police-1".into(), "cadre-2".into()],
        created_by: "police-1".into(),
        created_at,
        failed: failed.iter().map(|f| f.to_string()).collect(),
        findings: failed.len() as u32,
        follow_up: String::new(),
        follow_up_deadline: None,
        updated_at: created_at + HOUR,
    }
}

/// Visit rows read back whole, listed by every filter, cut to the reader; the last visit of
/// each business.
pub async fn visits_filter_page_and_last_visits(s: &dyn Storage) {
    let first = visit("b1", "jl/cc/scenic-1", T0, &["fire_safety"]);
    let mut again = visit("b1", "jl/cc/scenic-1", T0 + 24 * HOUR, &[]);
    again.status = VisitStatus::Closed;
    again.follow_up = "更换灭火器".into();
    again.follow_up_deadline = Some(T0 + 48 * HOUR);
    let elsewhere = visit("b7", "jl/other", T0 + HOUR, &["hazards"]);
    let seq = create(s, IndexRow::Visit(first.clone())).await;
    create(s, IndexRow::Visit(again.clone())).await;
    create(s, IndexRow::Visit(elsewhere.clone())).await;
    let got = s.index_row(first.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (seq, IndexRow::Visit(first.clone())));

    let list = |f: VisitFilter| async move {
        let page = PageRequest { sort: Sort::Created, size: 10, after: None };
        let rows = s.list(f, page).await.unwrap().rows;
        rows.into_iter().map(|v| v.doc).collect::<Vec<DocId>>()
    };
    let all = VisitFilter::default();
    assert_eq!(list(all.clone()).await, vec![again.doc, elsewhere.doc, first.doc]);
    let mine = VisitFilter { readable: Readable::Scopes(vec!["jl/cc".into()]), ..all.clone() };
    assert_eq!(list(mine.clone()).await, vec![again.doc, first.doc]);
    let b7 = VisitFilter { business: Some("b7".into()), ..all.clone() };
    assert_eq!(list(b7).await, vec![elsewhere.doc]);
    let failed = VisitFilter { failed: Some(true), ..mine.clone() };
    assert_eq!(list(failed).await, vec![first.doc]);
    let open = VisitFilter { statuses: vec![VisitStatus::Open], ..all.clone() };
    assert_eq!(list(open).await, vec![elsewhere.doc, first.doc]);
    let range =
        VisitFilter { created_from: Some(T0 + HOUR), created_to: Some(T0 + 2 * HOUR), ..all };
    assert_eq!(list(range).await, vec![elsewhere.doc]);

    let last = s.last_visits(vec!["b1".into(), "b7".into(), "b9".into()]).await.unwrap();
    assert_eq!(last, vec![Some(T0 + 24 * HOUR), Some(T0 + HOUR), None]);
}

/// Deliberation rows read back whole, listed by every filter, cut to the reader, paged.
pub async fn deliberations_filter_and_page(s: &dyn Storage) {
    let proposed = deliberation("jl/cc/grid-07", T0, DeliberationStatus::Proposed);
    let mut decided = deliberation("jl/cc/grid-08", T0 + HOUR, DeliberationStatus::Decided);
    decided.decided_at = Some(T0 + 2 * HOUR);
    decided.next_meeting_at = None;
    decided.attendees = vec!["resident-9".into()];
    decided.created_by = "leader-1".into();
    let elsewhere = deliberation("jl/other", T0 + 2 * HOUR, DeliberationStatus::Scheduled);
    let seq = create(s, IndexRow::Deliberation(proposed.clone())).await;
    create(s, IndexRow::Deliberation(decided.clone())).await;
    create(s, IndexRow::Deliberation(elsewhere.clone())).await;
    let got = s.index_row(proposed.doc).await.unwrap().unwrap();
    assert_eq!((got.seq, got.row), (seq, IndexRow::Deliberation(proposed.clone())));
    let got = s.index_row(decided.doc).await.unwrap().unwrap();
    assert_eq!(got.row, IndexRow::Deliberation(decided.clone()));

    let list = |f: DeliberationFilter| async move {
        let page = PageRequest { sort: Sort::Created, size: 10, after: None };
        let rows = s.list(f, page).await.unwrap().rows;
        rows.into_iter().map(|d| d.doc).collect::<Vec<DocId>>()
    };
    let all = DeliberationFilter::default();
    assert_eq!(list(all.clone()).await, vec![elsewhere.doc, decided.doc, proposed.doc]);
    let mine =
        DeliberationFilter { readable: Readable::Scopes(vec!["jl/cc".into()]), ..all.clone() };
    assert_eq!(list(mine.clone()).await, vec![decided.doc, proposed.doc]);
    let statuses = vec![DeliberationStatus::Decided, DeliberationStatus::Scheduled];
    let open = DeliberationFilter { statuses, ..mine.clone() };
    assert_eq!(list(open).await, vec![decided.doc]);
    let by = DeliberationFilter { created_by: Some("leader-1".into()), ..all.clone() };
    assert_eq!(list(by).await, vec![decided.doc]);
    let went = DeliberationFilter { attendee: Some("resident-2".into()), ..all.clone() };
    assert_eq!(list(went).await, vec![elsewhere.doc, proposed.doc]);
    let part = DeliberationFilter { attendee: Some("resident".into()), ..all.clone() };
    assert!(list(part).await.is_empty(), "an attendee is a whole line");
    let grid = DeliberationFilter { scope: Some("jl/cc/grid-08".into()), ..all.clone() };
    assert_eq!(list(grid).await, vec![decided.doc]);
    let range = DeliberationFilter {
        created_from: Some(T0 + HOUR),
        created_to: Some(T0 + 2 * HOUR),
        ..all
    };
    assert_eq!(list(range).await, vec![decided.doc]);
    let mut page = PageRequest { sort: Sort::Updated, size: 2, after: None };
    let mut seen = Vec::new();
    loop {
        let p = s.list(DeliberationFilter::default(), page).await.unwrap();
        seen.extend(p.rows.iter().map(|d| d.doc));
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![elsewhere.doc, decided.doc, proposed.doc]);
}
