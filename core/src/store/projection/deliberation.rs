//! A deliberation's rows: `deliberations` (its status, how much was said, its next meeting) and
//! its attendees in `doc_users` (who attended one of its meetings); searched by its topic,
//! background, options, comments, minutes and decision.

use automerge::{ObjType, ROOT, ScalarValue, Value};
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, replace_users, req_str, text_at};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{Deliberation, DocReader, Header, doc};

#[derive(Debug)]
struct DeliberationRow {
    topic: String,
    comments: i64,
    meetings: i64,
    next_meeting_at: Option<i64>,
    attendees: Vec<String>,
}

/// The strings at `field` of each map in the root list `list`, each on a line of `out`.
fn lines_of<D: DocReader>(
    d: &D,
    list: &str,
    field: &str,
    id: DocId,
    out: &mut String,
) -> Result<()> {
    let obj = doc::root_list(d, list, id)?;
    for i in 0..d.length(&obj) {
        if let Some((Value::Object(ObjType::Map), item)) = d.get(&obj, i)? {
            out.push_str(&text_at(d, &item, field)?);
            out.push('\n');
        }
    }
    Ok(())
}

impl Projects for Deliberation {
    const TABLES: &'static [&'static str] = &["deliberations"];
    const AUDIENCE: &'static str = "SELECT l.doc, l.scope, l.created_by, \
         (SELECT group_concat(user, char(10)) FROM doc_users a \
          WHERE a.doc = l.doc AND a.role = 'deliberation_attendee'), \
         NULL, NULL FROM deliberations l";

    fn project<D: DocReader>(d: &D, id: DocId, _header: &Header) -> Result<Projected> {
        let topic = req_str(d, &ROOT, "topic", id)?;
        let mut body = text_at(d, &ROOT, "background")?;
        body.push('\n');
        lines_of(d, "options", "text", id, &mut body)?;
        lines_of(d, "comments", "text", id, &mut body)?;
        lines_of(d, "meetings", "minutes", id, &mut body)?;
        if let Some((Value::Object(ObjType::Map), decision)) = d.get(&ROOT, "decision")? {
            body.push_str(&text_at(d, &decision, "text")?);
        }
        let comments = doc::root_list(d, "comments", id)?;
        let meetings = doc::root_list(d, "meetings", id)?;
        let mut next_meeting_at: Option<i64> = None;
        let mut attendees = Vec::new();
        for i in 0..d.length(&meetings) {
            let Some((Value::Object(ObjType::Map), m)) = d.get(&meetings, i)? else { continue };
            let held = matches!(d.get(&m, "held")?, Some((v, _)) if v.as_bool() == Some(true));
            let at = match d.get(&m, "at")? {
                Some((Value::Scalar(v), _)) => match v.as_ref() {
                    ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(*t),
                    _ => None,
                },
                _ => None,
            };
            if let (false, Some(at)) = (held, at) {
                next_meeting_at = Some(next_meeting_at.map_or(at, |n| n.min(at)));
            }
            if let Some((Value::Object(ObjType::List), list)) = d.get(&m, "attendees")? {
                for j in 0..d.length(&list) {
                    if let Some((Value::Scalar(v), _)) = d.get(&list, j)?
                        && let Some(s) = v.as_str()
                    {
                        attendees.push(s.to_string());
                    }
                }
            }
        }
        let row = DeliberationRow {
            topic: topic.clone(),
            comments: d.length(&comments) as i64,
            meetings: d.length(&meetings) as i64,
            next_meeting_at,
            attendees,
        };
        Ok(Projected { row: Box::new(row), title: topic, body })
    }
}

impl KindRow for DeliberationRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let h = c.header;
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM deliberations WHERE doc = ?1 AND status = ?2 AND conflicted = ?3 \
                 AND comments = ?4 AND meetings = ?5 AND next_meeting_at IS ?6",
            )?
            .exists(params![
                rowid,
                c.status,
                c.conflicted,
                self.comments,
                self.meetings,
                self.next_meeting_at
            ])?;
        if !same {
            conn.prepare_cached(
                "INSERT INTO deliberations (doc, scope, status, topic, created_at, created_by, \
                 comments, meetings, next_meeting_at, conflicted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                 comments = excluded.comments, meetings = excluded.meetings, \
                 next_meeting_at = excluded.next_meeting_at, conflicted = excluded.conflicted",
            )?
            .execute(params![
                rowid,
                h.scope,
                c.status,
                self.topic,
                h.created_at,
                h.created_by,
                self.comments,
                self.meetings,
                self.next_meeting_at,
                c.conflicted
            ])?;
        }
        replace_users(conn, "deliberation_attendee", rowid, &self.attendees)
    }
}
