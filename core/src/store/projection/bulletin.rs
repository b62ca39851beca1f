//! A bulletin's rows: `bulletins`, and who acknowledged it in `doc_users`; searched by its title
//! and text.

use automerge::ROOT;
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, opt_i64, replace_users, req_str, strings_of};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::{Bulletin, DocReader, Header};

#[derive(Debug)]
struct BulletinRow {
    severity: String,
    audience: Vec<String>,
    title: String,
    valid_until: i64,
    acknowledged: Vec<String>,
}

impl Projects for Bulletin {
    const TABLES: &'static [&'static str] = &["bulletins"];
    const AUDIENCE: &'static str =
        "SELECT doc, scope, created_by, NULL, audience, valid_until FROM bulletins";

    fn project<D: DocReader>(d: &D, id: DocId, _header: &Header) -> Result<Projected> {
        let title = req_str(d, &ROOT, "title", id)?;
        let body = req_str(d, &ROOT, "text", id)?;
        let valid_until = opt_i64(d, "valid_until")?
            .ok_or_else(|| CoreError::malformed(id, "valid_until is not a time"))?;
        let row = BulletinRow {
            severity: req_str(d, &ROOT, "severity", id)?,
            audience: strings_of(d, "audience", None, id)?,
            title: title.clone(),
            valid_until,
            acknowledged: strings_of(d, "acknowledgements", Some("by"), id)?,
        };
        Ok(Projected { row: Box::new(row), title, body })
    }
}

impl KindRow for BulletinRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let h = c.header;
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM bulletins WHERE doc = ?1 AND status = ?2 AND conflicted = ?3",
            )?
            .exists(params![rowid, c.status, c.conflicted])?;
        if !same {
            conn.prepare_cached(
                "INSERT INTO bulletins (doc, scope, status, severity, audience, title, \
                 valid_until, created_at, created_by, conflicted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                 conflicted = excluded.conflicted",
            )?
            .execute(params![
                rowid,
                h.scope,
                c.status,
                self.severity,
                self.audience.join("\n"),
                self.title,
                self.valid_until,
                h.created_at,
                h.created_by,
                c.conflicted
            ])?;
        }
        replace_users(conn, "bulletin_ack", rowid, &self.acknowledged)
    }
}
