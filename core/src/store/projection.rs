//! Query tables derived from documents: written in the same transaction as the document's bytes,
//! and rebuildable from the documents at any time.
//!
//! Values are read from the document with targeted gets rather than a full hydration, so the cost
//! of projecting does not grow with the length of a patrol's entry list.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use rusqlite::{Connection, OptionalExtension, params};

use super::inbox::InboxReason;
use super::inbox::activity::Activity;
use super::inbox::news::{self, Seen};
use super::search;

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::doc::{self, STATUS};
use crate::model::{Header, Kind, case, patrol, report};

/// The projected row(s) of one document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Projection {
    header: Header,
    status: String,
    conflicted: bool,
    body: KindRow,
    search_title: String,
    search_body: String,
}

#[derive(Debug, Clone, PartialEq)]
enum KindRow {
    Report {
        category: String,
        title: String,
        assignee: Option<String>,
        deadline: Option<i64>,
        /// What the timeline says for the inbox.
        activity: Activity,
    },
    Patrol {
        area: String,
        started_at: i64,
        ended_at: Option<i64>,
        members: Vec<String>,
        entries: i64,
    },
    Case {
        category: String,
        place: String,
        mediators: Vec<String>,
    },
}

fn req_str(d: &AutoCommit, obj: &ObjId, key: &str, id: DocId) -> Result<String> {
    doc::get_str(d, obj, key)?
        .ok_or_else(|| CoreError::malformed(id, format!("{key} is not a string")))
}

fn opt_i64(d: &AutoCommit, key: &str) -> Result<Option<i64>> {
    Ok(match d.get(ROOT, key)? {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(*t),
            _ => None,
        },
        _ => None,
    })
}

fn text_at(d: &AutoCommit, obj: &ObjId, key: &str) -> Result<String> {
    Ok(match d.get(obj, key)? {
        Some((Value::Object(ObjType::Text), t)) => d.text(&t)?,
        Some((Value::Scalar(v), _)) => v.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    })
}

/// Strings found at `field` of each map in the root list `list` (or the list's own strings).
fn strings_of(d: &AutoCommit, list: &str, field: Option<&str>, id: DocId) -> Result<Vec<String>> {
    let obj = doc::root_list(d, list, id)?;
    let mut out = Vec::new();
    for i in 0..d.length(&obj) {
        match (d.get(&obj, i)?, field) {
            (Some((Value::Object(ObjType::Map), item)), Some(f)) => {
                if let Some(s) = doc::get_str(d, &item, f)? {
                    out.push(s);
                }
            }
            (Some((Value::Scalar(v), _)), None) => {
                if let Some(s) = v.as_str() {
                    out.push(s.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn any_conflict(d: &AutoCommit, registers: &[&str]) -> Result<bool> {
    for r in registers {
        if d.get_all(ROOT, *r)?.len() > 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Projection {
    /// The kind of the projected record.
    pub(crate) fn kind(&self) -> Kind {
        self.header.kind
    }

    /// Reads the projected values of a document.
    pub(crate) fn of(d: &AutoCommit, id: DocId) -> Result<Projection> {
        let header = crate::model::checked_header(d, id)?;
        let status = req_str(d, &ROOT, STATUS, id)?;
        let (body, conflicted, search_title, search_body) = match header.kind {
            Kind::Report => {
                let title = req_str(d, &ROOT, "title", id)?;
                let row = KindRow::Report {
                    category: req_str(d, &ROOT, "category", id)?,
                    title: title.clone(),
                    assignee: doc::get_str(d, &ROOT, "assignee")?,
                    deadline: opt_i64(d, "deadline")?,
                    activity: Activity::of(d, id)?,
                };
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
                (row, any_conflict(d, report::REGISTERS)?, title, body)
            }
            Kind::PatrolLog => {
                let area = req_str(d, &ROOT, "area", id)?;
                let entries = doc::root_list(d, "entries", id)?;
                let row = KindRow::Patrol {
                    area: area.clone(),
                    started_at: opt_i64(d, "started_at")?.unwrap_or(header.created_at.as_millis()),
                    ended_at: opt_i64(d, "ended_at")?,
                    members: strings_of(d, "members", Some("user"), id)?,
                    entries: d.length(&entries) as i64,
                };
                let body = strings_of(d, "entries", Some("text"), id)?.join("\n");
                (row, any_conflict(d, patrol::REGISTERS)?, area, body)
            }
            Kind::MediationCase => {
                let place = req_str(d, &ROOT, "place", id)?;
                let parties = strings_of(d, "parties", Some("name"), id)?;
                let sessions = doc::root_list(d, "sessions", id)?;
                let mut body = String::new();
                for i in 0..d.length(&sessions) {
                    if let Some((Value::Object(ObjType::Map), s)) = d.get(&sessions, i)? {
                        body.push_str(&text_at(d, &s, "notes")?);
                        body.push('\n');
                    }
                }
                body.push_str(&text_at(d, &ROOT, "agreement")?);
                let row = KindRow::Case {
                    category: req_str(d, &ROOT, "category", id)?,
                    place: place.clone(),
                    mediators: strings_of(d, "mediators", None, id)?,
                };
                let title = format!("{place} {}", parties.join(" "));
                (row, any_conflict(d, case::REGISTERS)?, title, body)
            }
        };
        // Indexed as searched: NFKC (full-width forms as half-width ones).
        let (search_title, search_body) = (search::fold(&search_title), search::fold(&search_body));
        Ok(Projection { header, status, conflicted, body, search_title, search_body })
    }

    /// What writing this projection over the stored rows of document `rowid` brings into the
    /// inbox of `me` (see [`news::news`]); call it before [`Projection::write`].
    pub(crate) fn inbox_news(
        &self,
        conn: &Connection,
        rowid: Option<i64>,
        me: &str,
    ) -> Result<Vec<InboxReason>> {
        let KindRow::Report { assignee, activity, .. } = &self.body else { return Ok(Vec::new()) };
        let before = match rowid {
            Some(rowid) => Seen::stored(conn, rowid, me)?,
            None => None,
        };
        let after = Seen::projected(assignee.as_deref(), &self.status, activity, me);
        let created_at = self.header.created_at.as_millis();
        Ok(news::news(before.as_ref(), &after, activity, created_at, me))
    }

    /// Writes the rows of document `rowid`, leaving rows that already hold these values alone
    /// (most edits, a comment say, change no projected value, and rewriting a row touches every
    /// index on it and re-tokenises the search text).
    pub(crate) fn write(&self, conn: &Connection, rowid: i64) -> Result<()> {
        let h = &self.header;
        match &self.body {
            KindRow::Report { category, title, assignee, deadline, activity: a } => {
                let same = conn
                    .prepare_cached(
                        "SELECT 1 FROM reports WHERE doc = ?1 AND status = ?2 AND category = ?3 \
                         AND title = ?4 AND assignee IS ?5 AND deadline IS ?6 AND conflicted = ?7 \
                         AND assigned_at IS ?8 AND supervisions = ?9 AND supervised_at IS ?10 \
                         AND escalations = ?11 AND escalated_at IS ?12",
                    )?
                    .exists(params![
                        rowid,
                        self.status,
                        category,
                        title,
                        assignee,
                        deadline,
                        self.conflicted,
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
                        self.status,
                        category,
                        title,
                        assignee,
                        deadline,
                        h.created_at,
                        h.created_by,
                        self.conflicted,
                        a.assigned_at,
                        a.supervisions,
                        a.supervised_at,
                        a.escalations,
                        a.escalated_at
                    ])?;
                }
                a.write_notified(conn, rowid)?;
            }
            KindRow::Patrol { area, started_at, ended_at, members, entries } => {
                let same = conn
                    .prepare_cached(
                        "SELECT 1 FROM patrols WHERE doc = ?1 AND status = ?2 AND ended_at IS ?3 \
                         AND entry_count = ?4 AND conflicted = ?5",
                    )?
                    .exists(params![rowid, self.status, ended_at, entries, self.conflicted])?;
                if !same {
                    conn.prepare_cached(
                        "INSERT INTO patrols (doc, scope, area, status, started_at, ended_at, \
                         created_by, entry_count, conflicted) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                         ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                         ended_at = excluded.ended_at, entry_count = excluded.entry_count, \
                         conflicted = excluded.conflicted",
                    )?
                    .execute(params![
                        rowid,
                        h.scope,
                        area,
                        self.status,
                        started_at,
                        ended_at,
                        h.created_by,
                        entries,
                        self.conflicted
                    ])?;
                }
                replace_users(conn, "patrol_members", rowid, members)?;
            }
            KindRow::Case { category, place, mediators } => {
                let same = conn
                    .prepare_cached(
                        "SELECT 1 FROM cases WHERE doc = ?1 AND status = ?2 AND conflicted = ?3",
                    )?
                    .exists(params![rowid, self.status, self.conflicted])?;
                if !same {
                    conn.prepare_cached(
                        "INSERT INTO cases (doc, scope, status, category, place, created_at, \
                         created_by, conflicted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                         ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                         conflicted = excluded.conflicted",
                    )?
                    .execute(params![
                        rowid,
                        h.scope,
                        self.status,
                        category,
                        place,
                        h.created_at,
                        h.created_by,
                        self.conflicted
                    ])?;
                }
                replace_users(conn, "case_mediators", rowid, mediators)?;
            }
        }
        let stored: Option<(String, String)> = conn
            .prepare_cached("SELECT title, body FROM search WHERE rowid = ?1")?
            .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if stored.as_ref().map(|(t, b)| (t.as_str(), b.as_str()))
            != Some((self.search_title.as_str(), self.search_body.as_str()))
        {
            if stored.is_some() {
                conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?.execute([rowid])?;
            }
            conn.prepare_cached("INSERT INTO search (rowid, title, body) VALUES (?1, ?2, ?3)")?
                .execute(params![rowid, self.search_title, self.search_body])?;
        }
        Ok(())
    }
}

fn replace_users(conn: &Connection, table: &str, rowid: i64, users: &[String]) -> Result<()> {
    let mut wanted: Vec<&str> = users.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let stored: Vec<String> = conn
        .prepare_cached(&format!("SELECT user FROM {table} WHERE doc = ?1 ORDER BY user"))?
        .query_map([rowid], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if stored.iter().map(String::as_str).eq(wanted.iter().copied()) {
        return Ok(());
    }
    conn.prepare_cached(&format!("DELETE FROM {table} WHERE doc = ?1"))?.execute([rowid])?;
    let mut insert =
        conn.prepare_cached(&format!("INSERT INTO {table} (user, doc) VALUES (?1, ?2)"))?;
    for u in wanted {
        insert.execute(params![u, rowid])?;
    }
    Ok(())
}

/// Removes every projected row of document `rowid` (before a rebuild or a deletion).
pub(crate) fn delete(conn: &Connection, rowid: i64) -> Result<()> {
    for sql in [
        "DELETE FROM report_notified WHERE doc = ?1",
        "DELETE FROM reports WHERE doc = ?1",
        "DELETE FROM patrols WHERE doc = ?1",
        "DELETE FROM cases WHERE doc = ?1",
        "DELETE FROM search WHERE rowid = ?1",
    ] {
        conn.prepare_cached(sql)?.execute([rowid])?;
    }
    Ok(())
}
