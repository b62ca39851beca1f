//! Several phones edit the same records offline and exchange their changes in random order, with
//! duplicates, stale resends and partial sends; afterwards every phone must hold the same records
//! and the same projections, and nothing that any phone's command saved may be lost.
//!
//! Each case opens 3–5 SQLite stores (one user and one Automerge actor each) holding copies of one
//! report, one patrol log and one mediation case, then runs a random mix of domain commands and
//! deliveries. Every command that returned `Ok` is recorded with what it added (comment, entry,
//! session and follow-up keys, timeline events, note fragments); a delivery refused for missing
//! dependencies must leave the receiving store exactly as it was. A full all-to-all exchange then
//! runs until nobody has anything new to send, and the stores are compared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use crate::common::*;
use automerge::{ActorId, ChangeHash};
use fieldsync_core::changes::parse_changes;
use fieldsync_core::limits::MERGE_BYTES;
use fieldsync_core::model::*;
use fieldsync_core::store::{
    CaseFilter, CaseSummary, Page, PageRequest, PatrolFilter, PatrolSummary, ReportFilter,
    ReportSummary, SearchHit,
};
use fieldsync_core::time::Timestamp;
use fieldsync_core::{CoreError, DocId, Store};
use proptest::prelude::*;
use proptest::sample::Index;

/// The user each store writes as.
const USERS: [&str; 5] = ["med-chen", "med-liu", "dispatcher-1", "police-li", "vol-zhao"];
/// A word only store `i` puts into the notes it writes, searched for at the end.
const WORDS: [&str; 5] = ["东山村", "西湖畔", "南门口", "北岭下", "中心街"];
/// Rounds of the final all-to-all exchange before the test gives up.
const MAX_ROUNDS: usize = 10;

const REPORT: usize = 0;
const PATROL: usize = 1;
const CASE: usize = 2;

/// Cases per run: 24 unless `PROPTEST_CASES` says otherwise.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24)
}

// ---------------------------------------------------------------------------------------------
// What proptest generates.

#[derive(Debug, Clone, Copy)]
enum ReportStep {
    /// Whatever command leads on from the status this store sees.
    Advance,
    Accept,
    Reject,
    Dispatch,
    Start,
    Resolve,
    Confirm,
    Reopen,
    Award,
}

#[derive(Debug, Clone, Copy)]
enum CaseStep {
    /// Whatever command leads on from the status this store sees.
    Advance,
    Agree,
    Fail,
    Escalate,
    Close,
    FollowUp,
}

#[derive(Debug, Clone)]
enum Edit {
    Comment(String),
    Report(ReportStep, String),
    Entry(Index, String),
    FinishPatrol(String),
    /// Inserts a fresh fragment into a session's notes at a random position.
    Note {
        session: Index,
        pos: Index,
        text: String,
    },
    Session(String),
    Case(CaseStep, String),
    /// Settles one of the conflicts the store currently shows, if it shows any.
    Settle {
        doc: Index,
        conflict: Index,
        value: Index,
    },
}

#[derive(Debug, Clone)]
enum How {
    /// Everything the sender stores.
    Full,
    /// What the sender has beyond the receiver's heads (a well-informed sync).
    SinceTheirs,
    /// What the sender has beyond heads it had a little earlier (may lack dependencies).
    SincePast(Index),
    /// One change of the sender's history, alone (delivered out of order, it lacks dependencies).
    OneChange(Index),
}

#[derive(Debug, Clone)]
enum Op {
    Edit {
        store: Index,
        edit: Edit,
    },
    Send {
        from: Index,
        to: Index,
        doc: Index,
        how: How,
    },
    /// Delivers again a message sent before (late, duplicated, or out of order).
    Redeliver {
        msg: Index,
        to: Index,
    },
}

/// Free text with Chinese (also outside the BMP), ASCII and punctuation; may be empty.
fn text() -> impl Strategy<Value = String> {
    "[a-z0-9 \u{4e00}-\u{9fa5}\u{20000}-\u{2000f}，。！]{0,10}"
}

fn report_step() -> impl Strategy<Value = ReportStep> {
    prop_oneof![
        8 => Just(ReportStep::Advance),
        1 => Just(ReportStep::Accept),
        1 => Just(ReportStep::Reject),
        1 => Just(ReportStep::Dispatch),
        1 => Just(ReportStep::Start),
        1 => Just(ReportStep::Resolve),
        1 => Just(ReportStep::Confirm),
        1 => Just(ReportStep::Reopen),
        1 => Just(ReportStep::Award),
    ]
}

fn case_step() -> impl Strategy<Value = CaseStep> {
    prop_oneof![
        3 => Just(CaseStep::Advance),
        1 => Just(CaseStep::FollowUp),
        1 => Just(CaseStep::Agree),
        1 => Just(CaseStep::Fail),
        1 => Just(CaseStep::Escalate),
        1 => Just(CaseStep::Close),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        5 => (any::<Index>(), any::<Index>(), text())
            .prop_map(|(session, pos, text)| Edit::Note { session, pos, text }),
        2 => text().prop_map(Edit::Comment),
        6 => (report_step(), text()).prop_map(|(s, t)| Edit::Report(s, t)),
        3 => (any::<Index>(), text()).prop_map(|(k, t)| Edit::Entry(k, t)),
        1 => text().prop_map(Edit::FinishPatrol),
        1 => text().prop_map(Edit::Session),
        3 => (case_step(), text()).prop_map(|(s, t)| Edit::Case(s, t)),
        3 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(doc, conflict, value)| Edit::Settle { doc, conflict, value }),
    ]
}

fn how() -> impl Strategy<Value = How> {
    prop_oneof![
        2 => Just(How::Full),
        2 => Just(How::SinceTheirs),
        3 => any::<Index>().prop_map(How::SincePast),
        3 => any::<Index>().prop_map(How::OneChange),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<Index>(), edit()).prop_map(|(store, edit)| Op::Edit { store, edit }),
        4 => (any::<Index>(), any::<Index>(), any::<Index>(), how())
            .prop_map(|(from, to, doc, how)| Op::Send { from, to, doc, how }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(msg, to)| Op::Redeliver { msg, to }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The stores and what their successful commands added.

/// A note fragment some store inserted (or a session's initial notes).
struct Fragment {
    store: usize,
    session: String,
    text: String,
}

struct World {
    _dir: tempfile::TempDir,
    stores: Vec<Store>,
    docs: [DocId; 3],
    serial: u64,
    /// (doc, item key, text, by) of comments, patrol entries, sessions and follow-ups.
    items: Vec<(usize, String, String, String)>,
    /// Timeline events that successful commands appended.
    events: Vec<(usize, TimelineEvent)>,
    fragments: Vec<Fragment>,
    /// Changes each store committed to each document: (store, doc) -> count.
    authored: HashMap<(usize, usize), usize>,
    /// Heads each store had at some point: `[doc][store]`, for partial sends.
    past_heads: [Vec<Vec<Vec<ChangeHash>>>; 3],
    /// Messages sent so far: (doc, bytes).
    sent: Vec<(usize, Vec<u8>)>,
}

/// Lists with a default filter, then one search per store's word.
type Projections =
    (Page<ReportSummary>, Page<PatrolSummary>, Page<CaseSummary>, Vec<Vec<SearchHit>>);

fn timeline(r: &Record) -> &[TimelineEvent] {
    r.timeline()
}

fn conflicts(r: &Record) -> &[FieldConflict] {
    r.conflicts()
}

fn as_case(r: &Record) -> &MediationCase {
    match r {
        Record::MediationCase { mediation_case: c } => c,
        other => panic!("not a case: {other:?}"),
    }
}

fn char_pos(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

/// The UTF-16 position (`Command::EditNotes`'s unit) of code point `chars` of `s`.
fn utf16_pos(s: &str, chars: usize) -> i64 {
    s.chars().take(chars).map(|c| c.len_utf16() as i64).sum()
}

/// The code point at UTF-16 position `units` of `s`.
fn char_at_utf16(s: &str, units: i64) -> usize {
    let mut at = 0;
    s.chars()
        .take_while(|c| {
            let before = at;
            at += c.len_utf16() as i64;
            before < units
        })
        .count()
}

fn splice(s: &str, pos: usize, insert: &str) -> String {
    let mut out: String = s.chars().take(pos).collect();
    out.push_str(insert);
    out.extend(s.chars().skip(pos));
    out
}

/// A stored document read once: its record and its heads.
fn read(store: &Store, id: DocId) -> (Record, Vec<ChangeHash>) {
    let mut doc = store.load(id).expect("load");
    (read_record(&doc, id).expect("record"), doc.get_heads())
}

impl World {
    /// `n` stores; store 0 creates the records and takes the report `head_start` steps along
    /// its workflow before the others get copies.
    fn new(n: usize, head_start: usize) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores: Vec<Store> =
            (0..n).map(|i| store(&dir, &format!("phone-{i}"), USERS[i])).collect();
        let s0 = &stores[0];
        let report = s0.create(&new_report("屋顶违建 roof-top building")).expect("report");
        let patrol = s0.create(&new_patrol()).expect("patrol");
        let case = s0.create(&new_case()).expect("case");
        let session = s0
            .execute(
                case,
                &Command::AddSession {
                    attendees: vec!["张三".into(), "李四".into()],
                    notes: "双方到场，情绪平稳。张三要求退还船票𠀀".into(),
                },
            )
            .expect("session")
            .item
            .expect("session key");
        let steps = [
            Command::AcceptReport { note: String::new() },
            Command::DispatchReport {
                assignee: USERS[0].into(),
                deadline: Timestamp::from_millis(1_900_000_000_000),
                note: "今天处理".into(),
            },
            Command::StartWork { note: String::new() },
        ];
        for step in &steps[..head_start] {
            s0.execute(report, step).expect("head start");
        }
        let docs = [report, patrol, case];
        for s in &stores[1..] {
            for id in docs {
                let outcome =
                    s.merge_remote(id, &s0.saved_bytes(id).expect("bytes")).expect("copy");
                assert!(outcome.created && outcome.changed);
            }
        }
        let mut authored = HashMap::new();
        authored.insert((0, REPORT), 1 + head_start);
        authored.insert((0, PATROL), 1);
        authored.insert((0, CASE), 2);
        let past_heads = docs.map(|id| vec![vec![Vec::new(), s0.heads(id).expect("heads")]; n]);
        World {
            _dir: dir,
            stores,
            docs,
            serial: 0,
            items: vec![(CASE, session, String::new(), USERS[0].to_string())],
            events: Vec::new(),
            fragments: Vec::new(),
            authored,
            past_heads,
            sent: Vec::new(),
        }
    }

    /// A text no other command uses: the store's word, a serial number, then `body`.
    fn unique(&mut self, s: usize, body: &str) -> String {
        self.serial += 1;
        format!("⟨{}{}·{body}⟩", WORDS[s], self.serial)
    }

    fn run(&mut self, op: &Op) {
        let n = self.stores.len();
        match op {
            Op::Edit { store, edit } => self.edit(store.index(n), edit),
            Op::Send { from, to, doc, how } => {
                self.send(from.index(n), to.index(n), doc.index(3), how)
            }
            Op::Redeliver { msg, to } => {
                if !self.sent.is_empty() {
                    let (d, bytes) = self.sent[msg.index(self.sent.len())].clone();
                    self.deliver(to.index(n), d, &bytes);
                }
            }
        }
    }

    /// Builds the command an edit stands for, from what store `s` currently sees of the record.
    fn command(&mut self, s: usize, edit: &Edit, record: &Record) -> Option<Command> {
        Some(match (edit, record) {
            (Edit::Comment(t), _) => Command::CommentReport { text: self.unique(s, t) },
            (Edit::Report(step, t), Record::Report { report: r }) => {
                let note = self.unique(s, t);
                let step = match step {
                    ReportStep::Advance => match r.status {
                        ReportStatus::Submitted | ReportStatus::Reopened => ReportStep::Accept,
                        ReportStatus::Accepted => ReportStep::Dispatch,
                        ReportStatus::Dispatched => ReportStep::Start,
                        ReportStatus::InProgress => ReportStep::Resolve,
                        ReportStatus::Resolved => ReportStep::Confirm,
                        ReportStatus::Confirmed => ReportStep::Award,
                        ReportStatus::Rejected => ReportStep::Reopen,
                    },
                    other => *other,
                };
                match step {
                    ReportStep::Advance | ReportStep::Accept => Command::AcceptReport { note },
                    ReportStep::Reject => Command::RejectReport { reason: note },
                    ReportStep::Dispatch => Command::DispatchReport {
                        // One of the stores' users, so that the assignee can start the work.
                        assignee: USERS[self.serial as usize % self.stores.len()].to_string(),
                        deadline: Timestamp::from_millis(1_900_000_000_000 + self.serial as i64),
                        note,
                    },
                    // As the policy has it: only the assignee (as this store sees the report)
                    // starts and resolves the work.
                    ReportStep::Start | ReportStep::Resolve
                        if r.assignee.as_deref() != Some(USERS[s]) =>
                    {
                        return None;
                    }
                    ReportStep::Start => Command::StartWork { note },
                    ReportStep::Resolve => Command::ResolveReport { note },
                    ReportStep::Confirm => Command::ConfirmReport { note },
                    ReportStep::Reopen => Command::ReopenReport { reason: note },
                    ReportStep::Award => {
                        Command::AwardPoints { points: 1 + (self.serial % 50) as i64, note }
                    }
                }
            }
            (Edit::Entry(kind, t), _) => {
                let kinds = [
                    EntryKind::CheckpointReached,
                    EntryKind::Observation,
                    EntryKind::HazardFound,
                    EntryKind::Incident,
                    EntryKind::TouristHelped,
                    EntryKind::WarningIssued,
                ];
                let kind = kinds[kind.index(kinds.len())];
                let checkpoint = (kind == EntryKind::CheckpointReached).then(|| "lake pier".into());
                let entry = NewEntry {
                    kind,
                    text: self.unique(s, t),
                    location: None,
                    photos: vec![],
                    checkpoint,
                };
                Command::AddPatrolEntry { entry }
            }
            (Edit::FinishPatrol(t), _) => Command::FinishPatrol { note: self.unique(s, t) },
            (Edit::Session(t), _) => {
                let notes = self.unique(s, t);
                let attendees = vec!["张三".to_string(), USERS[s].to_string()];
                Command::AddSession { attendees, notes }
            }
            (Edit::Note { session, pos, text }, Record::MediationCase { mediation_case: case }) => {
                if case.sessions.is_empty() {
                    return None;
                }
                let session = &case.sessions[session.index(case.sessions.len())];
                let notes = &session.notes;
                let len = notes.chars().count();
                // Never split a fragment: a later insert inside one would (rightly) break it up.
                let mut inside = vec![false; len + 1];
                for f in self.fragments.iter().filter(|f| f.session == session.id) {
                    if let Some(byte) = notes.find(&f.text) {
                        let start = char_pos(notes, byte);
                        let end = start + f.text.chars().count();
                        inside[start + 1..end].fill(true);
                    }
                }
                let allowed: Vec<usize> = (0..=len).filter(|&p| !inside[p]).collect();
                let pos = allowed[pos.index(allowed.len())];
                let insert = self.unique(s, text);
                Command::EditNotes {
                    session: session.id.clone(),
                    pos: utf16_pos(notes, pos),
                    delete: 0,
                    insert,
                }
            }
            (Edit::Case(step, t), Record::MediationCase { mediation_case: c }) => {
                let t = self.unique(s, t);
                let step = match step {
                    CaseStep::Advance => match c.status {
                        CaseStatus::Intake | CaseStatus::Mediating => CaseStep::Agree,
                        CaseStatus::Failed => CaseStep::Escalate,
                        CaseStatus::Escalated => CaseStep::Close,
                        CaseStatus::Agreed | CaseStatus::Closed => CaseStep::FollowUp,
                    },
                    other => *other,
                };
                match step {
                    CaseStep::Advance | CaseStep::Agree => Command::RecordAgreement { text: t },
                    CaseStep::Fail => Command::RecordFailure { reason: t },
                    CaseStep::Escalate => {
                        Command::EscalateCase { to: "人民法院".into(), reason: t }
                    }
                    CaseStep::Close => Command::CloseCase { note: t },
                    CaseStep::FollowUp => Command::AddFollowUp { note: t },
                }
            }
            (Edit::Settle { conflict, value, .. }, record) => {
                let shown = conflicts(record);
                let c = &shown[conflict.index(shown.len())];
                let value = c.values[value.index(c.values.len())].clone();
                Command::SettleConflict { field: c.field.clone(), value }
            }
            (edit, record) => panic!("{edit:?} does not fit {record:?}"),
        })
    }

    fn edit(&mut self, s: usize, edit: &Edit) {
        let d = match edit {
            Edit::Comment(_) | Edit::Report(..) => REPORT,
            Edit::Entry(..) | Edit::FinishPatrol(_) => PATROL,
            Edit::Note { .. } | Edit::Session(_) | Edit::Case(..) => CASE,
            Edit::Settle { doc, .. } => {
                let shown: Vec<usize> = (0..3)
                    .filter(|&d| !conflicts(&read(&self.stores[s], self.docs[d]).0).is_empty())
                    .collect();
                if shown.is_empty() {
                    return;
                }
                shown[doc.index(shown.len())]
            }
        };
        let id = self.docs[d];
        let (before, heads) = read(&self.stores[s], id);
        let Some(cmd) = self.command(s, edit, &before) else { return };
        let store = &self.stores[s];
        let user = USERS[s];
        let applied = match store.execute(id, &cmd) {
            Ok(applied) => applied,
            Err(CoreError::InvalidTransition { command, .. }) => {
                assert_eq!(command, cmd.name());
                let (after, new_heads) = read(store, id);
                assert_eq!(new_heads, heads, "a refused {command} changed {id}");
                assert_eq!(after, before);
                return;
            }
            Err(e) => panic!("{} on store {s} failed: {e}", cmd.name()),
        };
        *self.authored.entry((s, d)).or_default() += 1;
        let (after, new_heads) = read(store, id);
        assert_ne!(new_heads, heads, "{} changed nothing", cmd.name());
        self.past_heads[d][s].push(new_heads);

        let (old_events, new_events) = (timeline(&before), timeline(&after));
        assert!(new_events.len() >= old_events.len());
        assert_eq!(&new_events[..old_events.len()], old_events, "a command rewrote history");
        for e in &new_events[old_events.len()..] {
            assert_eq!(e.by, user);
            self.events.push((d, e.clone()));
        }

        match (&cmd, &after) {
            (Command::CommentReport { text }, Record::Report { report: r }) => {
                let key = applied.item.expect("comment key");
                let c = r.comments.iter().find(|c| c.id == key).expect("new comment");
                assert_eq!((&c.text, c.by.as_str()), (text, user));
                self.items.push((d, key, text.clone(), user.to_string()));
            }
            (Command::AddPatrolEntry { entry }, Record::PatrolLog { patrol_log: p }) => {
                let key = applied.item.expect("entry key");
                let e = p.entries.iter().find(|e| e.id == key).expect("new entry");
                assert_eq!((&e.text, e.by.as_str(), e.kind), (&entry.text, user, entry.kind));
                self.items.push((d, key, entry.text.clone(), user.to_string()));
            }
            (Command::AddSession { notes, .. }, Record::MediationCase { mediation_case: c }) => {
                let key = applied.item.expect("session key");
                let session = c.sessions.iter().find(|x| x.id == key).expect("new session");
                assert_eq!(&session.notes, notes);
                self.fragments.push(Fragment {
                    store: s,
                    session: key.clone(),
                    text: notes.clone(),
                });
                self.items.push((d, key, String::new(), user.to_string()));
            }
            (Command::AddFollowUp { note }, Record::MediationCase { mediation_case: c }) => {
                let key = applied.item.expect("follow-up key");
                let f = c.follow_ups.iter().find(|f| f.id == key).expect("new follow-up");
                assert_eq!(&f.note, note);
                self.items.push((d, key, note.clone(), user.to_string()));
            }
            (
                Command::EditNotes { session, pos, insert, .. },
                Record::MediationCase { mediation_case: c },
            ) => {
                let old = as_case(&before).sessions.iter().find(|x| &x.id == session);
                let new = c.sessions.iter().find(|x| &x.id == session);
                let (old, new) = (old.expect("session before"), new.expect("session after"));
                // Positions count UTF-16 code units, whatever the script.
                assert_eq!(new.notes, splice(&old.notes, char_at_utf16(&old.notes, *pos), insert));
                self.fragments.push(Fragment {
                    store: s,
                    session: session.clone(),
                    text: insert.clone(),
                });
            }
            _ => assert_eq!(applied.item, None),
        }
    }

    fn send(&mut self, from: usize, to: usize, d: usize, how: &How) {
        let id = self.docs[d];
        let sender = &self.stores[from];
        let bytes = match how {
            How::Full => sender.saved_bytes(id).expect("bytes"),
            How::SinceTheirs => {
                let theirs = self.stores[to].heads(id).expect("heads");
                sender.load(id).expect("load").save_after(&theirs)
            }
            How::SincePast(i) => {
                // One of the sender's latest heads: a small message, as an incremental push is.
                let past = &self.past_heads[d][from];
                let heads = &past[past.len().saturating_sub(2 + i.index(4))];
                sender.load(id).expect("load").save_after(heads)
            }
            How::OneChange(i) => {
                let changes = sender.load(id).expect("load").get_changes(&[]);
                changes[i.index(changes.len())].raw_bytes().to_vec()
            }
        };
        // Nothing new: a real sync sends no message.
        if bytes.is_empty() {
            return;
        }
        self.sent.push((d, bytes.clone()));
        self.deliver(to, d, &bytes);
    }

    fn deliver(&mut self, to: usize, d: usize, bytes: &[u8]) {
        let id = self.docs[d];
        let store = &self.stores[to];
        let heads = store.heads(id).expect("heads");
        let stored = store.saved_bytes(id).expect("bytes");
        match store.merge_remote(id, bytes) {
            Ok(outcome) => {
                assert!(!outcome.created);
                // Accepted means stored: every change of the message is now in the store.
                let mut doc = store.load(id).expect("load");
                for change in parse_changes(bytes, MERGE_BYTES).expect("parse") {
                    assert!(
                        doc.get_change_by_hash(&change.hash()).is_some(),
                        "merge dropped a change"
                    );
                }
                let new_heads = doc.get_heads();
                if outcome.changed {
                    assert_ne!(new_heads, heads);
                    self.past_heads[d][to].push(new_heads);
                } else {
                    assert_eq!(new_heads, heads);
                }
            }
            Err(CoreError::MissingDependencies { id: refused, missing }) => {
                assert_eq!(refused, id);
                assert!(missing > 0);
                assert_eq!(store.heads(id).expect("heads"), heads, "a refused merge changed {id}");
                assert_eq!(store.saved_bytes(id).expect("bytes"), stored);
            }
            Err(e) => panic!("merge into store {to} failed: {e}"),
        }
    }

    /// Every store sends every other what it has beyond the receiver's heads, until a whole
    /// round changes nothing. (Whole stored documents travel in the random phase.)
    fn exchange_until_quiet(&mut self) {
        let n = self.stores.len();
        for round in 0.. {
            assert!(round < MAX_ROUNDS, "stores still changing after {MAX_ROUNDS} rounds");
            let mut changed = false;
            for &id in &self.docs {
                // Heads as each store had them when the round began: a receiver that has since
                // heard from someone else gets duplicates, which must be harmless.
                let heads: Vec<_> =
                    self.stores.iter().map(|s| s.heads(id).expect("heads")).collect();
                for from in 0..n {
                    let mut doc = self.stores[from].load(id).expect("load");
                    for to in (0..n).filter(|&to| to != from) {
                        let bytes = doc.save_after(&heads[to]);
                        if bytes.is_empty() {
                            continue;
                        }
                        let outcome = self.stores[to].merge_remote(id, &bytes).expect("merge");
                        changed |= outcome.changed;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Everything the query tables answer: each list with a default filter, and a search for
    /// each store's word.
    fn projections(&self, s: usize) -> Projections {
        let store = &self.stores[s];
        let page = PageRequest::first(100);
        let reports = store.query_reports(&ReportFilter::default(), &page).expect("reports");
        let patrols = store.query_patrols(&PatrolFilter::default(), &page).expect("patrols");
        let cases = store.query_cases(&CaseFilter::default(), &page).expect("cases");
        let searches: Vec<_> = WORDS[..self.stores.len()]
            .iter()
            .map(|w| store.search(w, None, 50).expect("search"))
            .collect();
        (reports, patrols, cases, searches)
    }

    fn check(&self) {
        let n = self.stores.len();
        let first = &self.stores[0];

        // Same heads, same records, same projections everywhere.
        let records: Vec<Record> =
            self.docs.iter().map(|&id| first.get(id).expect("get")).collect();
        for (s, store) in self.stores.iter().enumerate().skip(1) {
            for (d, &id) in self.docs.iter().enumerate() {
                assert_eq!(store.heads(id).expect("heads"), first.heads(id).expect("heads"));
                assert_eq!(store.get(id).expect("get"), records[d], "store {s} differs on {id}");
            }
        }
        let projected = self.projections(0);
        for s in 1..n {
            assert_eq!(self.projections(s), projected, "store {s} projects differently");
        }
        // The projections agree with the records, and a rebuild gives the same rows.
        let Record::Report { report } = &records[REPORT] else { panic!("not a report") };
        let Record::PatrolLog { patrol_log: patrol } = &records[PATROL] else {
            panic!("not a patrol")
        };
        let case = as_case(&records[CASE]);
        let (reports, patrols, cases, _) = &projected;
        let [r] = &reports.items[..] else { panic!("reports listed: {reports:?}") };
        assert_eq!((r.id, r.status.as_str()), (self.docs[REPORT], report.status.as_str()));
        assert_eq!(r.assignee, report.assignee);
        assert_eq!(r.conflicted, !report.conflicts.is_empty());
        // A merged workflow nobody chose is shown, not merged away: work in progress under an
        // assignee who never started it (work started concurrently with a re-dispatch) shows a
        // conflict, unless someone settled one.
        let settled = report.timeline.iter().any(|e| e.action == "settle_conflict");
        if report.status == ReportStatus::InProgress && report.conflicts.is_empty() && !settled {
            let started_by_assignee = report.timeline.iter().any(|e| {
                e.action == "start_work" && Some(e.by.as_str()) == report.assignee.as_deref()
            });
            assert!(
                started_by_assignee,
                "in progress under {:?}, who never started it, and no conflict shown: {:?}",
                report.assignee, report.timeline
            );
        }
        let [p] = &patrols.items[..] else { panic!("patrols listed: {patrols:?}") };
        assert_eq!((p.id, p.status.as_str()), (self.docs[PATROL], patrol.status.as_str()));
        assert_eq!(p.entries, patrol.entries.len() as i64);
        let [c] = &cases.items[..] else { panic!("cases listed: {cases:?}") };
        assert_eq!((c.id, c.status.as_str()), (self.docs[CASE], case.status.as_str()));
        for s in 0..n {
            assert_eq!(self.stores[s].rebuild_projections().expect("rebuild"), 3);
            assert_eq!(self.projections(s), projected, "store {s} rebuilt different rows");
        }

        // Nothing any command saved is lost.
        for (d, key, text, by) in &self.items {
            let found = match &records[*d] {
                Record::Report { report: r } => {
                    r.comments.iter().any(|c| &c.id == key && &c.text == text && &c.by == by)
                }
                Record::PatrolLog { patrol_log: p } => {
                    p.entries.iter().any(|e| &e.id == key && &e.text == text && &e.by == by)
                }
                Record::MediationCase { mediation_case: c } => {
                    c.sessions.iter().any(|x| &x.id == key && &x.by == by)
                        || c.follow_ups
                            .iter()
                            .any(|f| &f.id == key && &f.note == text && &f.by == by)
                }
                Record::Bulletin { bulletin: b } => {
                    b.acknowledgements.iter().any(|a| &a.id == key && &a.by == by)
                }
                Record::Visit { visit: v } => {
                    v.findings.iter().any(|f| &f.id == key && &f.text == text && &f.by == by)
                        || v.results.iter().any(|r| &r.id == key && &r.by == by)
                }
                Record::Deliberation { deliberation: d } => {
                    d.comments.iter().any(|c| &c.id == key && &c.text == text && &c.by == by)
                        || d.options.iter().any(|o| &o.id == key && &o.by == by)
                        || d.meetings.iter().any(|m| &m.id == key && &m.by == by)
                        || d.actions.iter().any(|a| &a.id == key && &a.by == by)
                }
            };
            assert!(found, "item {key} ({text}) by {by} is lost");
        }
        for (d, event) in &self.events {
            let wanted = self.events.iter().filter(|(d2, e)| d2 == d && e == event).count();
            let have = timeline(&records[*d]).iter().filter(|e| *e == event).count();
            assert!(have >= wanted, "timeline event {event:?} is lost");
        }
        for f in &self.fragments {
            let session = case.sessions.iter().find(|x| x.id == f.session).expect("session");
            assert!(
                session.notes.contains(&f.text),
                "fragment {:?} of store {} is not whole in {:?}",
                f.text,
                f.store,
                session.notes
            );
        }
        for (s, word) in WORDS[..n].iter().enumerate() {
            if self.fragments.iter().any(|f| f.store == s) {
                let hits = first.search(word, Some(Kind::MediationCase), 10).expect("search");
                assert!(hits.iter().any(|h| h.id == self.docs[CASE]), "search for {word} misses");
            }
        }

        // Each change is signed by the actor of the store that made it, and none is missing.
        let actors: Vec<ActorId> = self.stores.iter().map(|s| s.identity().actor).collect();
        for (d, &id) in self.docs.iter().enumerate() {
            let mut by_actor: HashMap<ActorId, usize> = HashMap::new();
            for change in first.load(id).expect("load").get_changes(&[]) {
                *by_actor.entry(change.actor_id().clone()).or_default() += 1;
            }
            let expected: HashMap<ActorId, usize> = (0..n)
                .filter_map(|s| Some((actors[s].clone(), *self.authored.get(&(s, d))?)))
                .collect();
            assert_eq!(by_actor, expected, "changes of {id} by actor");
        }
    }
}

/// A refused command drops the loaded document, and the next command or merge reloads it from
/// disk; the changes this device makes afterwards must still carry its actor (the server checks).
#[test]
fn changes_keep_the_device_actor_after_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "dispatcher-1");
    let id = s.create(&new_report("噪音扰民")).expect("create");
    let refused = s.execute(id, &Command::ResolveReport { note: String::new() });
    assert!(matches!(refused, Err(CoreError::InvalidTransition { .. })));
    // Reloaded by a merge (a duplicate, which changes nothing), then written to.
    let outcome = s.merge_remote(id, &s.saved_bytes(id).expect("bytes")).expect("merge");
    assert!(!outcome.changed);
    s.execute(id, &Command::AcceptReport { note: String::new() }).expect("accept");
    let other = store(&dir, "b", "dispatcher-2");
    other.merge_remote(id, &s.saved_bytes(id).expect("bytes")).expect("copy");
    let refused = other.execute(id, &Command::StartWork { note: String::new() });
    assert!(matches!(refused, Err(CoreError::InvalidTransition { .. })));
    // Reloaded by the command itself.
    other.execute(id, &Command::CommentReport { text: "已核实".into() }).expect("comment");
    let actors: Vec<ActorId> = other
        .load(id)
        .expect("load")
        .get_changes(&[])
        .iter()
        .map(|c| c.actor_id().clone())
        .collect();
    let (a, b) = (s.identity().actor, other.identity().actor);
    assert_eq!(actors, [a.clone(), a, b]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn offline_stores_converge_and_lose_nothing(
        n in 3usize..=5,
        head_start in 0usize..=3,
        ops in prop::collection::vec(op(), 5..70),
    ) {
        let mut world = World::new(n, head_start);
        for op in &ops {
            world.run(op);
        }
        world.exchange_until_quiet();
        world.check();
    }
}
