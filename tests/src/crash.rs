//! The line protocol between the crash-test writer (`store_crash_writer`) and the test that kills
//! it (`tests/store_crash.rs`).
//!
//! The writer prints one line per write, and only after the store returned `Ok`: a printed line
//! is a promise that the write is on disk. After a SIGKILL the test reads every complete line and
//! checks each promise against the store. Tokens are separated by single spaces and never contain
//! white space themselves.

use std::fmt;
use std::str::FromStr;

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;

/// One write the writer saw committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// `created <kind> <doc>`: a record was created.
    Created {
        /// Its kind.
        kind: Kind,
        /// Its id.
        doc: DocId,
    },
    /// `entry <doc> <key> <text>`: a patrol entry was appended.
    Entry {
        /// The patrol log.
        doc: DocId,
        /// The entry's key.
        key: String,
        /// The entry's text (unique).
        text: String,
    },
    /// `comment <doc> <key> <text>`: a report was commented on.
    Comment {
        /// The report.
        doc: DocId,
        /// The comment's key.
        key: String,
        /// The comment's text (unique).
        text: String,
    },
    /// `session <doc> <key> <notes>`: a mediation session was added with initial notes.
    Session {
        /// The case.
        doc: DocId,
        /// The session's key.
        key: String,
        /// Its initial notes (a unique fragment).
        notes: String,
    },
    /// `notes <doc> <session> <fragment>`: a unique fragment was inserted into a session's notes.
    Notes {
        /// The case.
        doc: DocId,
        /// The session's key.
        session: String,
        /// The inserted text.
        fragment: String,
    },
    /// `event <doc> <action> <note>`: a state change, whose timeline event carries a unique note.
    Event {
        /// The record.
        doc: DocId,
        /// The timeline action, e.g. `accept_report`.
        action: String,
        /// The note of the timeline event.
        note: String,
    },
    /// `agreement <doc> <text>`: a case's agreement was recorded (it is recorded once at most).
    Agreement {
        /// The case.
        doc: DocId,
        /// The agreement text (unique).
        text: String,
    },
    /// `followup <doc> <key> <note>`: a follow-up visit was recorded on a case.
    FollowUp {
        /// The case.
        doc: DocId,
        /// The follow-up's key.
        key: String,
        /// Its note (unique).
        note: String,
    },
}

impl Written {
    /// The record the write went to.
    pub fn doc(&self) -> DocId {
        match self {
            Written::Created { doc, .. }
            | Written::Entry { doc, .. }
            | Written::Comment { doc, .. }
            | Written::Session { doc, .. }
            | Written::Notes { doc, .. }
            | Written::Event { doc, .. }
            | Written::Agreement { doc, .. }
            | Written::FollowUp { doc, .. } => *doc,
        }
    }
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Written::Created { kind, doc } => write!(f, "created {kind} {doc}"),
            Written::Entry { doc, key, text } => write!(f, "entry {doc} {key} {text}"),
            Written::Comment { doc, key, text } => write!(f, "comment {doc} {key} {text}"),
            Written::Session { doc, key, notes } => write!(f, "session {doc} {key} {notes}"),
            Written::Notes { doc, session, fragment } => {
                write!(f, "notes {doc} {session} {fragment}")
            }
            Written::Event { doc, action, note } => write!(f, "event {doc} {action} {note}"),
            Written::Agreement { doc, text } => write!(f, "agreement {doc} {text}"),
            Written::FollowUp { doc, key, note } => write!(f, "followup {doc} {key} {note}"),
        }
    }
}

impl FromStr for Written {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = line.split(' ').collect();
        let doc = |i: usize| -> Result<DocId, String> {
            parts
                .get(i)
                .ok_or_else(|| format!("{line:?}: too few fields"))?
                .parse()
                .map_err(|e| format!("{line:?}: {e}"))
        };
        let s = |i: usize| parts.get(i).map(|s| (*s).to_string()).unwrap_or_default();
        let expected = match parts.first().copied() {
            Some("created" | "agreement") => 3,
            Some("entry" | "comment" | "session" | "notes" | "event" | "followup") => 4,
            _ => return Err(format!("{line:?}: unknown line")),
        };
        if parts.len() != expected || parts.iter().any(|p| p.is_empty()) {
            return Err(format!("{line:?}: expected {expected} non-empty fields"));
        }
        Ok(match parts[0] {
            "created" => Written::Created {
                kind: parts[1].parse().map_err(|e| format!("{line:?}: {e}"))?,
                doc: doc(2)?,
            },
            "entry" => Written::Entry { doc: doc(1)?, key: s(2), text: s(3) },
            "comment" => Written::Comment { doc: doc(1)?, key: s(2), text: s(3) },
            "session" => Written::Session { doc: doc(1)?, key: s(2), notes: s(3) },
            "notes" => Written::Notes { doc: doc(1)?, session: s(2), fragment: s(3) },
            "event" => Written::Event { doc: doc(1)?, action: s(2), note: s(3) },
            "agreement" => Written::Agreement { doc: doc(1)?, text: s(2) },
            _ => Written::FollowUp { doc: doc(1)?, key: s(2), note: s(3) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let doc = DocId::random();
        for w in [
            Written::Created { kind: Kind::MediationCase, doc },
            Written::Entry { doc, key: "k1".into(), text: "「巡逻ab-1」".into() },
            Written::Comment { doc, key: "k2".into(), text: "x".into() },
            Written::Session { doc, key: "k3".into(), notes: "n".into() },
            Written::Notes { doc, session: "k3".into(), fragment: "「f」".into() },
            Written::Event { doc, action: "accept_report".into(), note: "n".into() },
            Written::Agreement { doc, text: "「协议」".into() },
            Written::FollowUp { doc, key: "k4".into(), note: "n".into() },
        ] {
            assert_eq!(w.to_string().parse::<Written>(), Ok(w));
        }
        assert!("entry abc k1 t".parse::<Written>().is_err());
        assert!("entry".parse::<Written>().is_err());
        assert!(format!("notes {doc} k3").parse::<Written>().is_err());
    }
}
