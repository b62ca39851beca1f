//! Writing a record's index row: the values of each kind's columns, and an upsert that updates
//! only the columns that changed.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::storage::index::{IndexRow, fold};
use crate::storage::{StorageError, StorageResult};

/// Writes `row` for the document at `pos` in `docs`, with `seq`, replacing what was there.
///
/// A row already there is compared column by column and only the columns that changed are
/// updated: the report table has fourteen indexes (one per sort of the desk), and a replaced
/// row rewrote an entry in every one of them, while a comment or a workflow step changes a few
/// columns (`seq`, `updated_at` and the count or state it moved) and so a few indexes. On the
/// single writer thread, that was the largest cost of a write.
pub(crate) fn upsert(conn: &Connection, pos: i64, seq: u64, row: &IndexRow) -> StorageResult<()> {
    let (table, new) = columns(seq, row)?;
    let names: Vec<&str> = new.iter().map(|(name, _)| *name).collect();
    let old: Option<Vec<Value>> = conn
        .prepare_cached(&format!("SELECT {} FROM {table} WHERE doc = ?1", names.join(", ")))?
        .query_row([pos], |r| (0..names.len()).map(|i| r.get::<_, Value>(i)).collect())
        .optional()?;
    match old {
        None => {
            let marks: Vec<String> = (2..names.len() + 2).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO {table} (doc, {}) VALUES (?1, {})",
                names.join(", "),
                marks.join(", ")
            );
            let values = std::iter::once(Value::Integer(pos)).chain(new.into_iter().map(|c| c.1));
            conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
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
                .map(|(i, (name, _))| format!("{name} = ?{}", i + 2))
                .collect();
            let sql = format!("UPDATE {table} SET {} WHERE doc = ?1", set.join(", "));
            let values =
                std::iter::once(Value::Integer(pos)).chain(changed.into_iter().map(|c| c.1));
            conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        }
    }
    Ok(())
}

/// The table of `row` and its columns after `doc`, each with the value to store.
fn columns(seq: u64, row: &IndexRow) -> StorageResult<(&'static str, Vec<(&'static str, Value)>)> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let head = |doc: &fieldsync_core::DocId, scope: &str| {
        vec![
            ("seq", Value::Integer(seq)),
            ("doc_id", Value::Blob(doc.as_bytes().to_vec())),
            ("scope", text(scope)),
            ("scope_key", Value::Text(format!("{scope}/"))),
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
                ("search", Value::Text(fold(&format!("{}\n{}", r.title, r.description)))),
                ("created_by", text(&r.created_by)),
                ("assignee", r.assignee.as_deref().map_or(Value::Null, text)),
                ("created_at", Value::Integer(r.created_at)),
                ("submitted_at", int(r.submitted_at)),
                ("accepted_at", int(r.accepted_at)),
                ("dispatched_at", int(r.dispatched_at)),
                ("resolved_at", int(r.resolved_at)),
                ("confirmed_at", int(r.confirmed_at)),
                ("rejected_at", int(r.rejected_at)),
                ("deadline", int(r.deadline)),
                ("deadline_key", Value::Integer(r.deadline.unwrap_or(i64::MAX))),
                ("priority", Value::Integer(r.priority.rank())),
                ("lat", r.lat.map_or(Value::Null, Value::Real)),
                ("lon", r.lon.map_or(Value::Null, Value::Real)),
                ("address", r.address.as_deref().map_or(Value::Null, text)),
                ("points", Value::Integer(r.points)),
                ("supervisions", Value::Integer(r.supervisions.into())),
                ("reopens", Value::Integer(r.reopens.into())),
                ("escalated_accept", Value::Integer(r.escalated_accept.into())),
                ("escalated_resolve", Value::Integer(r.escalated_resolve.into())),
                ("accept_due", Value::Integer(r.accept_due)),
                ("resolve_due", Value::Integer(r.resolve_due)),
                ("photos", Value::Integer(r.photos.into())),
                ("comments", Value::Integer(r.comments.into())),
                ("updated_at", Value::Integer(r.updated_at)),
            ]);
            ("report_index", c)
        }
        IndexRow::PatrolLog(p) => {
            let mut c = head(&p.doc, &p.scope);
            c.extend([
                ("area", text(&p.area)),
                ("members", Value::Text(lines(&p.members)?)),
                ("status", text(p.status.as_str())),
                ("entries", Value::Integer(p.entries.into())),
                ("checkpoints_reached", Value::Integer(p.checkpoints_reached.into())),
                ("checkpoints_planned", Value::Integer(p.checkpoints_planned.into())),
                ("started_at", Value::Integer(p.started_at)),
                ("ended_at", int(p.ended_at)),
                ("updated_at", Value::Integer(p.updated_at)),
            ]);
            ("patrol_index", c)
        }
        IndexRow::MediationCase(c) => {
            let mut cols = head(&c.doc, &c.scope);
            cols.extend([
                ("status", text(c.status.as_str())),
                ("category", text(c.category.as_str())),
                ("mediators", Value::Text(lines(&c.mediators)?)),
                ("sessions", Value::Integer(c.sessions.into())),
                ("outcome", text(c.outcome.as_str())),
                ("opened_at", Value::Integer(c.opened_at)),
                ("closed_at", int(c.closed_at)),
                ("updated_at", Value::Integer(c.updated_at)),
            ]);
            ("case_index", cols)
        }
        IndexRow::Bulletin(b) => {
            let mut c = head(&b.doc, &b.scope);
            let audience: Vec<String> = b.audience.iter().map(|a| a.to_string()).collect();
            c.extend([
                ("status", text(b.status.as_str())),
                ("severity", text(b.severity.as_str())),
                ("audience", Value::Text(audience.join("\n"))),
                ("title", text(&b.title)),
                ("created_by", text(&b.created_by)),
                ("created_at", Value::Integer(b.created_at)),
                ("valid_until", Value::Integer(b.valid_until)),
                ("acknowledged", Value::Text(lines(&b.acknowledged)?)),
                ("updated_at", Value::Integer(b.updated_at)),
            ]);
            ("bulletin_index", c)
        }
        IndexRow::Visit(v) => {
            let mut c = head(&v.doc, &v.scope);
            c.extend([
                ("business", text(&v.business)),
                ("status", text(v.status.as_str())),
                ("visitors", Value::Text(lines(&v.visitors)?)),
                ("created_by", text(&v.created_by)),
                ("created_at", Value::Integer(v.created_at)),
                ("failed", Value::Text(lines(&v.failed)?)),
                ("findings", Value::Integer(i64::from(v.findings))),
                ("follow_up", text(&v.follow_up)),
                ("follow_up_deadline", v.follow_up_deadline.map_or(Value::Null, Value::Integer)),
                ("updated_at", Value::Integer(v.updated_at)),
            ]);
            ("visit_index", c)
        }
        IndexRow::Deliberation(d) => {
            let mut c = head(&d.doc, &d.scope);
            c.extend([
                ("status", text(d.status.as_str())),
                ("topic", text(&d.topic)),
                ("created_by", text(&d.created_by)),
                ("created_at", Value::Integer(d.created_at)),
                ("comments", Value::Integer(i64::from(d.comments))),
                ("options", Value::Integer(i64::from(d.options))),
                ("meetings", Value::Integer(i64::from(d.meetings))),
                ("next_meeting_at", int(d.next_meeting_at)),
                ("attendees", Value::Text(lines(&d.attendees)?)),
                ("decided_at", int(d.decided_at)),
                ("updated_at", Value::Integer(d.updated_at)),
            ]);
            ("deliberation_index", c)
        }
    })
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Integer)
}

/// User ids one a line (a user id never holds a line break: core's limits refuse it).
fn lines(ids: &[String]) -> StorageResult<String> {
    if let Some(bad) = ids.iter().find(|id| id.contains('\n')) {
        return Err(StorageError::Corrupt(format!("user id {bad:?} holds a line break")));
    }
    Ok(ids.join("\n"))
}
