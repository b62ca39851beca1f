//! A report's rows: `reports` (with what the timeline says for the inbox) and
//! `report_notified`; searched by its title, description, address and comments.

use automerge::{ObjType, ROOT, Value};
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, opt_i64, req_str, strings_of, text_at};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{DocReader, Header, Report, doc};
use crate::store::inbox::activity::Activity;

#[derive(Debug)]
struct ReportRow {
    category: String,
    title: String,
    assignee: Option<String>,
    deadline: Option<i64>,
    /// What the timeline says for the inbox.
    activity: Activity,
}

impl Projects for Report {
    const TABLES: &'static [&'static str] = &["report_notified", "reports"];
    const AUDIENCE: &'static str =
        "SELECT doc, scope, created_by, assignee, NULL, NULL FROM reports";

    fn project<D: DocReader>(d: &D, id: DocId, _header: &Header) -> Result<Projected> {
        let title = req_str(d, &ROOT, "title", id)?;
        // The description, the address and every comment, one per line.
        let mut body = text_at(d, &ROOT, "description")?;
        if let Some((Value::Object(ObjType::Map), loc)) = d.get(&ROOT, "location")? {
            body.push('\n');
            body.push_str(&text_at(d, &loc, "address")?);
        }
        for comment in strings_of(d, "comments", Some("text"), id)? {
            body.push('\n');
            body.push_str(&comment);
        }
        let row = ReportRow {
            category: req_str(d, &ROOT, "category", id)?,
            title: title.clone(),
            assignee: doc::get_str(d, &ROOT, "assignee")?,
            deadline: opt_i64(d, "deadline")?,
            activity: Activity::of(d, id)?,
        };
        Ok(Projected { row: Box::new(row), title, body })
    }
}

impl KindRow for ReportRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let (h, a) = (c.header, &self.activity);
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM reports WHERE doc = ?1 AND status = ?2 AND category = ?3 \
                 AND title = ?4 AND assignee IS ?5 AND deadline IS ?6 AND conflicted = ?7 \
                 AND assigned_at IS ?8 AND supervisions = ?9 AND supervised_at IS ?10 \
                 AND escalations = ?11 AND escalated_at IS ?12",
            )?
            .exists(params![
                rowid,
                c.status,
                self.category,
                self.title,
                self.assignee,
                self.deadline,
                c.conflicted,
                a.assigned_at,
                a.supervisions,
                a.supervised_at,
                a.escalations,
                a.escalated_at
            ])?;
        if !same {
            conn.prepare_cached(
                "INSERT INTO reports (doc, scope, status, category, title, assignee, \
                 deadline, created_at, created_by, conflicted, assigned_at, \
                 supervisions, supervised_at, escalations, escalated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                 category = excluded.category, title = excluded.title, \
                 assignee = excluded.assignee, deadline = excluded.deadline, \
                 conflicted = excluded.conflicted, assigned_at = excluded.assigned_at, \
                 supervisions = excluded.supervisions, \
                 supervised_at = excluded.supervised_at, \
                 escalations = excluded.escalations, escalated_at = excluded.escalated_at",
            )?
            .execute(params![
                rowid,
                h.scope,
                c.status,
                self.category,
                self.title,
                self.assignee,
                self.deadline,
                h.created_at,
                h.created_by,
                c.conflicted,
                a.assigned_at,
                a.supervisions,
                a.supervised_at,
                a.escalations,
                a.escalated_at
            ])?;
        }
        a.write_notified(conn, rowid)
    }

    fn inbox(&self) -> Option<(Option<&str>, &Activity)> {
        Some((self.assignee.as_deref(), &self.activity))
    }
}
