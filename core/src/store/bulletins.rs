//! The phone's list of warning bulletins: those in force, those this user has still to
//! acknowledge, newest first, and for an issuer who has acknowledged theirs.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::query::{Page, PageRequest, Where, check_limit, doc_id, page_sql, run};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{Addressee, BulletinStatus, Severity};
use crate::time::Timestamp;

/// Filters for bulletins; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BulletinFilter {
    /// Scope prefix: the scope itself and everything below it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Only those in force at this time: issued, and not past their validity end.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub in_force_at: Option<Timestamp>,
    /// Only those this user has not acknowledged.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub unacknowledged_by: Option<String>,
    /// Only those issued by this user.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub created_by: Option<String>,
}

/// A bulletin as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BulletinSummary {
    /// Document id.
    pub id: DocId,
    /// Where it warns.
    pub scope: String,
    /// Issued or withdrawn.
    pub status: BulletinStatus,
    /// How grave.
    pub severity: Severity,
    /// Who it is addressed to.
    pub audience: Vec<Addressee>,
    /// Title.
    pub title: String,
    /// When it stops being in force.
    pub valid_until: Timestamp,
    /// Issued at.
    pub created_at: Timestamp,
    /// Issued by.
    pub created_by: String,
    /// How many people acknowledged it.
    pub acknowledgements: i64,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

pub(crate) fn bulletins(
    conn: &Connection,
    f: &BulletinFilter,
    page: &PageRequest,
) -> Result<Page<BulletinSummary>> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    if let Some(at) = f.in_force_at {
        w.push("t.status = 'issued' AND t.valid_until >= ?", [SqlValue::Integer(at.as_millis())]);
    }
    w.text(
        "t.doc NOT IN (SELECT doc FROM doc_users WHERE role = 'bulletin_ack' AND user = ?)",
        &f.unacknowledged_by,
    );
    w.text("t.created_by = ?", &f.created_by);
    w.after("t.created_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.status, t.severity, t.audience, t.title, t.valid_until, \
         t.created_at, t.created_by, \
         (SELECT count(*) FROM doc_users a WHERE a.doc = t.doc AND a.role = 'bulletin_ack'), \
         t.conflicted, t.doc",
        "bulletins",
        &w,
        "t.created_at",
        page,
    );
    run(conn, &sql, w.params, page, |r| {
        let audience: String = r.get(4)?;
        let s = BulletinSummary {
            id: doc_id(r, 0)?,
            scope: r.get(1)?,
            status: r.get(2)?,
            severity: r.get(3)?,
            // An addressee this build does not know is left out.
            audience: audience.lines().filter_map(|a| a.parse().ok()).collect(),
            title: r.get(5)?,
            valid_until: r.get(6)?,
            created_at: r.get(7)?,
            created_by: r.get(8)?,
            acknowledgements: r.get(9)?,
            conflicted: r.get(10)?,
        };
        Ok((s, r.get(7)?, r.get(11)?))
    })
}
