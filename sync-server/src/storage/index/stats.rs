//! Assessment statistics (考核监督) over the index: what a query asks for and the typed figures
//! it answers with, ready for the HTTP layer to render as JSON or CSV.

use serde::Serialize;

use super::query::Readable;

/// How report and case figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsGroup {
    /// One group for everything matched.
    #[default]
    All,
    /// Per record scope (a grid).
    Scope,
    /// Per responder (the assignee; reports never dispatched form a group without key).
    /// Cases: per mediator is not offered, this groups them as `All`.
    Assignee,
    /// Per category.
    Category,
}

/// Which records statistics cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsQuery {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope (the scope or below it).
    pub scope: Option<String>,
    /// Created (reports), started (patrols) or opened (cases) at or after this time, ms.
    pub from: i64,
    /// ... and before this time, ms.
    pub to: i64,
    /// "Now" for the limits of reports not yet handled, ms.
    pub now: i64,
    /// How figures are grouped (reports and cases).
    pub group: StatsGroup,
    /// Offset of the jurisdiction's day from UTC, in minutes (patrols per day; +480 in
    /// China).
    pub utc_offset_minutes: i32,
}

/// The offset of China's day from UTC, in minutes: the default of patrol days.
pub const CHINA_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// Report figures of one group. A report counts as accepted, dispatched, ... when its timeline
/// holds that action at all (whatever its status now). It is **overdue** when it missed one of
/// its limits: not accepted or rejected by its accept-due time (judged at `now` while neither
/// happened), or not resolved by its resolve-due time while not rejected. Percentiles are
/// nearest-rank over the reports that have the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportStats {
    /// The group's key (scope, assignee or category); `None` for `All` and for reports
    /// without an assignee.
    pub key: Option<String>,
    /// Reports created in the range.
    pub received: u64,
    /// ... accepted.
    pub accepted: u64,
    /// ... dispatched.
    pub dispatched: u64,
    /// ... resolved.
    pub resolved: u64,
    /// ... confirmed by the resident.
    pub confirmed: u64,
    /// ... reopened at least once.
    pub reopened: u64,
    /// ... rejected.
    pub rejected: u64,
    /// ... that missed a limit.
    pub overdue: u64,
    /// `overdue / received` (0 when nothing was received).
    pub overdue_rate: f64,
    /// Median of accepted_at - created_at, ms.
    pub accept_median_ms: Option<i64>,
    /// 90th percentile of accepted_at - created_at, ms.
    pub accept_p90_ms: Option<i64>,
    /// Median of resolved_at - created_at, ms.
    pub resolve_median_ms: Option<i64>,
    /// 90th percentile of resolved_at - created_at, ms.
    pub resolve_p90_ms: Option<i64>,
    /// Supervision events on these reports.
    pub supervisions: u64,
}

/// Patrols of one area on one day (of the jurisdiction's calendar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatrolDayStats {
    /// The area.
    pub area: String,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Patrols started that day.
    pub patrols: u64,
    /// Planned checkpoints reached, summed over them.
    pub checkpoints_reached: u64,
    /// Planned checkpoints, summed over them.
    pub checkpoints_planned: u64,
}

/// Mediation case figures of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseStats {
    /// The group's key (scope or category); `None` for `All`.
    pub key: Option<String>,
    /// Cases opened in the range.
    pub opened: u64,
    /// ... whose outcome is an agreement.
    pub agreed: u64,
    /// ... whose outcome is a failure.
    pub failed: u64,
    /// ... escalated to a higher body.
    pub escalated: u64,
}

/// The nearest-rank percentile `p` (0 < p <= 1) of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The day (`YYYY-MM-DD`) of `at` (ms since the epoch) at `offset_minutes` from UTC.
pub fn day_of(at: i64, offset_minutes: i32) -> String {
    let local = at + i64::from(offset_minutes) * 60_000;
    let days = local.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.5), Some(5));
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
    }

    #[test]
    fn days_in_the_jurisdictions_calendar() {
        assert_eq!(day_of(0, 0), "1970-01-01");
        // 2026-03-01 16:30 UTC is already 2 March in China.
        let t = 1_772_382_600_000;
        assert_eq!(day_of(t, 0), "2026-03-01");
        assert_eq!(day_of(t, CHINA_UTC_OFFSET_MINUTES), "2026-03-02");
        assert_eq!(day_of(951_782_400_000, 0), "2000-02-29");
    }
}
