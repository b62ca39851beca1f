//! The responder's inbox: the reports that need this phone's user, each with why, and the
//! reasons a merge brings new items (which the observers hear of, for a local notification).
//!
//! A report is in `me`'s inbox when it is dispatched to `me` (or in progress with `me`) — then
//! for being assigned, and maybe supervised, due soon, overdue or escalated — or when an
//! overdue escalation named `me` (a grid leader, a dispatcher) and it is not yet resolved,
//! confirmed or rejected. A supervision or escalation counts for the assignee only when it
//! came after the report was last dispatched: what was pressed on the previous assignee is
//! not the new one's news.

pub(crate) mod activity;
pub(crate) mod news;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::query::{check_limit, parse_cursor, report_summary, run};
use super::{Page, PageRequest, ReportSummary};
use crate::error::{CoreError, Result};
use crate::time::{TimeSpan, Timestamp};

/// How far ahead "due soon" looks when the filter does not say: 24 hours.
pub const DUE_SOON_DEFAULT: TimeSpan = TimeSpan::from_secs(24 * 3600);

/// Why a report is in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum InboxReason {
    /// Dispatched to me, or in progress with me.
    Assigned,
    /// Mine, and supervised (督办) since it was dispatched to me.
    Supervised,
    /// Mine, and its deadline comes within the filter's window.
    DueSoon,
    /// Mine, and its deadline passed while it is not resolved.
    Overdue,
    /// An overdue escalation named me, or escalated it while it is mine.
    Escalated,
}

impl InboxReason {
    /// Every reason, in declaration order.
    pub const ALL: [InboxReason; 5] = [
        InboxReason::Assigned,
        InboxReason::Supervised,
        InboxReason::DueSoon,
        InboxReason::Overdue,
        InboxReason::Escalated,
    ];

    /// The query's column that says it.
    fn column(self) -> &'static str {
        match self {
            InboxReason::Assigned => "assigned",
            InboxReason::Supervised => "supervised",
            InboxReason::DueSoon => "due_soon",
            InboxReason::Overdue => "overdue",
            InboxReason::Escalated => "escalated",
        }
    }
}

/// Which inbox items to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct InboxFilter {
    /// Items with any of these reasons (empty: every item).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub reasons: Vec<InboxReason>,
    /// How far ahead "due soon" looks (0..=365 days; 24 hours when not given).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub due_within: Option<TimeSpan>,
    /// The time "due soon" and "overdue" are judged at (now when not given).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub now: Option<Timestamp>,
}

/// A report in the inbox, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct InboxItem {
    /// The report as lists show it.
    pub report: ReportSummary,
    /// Why it is here (at least one), in the order of [`InboxReason`].
    pub reasons: Vec<InboxReason>,
    /// When it last came to me: the latest of its dispatch to me, a supervision or escalation
    /// since, or an escalation naming me. The inbox is ordered by it, newest first.
    pub at: Timestamp,
    /// Supervisions of the report (all of them, before the dispatch too).
    pub supervisions: i64,
    /// The latest supervision.
    pub supervised_at: Option<Timestamp>,
    /// The latest escalation.
    pub escalated_at: Option<Timestamp>,
}

/// Longest "due soon" window.
const MAX_DUE_WITHIN: TimeSpan = TimeSpan::from_secs(365 * 24 * 3600);

/// The inbox query. `?1` is the user, `?2` now, `?3` the end of the "due soon" window; the
/// reason filter and the keyset follow. Flags are 0 or 1, never NULL.
const INBOX_SQL: &str = "\
WITH base AS (
  SELECT t.doc, d.doc_id, t.scope, t.status, t.category, t.title, t.assignee, t.deadline,
         t.created_at, t.created_by, t.conflicted, t.supervisions, t.supervised_at,
         t.escalated_at, n.at AS named_at, coalesce(t.assigned_at, t.created_at) AS since,
         coalesce(t.assignee = ?1 AND t.status IN ('dispatched', 'in_progress'), 0) AS mine
  FROM reports t JOIN docs d ON d.id = t.doc
  LEFT JOIN report_notified n ON n.doc = t.doc AND n.user = ?1
  WHERE (t.assignee = ?1 AND t.status IN ('dispatched', 'in_progress'))
     OR (n.at IS NOT NULL AND t.status NOT IN ('resolved', 'confirmed', 'rejected'))
), flagged AS (
  SELECT *, mine AS assigned,
         coalesce(mine AND supervised_at >= since, 0) AS supervised,
         coalesce(mine AND deadline >= ?2 AND deadline < ?3, 0) AS due_soon,
         coalesce(mine AND deadline < ?2, 0) AS overdue,
         coalesce(mine AND escalated_at >= since, 0) AS escalated_mine
  FROM base
), keyed AS (
  SELECT *, (named_at IS NOT NULL OR escalated_mine) AS escalated,
         max(CASE WHEN mine THEN since ELSE 0 END,
             CASE WHEN supervised THEN supervised_at ELSE 0 END,
             CASE WHEN escalated_mine THEN escalated_at ELSE 0 END,
             coalesce(named_at, 0)) AS at
  FROM flagged
)
SELECT doc_id, scope, status, category, title, assignee, deadline, created_at, created_by,
       conflicted, supervisions, supervised_at, escalated_at, at, doc,
       assigned, supervised, due_soon, overdue, escalated
FROM keyed";

/// A page of `me`'s inbox, newest first (by [`InboxItem::at`]).
pub(crate) fn inbox(
    conn: &Connection,
    me: &str,
    f: &InboxFilter,
    page: &PageRequest,
) -> Result<Page<InboxItem>> {
    check_limit(page)?;
    let window = f.due_within.unwrap_or(DUE_SOON_DEFAULT);
    if window.is_negative() || window > MAX_DUE_WITHIN {
        return Err(CoreError::invalid(
            "due_within",
            format!("{window}; must be 0 s..={MAX_DUE_WITHIN}"),
        ));
    }
    let now = f.now.unwrap_or_else(Timestamp::now).as_millis();
    let mut params = vec![
        SqlValue::Text(me.to_string()),
        SqlValue::Integer(now),
        SqlValue::Integer(now.saturating_add(window.as_millis())),
    ];
    let mut clauses = Vec::new();
    if !f.reasons.is_empty() {
        let any: Vec<&str> = f.reasons.iter().map(|r| r.column()).collect();
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if let Some(cursor) = &page.after {
        let (at, doc) = parse_cursor(cursor)?;
        clauses.push("(at < ?4 OR (at = ?4 AND doc < ?5))".to_string());
        params.extend([SqlValue::Integer(at), SqlValue::Integer(doc)]);
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!("{INBOX_SQL}{filter} ORDER BY at DESC, doc DESC LIMIT {}", page.limit + 1);
    run(conn, &sql, params, page, |r| {
        let flags: [bool; 5] = [r.get(15)?, r.get(16)?, r.get(17)?, r.get(18)?, r.get(19)?];
        let reasons =
            InboxReason::ALL.iter().zip(flags).filter(|(_, on)| *on).map(|(r, _)| *r).collect();
        let item = InboxItem {
            report: report_summary(r)?,
            reasons,
            at: r.get(13)?,
            supervisions: r.get(10)?,
            supervised_at: r.get(11)?,
            escalated_at: r.get(12)?,
        };
        Ok((item, r.get(13)?, r.get(14)?))
    })
}
