//! Assessment statistics over the index tables, as SQLite's (`sqlite/index/stats.rs`): counts
//! by SQL aggregates in one pass over the range, then the durations of the reports that have
//! them, whose median and 90th percentile are taken here. Groups are ordered as SQLite orders
//! them: bytewise, the group without a key first.

use std::collections::BTreeMap;

use super::super::columns::to_u64;
use super::super::db::{Tx, query};
use super::list::Where;
use crate::storage::StorageResult;
use crate::storage::index::{
    CaseStats, PatrolDayStats, ReportStats, StatsGroup, StatsQuery, day_of, percentile,
};

/// The filter every statistic shares: reader cut, scope, the time range on `column`.
fn filter(q: &StatsQuery, column: &str) -> Where {
    let mut w = Where::default();
    w.readable(&q.readable);
    if let Some(scope) = &q.scope {
        w.inside(scope);
    }
    w.range(column, Some(q.from), Some(q.to));
    w
}

fn key_column(group: StatsGroup, assignee: &'static str) -> &'static str {
    match group {
        StatsGroup::All => "NULL::text",
        StatsGroup::Scope => "scope",
        StatsGroup::Assignee => assignee,
        StatsGroup::Category => "category",
    }
}

fn count(v: Option<i64>) -> u64 {
    to_u64(v.unwrap_or(0))
}

/// Report figures per group (groups without reports are left out), ordered by key.
pub(crate) async fn reports(tx: &Tx<'_>, q: &StatsQuery) -> StorageResult<Vec<ReportStats>> {
    let key = key_column(q.group, "assignee");
    let w = filter(q, "created_at");
    let now = w.next_mark();
    let sql = format!(
        "SELECT {key} AS k, count(*), count(accepted_at), count(dispatched_at), \
         count(resolved_at), count(confirmed_at), sum((reopens > 0)::int), count(rejected_at), \
         sum((coalesce(accepted_at, rejected_at, ${now}) > accept_due \
             OR (rejected_at IS NULL AND coalesce(resolved_at, ${now}) > resolve_due))::int), \
         sum(supervisions)::bigint \
         FROM report_index WHERE {} GROUP BY k ORDER BY {key} COLLATE \"C\" NULLS FIRST",
        w.sql()
    );
    let rows = query(tx, &sql, &w.sql_params(&[&q.now])).await?;
    let mut stats = Vec::with_capacity(rows.len());
    for r in &rows {
        let received = count(r.try_get(1)?);
        let overdue = count(r.try_get(8)?);
        stats.push(ReportStats {
            key: r.try_get(0)?,
            received,
            accepted: count(r.try_get(2)?),
            dispatched: count(r.try_get(3)?),
            resolved: count(r.try_get(4)?),
            confirmed: count(r.try_get(5)?),
            reopened: count(r.try_get(6)?),
            rejected: count(r.try_get(7)?),
            overdue,
            overdue_rate: if received == 0 { 0.0 } else { overdue as f64 / received as f64 },
            accept_median_ms: None,
            accept_p90_ms: None,
            resolve_median_ms: None,
            resolve_p90_ms: None,
            supervisions: count(r.try_get(9)?),
        });
    }

    let sql = format!(
        "SELECT {key} AS k, accepted_at - created_at, resolved_at - created_at \
         FROM report_index WHERE {} AND (accepted_at IS NOT NULL OR resolved_at IS NOT NULL)",
        w.sql()
    );
    let mut times: BTreeMap<Option<String>, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for r in query(tx, &sql, &w.sql_params(&[])).await? {
        let entry = times.entry(r.try_get(0)?).or_default();
        if let Some(a) = r.try_get::<_, Option<i64>>(1)? {
            entry.0.push(a);
        }
        if let Some(s) = r.try_get::<_, Option<i64>>(2)? {
            entry.1.push(s);
        }
    }
    for s in &mut stats {
        if let Some((accept, resolve)) = times.get_mut(&s.key) {
            accept.sort_unstable();
            resolve.sort_unstable();
            s.accept_median_ms = percentile(accept, 0.5);
            s.accept_p90_ms = percentile(accept, 0.9);
            s.resolve_median_ms = percentile(resolve, 0.5);
            s.resolve_p90_ms = percentile(resolve, 0.9);
        }
    }
    Ok(stats)
}

/// Patrols per area and day of the jurisdiction's calendar, ordered by area and day.
pub(crate) async fn patrols(tx: &Tx<'_>, q: &StatsQuery) -> StorageResult<Vec<PatrolDayStats>> {
    let w = filter(q, "started_at");
    let offset = i64::from(q.utc_offset_minutes) * 60_000;
    let mark = w.next_mark();
    let sql = format!(
        "SELECT area, (started_at + ${mark}) / 86400000 AS d, count(*), \
         sum(checkpoints_reached)::bigint, sum(checkpoints_planned)::bigint \
         FROM patrol_index WHERE {} GROUP BY area, d ORDER BY area COLLATE \"C\", d",
        w.sql()
    );
    let rows = query(tx, &sql, &w.sql_params(&[&offset])).await?;
    rows.iter()
        .map(|r| {
            let day: i64 = r.try_get(1)?;
            Ok(PatrolDayStats {
                area: r.try_get(0)?,
                day: day_of(day * 86_400_000, 0),
                patrols: count(r.try_get(2)?),
                checkpoints_reached: count(r.try_get(3)?),
                checkpoints_planned: count(r.try_get(4)?),
            })
        })
        .collect()
}

/// Case figures per group (`Assignee` groups as `All`), ordered by key.
pub(crate) async fn cases(tx: &Tx<'_>, q: &StatsQuery) -> StorageResult<Vec<CaseStats>> {
    let key = key_column(q.group, "NULL::text");
    let w = filter(q, "opened_at");
    let sql = format!(
        "SELECT {key} AS k, count(*), sum((outcome = 'agreed')::int), \
         sum((outcome = 'failed')::int), sum((outcome = 'escalated')::int) \
         FROM case_index WHERE {} GROUP BY k ORDER BY {key} COLLATE \"C\" NULLS FIRST",
        w.sql()
    );
    let rows = query(tx, &sql, &w.sql_params(&[])).await?;
    rows.iter()
        .map(|r| {
            Ok(CaseStats {
                key: r.try_get(0)?,
                opened: count(r.try_get(1)?),
                agreed: count(r.try_get(2)?),
                failed: count(r.try_get(3)?),
                escalated: count(r.try_get(4)?),
            })
        })
        .collect()
}
