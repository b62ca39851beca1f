//! A mediation case's rows: `cases`, and its mediators in `doc_users`; searched by its place,
//! parties, session notes and agreement.

use automerge::{ObjType, ROOT, Value};
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, replace_users, req_str, strings_of, text_at};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{DocReader, Header, MediationCase, doc};

#[derive(Debug)]
struct CaseRow {
    category: String,
    place: String,
    mediators: Vec<String>,
}

impl Projects for MediationCase {
    const TABLES: &'static [&'static str] = &["cases"];
    const AUDIENCE: &'static str = "SELECT c.doc, c.scope, c.created_by, \
         (SELECT group_concat(user, char(10)) FROM doc_users m \
          WHERE m.doc = c.doc AND m.role = 'case_mediator'), \
         NULL, NULL FROM cases c";

    fn project<D: DocReader>(d: &D, id: DocId, _header: &Header) -> Result<Projected> {
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
        let title = format!("{place} {}", parties.join(" "));
        let row = CaseRow {
            category: req_str(d, &ROOT, "category", id)?,
            place,
            mediators: strings_of(d, "mediators", None, id)?,
        };
        Ok(Projected { row: Box::new(row), title, body })
    }
}

impl KindRow for CaseRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let h = c.header;
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM cases WHERE doc = ?1 AND status = ?2 AND conflicted = ?3",
            )?
            .exists(params![rowid, c.status, c.conflicted])?;
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
                c.status,
                self.category,
                self.place,
                h.created_at,
                h.created_by,
                c.conflicted
            ])?;
        }
        replace_users(conn, "case_mediator", rowid, &self.mediators)
    }
}
