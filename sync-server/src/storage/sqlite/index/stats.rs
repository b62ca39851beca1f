//! Assessment statistics over the index tables: counts by SQL aggregates in one pass over the
//! range (from the scope or creation index), then the durations of the reports that have them,
//! whose median and 90th percentile are taken here.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::super::columns::to_u64;
use super::list::{ScopeIndex, Where};
use crate::storage::StorageResult;
use crate::storage::index::{
    CaseStats, PatrolDayStats, ReportStats, StatsGroup, StatsQuery, day_of, percentile,
};

/// The filter every statistic shares: reader cut, scope, the time range on `column`.
///
/// With a scope, the plan starts from the scope index (a grid's rows, in the range: the
/// caller names it with [`from`], as a grouping could otherwise pull SQLite to an index in
/// the group's order over every row); without one it reads the table in one pass, which beats
/// an index over most of it (`+column`: no index chosen for the range).
fn filter(q: &StatsQuery, column: &str) -> Where {
    let mut w = Where::default();
    w.readable(&q.readable);
    match &q.scope {
        Some(scope) => {
            w.inside(scope, ScopeIndex::Use);
            w.range(column, Some(q.from), Some(q.to));
        }
        None => w.range(&format!("+{column}"), Some(q.from), Some(q.to)),
    }
    w
}

/// The `FROM` of a statistic over `table`: from its scope index when the query has a scope.
fn from(q: &StatsQuery, table: &str) -> String {
    match q.scope {
        Some(_) => format!("{table} INDEXED BY {table}_scope"),
        None => table.to_string(),
    }
}

fn key_column(group: StatsGroup, assignee: &'static str) -> &'static str {
    match group {
        StatsGroup::All => "NULL",
        StatsGroup::Scope => "scope",
        StatsGroup::Assignee => assignee,
        StatsGroup::Category => "category",
    }
}

fn count(v: Option<i64>) -> u64 {
    to_u64(v.unwrap_or(0))
}

/// Report figures per group (groups without reports are left out), ordered by key.
pub(crate) fn reports(conn: &Connection, q: &StatsQuery) -> StorageResult<Vec<ReportStats>> {
    let key = key_column(q.group, "assignee");
    let w = filter(q, "created_at");
    let sql = format!(
        "SELECT {key} AS k, count(*), count(accepted_at), count(dispatched_at), \
         count(resolved_at), count(confirmed_at), sum(reopens > 0), count(rejected_at), \
         sum(COALESCE(accepted_at, rejected_at, ?) > accept_due \
             OR (rejected_at IS NULL AND COALESCE(resolved_at, ?) > resolve_due)), \
         sum(supervisions) \
         FROM {} WHERE {} GROUP BY k ORDER BY k",
        from(q, "report_index"),
        w.sql()
    );
    let mut values = vec![Value::Integer(q.now), Value::Integer(q.now)];
    values.extend(w.params.iter().cloned());
    let mut stats: Vec<ReportStats> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| {
            let received = count(r.get(1)?);
            let overdue = count(r.get(8)?);
            Ok(ReportStats {
                key: r.get(0)?,
                received,
                accepted: count(r.get(2)?),
                dispatched: count(r.get(3)?),
                resolved: count(r.get(4)?),
                confirmed: count(r.get(5)?),
                reopened: count(r.get(6)?),
                rejected: count(r.get(7)?),
                overdue,
                overdue_rate: if received == 0 { 0.0 } else { overdue as f64 / received as f64 },
                accept_median_ms: None,
                accept_p90_ms: None,
                resolve_median_ms: None,
                resolve_p90_ms: None,
                supervisions: count(r.get(9)?),
            })
        })?
        .collect::<Result<_, _>>()?;

    let sql = format!(
        "SELECT {key} AS k, accepted_at - created_at, resolved_at - created_at \
         FROM {} WHERE {} AND (accepted_at IS NOT NULL OR resolved_at IS NOT NULL)",
        from(q, "report_index"),
        w.sql()
    );
    let mut times: BTreeMap<Option<String>, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(w.params.iter()))?;
    while let Some(r) = rows.next()? {
        let entry = times.entry(r.get(0)?).or_default();
        if let Some(a) = r.get::<_, Option<i64>>(1)? {
            entry.0.push(a);
        }
        if let Some(s) = r.get::<_, Option<i64>>(2)? {
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
pub(crate) fn patrols(conn: &Connection, q: &StatsQuery) -> StorageResult<Vec<PatrolDayStats>> {
    let w = filter(q, "started_at");
    let offset = i64::from(q.utc_offset_minutes) * 60_000;
    let sql = format!(
        "SELECT area, (started_at + ?) / 86400000 AS d, count(*), sum(checkpoints_reached), \
         sum(checkpoints_planned) FROM {} WHERE {} GROUP BY area, d ORDER BY area, d",
        from(q, "patrol_index"),
        w.sql()
    );
    let mut values = vec![Value::Integer(offset)];
    values.extend(w.params.iter().cloned());
    let stats = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| {
            let day: i64 = r.get(1)?;
            Ok(PatrolDayStats {
                area: r.get(0)?,
                day: day_of(day * 86_400_000, 0),
                patrols: count(r.get(2)?),
                checkpoints_reached: count(r.get(3)?),
                checkpoints_planned: count(r.get(4)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(stats)
}

/// Case figures per group (`Assignee` groups as `All`), ordered by key.
pub(crate) fn cases(conn: &Connection, q: &StatsQuery) -> StorageResult<Vec<CaseStats>> {
    let key = key_column(q.group, "NULL");
    let w = filter(q, "opened_at");
    let sql = format!(
        "SELECT {key} AS k, count(*), sum(outcome = 'agreed'), sum(outcome = 'failed'), \
         sum(outcome = 'escalated') FROM {} WHERE {} GROUP BY k ORDER BY k",
        from(q, "case_index"),
        w.sql()
    );
    let stats = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(w.params.iter()), |r| {
            Ok(CaseStats {
                key: r.get(0)?,
                opened: count(r.get(1)?),
                agreed: count(r.get(2)?),
                failed: count(r.get(3)?),
                escalated: count(r.get(4)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(stats)
}
