//! Query tables derived from documents: written in the same transaction as the document's bytes,
//! and rebuildable from the documents at any time.
//!
//! Values are read from the document with targeted gets rather than a full hydration, so the cost
//! of projecting does not grow with the length of a patrol's entry list; the gets go through a
//! [`ReadOnce`] view, which reads each map and list it is asked about in one pass (a get of its
//! own costs Automerge a seek through the object's ops: a report's projection asks for some
//! forty values).

mod bulletin;
mod case;
mod deliberation;
mod patrol;
mod report;
mod visit;

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ScalarValue, Value};
use rusqlite::{Connection, OptionalExtension, params};

use super::inbox::InboxReason;
use super::inbox::activity::Activity;
use super::inbox::news::{self, Seen};
use super::search;

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::doc::{self, STATUS};
use crate::model::{DocReader, Header, Kind, KindSpec, ReadOnce, on_kind};

/// What a kind projects: implemented by each kind's typed record, in the module of this one
/// named after the kind, beside the SQL of its tables.
pub(crate) trait Projects: KindSpec {
    /// The tables that hold the kind's rows by `doc` (emptied of a document's rows before a
    /// rebuild or a deletion, in this order; tables below them go with them by cascade).
    const TABLES: &'static [&'static str];

    /// Who may read each stored record of the kind, from its rows: a query answering, per
    /// document, `doc` (its rowid), `scope`, `created_by`, the people it names and who it is
    /// addressed to (each one a line, or null), and the end of its validity (or null); what a
    /// phone handed to another user keeps is judged by it (`store::handover`).
    const AUDIENCE: &'static str;

    /// Reads the kind's projected values from the document (targeted gets, no hydration).
    fn project<D: DocReader>(d: &D, id: DocId, header: &Header) -> Result<Projected>;
}

/// What one kind projects of a document: its row, and the text searched for it.
pub(crate) struct Projected {
    row: Box<dyn KindRow>,
    title: String,
    body: String,
}

/// The kind's own row of a document, written beside the values every kind has.
pub(crate) trait KindRow: std::fmt::Debug + Send {
    /// Writes the row of document `rowid`, leaving a row that holds these values already alone.
    fn write(&self, conn: &Connection, rowid: i64, common: &Common<'_>) -> Result<()>;

    /// Who the record is assigned to and what its timeline says for the inbox, for a kind
    /// that has an inbox (reports).
    fn inbox(&self) -> Option<(Option<&str>, &Activity)> {
        None
    }
}

/// What every kind's row holds besides its own values.
pub(crate) struct Common<'a> {
    header: &'a Header,
    status: &'a str,
    conflicted: bool,
}

/// The projected row(s) of one document.
#[derive(Debug)]
pub(crate) struct Projection {
    header: Header,
    status: String,
    conflicted: bool,
    body: Box<dyn KindRow>,
    search_title: String,
    search_body: String,
}

/// The string at `key` of `obj`, which the kind's layout requires.
pub(super) fn req_str<D: DocReader>(d: &D, obj: &ObjId, key: &str, id: DocId) -> Result<String> {
    doc::get_str(d, obj, key)?
        .ok_or_else(|| CoreError::malformed(id, format!("{key} is not a string")))
}

/// A time or integer at a root key, if there is one.
pub(super) fn opt_i64<D: DocReader>(d: &D, key: &str) -> Result<Option<i64>> {
    Ok(match d.get(&ROOT, key)? {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(*t),
            _ => None,
        },
        _ => None,
    })
}

/// The Text (or string) at `key` of `obj`; empty when there is none.
pub(super) fn text_at<D: DocReader>(d: &D, obj: &ObjId, key: &str) -> Result<String> {
    Ok(match d.get(obj, key)? {
        Some((Value::Object(ObjType::Text), t)) => d.text(&t)?,
        Some((Value::Scalar(v), _)) => v.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    })
}

/// Strings found at `field` of each map in the root list `list` (or the list's own strings).
pub(super) fn strings_of<D: DocReader>(
    d: &D,
    list: &str,
    field: Option<&str>,
    id: DocId,
) -> Result<Vec<String>> {
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

fn any_conflict<D: DocReader>(d: &D, registers: &[&str]) -> bool {
    registers.iter().any(|r| d.root_conflict(r))
}

impl Projection {
    /// The kind of the projected record.
    pub(crate) fn kind(&self) -> Kind {
        self.header.kind
    }

    /// Reads the projected values of a document.
    pub(crate) fn of(d: &AutoCommit, id: DocId) -> Result<Projection> {
        Projection::read(&ReadOnce::new(d), id)
    }

    /// Reads the projected values of a document through `d`: a view of it (which other reads
    /// of the same document, its photo references say, can share), or the document itself.
    pub(crate) fn read<D: DocReader>(d: &D, id: DocId) -> Result<Projection> {
        let header = crate::model::checked_header(d, id)?;
        let status = req_str(d, &ROOT, STATUS, id)?;
        let Projected { row, title, body } =
            on_kind!(header.kind, K => K::project(d, id, &header))?;
        let conflicted = any_conflict(d, header.kind.registers());
        // Indexed as searched: NFKC (full-width forms as half-width ones).
        let (search_title, search_body) = (search::fold(&title), search::fold(&body));
        Ok(Projection { header, status, conflicted, body: row, search_title, search_body })
    }

    /// What writing this projection over the stored rows of document `rowid` brings into the
    /// inbox of `me` (see [`news::news`]); call it before [`Projection::write`].
    pub(crate) fn inbox_news(
        &self,
        conn: &Connection,
        rowid: Option<i64>,
        me: &str,
    ) -> Result<Vec<InboxReason>> {
        let Some((assignee, activity)) = self.body.inbox() else { return Ok(Vec::new()) };
        let before = match rowid {
            Some(rowid) => Seen::stored(conn, rowid, me)?,
            None => None,
        };
        let after = Seen::projected(assignee, &self.status, activity, me);
        let created_at = self.header.created_at.as_millis();
        Ok(news::news(before.as_ref(), &after, activity, created_at, me))
    }

    /// Writes the rows of document `rowid`, leaving rows that already hold these values alone
    /// (most edits, a comment say, change no projected value, and rewriting a row touches every
    /// index on it and re-tokenises the search text).
    pub(crate) fn write(&self, conn: &Connection, rowid: i64) -> Result<()> {
        let common =
            Common { header: &self.header, status: &self.status, conflicted: self.conflicted };
        self.body.write(conn, rowid, &common)?;
        let stored: Option<(String, String)> = conn
            .prepare_cached("SELECT title, body FROM search WHERE rowid = ?1")?
            .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if stored.as_ref().map(|(t, b)| (t.as_str(), b.as_str()))
            != Some((self.search_title.as_str(), self.search_body.as_str()))
        {
            if stored.is_some() {
                // Not counted apart: a replaced row is one row of merge work.
                conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?.execute([rowid])?;
            }
            conn.prepare_cached("INSERT INTO search (rowid, title, body) VALUES (?1, ?2, ?3)")?
                .execute(params![rowid, self.search_title, self.search_body])?;
            search::note_written(1);
        }
        Ok(())
    }
}

/// Makes `doc_users` hold exactly `users` in `role` for document `rowid` (a row per user). The
/// roles: `patrol_member`, `case_mediator`, `bulletin_ack`, `visit_member` and
/// `deliberation_attendee`, as the queries of each kind name them.
pub(super) fn replace_users(
    conn: &Connection,
    role: &str,
    rowid: i64,
    users: &[String],
) -> Result<()> {
    let mut wanted: Vec<&str> = users.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let stored: Vec<String> = conn
        .prepare_cached("SELECT user FROM doc_users WHERE doc = ?1 AND role = ?2 ORDER BY user")?
        .query_map(params![rowid, role], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if stored.iter().map(String::as_str).eq(wanted.iter().copied()) {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM doc_users WHERE doc = ?1 AND role = ?2")?
        .execute(params![rowid, role])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO doc_users (role, user, doc) VALUES (?1, ?2, ?3)")?;
    for u in wanted {
        insert.execute(params![role, u, rowid])?;
    }
    Ok(())
}

/// Removes every projected row of document `rowid` (before a rebuild or a deletion).
pub(crate) fn delete(conn: &Connection, rowid: i64) -> Result<()> {
    for &kind in Kind::ALL {
        for table in on_kind!(kind, K => K::TABLES) {
            conn.prepare_cached(&format!("DELETE FROM {table} WHERE doc = ?1"))?
                .execute([rowid])?;
        }
    }
    conn.prepare_cached("DELETE FROM doc_users WHERE doc = ?1")?.execute([rowid])?;
    search::remove(conn, rowid)?;
    Ok(())
}

#[cfg(test)]
mod tests;
