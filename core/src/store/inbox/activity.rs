//! What a report's timeline says about its responder's inbox (dispatch, supervision, overdue
//! escalation), read for the projection: the columns `assigned_at`, `supervisions`,
//! `supervised_at`, `escalations`, `escalated_at` of `reports` and the rows of
//! `report_notified`.

use automerge::{ObjType, ScalarValue, Value};
use autosurgeon::ReadDoc;
use rusqlite::{Connection, params};

use crate::error::Result;
use crate::id::DocId;
use crate::model::doc::{self, TIMELINE};
use crate::model::{TimelineEvent, escalation_limit};
use crate::policy::{ESCALATE, SUPERVISE};
use crate::time::Timestamp;

/// The timeline action of a dispatch (`Command::DispatchReport`).
const DISPATCH: &str = "dispatch_report";

/// A report's timeline, summed up for the inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Activity {
    /// The latest dispatch.
    pub(crate) assigned_at: Option<i64>,
    /// Supervision events.
    pub(crate) supervisions: i64,
    /// The latest supervision.
    pub(crate) supervised_at: Option<i64>,
    /// Escalation events.
    pub(crate) escalations: i64,
    /// The latest escalation.
    pub(crate) escalated_at: Option<i64>,
    /// Who the escalations named, each with the latest escalation naming them; sorted by user.
    pub(crate) notified: Vec<(String, i64)>,
}

fn later(slot: &mut Option<i64>, at: i64) {
    *slot = Some(slot.map_or(at, |t| t.max(at)));
}

/// The user ids an escalation's note names (`resolve: gl-1, disp-2`).
fn named_in(note: &str) -> impl Iterator<Item = &str> {
    note.split_once(':')
        .map_or("", |(_, names)| names)
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
}

impl Activity {
    /// Reads the timeline of report `id`. Events that are not maps, or lack an action or a
    /// time, are passed over: the record's own validation is where they are refused.
    pub(crate) fn of<D: ReadDoc>(d: &D, id: DocId) -> Result<Activity> {
        let list = doc::root_list(d, TIMELINE, id)?;
        let mut a = Activity::default();
        for i in 0..d.length(&list) {
            let Some((Value::Object(ObjType::Map), event)) = d.get(&list, i)? else { continue };
            let Some(action) = doc::get_str(d, &event, "action")? else { continue };
            let at = match d.get(&event, "at")? {
                Some((Value::Scalar(v), _)) => match v.as_ref() {
                    ScalarValue::Timestamp(t) | ScalarValue::Int(t) => *t,
                    _ => continue,
                },
                _ => continue,
            };
            match action.as_str() {
                DISPATCH => later(&mut a.assigned_at, at),
                SUPERVISE => {
                    a.supervisions += 1;
                    later(&mut a.supervised_at, at);
                }
                ESCALATE => {
                    let note = doc::get_str(d, &event, "note")?.unwrap_or_default();
                    let e = TimelineEvent {
                        at: Timestamp::from_millis(at),
                        by: String::new(),
                        action,
                        note,
                    };
                    if escalation_limit(&e).is_none() {
                        continue;
                    }
                    a.escalations += 1;
                    later(&mut a.escalated_at, at);
                    for user in named_in(&e.note) {
                        match a.notified.iter_mut().find(|(u, _)| u == user) {
                            Some((_, t)) => *t = (*t).max(at),
                            None => a.notified.push((user.to_string(), at)),
                        }
                    }
                }
                _ => {}
            }
        }
        a.notified.sort();
        Ok(a)
    }

    /// Writes the `report_notified` rows of document `rowid` (its `reports` row written
    /// first), leaving them alone when they already hold these values.
    pub(crate) fn write_notified(&self, conn: &Connection, rowid: i64) -> Result<()> {
        let stored: Vec<(String, i64)> = conn
            .prepare_cached("SELECT user, at FROM report_notified WHERE doc = ?1 ORDER BY user")?
            .query_map([rowid], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if stored == self.notified {
            return Ok(());
        }
        conn.prepare_cached("DELETE FROM report_notified WHERE doc = ?1")?.execute([rowid])?;
        let mut insert =
            conn.prepare_cached("INSERT INTO report_notified (user, doc, at) VALUES (?1, ?2, ?3)")?;
        for (user, at) in &self.notified {
            insert.execute(params![user, rowid, at])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::named_in;

    #[test]
    fn an_escalation_note_names_its_users() {
        let names: Vec<&str> = named_in("resolve: gl-1, disp-2 ,, ").collect();
        assert_eq!(names, ["gl-1", "disp-2"]);
        assert_eq!(named_in("accept: ").count(), 0);
        assert_eq!(named_in("no colon").count(), 0);
    }
}
