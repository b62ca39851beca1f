//! The index rows read back from their tables (the column lists and each kind's row), and the
//! maintenance around them; writing a row is [`super::upsert`].

use std::str::FromStr;

use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::super::columns::{doc_id, to_u64};
use super::super::db::{Tx, query, query_one, query_opt};
use super::upsert::upsert;
use crate::rules::Priority;
use crate::storage::index::{
    BulletinRow, CaseRow, Cell, Cells, DeliberationRow, IndexChange, IndexRow, Outcome, PatrolRow,
    ReportRow, Table as KindTable, VisitRow,
};
use crate::storage::{StorageError, StorageResult};

/// The columns of `report_index` that rows are read from, in [`report_at`]'s order.
pub(crate) const REPORT_COLUMNS: &str = "doc, seq, doc_id, scope, status, category, title, \
     description, created_by, assignee, created_at, submitted_at, accepted_at, dispatched_at, \
     resolved_at, confirmed_at, rejected_at, deadline, priority, lat, lon, address, points, \
     supervisions, reopens, escalated_accept, escalated_resolve, accept_due, resolve_due, \
     photos, comments, updated_at";

/// The columns of `patrol_index`, in [`patrol_at`]'s order.
pub(crate) const PATROL_COLUMNS: &str = "doc, seq, doc_id, scope, area, members, status, \
     entries, checkpoints_reached, checkpoints_planned, started_at, ended_at, updated_at";

/// The columns of `case_index`, in [`case_at`]'s order.
pub(crate) const CASE_COLUMNS: &str = "doc, seq, doc_id, scope, status, category, mediators, \
     sessions, outcome, opened_at, closed_at, updated_at";

/// The columns of `bulletin_index`, in [`bulletin_at`]'s order.
pub(crate) const BULLETIN_COLUMNS: &str = "doc, seq, doc_id, scope, status, severity, audience, \
     title, created_by, created_at, valid_until, acknowledged, updated_at";

/// The columns of `visit_index`, in [`visit_at`]'s order.
pub(crate) const VISIT_COLUMNS: &str = "doc, seq, doc_id, scope, business, status, visitors, \
     created_by, created_at, failed, findings, follow_up, follow_up_deadline, updated_at";

/// The columns of `deliberation_index`, in [`deliberation_at`]'s order.
pub(crate) const DELIBERATION_COLUMNS: &str = "doc, seq, doc_id, scope, status, topic, \
     created_by, created_at, comments, options, meetings, next_meeting_at, attendees, \
     decided_at, updated_at";

/// Each kind's index table, the columns its rows are read from and how one is read: what the
/// maintenance below goes over, kind by kind.
struct Table {
    name: &'static str,
    columns: &'static str,
    read: fn(&Row) -> StorageResult<IndexChange>,
}

const TABLES: &[Table] = &[
    Table {
        name: "report_index",
        columns: REPORT_COLUMNS,
        read: |r| report_at(r).map(|s| IndexChange { seq: s.seq, row: IndexRow::Report(s.row) }),
    },
    Table {
        name: "patrol_index",
        columns: PATROL_COLUMNS,
        read: |r| patrol_at(r).map(|s| IndexChange { seq: s.seq, row: IndexRow::PatrolLog(s.row) }),
    },
    Table {
        name: "case_index",
        columns: CASE_COLUMNS,
        read: |r| {
            case_at(r).map(|s| IndexChange { seq: s.seq, row: IndexRow::MediationCase(s.row) })
        },
    },
    Table {
        name: "bulletin_index",
        columns: BULLETIN_COLUMNS,
        read: |r| {
            bulletin_at(r).map(|s| IndexChange { seq: s.seq, row: IndexRow::Bulletin(s.row) })
        },
    },
    Table {
        name: "visit_index",
        columns: VISIT_COLUMNS,
        read: |r| visit_at(r).map(|s| IndexChange { seq: s.seq, row: IndexRow::Visit(s.row) }),
    },
    Table {
        name: "deliberation_index",
        columns: DELIBERATION_COLUMNS,
        read: |r| {
            deliberation_at(r)
                .map(|s| IndexChange { seq: s.seq, row: IndexRow::Deliberation(s.row) })
        },
    },
];

/// A row as read: its position in storage (`doc`), its seq and the row.
pub(crate) struct Stored<T> {
    pub(crate) pos: i64,
    pub(crate) seq: u64,
    pub(crate) row: T,
}

/// The columns a row of a kind's table (its descriptor) is read from, in [`stored`]'s order.
pub(crate) fn select(table: &KindTable) -> String {
    format!("doc, seq, doc_id, scope, {}", table.columns.join(", "))
}

/// A row of a kind's table from the columns of [`select`], each column's cell taken by its
/// PostgreSQL type.
pub(crate) fn stored(r: &Row, table: &KindTable) -> StorageResult<Stored<IndexRow>> {
    let (pos, seq) = head(r)?;
    let doc = doc_id(r.try_get::<_, &[u8]>(2)?)?;
    let scope: String = r.try_get(3)?;
    let cells =
        (4..4 + table.columns.len()).map(|i| cell(r, i)).collect::<StorageResult<Vec<Cell>>>()?;
    let row = (table.read)(doc, scope, &mut Cells::new(table.name, cells))?;
    Ok(Stored { pos, seq, row })
}

/// Column `i` as a cell.
fn cell(r: &Row, i: usize) -> StorageResult<Cell> {
    let ty = r.columns()[i].type_().clone();
    let cell = if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?.map(Cell::Integer)
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?.map(|v| Cell::Integer(i64::from(v)))
    } else if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?.map(Cell::Real)
    } else if ty == Type::TEXT || ty == Type::VARCHAR {
        r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Blob)
    } else {
        return Err(StorageError::Corrupt(format!(
            "{} column {i} has the type {ty}, which the index does not use",
            r.columns()[i].name()
        )));
    };
    Ok(cell.unwrap_or(Cell::Null))
}

fn split_lines(s: &str) -> Vec<String> {
    if s.is_empty() { Vec::new() } else { s.split('\n').map(str::to_string).collect() }
}

/// A column holding one of a closed set of strings.
pub(crate) fn parsed<T: FromStr>(r: &Row, i: usize) -> StorageResult<T> {
    let s: &str = r.try_get(i)?;
    s.parse().map_err(|_| StorageError::Corrupt(format!("index column {i} holds {s:?}")))
}

fn count(r: &Row, i: usize) -> StorageResult<u32> {
    let v: i64 = r.try_get(i)?;
    u32::try_from(v).map_err(|_| StorageError::Corrupt(format!("index count {v} out of range")))
}

fn head(r: &Row) -> StorageResult<(i64, u64)> {
    Ok((r.try_get(0)?, to_u64(r.try_get(1)?)))
}

/// A report row from [`REPORT_COLUMNS`].
pub(crate) fn report_at(r: &Row) -> StorageResult<Stored<ReportRow>> {
    let (pos, seq) = head(r)?;
    let rank: i64 = r.try_get(18)?;
    let priority = Priority::from_rank(rank)
        .ok_or_else(|| StorageError::Corrupt(format!("index priority {rank} is not one")))?;
    let row = ReportRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        status: parsed(r, 4)?,
        category: parsed(r, 5)?,
        title: r.try_get(6)?,
        description: r.try_get(7)?,
        created_by: r.try_get(8)?,
        assignee: r.try_get(9)?,
        created_at: r.try_get(10)?,
        submitted_at: r.try_get(11)?,
        accepted_at: r.try_get(12)?,
        dispatched_at: r.try_get(13)?,
        resolved_at: r.try_get(14)?,
        confirmed_at: r.try_get(15)?,
        rejected_at: r.try_get(16)?,
        deadline: r.try_get(17)?,
        priority,
        lat: r.try_get(19)?,
        lon: r.try_get(20)?,
        address: r.try_get(21)?,
        points: r.try_get(22)?,
        supervisions: count(r, 23)?,
        reopens: count(r, 24)?,
        escalated_accept: r.try_get::<_, i64>(25)? != 0,
        escalated_resolve: r.try_get::<_, i64>(26)? != 0,
        accept_due: r.try_get(27)?,
        resolve_due: r.try_get(28)?,
        photos: count(r, 29)?,
        comments: count(r, 30)?,
        updated_at: r.try_get(31)?,
    };
    Ok(Stored { pos, seq, row })
}

/// A patrol row from [`PATROL_COLUMNS`].
pub(crate) fn patrol_at(r: &Row) -> StorageResult<Stored<PatrolRow>> {
    let (pos, seq) = head(r)?;
    let row = PatrolRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        area: r.try_get(4)?,
        members: split_lines(r.try_get::<_, &str>(5)?),
        status: parsed(r, 6)?,
        entries: count(r, 7)?,
        checkpoints_reached: count(r, 8)?,
        checkpoints_planned: count(r, 9)?,
        started_at: r.try_get(10)?,
        ended_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
    };
    Ok(Stored { pos, seq, row })
}

/// A case row from [`CASE_COLUMNS`].
pub(crate) fn case_at(r: &Row) -> StorageResult<Stored<CaseRow>> {
    let (pos, seq) = head(r)?;
    let outcome: &str = r.try_get(8)?;
    let outcome = Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == outcome)
        .ok_or_else(|| StorageError::Corrupt(format!("index outcome {outcome:?} is not one")))?;
    let row = CaseRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        status: parsed(r, 4)?,
        category: parsed(r, 5)?,
        mediators: split_lines(r.try_get::<_, &str>(6)?),
        sessions: count(r, 7)?,
        outcome,
        opened_at: r.try_get(9)?,
        closed_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
    };
    Ok(Stored { pos, seq, row })
}

/// A bulletin row from [`BULLETIN_COLUMNS`].
pub(crate) fn bulletin_at(r: &Row) -> StorageResult<Stored<BulletinRow>> {
    let (pos, seq) = head(r)?;
    let audience = split_lines(r.try_get::<_, &str>(6)?)
        .iter()
        .map(|a| a.parse().map_err(|_| StorageError::Corrupt(format!("index addressee {a:?}"))))
        .collect::<StorageResult<_>>()?;
    let row = BulletinRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        status: parsed(r, 4)?,
        severity: parsed(r, 5)?,
        audience,
        title: r.try_get(7)?,
        created_by: r.try_get(8)?,
        created_at: r.try_get(9)?,
        valid_until: r.try_get(10)?,
        acknowledged: split_lines(r.try_get::<_, &str>(11)?),
        updated_at: r.try_get(12)?,
    };
    Ok(Stored { pos, seq, row })
}

/// A visit row from [`VISIT_COLUMNS`].
pub(crate) fn visit_at(r: &Row) -> StorageResult<Stored<VisitRow>> {
    let (pos, seq) = head(r)?;
    let row = VisitRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        business: r.try_get(4)?,
        status: parsed(r, 5)?,
        visitors: split_lines(r.try_get::<_, &str>(6)?),
        created_by: r.try_get(7)?,
        created_at: r.try_get(8)?,
        failed: split_lines(r.try_get::<_, &str>(9)?),
        findings: count(r, 10)?,
        follow_up: r.try_get(11)?,
        follow_up_deadline: r.try_get(12)?,
        updated_at: r.try_get(13)?,
    };
    Ok(Stored { pos, seq, row })
}

/// A deliberation row from [`DELIBERATION_COLUMNS`].
pub(crate) fn deliberation_at(r: &Row) -> StorageResult<Stored<DeliberationRow>> {
    let (pos, seq) = head(r)?;
    let row = DeliberationRow {
        doc: doc_id(r.try_get::<_, &[u8]>(2)?)?,
        scope: r.try_get(3)?,
        status: parsed(r, 4)?,
        topic: r.try_get(5)?,
        created_by: r.try_get(6)?,
        created_at: r.try_get(7)?,
        comments: count(r, 8)?,
        options: count(r, 9)?,
        meetings: count(r, 10)?,
        next_meeting_at: r.try_get(11)?,
        attendees: split_lines(r.try_get::<_, &str>(12)?),
        decided_at: r.try_get(13)?,
        updated_at: r.try_get(14)?,
    };
    Ok(Stored { pos, seq, row })
}

/// The rows of every kind written after `after`, in seq order, at most `limit`.
pub(crate) async fn changes_after(
    tx: &Tx<'_>,
    after: u64,
    limit: usize,
) -> StorageResult<Vec<IndexChange>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut all = Vec::new();
    for t in TABLES {
        let sql =
            format!("SELECT {} FROM {} WHERE seq > $1 ORDER BY seq LIMIT $2", t.columns, t.name);
        for r in query(tx, &sql, &[&after, &limit]).await? {
            all.push((t.read)(&r)?);
        }
    }
    all.sort_by_key(|c| c.seq);
    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(all)
}

/// The position in `docs` of the document `doc_id`.
async fn position(tx: &Tx<'_>, doc: &[u8]) -> StorageResult<Option<i64>> {
    query_opt(tx, "SELECT id FROM docs WHERE doc_id = $1", &[&doc])
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
}

/// The row of the document `doc_id`, of whichever kind.
pub(crate) async fn one(tx: &Tx<'_>, doc: &[u8]) -> StorageResult<Option<IndexChange>> {
    let Some(pos) = position(tx, doc).await? else { return Ok(None) };
    for t in TABLES {
        let sql = format!("SELECT {} FROM {} WHERE doc = $1", t.columns, t.name);
        if let Some(r) = query_opt(tx, &sql, &[&pos]).await? {
            return Ok(Some((t.read)(&r)?));
        }
    }
    Ok(None)
}

/// Rows of all kinds.
pub(crate) async fn len(tx: &Tx<'_>) -> StorageResult<u64> {
    let counts: Vec<String> =
        TABLES.iter().map(|t| format!("(SELECT count(*) FROM {})", t.name)).collect();
    let n: i64 = query_one(tx, &format!("SELECT {}", counts.join(" + ")), &[]).await?.try_get(0)?;
    Ok(to_u64(n))
}

/// Removes every row.
pub(crate) async fn clear(tx: &Tx<'_>) -> StorageResult<()> {
    for t in TABLES {
        tx.batch_execute(&format!("DELETE FROM {}", t.name)).await?;
    }
    Ok(())
}

/// Writes rows of stored documents, each with its document's last log seq.
pub(crate) async fn put(tx: &Tx<'_>, rows: &[IndexRow]) -> StorageResult<()> {
    for row in rows {
        let doc = row.doc();
        let pos = position(tx, doc.as_bytes()).await?.ok_or_else(|| {
            StorageError::Corrupt(format!("index row of document {doc}, which is not stored"))
        })?;
        let seq = last_seq(tx, pos).await?;
        upsert(tx, pos, seq, row).await?;
    }
    Ok(())
}

/// The last log seq of the document at `pos` (0 when it has none).
pub(crate) async fn last_seq(tx: &Tx<'_>, pos: i64) -> StorageResult<i64> {
    Ok(query_one(tx, "SELECT coalesce(max(seq), 0) FROM log WHERE doc = $1", &[&pos])
        .await?
        .try_get(0)?)
}
