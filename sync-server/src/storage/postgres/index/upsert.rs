//! Writing a record's index row: the values of each kind's columns (as SQLite's), and an
//! upsert that updates only the columns that changed (a changed column rewrites its indexes'
//! entries; an unchanged one, under PostgreSQL's heap-only updates, may rewrite none).

use bytes::BytesMut;
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::super::db::{Params, Tx, execute, query_opt};
use crate::storage::index::{IndexRow, fold};
use crate::storage::{StorageError, StorageResult};

/// A column's value, of one of the types the index tables hold.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
}

impl Value {
    /// The value of the same type in column `i` of `r`.
    fn read_like(&self, r: &Row, i: usize) -> StorageResult<Value> {
        Ok(match self {
            Value::Int(_) => Value::Int(r.try_get(i)?),
            Value::Real(_) => Value::Real(r.try_get(i)?),
            Value::Text(_) => Value::Text(r.try_get(i)?),
            Value::Bytes(_) => Value::Bytes(r.try_get(i)?),
        })
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Int(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::FLOAT8, Type::TEXT, Type::BYTEA].contains(ty)
    }

    to_sql_checked!();
}

/// Writes `row` for the document at `pos` in `docs`, with `seq`, replacing what was there:
/// a row already there is compared column by column and only the columns that changed are
/// updated (the report table has fourteen indexes, and a comment changes a few columns).
pub(crate) async fn upsert(tx: &Tx<'_>, pos: i64, seq: i64, row: &IndexRow) -> StorageResult<()> {
    let (table, new) = columns(seq, row)?;
    let names: Vec<&str> = new.iter().map(|(name, _)| *name).collect();
    let sql = format!("SELECT {} FROM {table} WHERE doc = $1", names.join(", "));
    let old: Option<Vec<Value>> = match query_opt(tx, &sql, &[&pos]).await? {
        Some(r) => Some(
            new.iter()
                .enumerate()
                .map(|(i, (_, v))| v.read_like(&r, i))
                .collect::<StorageResult<_>>()?,
        ),
        None => None,
    };
    let (sql, values): (String, Vec<Value>) = match old {
        None => {
            let marks: Vec<String> = (2..names.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} (doc, {}) VALUES ($1, {})",
                names.join(", "),
                marks.join(", ")
            );
            (sql, new.into_iter().map(|c| c.1).collect())
        }
        Some(old) => {
            let changed: Vec<(&str, Value)> =
                new.into_iter().zip(old).filter(|((_, n), o)| n != o).map(|(c, _)| c).collect();
            if changed.is_empty() {
                return Ok(());
            }
            let set: Vec<String> = changed
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{name} = ${}", i + 2))
                .collect();
            let sql = format!("UPDATE {table} SET {} WHERE doc = $1", set.join(", "));
            (sql, changed.into_iter().map(|c| c.1).collect())
        }
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(values.len() + 1);
    params.push(&pos);
    params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let params: &Params<'_> = &params;
    execute(tx, &sql, params).await?;
    Ok(())
}

/// The table of `row` and its columns after `doc`, each with the value to store.
fn columns(seq: i64, row: &IndexRow) -> StorageResult<(&'static str, Vec<(&'static str, Value)>)> {
    let head = |doc: &fieldsync_core::DocId, scope: &str| {
        vec![
            ("seq", Value::Int(Some(seq))),
            ("doc_id", Value::Bytes(doc.as_bytes().to_vec())),
            ("scope", text(scope)),
            ("scope_key", Value::Text(Some(format!("{scope}/")))),
        ]
    };
    Ok(match row {
        IndexRow::Report(r) => {
            let mut c = head(&r.doc, &r.scope);
            c.extend([
                ("status", text(r.status.as_str())),
                ("category", text(r.category.as_str())),
                ("title", text(&r.title)),
                ("description", text(&r.description)),
                ("search", Value::Text(Some(fold(&format!("{}\n{}", r.title, r.description))))),
                ("created_by", text(&r.created_by)),
                ("assignee", opt_text(r.assignee.as_deref())),
                ("created_at", Value::Int(Some(r.created_at))),
                ("submitted_at", int(r.submitted_at)),
                ("accepted_at", int(r.accepted_at)),
                ("dispatched_at", int(r.dispatched_at)),
                ("resolved_at", int(r.resolved_at)),
                ("confirmed_at", int(r.confirmed_at)),
                ("rejected_at", int(r.rejected_at)),
                ("deadline", int(r.deadline)),
                ("deadline_key", Value::Int(Some(r.deadline.unwrap_or(i64::MAX)))),
                ("priority", Value::Int(Some(r.priority.rank()))),
                ("lat", Value::Real(r.lat)),
                ("lon", Value::Real(r.lon)),
                ("address", opt_text(r.address.as_deref())),
                ("points", Value::Int(Some(r.points))),
                ("supervisions", Value::Int(Some(r.supervisions.into()))),
                ("reopens", Value::Int(Some(r.reopens.into()))),
                ("escalated_accept", Value::Int(Some(r.escalated_accept.into()))),
                ("escalated_resolve", Value::Int(Some(r.escalated_resolve.into()))),
                ("accept_due", Value::Int(Some(r.accept_due))),
                ("resolve_due", Value::Int(Some(r.resolve_due))),
                ("photos", Value::Int(Some(r.photos.into()))),
                ("comments", Value::Int(Some(r.comments.into()))),
                ("updated_at", Value::Int(Some(r.updated_at))),
            ]);
            ("report_index", c)
        }
        IndexRow::PatrolLog(p) => {
            let mut c = head(&p.doc, &p.scope);
            c.extend([
                ("area", text(&p.area)),
                ("members", Value::Text(Some(lines(&p.members)?))),
                ("status", text(p.status.as_str())),
                ("entries", Value::Int(Some(p.entries.into()))),
                ("checkpoints_reached", Value::Int(Some(p.checkpoints_reached.into()))),
                ("checkpoints_planned", Value::Int(Some(p.checkpoints_planned.into()))),
                ("started_at", Value::Int(Some(p.started_at))),
                ("ended_at", int(p.ended_at)),
                ("updated_at", Value::Int(Some(p.updated_at))),
            ]);
            ("patrol_index", c)
        }
        IndexRow::MediationCase(c) => {
            let mut cols = head(&c.doc, &c.scope);
            cols.extend([
                ("status", text(c.status.as_str())),
                ("category", text(c.category.as_str())),
                ("mediators", Value::Text(Some(lines(&c.mediators)?))),
                ("sessions", Value::Int(Some(c.sessions.into()))),
                ("outcome", text(c.outcome.as_str())),
                ("opened_at", Value::Int(Some(c.opened_at))),
                ("closed_at", int(c.closed_at)),
                ("updated_at", Value::Int(Some(c.updated_at))),
            ]);
            ("case_index", cols)
        }
        IndexRow::Bulletin(b) => {
            let mut c = head(&b.doc, &b.scope);
            let audience: Vec<String> = b.audience.iter().map(|a| a.to_string()).collect();
            c.extend([
                ("status", text(b.status.as_str())),
                ("severity", text(b.severity.as_str())),
                ("audience", Value::Text(Some(audience.join("\n")))),
                ("title", text(&b.title)),
                ("created_by", text(&b.created_by)),
                ("created_at", Value::Int(Some(b.created_at))),
                ("valid_until", Value::Int(Some(b.valid_until))),
                ("acknowledged", Value::Text(Some(lines(&b.acknowledged)?))),
                ("updated_at", Value::Int(Some(b.updated_at))),
            ]);
            ("bulletin_index", c)
        }
        IndexRow::Visit(v) => {
            let mut c = head(&v.doc, &v.scope);
            c.extend([
                ("business", text(&v.business)),
                ("status", text(v.status.as_str())),
                ("visitors", Value::Text(Some(lines(&v.visitors)?))),
                ("created_by", text(&v.created_by)),
                ("created_at", Value::Int(Some(v.created_at))),
                ("failed", Value::Text(Some(lines(&v.failed)?))),
                ("findings", Value::Int(Some(i64::from(v.findings)))),
                ("follow_up", text(&v.follow_up)),
                ("follow_up_deadline", int(v.follow_up_deadline)),
                ("updated_at", Value::Int(Some(v.updated_at))),
            ]);
            ("visit_index", c)
        }
        IndexRow::Deliberation(d) => {
            let mut c = head(&d.doc, &d.scope);
            c.extend([
                ("status", text(d.status.as_str())),
                ("topic", text(&d.topic)),
                ("created_by", text(&d.created_by)),
                ("created_at", Value::Int(Some(d.created_at))),
                ("comments", Value::Int(Some(i64::from(d.comments)))),
                ("options", Value::Int(Some(i64::from(d.options)))),
                ("meetings", Value::Int(Some(i64::from(d.meetings)))),
                ("next_meeting_at", int(d.next_meeting_at)),
                ("attendees", Value::Text(Some(lines(&d.attendees)?))),
                ("decided_at", int(d.decided_at)),
                ("updated_at", Value::Int(Some(d.updated_at))),
            ]);
            ("deliberation_index", c)
        }
    })
}

fn text(s: &str) -> Value {
    Value::Text(Some(s.to_string()))
}

fn opt_text(s: Option<&str>) -> Value {
    Value::Text(s.map(str::to_string))
}

fn int(v: Option<i64>) -> Value {
    Value::Int(v)
}

/// User ids one a line (a user id never holds a line break: core's limits refuse it).
fn lines(ids: &[String]) -> StorageResult<String> {
    if let Some(bad) = ids.iter().find(|id| id.contains('\n')) {
        return Err(StorageError::Corrupt(format!("user id {bad:?} holds a line break")));
    }
    Ok(ids.join("\n"))
}
