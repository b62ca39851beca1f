//! Crash safety of the phone store: a writer process is SIGKILLed again and again in the middle of
//! its writes, always on the same store file, and after every kill each write it reported as
//! committed must be on disk, readable, and present exactly once.
//!
//! DESIGN.md: "losing a record that a phone said was saved" is never acceptable. A phone app is
//! killed by the OS at any moment; SQLite in WAL mode with `synchronous=NORMAL` must keep every
//! committed transaction across the death of the process, and a document's bytes and its
//! projection rows must never be half written.
//!
//! The run is random (how long the writer lives each round, what it writes); the seed is printed
//! and `FIELDSYNC_CRASH_SEED=<seed>` replays the same choices. `FIELDSYNC_CRASH_ROUNDS` changes
//! the number of kills.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fieldsync_core::model::{
    CaseCategory, Command, Kind, NewCase, NewRecord, Party, Record, TimelineEvent,
};
use fieldsync_core::store::{CaseFilter, PageRequest, PatrolFilter, ReportFilter};
use fieldsync_core::{DocId, Store};
use fieldsync_tests::crash::Written;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED_VAR: &str = "FIELDSYNC_CRASH_SEED";
const ROUNDS_VAR: &str = "FIELDSYNC_CRASH_ROUNDS";
const DEFAULT_ROUNDS: usize = 40;
/// How long the writer lives each round, in milliseconds.
const LIFETIME_MS: std::ops::RangeInclusive<u64> = 20..=300;

/// What the writers reported about one record, accumulated over every round.
#[derive(Debug, Default)]
struct Expected {
    kind: Option<Kind>,
    /// Patrol entries: key → text.
    entries: BTreeMap<String, String>,
    /// Report comments: key → text.
    comments: BTreeMap<String, String>,
    /// Mediation sessions: key → fragments of its notes (the initial notes among them).
    sessions: BTreeMap<String, Vec<String>>,
    /// Timeline events: note → action.
    events: BTreeMap<String, String>,
    agreement: Option<String>,
    /// Case follow-ups: key → note.
    follow_ups: BTreeMap<String, String>,
}

impl Expected {
    fn add(&mut self, written: Written) {
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
            Written::Event { action, note, .. } => {
                self.events.insert(note, action);
            }
            Written::Agreement { text, .. } => {
                self.kind = Some(Kind::MediationCase);
                self.agreement = Some(text);
            }
            Written::FollowUp { key, note, .. } => {
                self.kind = Some(Kind::MediationCase);
                self.follow_ups.insert(key, note);
            }
        }
    }
}

/// The writer's output and error streams, read while it runs so that it never blocks on a pipe.
struct Output {
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error can only cut the output short, which loses promises, never invents them.
        let _ = from.read_to_end(&mut buf);
        buf
    })
}

/// Runs the writer on `path` for `lifetime`, SIGKILLs it, and returns the writes it reported.
fn run_writer(path: &Path, seed: u64, lifetime: Duration, replay: &str) -> Vec<Written> {
    let mut child = Process::new(env!("CARGO_BIN_EXE_store_crash_writer"))
        .arg(path)
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start store_crash_writer");
    let output = Output {
        stdout: drain(child.stdout.take().expect("piped stdout")),
        stderr: drain(child.stderr.take().expect("piped stderr")),
    };
    std::thread::sleep(lifetime);
    // On Unix this is SIGKILL: no destructor, no flush, no SQLite close runs in the writer.
    let _ = child.kill();
    let status = child.wait().expect("wait for the writer");
    let stdout = output.stdout.join().expect("stdout reader");
    let stderr = output.stderr.join().expect("stderr reader");
    assert_eq!(
        status.signal(),
        Some(9),
        "the writer ended on its own ({status}) instead of being killed; {replay}\nits stderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    // Only complete lines are promises: the kill may cut the last one short.
    let complete = match stdout.iter().rposition(|&b| b == b'\n') {
        Some(end) => &stdout[..=end],
        None => &[][..],
    };
    let text = std::str::from_utf8(complete)
        .unwrap_or_else(|e| panic!("the writer's complete lines are not UTF-8: {e}; {replay}"));
    text.lines()
        .map(|line| {
            line.parse().unwrap_or_else(|e| panic!("bad line from the writer: {e}; {replay}"))
        })
        .collect()
}

/// How many times `key` appears among `keys`.
fn count<'a>(keys: impl IntoIterator<Item = &'a String>, key: &str) -> usize {
    keys.into_iter().filter(|k| *k == key).count()
}

/// Every key of a list appears once: a list item is never stored twice.
fn unique<'a>(
    problems: &mut Vec<String>,
    id: DocId,
    what: &str,
    keys: impl IntoIterator<Item = &'a String>,
) {
    let mut seen = BTreeSet::new();
    for k in keys {
        if !seen.insert(k) {
            problems.push(format!("{id}: {what} {k} appears more than once"));
        }
    }
}

fn check_events(
    problems: &mut Vec<String>,
    id: DocId,
    timeline: &[TimelineEvent],
    expected: &Expected,
) {
    unique(
        problems,
        id,
        "timeline note",
        timeline.iter().map(|e| &e.note).filter(|n| !n.is_empty()),
    );
    for (note, action) in &expected.events {
        let found: Vec<&TimelineEvent> = timeline.iter().filter(|e| &e.note == note).collect();
        match found.as_slice() {
            [e] if &e.action == action => {}
            [e] => problems.push(format!("{id}: event {note} is {}, not {action}", e.action)),
            [] => problems.push(format!("{id}: reported {action} {note} is missing")),
            _ => problems.push(format!("{id}: event {note} appears {} times", found.len())),
        }
    }
}

/// Checks one record against what was reported about it; returns its status for the projection
/// check, and its entry count if it is a patrol log.
fn check_record(
    problems: &mut Vec<String>,
    id: DocId,
    record: &Record,
    expected: Option<&Expected>,
) -> (String, Option<u64>) {
    let empty = Expected::default();
    let exp = expected.unwrap_or(&empty);
    if record.header().id != id {
        problems.push(format!("{id}: its header names {}", record.header().id));
    }
    if let Some(kind) = exp.kind
        && record.header().kind != kind
    {
        problems.push(format!("{id}: reported as a {kind}, stored as a {}", record.header().kind));
    }
    match record {
        Record::Report { report: r } => {
            unique(problems, id, "comment", r.comments.iter().map(|c| &c.id));
            for (key, text) in &exp.comments {
                match r.comments.iter().find(|c| &c.id == key) {
                    Some(c) if &c.text == text => {}
                    Some(c) => problems.push(format!("{id}: comment {key} reads {:?}", c.text)),
                    None => problems.push(format!("{id}: reported comment {key} is missing")),
                }
            }
            check_events(problems, id, &r.timeline, exp);
            (r.status.to_string(), None)
        }
        Record::PatrolLog { patrol_log: p } => {
            unique(problems, id, "entry", p.entries.iter().map(|e| &e.id));
            for (key, text) in &exp.entries {
                match p.entries.iter().find(|e| &e.id == key) {
                    Some(e) if &e.text == text => {}
                    Some(e) => problems.push(format!("{id}: entry {key} reads {:?}", e.text)),
                    None => problems.push(format!("{id}: reported entry {key} is missing")),
                }
            }
            unique(problems, id, "entry text", p.entries.iter().map(|e| &e.text));
            check_events(problems, id, &p.timeline, exp);
            (p.status.to_string(), Some(p.entries.len() as u64))
        }
        Record::MediationCase { mediation_case: c } => {
            unique(problems, id, "session", c.sessions.iter().map(|s| &s.id));
            unique(problems, id, "follow-up", c.follow_ups.iter().map(|f| &f.id));
            for (key, fragments) in &exp.sessions {
                let Some(session) = c.sessions.iter().find(|s| &s.id == key) else {
                    problems.push(format!("{id}: reported session {key} is missing"));
                    continue;
                };
                for fragment in fragments {
                    match session.notes.matches(fragment.as_str()).count() {
                        1 => {}
                        n => problems.push(format!(
                            "{id}: session {key}: reported notes {fragment} appear {n} times"
                        )),
                    }
                }
            }
            if let Some(text) = &exp.agreement
                && &c.agreement != text
            {
                problems.push(format!("{id}: agreement reads {:?}, not {text}", c.agreement));
            }
            for (key, note) in &exp.follow_ups {
                if count(c.follow_ups.iter().map(|f| &f.id), key) != 1 {
                    problems.push(format!("{id}: reported follow-up {key} is missing"));
                } else if !c.follow_ups.iter().any(|f| &f.id == key && &f.note == note) {
                    problems.push(format!("{id}: follow-up {key} does not read {note}"));
                }
            }
            check_events(problems, id, &c.timeline, exp);
            (c.status.to_string(), None)
        }
        other => {
            // The writer makes records of no other kind: one here came from nowhere.
            problems.push(format!("{id}: a {}, which the writer never makes", other.kind()));
            (String::new(), None)
        }
    }
}

/// Every row of every projection table, by document: (kind, status, entry count of a patrol).
fn projections(store: &Store) -> HashMap<DocId, (Kind, String, Option<u64>)> {
    let mut out = HashMap::new();
    let mut page = PageRequest::first(fieldsync_core::store::MAX_PAGE);
    loop {
        let p = store.query_reports(&ReportFilter::default(), &page).expect("query reports");
        for r in p.items {
            out.insert(r.id, (Kind::Report, r.status.to_string(), None));
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut page = PageRequest::first(fieldsync_core::store::MAX_PAGE);
    loop {
        let p = store.query_patrols(&PatrolFilter::default(), &page).expect("query patrols");
        for r in p.items {
            out.insert(
                r.id,
                (Kind::PatrolLog, r.status.to_string(), Some(r.entries.unsigned_abs())),
            );
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut page = PageRequest::first(fieldsync_core::store::MAX_PAGE);
    loop {
        let p = store.query_cases(&CaseFilter::default(), &page).expect("query cases");
        for r in p.items {
            out.insert(r.id, (Kind::MediationCase, r.status.to_string(), None));
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    out
}

/// Opens the store the writer died on and checks it whole; returns the problems found.
fn check_store(path: &Path, expected: &BTreeMap<DocId, Expected>) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let store = Store::open(path).expect("the store opens after a kill");
    if let Err(e) = store.integrity_check() {
        problems.push(format!("integrity check: {e}"));
    }
    let ids = store.doc_ids().expect("list documents");
    let stored: BTreeSet<DocId> = ids.iter().copied().collect();
    if stored.len() != ids.len() {
        problems.push(format!("{} document rows for {} ids", ids.len(), stored.len()));
    }
    for id in expected.keys() {
        if !stored.contains(id) {
            problems.push(format!("{id}: reported as written, but not stored"));
        }
    }
    let projected = projections(&store);
    if projected.len() != stored.len() {
        problems.push(format!(
            "{} projection rows for {} documents",
            projected.len(),
            stored.len()
        ));
    }
    for &id in &stored {
        let record = match store.get(id) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{id}: does not read: {e}"));
                continue;
            }
        };
        let (status, entries) = check_record(&mut problems, id, &record, expected.get(&id));
        let kind = record.header().kind;
        match projected.get(&id) {
            Some(row) if *row == (kind, status.clone(), entries) => {}
            Some(row) => problems.push(format!(
                "{id}: projection {row:?} disagrees with the document ({kind}, {status}, {entries:?})"
            )),
            None => problems.push(format!("{id}: no projection row")),
        }
    }
    // The search index is written in the same transaction: the newest notes of a case are found.
    for (id, exp) in expected {
        let Some(fragment) = exp.sessions.values().flatten().last() else { continue };
        let hits = store.search(fragment, Some(Kind::MediationCase), 10).expect("search");
        if !hits.iter().any(|h| h.id == *id) {
            problems.push(format!("{id}: search does not find its notes {fragment}"));
        }
    }
    (problems, stored.len())
}

#[test]
fn reported_writes_survive_sigkill() {
    let seed: u64 = match std::env::var(SEED_VAR) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not a u64")),
        Err(_) => rand::random(),
    };
    let rounds: usize = match std::env::var(ROUNDS_VAR) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("{ROUNDS_VAR}={s:?} is not a number")),
        Err(_) => DEFAULT_ROUNDS,
    };
    let replay = format!("replay with {SEED_VAR}={seed}");
    println!("store_crash: seed {seed}, {rounds} kills ({replay})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("phone.db");

    let started = Instant::now();
    let mut expected: BTreeMap<DocId, Expected> = BTreeMap::new();
    let mut reported = 0;
    for round in 1..=rounds {
        let lifetime = Duration::from_millis(rng.random_range(LIFETIME_MS));
        let writer_seed: u64 = rng.random();
        let written = run_writer(&path, writer_seed, lifetime, &replay);
        reported += written.len();
        let this_round = written.len();
        for w in written {
            expected.entry(w.doc()).or_default().add(w);
        }
        let (problems, documents) = check_store(&path, &expected);
        println!(
            "round {round}: writer lived {lifetime:?}, reported {this_round} writes; \
             {documents} documents on disk"
        );
        assert!(
            problems.is_empty(),
            "after kill {round} of {rounds} ({replay}), {} problems:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    println!(
        "store_crash: {rounds} kills, {reported} reported writes checked, {} records, in {:?}",
        expected.len(),
        started.elapsed()
    );
    // A run in which the writer never got to write would prove nothing.
    assert!(reported >= 50, "only {reported} writes were reported in {rounds} rounds; {replay}");
}

/// The checker itself: lost writes and doubled ones are reported, so a green run means something.
#[test]
fn the_check_finds_lost_and_doubled_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("phone.db");
    let store = Store::open(&path).expect("open");
    store.set_user("med-chen").expect("user");
    let case = store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: "jl/changchun/chaoyang/yongchang/xinhua/grid-07".into(),
                category: CaseCategory::Neighbour,
                place: "新华社区调解室".into(),
                parties: vec![Party {
                    name: "张三".into(),
                    role: String::new(),
                    contact: String::new(),
                }],
                mediators: vec!["med-chen".into()],
            },
        })
        .expect("create");
    let session = store
        .execute(case, &Command::AddSession { attendees: vec![], notes: "「一」".into() })
        .expect("session")
        .item
        .expect("key");
    // The same fragment a second time: what a replayed write would leave behind.
    let doubled =
        Command::EditNotes {
            session: session.clone(), pos: 3, delete: 0, insert: "「一」".into()
        };
    store.execute(case, &doubled).expect("edit");
    drop(store);

    let lost = DocId::random();
    let mut expected: BTreeMap<DocId, Expected> = BTreeMap::new();
    for w in [
        Written::Created { kind: Kind::MediationCase, doc: case },
        Written::Session { doc: case, key: session.clone(), notes: "「一」".into() },
        Written::Notes { doc: case, session, fragment: "「二」".into() },
        Written::FollowUp { doc: case, key: "k9".into(), note: "回访".into() },
        Written::Event { doc: case, action: "close_case".into(), note: "「三」".into() },
        Written::Created { kind: Kind::Report, doc: lost },
    ] {
        expected.entry(w.doc()).or_default().add(w);
    }
    let (problems, documents) = check_store(&path, &expected);
    assert_eq!(documents, 1);
    let wanted = [
        "notes 「一」 appear 2 times".to_string(),
        "notes 「二」 appear 0 times".to_string(),
        "follow-up k9 is missing".to_string(),
        "close_case 「三」 is missing".to_string(),
        "search does not find its notes 「二」".to_string(),
        format!("{lost}: reported as written, but not stored"),
    ];
    for w in &wanted {
        assert!(problems.iter().any(|p| p.contains(w.as_str())), "{w:?} not in {problems:#?}");
    }
    assert_eq!(problems.len(), wanted.len(), "{problems:#?}");
}
