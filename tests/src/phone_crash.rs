//! The phone-crash test's pieces shared by the phone process (`phone_sync_worker`) and the test
//! that kills it (`tests/phone_crash/`): the line protocol, and the field edits both the phone
//! and the test's second device make.
//!
//! The worker prints one line per event and flushes it before going on:
//! - a [`Written`] line after each local write the store reported as committed (a promise that
//!   the write is on disk);
//! - `sync-start` just before a sync begins;
//! - `sending <doc> <hash>,<hash>,…` for each document a sync request is about to push, with the
//!   hashes of the changes it carries;
//! - `acked <doc>` for each document the answer to that request acknowledged;
//! - `progress <requests> <docs> <bytes up> <bytes down>` once an answer is recorded in the store;
//! - `synced <docs pushed> <docs pulled> <requests> <bytes up> <bytes down> <ms>` when a sync
//!   completed.

use std::fmt;
use std::str::FromStr;

use automerge::ChangeHash;
use fieldsync_core::model::{CaseCategory, MemberKind};
use fieldsync_core::model::{
    CaseStatus, Command, EntryKind, Kind, NewCase, NewEntry, NewPatrol, NewRecord, NewReport,
    Party, Record, ReportCategory, TeamMember,
};
use fieldsync_core::sync::{SyncProgress, SyncSummary};
use fieldsync_core::{CoreError, DocId, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::crash::Written;

/// The grid every record of the test belongs to.
pub const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// One line of the worker's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A committed local write.
    Wrote(Written),
    /// A sync is about to start.
    SyncStarted,
    /// A request about to be sent pushes these changes of a document.
    Sending {
        /// The document.
        doc: DocId,
        /// The changes pushed.
        changes: Vec<ChangeHash>,
    },
    /// The answer acknowledged the changes pushed for a document (not yet recorded).
    Acked {
        /// The document.
        doc: DocId,
    },
    /// A request of the running sync was answered.
    Progress {
        /// Requests answered so far in this sync.
        requests: u64,
        /// Documents pushed or pulled so far.
        docs: u64,
        /// Bytes sent so far.
        bytes_up: u64,
        /// Bytes received so far.
        bytes_down: u64,
    },
    /// A sync completed.
    Synced {
        /// Documents the server acknowledged.
        pushed: u64,
        /// Documents changed or created by pulled data.
        pulled: u64,
        /// Requests answered.
        requests: u64,
        /// Bytes sent.
        bytes_up: u64,
        /// Bytes received.
        bytes_down: u64,
        /// How long it took, in milliseconds.
        ms: u64,
    },
}

impl Line {
    /// The line for an answered request.
    pub fn progress(p: &SyncProgress) -> Line {
        Line::Progress {
            requests: p.pages_done.unsigned_abs(),
            docs: p.docs_done.unsigned_abs(),
            bytes_up: p.bytes_up.unsigned_abs(),
            bytes_down: p.bytes_down.unsigned_abs(),
        }
    }

    /// The line for a completed sync.
    pub fn synced(s: &SyncSummary) -> Line {
        Line::Synced {
            pushed: s.docs_pushed.unsigned_abs(),
            pulled: s.docs_pulled.unsigned_abs(),
            requests: s.requests.unsigned_abs(),
            bytes_up: s.bytes_up.unsigned_abs(),
            bytes_down: s.bytes_down.unsigned_abs(),
            ms: s.duration.as_millis() as u64,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Wrote(w) => write!(f, "{w}"),
            Line::SyncStarted => write!(f, "sync-start"),
            Line::Sending { doc, changes } => {
                let hashes: Vec<String> = changes.iter().map(|h| h.to_string()).collect();
                write!(f, "sending {doc} {}", hashes.join(","))
            }
            Line::Acked { doc } => write!(f, "acked {doc}"),
            Line::Progress { requests, docs, bytes_up, bytes_down } => {
                write!(f, "progress {requests} {docs} {bytes_up} {bytes_down}")
            }
            Line::Synced { pushed, pulled, requests, bytes_up, bytes_down, ms } => {
                write!(f, "synced {pushed} {pulled} {requests} {bytes_up} {bytes_down} {ms}")
            }
        }
    }
}

impl FromStr for Line {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = line.split(' ').collect();
        let numbers = |n: usize| -> Result<Vec<u64>, String> {
            if parts.len() != n + 1 {
                return Err(format!("{line:?}: expected {n} numbers"));
            }
            parts[1..].iter().map(|p| p.parse().map_err(|e| format!("{line:?}: {e}"))).collect()
        };
        match parts[0] {
            "sync-start" if parts.len() == 1 => Ok(Line::SyncStarted),
            "sending" if parts.len() == 3 => Ok(Line::Sending {
                doc: parts[1].parse().map_err(|e| format!("{line:?}: {e}"))?,
                changes: parts[2]
                    .split(',')
                    .map(|h| h.parse().map_err(|e| format!("{line:?}: {e}")))
                    .collect::<Result<_, _>>()?,
            }),
            "acked" if parts.len() == 2 => {
                Ok(Line::Acked { doc: parts[1].parse().map_err(|e| format!("{line:?}: {e}"))? })
            }
            "progress" => {
                let n = numbers(4)?;
                Ok(Line::Progress { requests: n[0], docs: n[1], bytes_up: n[2], bytes_down: n[3] })
            }
            "synced" => {
                let n = numbers(6)?;
                Ok(Line::Synced {
                    pushed: n[0],
                    pulled: n[1],
                    requests: n[2],
                    bytes_up: n[3],
                    bytes_down: n[4],
                    ms: n[5],
                })
            }
            _ => line.parse().map(Line::Wrote),
        }
    }
}

/// Notes are kept well below the 100,000 characters a session may hold.
const NOTES_BUDGET: usize = 6_000;
/// Sessions per case are kept below the limit of 200.
const SESSIONS_BUDGET: usize = 100;
/// Edits go mostly to the last few records of a kind, as a phone's do.
const RECENT: usize = 8;

/// Makes a field day's edits on a store: reports, patrol logs and cases are created, reports
/// commented on, patrol entries appended, mediation sessions added and their notes extended.
/// Every text it writes is unique (`「<word><tag>-<n>」`), so a test can find each write again and
/// count it.
pub struct Editor {
    rng: StdRng,
    tag: String,
    counter: u64,
    reports: Vec<DocId>,
    patrols: Vec<DocId>,
    cases: Vec<DocId>,
}

impl Editor {
    /// An editor whose choices follow `seed`; `tag` must differ between editors writing to the
    /// same documents (texts stay unique).
    pub fn new(seed: u64, tag: &str) -> Editor {
        Editor {
            rng: StdRng::seed_from_u64(seed),
            tag: tag.to_string(),
            counter: 0,
            reports: Vec::new(),
            patrols: Vec::new(),
            cases: Vec::new(),
        }
    }

    /// Learns the records `store` holds (after opening it, or after a sync brought new ones).
    pub fn refresh(&mut self, store: &Store) -> Result<(), CoreError> {
        self.reports.clear();
        self.patrols.clear();
        self.cases.clear();
        for id in store.doc_ids()? {
            match store.kind_of(id)? {
                Kind::Report => self.reports.push(id),
                Kind::PatrolLog => self.patrols.push(id),
                Kind::MediationCase => self.cases.push(id),
                // The editor makes records of no other kind; none is there to edit.
                _ => {}
            }
        }
        Ok(())
    }

    /// A random number in `range`, from the editor's seeded generator.
    pub fn roll(&mut self, range: std::ops::Range<usize>) -> usize {
        self.rng.random_range(range)
    }

    /// Makes one edit and returns what was written once the store committed it.
    pub fn edit(&mut self, store: &Store) -> Result<Written, CoreError> {
        match self.rng.random_range(0..100) {
            0..10 => self.create_report(store),
            10..13 => self.create_patrol(store),
            13..15 => self.create_case(store),
            15..45 => self.patrol_entry(store),
            45..70 => self.comment(store),
            70..78 => self.add_session(store),
            _ => self.edit_notes(store),
        }
    }

    fn fragment(&mut self, word: &str) -> String {
        self.counter += 1;
        format!("「{word}{}-{}」", self.tag, self.counter)
    }

    fn pick(&mut self, kind: Kind) -> Option<DocId> {
        let list = match kind {
            Kind::Report => &self.reports,
            Kind::PatrolLog => &self.patrols,
            Kind::MediationCase => &self.cases,
            _ => return None,
        };
        if list.is_empty() {
            return None;
        }
        let from = if self.rng.random_bool(0.7) { list.len().saturating_sub(RECENT) } else { 0 };
        Some(list[self.rng.random_range(from..list.len())])
    }

    fn create_report(&mut self, store: &Store) -> Result<Written, CoreError> {
        let categories = ReportCategory::ALL;
        let category = categories[self.rng.random_range(0..categories.len())];
        let title = self.fragment("上报");
        // A long description: a report's first push is a few KiB, several per request at most.
        let description: String = (0..self.rng.random_range(20..60))
            .map(|i| format!("第{i}处：新华小区7号楼楼顶有人搭建彩钢房，约{}平方米。", i * 7 + 3))
            .collect();
        let id = store.create(&NewRecord::Report {
            report: NewReport {
                scope: GRID.into(),
                category,
                title,
                description,
                location: None,
                photos: vec![],
            },
        })?;
        self.reports.push(id);
        Ok(Written::Created { kind: Kind::Report, doc: id })
    }

    fn create_patrol(&mut self, store: &Store) -> Result<Written, CoreError> {
        let member = |user: &str, kind| TeamMember { user: user.into(), name: user.into(), kind };
        let id = store.create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "净月潭景区".into(),
                members: vec![
                    member("police-li", MemberKind::Police),
                    member("cadre-wang", MemberKind::VillageCadre),
                ],
                checkpoints: vec![],
            },
        })?;
        self.patrols.push(id);
        Ok(Written::Created { kind: Kind::PatrolLog, doc: id })
    }

    fn create_case(&mut self, store: &Store) -> Result<Written, CoreError> {
        let categories = CaseCategory::ALL;
        let category = categories[self.rng.random_range(0..categories.len())];
        let id = store.create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category,
                place: "景区游客中心".into(),
                parties: vec![
                    Party { name: "张三".into(), role: "tourist".into(), contact: "138".into() },
                    Party {
                        name: "李四".into(),
                        role: "boat operator".into(),
                        contact: String::new(),
                    },
                ],
                mediators: vec!["police-li".into(), "cadre-wang".into()],
            },
        })?;
        self.cases.push(id);
        Ok(Written::Created { kind: Kind::MediationCase, doc: id })
    }

    fn patrol_entry(&mut self, store: &Store) -> Result<Written, CoreError> {
        let Some(id) = self.pick(Kind::PatrolLog) else { return self.create_patrol(store) };
        let text = self.fragment("巡逻");
        let entry = NewEntry {
            kind: EntryKind::Observation,
            text: text.clone(),
            location: None,
            photos: vec![],
            checkpoint: None,
        };
        let key = store.execute(id, &Command::AddPatrolEntry { entry })?.item;
        let key = key.ok_or_else(|| CoreError::Protocol("an entry without a key".into()))?;
        Ok(Written::Entry { doc: id, key, text })
    }

    fn comment(&mut self, store: &Store) -> Result<Written, CoreError> {
        let Some(id) = self.pick(Kind::Report) else { return self.create_report(store) };
        let text = self.fragment("评论");
        let key = store.execute(id, &Command::CommentReport { text: text.clone() })?.item;
        let key = key.ok_or_else(|| CoreError::Protocol("a comment without a key".into()))?;
        Ok(Written::Comment { doc: id, key, text })
    }

    fn case(store: &Store, id: DocId) -> Result<fieldsync_core::model::MediationCase, CoreError> {
        match store.get(id)? {
            Record::MediationCase { mediation_case: c } => Ok(c),
            other => Err(CoreError::Protocol(format!("{id} is a {}", other.header().kind))),
        }
    }

    fn add_session(&mut self, store: &Store) -> Result<Written, CoreError> {
        let Some(id) = self.pick(Kind::MediationCase) else { return self.create_case(store) };
        let case = Self::case(store, id)?;
        if !matches!(case.status, CaseStatus::Intake | CaseStatus::Mediating)
            || case.sessions.len() >= SESSIONS_BUDGET
        {
            return self.create_case(store);
        }
        let notes = self.fragment("调解");
        let key = store
            .execute(
                id,
                &Command::AddSession {
                    attendees: vec!["张三".into(), "李四".into()],
                    notes: notes.clone(),
                },
            )?
            .item;
        let key = key.ok_or_else(|| CoreError::Protocol("a session without a key".into()))?;
        Ok(Written::Session { doc: id, key, notes })
    }

    /// Inserts a fragment into a session's notes, only between earlier fragments (or at the
    /// end), so every fragment stays whole and can be counted.
    fn edit_notes(&mut self, store: &Store) -> Result<Written, CoreError> {
        let Some(id) = self.pick(Kind::MediationCase) else { return self.create_case(store) };
        let case = Self::case(store, id)?;
        let Some(session) = case.sessions.last() else { return self.add_session(store) };
        let session = if self.rng.random_bool(0.7) {
            session
        } else {
            &case.sessions[self.rng.random_range(0..case.sessions.len())]
        };
        let chars: Vec<char> = session.notes.chars().collect();
        if chars.len() > NOTES_BUDGET {
            return self.add_session(store);
        }
        let mut bounds: Vec<usize> =
            chars.iter().enumerate().filter(|(_, c)| **c == '「').map(|(i, _)| i).collect();
        bounds.push(chars.len());
        let pos = bounds[self.rng.random_range(0..bounds.len())];
        let fragment = self.fragment("笔录");
        let key = session.id.clone();
        store.execute(
            id,
            &Command::EditNotes {
                session: key.clone(),
                pos: chars[..pos].iter().map(|c| c.len_utf16() as i64).sum(),
                delete: 0,
                insert: fragment.clone(),
            },
        )?;
        Ok(Written::Notes { doc: id, session: key, fragment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let doc = DocId::random();
        for line in [
            Line::Wrote(Written::Comment { doc, key: "k".into(), text: "「评论p1-1」".into() }),
            Line::SyncStarted,
            Line::Sending { doc, changes: vec![ChangeHash([7; 32]), ChangeHash([9; 32])] },
            Line::Acked { doc },
            Line::Progress { requests: 3, docs: 12, bytes_up: 4096, bytes_down: 100 },
            Line::Synced {
                pushed: 4,
                pulled: 2,
                requests: 7,
                bytes_up: 9000,
                bytes_down: 800,
                ms: 412,
            },
        ] {
            assert_eq!(line.to_string().parse::<Line>(), Ok(line));
        }
        assert!("progress 1 2 3".parse::<Line>().is_err());
        assert!("synced 1 2 3 4 5 x".parse::<Line>().is_err());
        assert!("sync-start now".parse::<Line>().is_err());
        assert!(format!("sending {doc} 12ab").parse::<Line>().is_err());
        assert!("acked".parse::<Line>().is_err());
    }

    #[test]
    fn edits_are_committed_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        store.set_user("police-li").unwrap();
        let mut editor = Editor::new(7, "t");
        let written: Vec<Written> = (0..200).map(|_| editor.edit(&store).unwrap()).collect();
        let texts: std::collections::BTreeSet<String> = written
            .iter()
            .filter_map(|w| match w {
                Written::Entry { text, .. } | Written::Comment { text, .. } => Some(text.clone()),
                Written::Notes { fragment, .. } => Some(fragment.clone()),
                _ => None,
            })
            .collect();
        assert!(texts.len() > 100, "{} texts", texts.len());
        // An editor opened later on the same store finds the records the first one made.
        let mut later = Editor::new(8, "u");
        later.refresh(&store).unwrap();
        assert_eq!(
            later.reports.len() + later.patrols.len() + later.cases.len(),
            store.doc_ids().unwrap().len()
        );
        for w in &written {
            if let Written::Notes { doc, session, fragment } = w {
                let case = Editor::case(&store, *doc).unwrap();
                let notes = &case.sessions.iter().find(|s| &s.id == session).unwrap().notes;
                assert_eq!(notes.matches(fragment.as_str()).count(), 1);
            }
        }
    }
}
