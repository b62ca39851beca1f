//! A patrol log's rows: `patrols` and its members in `doc_users`; searched by its area and entries.

use automerge::ROOT;
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, opt_i64, replace_users, req_str, strings_of};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{DocReader, Header, PatrolLog, doc};

#[derive(Debug)]
struct PatrolRow {
    area: String,
    started_at: i64,
    ended_at: Option<i64>,
    members: Vec<String>,
    entries: i64,
}

impl Projects for PatrolLog {
    const TABLES: &'static [&'static str] = &["patrols"];
    const AUDIENCE: &'static str = "SELECT p.doc, p.scope, p.created_by, \
         (SELECT group_concat(user, char(10)) FROM doc_users m \
          WHERE m.doc = p.doc AND m.role = 'patrol_member'), \
         NULL, NULL FROM patrols p";

    fn project<D: DocReader>(d: &D, id: DocId, header: &Header) -> Result<Projected> {
        let area = req_str(d, &ROOT, "area", id)?;
        let entries = doc::root_list(d, "entries", id)?;
        let body = strings_of(d, "entries", Some("text"), id)?.join("\n");
        let row = PatrolRow {
            area: area.clone(),
            started_at: opt_i64(d, "started_at")?.unwrap_or(header.created_at.as_millis()),
            ended_at: opt_i64(d, "ended_at")?,
            members: strings_of(d, "members", Some("user"), id)?,
            entries: d.length(&entries) as i64,
        };
        Ok(Projected { row: Box::new(row), title: area, body })
    }
}

impl KindRow for PatrolRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let h = c.header;
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM patrols WHERE doc = ?1 AND status = ?2 AND ended_at IS ?3 \
                 AND entry_count = ?4 AND conflicted = ?5",
            )?
            .exists(params![rowid, c.status, self.ended_at, self.entries, c.conflicted])?;
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
                self.area,
                c.status,
                self.started_at,
                self.ended_at,
                h.created_by,
                self.entries,
                c.conflicted
            ])?;
        }
        replace_users(conn, "patrol_member", rowid, &self.members)
    }
}
