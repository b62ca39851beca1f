//! What the phone promised, and the check that finds lost and doubled writes.

use super::*;

/// What was written to one record, by the phone (promised) and by the second device.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub(crate) kind: Option<Kind>,
    /// Patrol entries: key → text.
    pub(crate) entries: BTreeMap<String, String>,
    /// Report comments: key → text.
    pub(crate) comments: BTreeMap<String, String>,
    /// Mediation sessions: key → fragments of its notes (the initial notes among them).
    pub(crate) sessions: BTreeMap<String, Vec<String>>,
}

impl Expected {
    pub(crate) fn add(&mut self, written: Written) {
        match written {
            Written::Created { kind, .. } => self.kind = Some(kind),
            Written::Entry { key, text, .. } => {
                self.kind = Some(Kind::PatrolLog);
                self.entries.insert(key, text);
            }
            Written::Comment { key, text, .. } => {
                self.kind = Some(Kind::Report);
                self.comments.insert(key, text);
            }
            Written::Session { key, notes, .. } => {
                self.kind = Some(Kind::MediationCase);
                self.sessions.entry(key).or_default().push(notes);
            }
            Written::Notes { session, fragment, .. } => {
                self.kind = Some(Kind::MediationCase);
                self.sessions.entry(session).or_default().push(fragment);
            }
            other => panic!("the editors do not write {other}"),
        }
    }
}

/// Every item of a list appears once (`what` names the list in a problem).
pub(crate) fn unique<'a>(
    problems: &mut Vec<String>,
    at: &str,
    id: DocId,
    what: &str,
    items: impl IntoIterator<Item = &'a String>,
) {
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(item) {
            problems.push(format!("{at}: {id}: {what} {item} appears more than once"));
        }
    }
}

/// The `「…」` fragments of a text, in order.
pub(crate) fn fragments(text: &str) -> Vec<String> {
    text.split('「')
        .skip(1)
        .map(|rest| format!("「{}」", rest.split('」').next().unwrap_or_default()))
        .collect()
}

/// Checks one record as `at` (phone, server, second device) holds it: every expected write is
/// there once, and no list item or notes fragment is there twice.
pub(crate) fn check_record(
    problems: &mut Vec<String>,
    at: &str,
    id: DocId,
    record: &Record,
    expected: Option<&Expected>,
) {
    let empty = Expected::default();
    let exp = expected.unwrap_or(&empty);
    if record.header().id != id {
        problems.push(format!("{at}: {id}: its header names {}", record.header().id));
    }
    if let Some(kind) = exp.kind
        && record.header().kind != kind
    {
        problems
            .push(format!("{at}: {id}: written as a {kind}, held as a {}", record.header().kind));
    }
    let mut listed = |what: &str, items: Vec<(&String, &String)>, want: &BTreeMap<_, _>| {
        unique(problems, at, id, what, items.iter().map(|(k, _)| *k));
        unique(problems, at, id, &format!("{what} text"), items.iter().map(|(_, t)| *t));
        for (key, text) in want {
            match items.iter().find(|(k, _)| *k == key) {
                Some((_, t)) if *t == text => {}
                Some((_, t)) => problems.push(format!("{at}: {id}: {what} {key} reads {t:?}")),
                None => problems.push(format!("{at}: {id}: {what} {key} {text} is missing")),
            }
        }
    };
    match record {
        Record::Report { report: r } => {
            listed("comment", r.comments.iter().map(|c| (&c.id, &c.text)).collect(), &exp.comments)
        }
        Record::PatrolLog { patrol_log: p } => {
            listed("entry", p.entries.iter().map(|e| (&e.id, &e.text)).collect(), &exp.entries)
        }
        Record::MediationCase { mediation_case: c } => {
            unique(problems, at, id, "session", c.sessions.iter().map(|s| &s.id));
            let all: Vec<String> = c.sessions.iter().flat_map(|s| fragments(&s.notes)).collect();
            unique(problems, at, id, "notes fragment", all.iter());
            for (key, want) in &exp.sessions {
                let Some(session) = c.sessions.iter().find(|s| &s.id == key) else {
                    problems.push(format!("{at}: {id}: session {key} is missing"));
                    continue;
                };
                for fragment in want {
                    let n = session.notes.matches(fragment.as_str()).count();
                    if n != 1 {
                        problems.push(format!(
                            "{at}: {id}: session {key}: notes {fragment} appear {n} times"
                        ));
                    }
                }
            }
        }
        other => {
            // The editor makes records of no other kind: one here came from nowhere.
            let kind = other.kind();
            problems.push(format!("{at}: {id}: a {kind}, which the editor never makes"));
        }
    }
}
