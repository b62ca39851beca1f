//! The limits every record must keep, checked on a whole record: what the commands check on
//! their arguments (the same functions), applied to what a document holds, however it was made.
//! The server runs it on the merged result of every push, so content a phone would refuse is
//! refused from any peer.

use std::collections::HashSet;

use super::Record;
use super::common::{Header, Location, PhotoRef, TimelineEvent};
use super::registry::{KindSpec, on_record};
use super::report::{validate_location, validate_photos};
use crate::error::{CoreError, Result};
use crate::limits::{self, LIST_ITEMS, NOTE_CHARS, SHORT_LIST_ITEMS};

/// Every limit `record` breaks, each as the error a command would give (`InvalidInput` naming
/// the field); empty when it keeps them all.
pub fn violations(record: &Record) -> Vec<CoreError> {
    let mut v = Violations(Vec::new());
    header(&mut v, record.header());
    on_record!(record, r => {
        r.limits(&mut v);
        v.timeline(r.timeline());
    });
    v.0
}

/// The first limit `record` breaks, if any.
pub fn validate(record: &Record) -> Result<()> {
    match violations(record).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The violations of `after` that `before` does not have already (the same field and the same
/// fault): what a change brought in. A record stored before a limit existed keeps taking
/// changes that leave its old faults as they are; a new item with a fault (another photo of a
/// type no photo has) is refused even when an old item has the same kind of fault.
pub fn new_violations(before: Option<&Record>, after: &Record) -> Vec<CoreError> {
    let old: HashSet<(&'static str, String)> = match before {
        Some(b) => violations(b).iter().filter_map(key_of).collect(),
        None => HashSet::new(),
    };
    violations(after).into_iter().filter(|e| key_of(e).is_none_or(|k| !old.contains(&k))).collect()
}

fn key_of(e: &CoreError) -> Option<(&'static str, String)> {
    match e {
        CoreError::InvalidInput { field, reason } => Some((field, reason.clone())),
        _ => None,
    }
}

#[cfg(test)]
fn field_of(e: &CoreError) -> Option<&'static str> {
    key_of(e).map(|(f, _)| f)
}

/// The limits a record breaks, gathered field by field by its kind's `KindSpec::limits`.
pub(crate) struct Violations(Vec<CoreError>);

impl Violations {
    /// Keeps the error of a failed check.
    pub(crate) fn check(&mut self, r: Result<()>) {
        if let Err(e) = r {
            self.0.push(e);
        }
    }

    /// A list of `len` items, at most `max`.
    pub(crate) fn list(&mut self, field: &'static str, len: usize, max: usize) {
        self.check(limits::list_len(field, len, max));
    }

    /// A location, if any.
    pub(crate) fn location(&mut self, l: Option<&Location>) {
        self.check(validate_location(l));
    }

    /// Each photo on its own, its fault naming it, so that a new photo's fault is never taken
    /// for an old one's.
    pub(crate) fn photos(&mut self, photos: &[PhotoRef]) {
        self.list("photos", photos.len(), SHORT_LIST_ITEMS);
        for p in photos {
            if let Err(e) = validate_photos(std::slice::from_ref(p)) {
                self.check(Err(match e {
                    CoreError::InvalidInput { field, reason } => {
                        let name: String = p.hash.chars().take(12).collect();
                        CoreError::InvalidInput {
                            field,
                            reason: format!("photo {name:?}: {reason}"),
                        }
                    }
                    other => other,
                }));
            }
        }
    }

    /// A timeline (every kind has one).
    fn timeline(&mut self, events: &[TimelineEvent]) {
        self.list("timeline", events.len(), LIST_ITEMS);
        for e in events {
            self.check(limits::time("timeline.at", e.at));
            self.check(limits::user_id("timeline.by", &e.by));
            self.check(limits::text("timeline.action", &e.action, limits::ACTION_CHARS));
            self.check(limits::optional_text("timeline.note", &e.note, NOTE_CHARS));
        }
    }
}

fn header(v: &mut Violations, h: &Header) {
    v.check(limits::scope(&h.scope));
    v.check(limits::user_id("created_by", &h.created_by));
    v.check(limits::time("created_at", h.created_at));
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{
        Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, NewReport, ReportCategory,
        Stamp, TeamMember, read_record,
    };
    use crate::time::Timestamp;

    const AT: i64 = 1_700_000_000_000;

    fn stamp() -> Stamp {
        Stamp { by: "p-1".into(), at: AT }
    }

    fn patrol_record() -> Record {
        let new = NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: "jl/area".into(),
                area: "valley".into(),
                members: vec![TeamMember {
                    user: "p-1".into(),
                    name: "Li".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        };
        let (id, mut doc) = create(&new, &stamp(), ActorId::random()).unwrap();
        let entry = NewEntry {
            kind: EntryKind::Observation,
            text: "all quiet".into(),
            location: None,
            photos: vec![],
            checkpoint: None,
        };
        apply(&mut doc, id, &stamp(), &Command::AddPatrolEntry { entry }).unwrap();
        read_record(&doc, id).unwrap()
    }

    #[test]
    fn records_made_by_commands_keep_every_limit() {
        assert!(violations(&patrol_record()).is_empty());
        let new = NewRecord::Report {
            report: NewReport {
                scope: "jl/grid".into(),
                category: ReportCategory::Noise,
                title: "loud".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        };
        let (id, doc) = create(&new, &stamp(), ActorId::random()).unwrap();
        assert!(violations(&read_record(&doc, id).unwrap()).is_empty());
    }

    #[test]
    fn each_fault_names_its_field_and_old_faults_are_tolerated() {
        let good = patrol_record();
        let Record::PatrolLog { patrol_log: mut p } = good.clone() else { unreachable!() };
        p.entries[0].at = Timestamp::from_millis(0);
        let dated_1970 = Record::PatrolLog { patrol_log: p.clone() };
        let fields: Vec<_> = violations(&dated_1970).iter().filter_map(field_of).collect();
        assert_eq!(fields, vec!["entry.at"]);

        p.entries[0].location =
            Some(Location { lat: 1e308, lon: -999.0, accuracy: 1.0, address: String::new() });
        let both = Record::PatrolLog { patrol_log: p };
        assert_eq!(new_violations(Some(&dated_1970), &both).len(), 1, "only the new fault");
        assert!(new_violations(Some(&both), &both).is_empty());
        assert_eq!(new_violations(None, &both).len(), 2);
        assert!(validate(&good).is_ok());

        // A second photo of a type no photo takes is refused, though an old one has that fault.
        let Record::PatrolLog { patrol_log: mut p } = good else { unreachable!() };
        let page = |n: u8| PhotoRef {
            hash: hex::encode([n]).repeat(32),
            size: 10,
            media_type: "text/html".into(),
        };
        p.entries[0].photos = vec![page(1)];
        let one = Record::PatrolLog { patrol_log: p.clone() };
        p.entries[0].photos.push(page(2));
        let two = Record::PatrolLog { patrol_log: p };
        assert!(new_violations(Some(&one), &one).is_empty());
        assert_eq!(new_violations(Some(&one), &two).len(), 1);
    }
}
