//! What a merge brought into the inbox of this phone's user: the reasons an app raises a
//! local notification for. The report's projected row before the merge is compared with its
//! projection after it, so changes this phone already knew (a re-merge, a page pulled twice)
//! bring nothing, and each new item is told once.

use rusqlite::{Connection, OptionalExtension};

use super::InboxReason;
use super::activity::Activity;
use crate::error::Result;

/// Statuses in which a report is the assignee's work.
pub(crate) const OPEN: [&str; 2] = ["dispatched", "in_progress"];

/// A report's inbox-relevant values, as stored or as projected.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    assignee: Option<String>,
    status: String,
    supervisions: i64,
    escalations: i64,
    /// The latest escalation naming this phone's user.
    named_at: Option<i64>,
}

impl Seen {
    /// The values stored for document `rowid`, as `me` sees them; `None` for a report not yet
    /// stored.
    pub(crate) fn stored(conn: &Connection, rowid: i64, me: &str) -> Result<Option<Seen>> {
        Ok(conn
            .prepare_cached(
                "SELECT assignee, status, supervisions, escalations, \
                 (SELECT at FROM report_notified WHERE doc = ?1 AND user = ?2) \
                 FROM reports WHERE doc = ?1",
            )?
            .query_row(rusqlite::params![rowid, me], |r| {
                Ok(Seen {
                    assignee: r.get(0)?,
                    status: r.get(1)?,
                    supervisions: r.get(2)?,
                    escalations: r.get(3)?,
                    named_at: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// The values of a projected report, as `me` sees them.
    pub(crate) fn projected(assignee: Option<&str>, status: &str, a: &Activity, me: &str) -> Seen {
        Seen {
            assignee: assignee.map(str::to_string),
            status: status.to_string(),
            supervisions: a.supervisions,
            escalations: a.escalations,
            named_at: a.notified.iter().find(|(u, _)| u == me).map(|(_, at)| *at),
        }
    }

    fn mine(&self, me: &str) -> bool {
        self.assignee.as_deref() == Some(me) && OPEN.contains(&self.status.as_str())
    }
}

/// The new inbox items of `me` between `before` (`None`: the report is new to this phone) and
/// `after`, whose timeline is `a` and which was created at `created_at`:
/// - `Assigned`: the report is now dispatched to (or in progress with) `me`, and was not;
/// - `Supervised`: it is `me`'s, and a supervision came, since it was dispatched;
/// - `Escalated`: an escalation came that names `me`, or one on a report that is `me`'s,
///   since it was dispatched.
///
/// Due soon and overdue come with the clock, not with a merge: the inbox query lists them.
pub(crate) fn news(
    before: Option<&Seen>,
    after: &Seen,
    a: &Activity,
    created_at: i64,
    me: &str,
) -> Vec<InboxReason> {
    let none = Seen::default();
    let before = before.unwrap_or(&none);
    let mine = after.mine(me);
    let since = a.assigned_at.unwrap_or(created_at);
    let mut reasons = Vec::new();
    if mine && !before.mine(me) {
        reasons.push(InboxReason::Assigned);
    }
    if mine
        && after.supervisions > before.supervisions
        && a.supervised_at.is_some_and(|t| t >= since)
    {
        reasons.push(InboxReason::Supervised);
    }
    let named = after.named_at.is_some() && after.named_at > before.named_at;
    let on_mine = mine
        && after.escalations > before.escalations
        && a.escalated_at.is_some_and(|t| t >= since);
    if named || on_mine {
        reasons.push(InboxReason::Escalated);
    }
    reasons
}
