//! A business visit's rows: `visits`, and its visitors in `doc_users`; searched by its business,
//! findings, notes and follow-up. What `Store::overdue_businesses` reads.

use std::collections::HashMap;

use automerge::{ObjType, ROOT, ScalarValue, Value};
use rusqlite::{Connection, params};

use super::{Common, KindRow, Projected, Projects, opt_i64, replace_users, req_str, strings_of};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{CheckOutcome, DocReader, Header, Visit, doc};

#[derive(Debug)]
struct VisitRow {
    business: String,
    failed: i64,
    findings: i64,
    follow_up_deadline: Option<i64>,
    visitors: Vec<String>,
}

/// How many checklist items' results, as they stand (the latest of each item), are failures.
fn failed<D: DocReader>(d: &D, id: DocId) -> Result<i64> {
    let list = doc::root_list(d, "results", id)?;
    // Per item: when its standing result was recorded, and whether it is a failure.
    let mut latest: HashMap<String, (i64, bool)> = HashMap::new();
    for i in 0..d.length(&list) {
        let Some((Value::Object(ObjType::Map), m)) = d.get(&list, i)? else { continue };
        let (Some(item), Some(result)) =
            (doc::get_str(d, &m, "item")?, doc::get_str(d, &m, "result")?)
        else {
            continue;
        };
        let at = match d.get(&m, "at")? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Timestamp(t) => *t,
                _ => 0,
            },
            _ => 0,
        };
        let fail = result == CheckOutcome::Fail.as_str();
        let slot = latest.entry(item).or_insert((at, fail));
        if at >= slot.0 {
            *slot = (at, fail);
        }
    }
    Ok(latest.values().filter(|(_, f)| *f).count() as i64)
}

impl Projects for Visit {
    const TABLES: &'static [&'static str] = &["visits"];
    const AUDIENCE: &'static str = "SELECT v.doc, v.scope, v.created_by, \
         (SELECT group_concat(user, char(10)) FROM doc_users m \
          WHERE m.doc = v.doc AND m.role = 'visit_member'), \
         NULL, NULL FROM visits v";

    fn project<D: DocReader>(d: &D, id: DocId, _header: &Header) -> Result<Projected> {
        let business = req_str(d, &ROOT, "business", id)?;
        let findings = strings_of(d, "findings", Some("text"), id)?;
        let notes = strings_of(d, "results", Some("note"), id)?;
        let follow_up = req_str(d, &ROOT, "follow_up", id)?;
        let mut body: Vec<String> = findings.clone();
        body.extend(notes.into_iter().filter(|n| !n.is_empty()));
        if !follow_up.is_empty() {
            body.push(follow_up);
        }
        let row = VisitRow {
            business: business.clone(),
            failed: failed(d, id)?,
            findings: findings.len() as i64,
            follow_up_deadline: opt_i64(d, "follow_up_deadline")?,
            visitors: strings_of(d, "visitors", None, id)?,
        };
        Ok(Projected { row: Box::new(row), title: business, body: body.join("\n") })
    }
}

impl KindRow for VisitRow {
    fn write(&self, conn: &Connection, rowid: i64, c: &Common<'_>) -> Result<()> {
        let h = c.header;
        let same = conn
            .prepare_cached(
                "SELECT 1 FROM visits WHERE doc = ?1 AND status = ?2 AND failed = ?3 \
                 AND findings = ?4 AND follow_up_deadline IS ?5 AND conflicted = ?6",
            )?
            .exists(params![
                rowid,
                c.status,
                self.failed,
                self.findings,
                self.follow_up_deadline,
                c.conflicted
            ])?;
        if !same {
            conn.prepare_cached(
                "INSERT INTO visits (doc, scope, business, status, created_at, created_by, \
                 failed, findings, follow_up_deadline, conflicted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (doc) DO UPDATE SET status = excluded.status, \
                 failed = excluded.failed, findings = excluded.findings, \
                 follow_up_deadline = excluded.follow_up_deadline, \
                 conflicted = excluded.conflicted",
            )?
            .execute(params![
                rowid,
                h.scope,
                self.business,
                c.status,
                h.created_at,
                h.created_by,
                self.failed,
                self.findings,
                self.follow_up_deadline,
                c.conflicted
            ])?;
        }
        replace_users(conn, "visit_member", rowid, &self.visitors)
    }
}
