//! A phone killed in the middle of its syncs: the phone process (`phone_sync_worker`, a real
//! store file and a real HTTP sync client) is SIGKILLed again and again, most times while a sync
//! is under way, and restarted on the same file. While it lives and between its lives a second
//! device edits the same records and syncs, so the phone's pushes meet other writes to the same
//! documents and its pulls have work too. After every kill, every write the phone promised
//! (printed after the store's `Ok`) must be in its store, whose `integrity_check` passes. At the
//! end the phone syncs to a clean finish, and:
//! - every promised write is on the phone and on the server;
//! - nothing is doubled: every record, list item (entry, comment, session) and notes fragment is
//!   held once by the phone, by the server and by the second device, and the server's change log
//!   holds each of the phone's changes exactly once (pushes whose answer a kill cut off are sent
//!   again, and the server must take them once);
//! - a restarted phone resumes: it never sends again a change it had recorded as acknowledged;
//! - the three converge (same documents, same heads), the second device's edits are on the
//!   phone, nothing waits to be pushed, and a sync right after the last pushes and pulls nothing.
//!
//! Then a new phone catches up on everything in small pages and is killed during its catch-up
//! (a quarter as many times, at least 5): it ends with the same documents and heads, none
//! doubled, and downloads no more than a clean catch-up plus one answer per kill.
//!
//! DESIGN.md: "losing a record that a phone said was saved" is never acceptable; docs/protocol.md:
//! "a sync killed at any point resumes without loss".
//!
//! The run is random (the edits, when each kill lands); the seed is printed and
//! `FIELDSYNC_PHONE_SEED=<seed>` replays the same choices (kill times follow the seed, though
//! where a kill lands also depends on the machine's speed and the second device's pace). The
//! default run kills the phone 20 times and takes 15-45 s in a debug build on 2 cores. The
//! longer run (200 kills, about 5 minutes):
//!
//! ```sh
//! FIELDSYNC_PHONE_KILLS=200 cargo test -p fieldsync-tests --test phone_crash -- --nocapture
//! ```
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit, ChangeHash};
use fieldsync_core::model::{Kind, Record};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::HttpTransport;
use fieldsync_core::{DocId, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};
use fieldsync_tests::crash::Written;
use fieldsync_tests::phone::{Phone, enrol_http};
use fieldsync_tests::phone_crash::{Editor, Line};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED_VAR: &str = "FIELDSYNC_PHONE_SEED";
const KILLS_VAR: &str = "FIELDSYNC_PHONE_KILLS";
const DEFAULT_KILLS: usize = 20;
/// The phone's user, and the second device's.
const PHONE: &str = "police-li";
const OTHER: &str = "cadre-wang";
/// Share of kills aimed at a running sync; the others land at any moment of the worker's life.
const AIM_AT_SYNC: f64 = 0.85;
/// The second device's pause between its bursts of edits while the phone lives.
const OTHER_PAUSE: Duration = Duration::from_millis(40);
/// How long the phone may take to start a sync, or to finish its final one.
const PATIENCE: Duration = Duration::from_secs(120);

/// What was written to one record, by the phone (promised) and by the second device.
#[derive(Debug, Default)]
struct Expected {
    kind: Option<Kind>,
    /// Patrol entries: key → text.
    entries: BTreeMap<String, String>,
    /// Report comments: key → text.
    comments: BTreeMap<String, String>,
    /// Mediation sessions: key → fragments of its notes (the initial notes among them).
    sessions: BTreeMap<String, Vec<String>>,
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
            other => panic!("the editors do not write {other}"),
        }
    }
}

/// Every item of a list appears once (`what` names the list in a problem).
fn unique<'a>(
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
fn fragments(text: &str) -> Vec<String> {
    text.split('「')
        .skip(1)
        .map(|rest| format!("「{}」", rest.split('」').next().unwrap_or_default()))
        .collect()
}

/// Checks one record as `at` (phone, server, second device) holds it: every expected write is
/// there once, and no list item or notes fragment is there twice.
fn check_record(
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
        Record::Report(r) => {
            listed("comment", r.comments.iter().map(|c| (&c.id, &c.text)).collect(), &exp.comments)
        }
        Record::PatrolLog(p) => {
            listed("entry", p.entries.iter().map(|e| (&e.id, &e.text)).collect(), &exp.entries)
        }
        Record::MediationCase(c) => {
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
    }
}

/// A running worker: its process, its complete stdout lines as they come, its stderr.
struct Worker {
    child: Child,
    lines: Receiver<Result<Line, String>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl Worker {
    fn start(path: &Path, seed: u64, tag: &str, last: bool) -> Worker {
        let mut command = Process::new(env!("CARGO_BIN_EXE_phone_sync_worker"));
        command.arg(path).arg(seed.to_string()).arg(tag);
        if last {
            command.arg("final");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start phone_sync_worker");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                // A read error can only cut the output short: promises are lost, never invented.
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    // Only complete lines are promises: the kill may cut the last one short.
                    Ok(_) if buf.last() != Some(&b'\n') => break,
                    Ok(n) => {
                        let line = String::from_utf8_lossy(&buf[..n - 1]).into_owned();
                        if tx.send(line.parse::<Line>()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        Worker { child, lines, stderr }
    }

    /// The next line, or `None` if the worker's output ended or `deadline` passed.
    fn next(&self, deadline: Instant, replay: &str) -> Option<Line> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => Some(line),
            Ok(Err(e)) => panic!("bad line from the worker: {e}; {replay}"),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the process to end (it was killed, or ends by itself); returns how it ended,
    /// every line it printed after those already taken, and its stderr.
    fn finish(mut self, replay: &str) -> (std::process::ExitStatus, Vec<Line>, String) {
        let status = self.child.wait().expect("wait for the worker");
        let mut rest = Vec::new();
        for line in self.lines.iter() {
            rest.push(line.unwrap_or_else(|e| panic!("bad line from the worker: {e}; {replay}")));
        }
        let stderr = self.stderr.join().expect("stderr reader");
        (status, rest, String::from_utf8_lossy(&stderr).into_owned())
    }
}

/// What one life of the worker did before its kill.
struct Life {
    plan: Plan,
    lines: Vec<Line>,
    /// The kill came while a sync was running.
    mid_sync: bool,
    /// ... and after that sync had been answered at least once.
    after_answer: bool,
}

/// How long the phone's syncs have been taking, from the summaries of completed ones.
#[derive(Debug, Default)]
struct Pace {
    /// (milliseconds, requests) of each completed sync.
    syncs: Vec<(u64, u64)>,
}

impl Pace {
    fn add(&mut self, lines: &[Line]) {
        for line in lines {
            if let Line::Synced { ms, requests, .. } = line {
                self.syncs.push((*ms, *requests));
            }
        }
    }

    /// The median of the last few syncs: (whole sync, one request).
    fn typical(&self) -> (Duration, Duration) {
        let mut recent: Vec<(u64, u64)> = self.syncs.iter().rev().take(9).copied().collect();
        recent.sort();
        let (ms, requests) = recent.get(recent.len() / 2).copied().unwrap_or((400, 4));
        let ms = ms.max(20);
        (Duration::from_millis(ms), Duration::from_millis((ms / requests.max(1)).max(5)))
    }
}

/// When to kill the worker.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// At any moment of its life: opening, editing or syncing.
    Anytime(Duration),
    /// This long after the `n`th sync of its life started.
    AfterStart(usize, Duration),
    /// This long after the `n`th answered request of its life (inside a sync's later rounds).
    AfterAnswer(usize, Duration),
}

impl Plan {
    fn draw(rng: &mut StdRng, pace: &Pace) -> Plan {
        let (sync, request) = pace.typical();
        let upto = |rng: &mut StdRng, d: Duration| {
            Duration::from_millis(rng.random_range(0..=d.as_millis() as u64))
        };
        // Mostly the first sync of a life, which also carries what the last life left unsent.
        let n = if rng.random_bool(0.7) { 1 } else { 2 };
        if !rng.random_bool(AIM_AT_SYNC) {
            Plan::Anytime(upto(rng, sync * 3))
        } else if rng.random_bool(0.5) {
            Plan::AfterStart(n, upto(rng, sync * 6 / 5))
        } else {
            Plan::AfterAnswer(rng.random_range(1..=4), upto(rng, request))
        }
    }
}

/// Starts the worker, kills it by the plan drawn from `rng`, and returns what it printed.
fn live_and_die(path: &Path, rng: &mut StdRng, tag: &str, pace: &Pace, replay: &str) -> Life {
    let seed: u64 = rng.random();
    let plan = Plan::draw(rng, pace);
    let mut worker = Worker::start(path, seed, tag, false);
    let mut lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut wait_for = |counts: &dyn Fn(&Line) -> bool, n: usize| {
        let mut seen = 0;
        while seen < n {
            let Some(line) = worker.next(deadline, replay) else { break };
            seen += usize::from(counts(&line));
            lines.push(line);
        }
    };
    let delay = match plan {
        Plan::Anytime(delay) => delay,
        Plan::AfterStart(n, delay) => {
            wait_for(&|l| *l == Line::SyncStarted, n);
            delay
        }
        Plan::AfterAnswer(n, delay) => {
            wait_for(&|l| matches!(l, Line::Progress { .. }), n);
            delay
        }
    };
    std::thread::sleep(delay);
    // On Unix this is SIGKILL: no destructor, no flush, no SQLite close runs in the worker.
    let _ = worker.child.kill();
    let (status, rest, stderr) = worker.finish(replay);
    assert_eq!(
        status.signal(),
        Some(9),
        "the worker ended on its own ({status}) instead of being killed; {replay}\n\
         its stderr:\n{stderr}"
    );
    lines.extend(rest);
    let last_start = lines.iter().rposition(|l| *l == Line::SyncStarted);
    let last_end = lines.iter().rposition(|l| matches!(l, Line::Synced { .. }));
    let mid_sync = match (last_start, last_end) {
        (Some(s), Some(e)) => s > e,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let after_answer = mid_sync
        && last_start
            .is_some_and(|s| lines[s..].iter().any(|l| matches!(l, Line::Progress { .. })));
    Life { plan, lines, mid_sync, after_answer }
}

/// Checks the records touched by `written` in the phone's store (which the worker died on).
fn check_promises(
    path: &Path,
    written: &[&Written],
    expected: &BTreeMap<DocId, Expected>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let store = Store::open(path).expect("the store opens after a kill");
    if let Err(e) = store.integrity_check() {
        problems.push(format!("phone: integrity check: {e}"));
    }
    let docs: BTreeSet<DocId> = written.iter().map(|w| w.doc()).collect();
    for id in docs {
        match store.get(id) {
            Ok(record) => check_record(&mut problems, "phone", id, &record, expected.get(&id)),
            Err(e) => problems.push(format!("phone: {id}: promised, but does not read: {e}")),
        }
    }
    problems
}

/// Every document a store holds, with its heads.
fn heads_of(store: &Store) -> BTreeMap<DocId, Vec<ChangeHash>> {
    store
        .doc_ids()
        .unwrap()
        .into_iter()
        .map(|id| {
            let mut heads = store.heads(id).unwrap();
            heads.sort();
            (id, heads)
        })
        .collect()
}

/// Totals over the run.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    mid_sync: usize,
    after_answer: usize,
    syncs_completed: usize,
    promised: usize,
    other_writes: usize,
    requests: u64,
    bytes_up: u64,
    bytes_down: u64,
}

impl Tally {
    /// Adds the traffic of the syncs in `lines`: whole syncs by their summary, a killed one by
    /// its last progress line.
    fn traffic(&mut self, lines: &[Line]) {
        let mut open: Option<(u64, u64, u64)> = None;
        for line in lines {
            match *line {
                Line::SyncStarted => open = Some((0, 0, 0)),
                Line::Progress { requests, bytes_up, bytes_down, .. } => {
                    open = Some((requests, bytes_up, bytes_down))
                }
                Line::Synced { requests, bytes_up, bytes_down, .. } => {
                    self.syncs_completed += 1;
                    self.requests += requests;
                    self.bytes_up += bytes_up;
                    self.bytes_down += bytes_down;
                    open = None;
                }
                Line::Wrote(_) | Line::Sending { .. } | Line::Acked { .. } => {}
            }
        }
        if let Some((requests, up, down)) = open {
            self.requests += requests;
            self.bytes_up += up;
            self.bytes_down += down;
        }
    }
}

fn server_records(
    rt: &tokio::runtime::Runtime,
    server: &RunningServer,
    ids: &[DocId],
) -> HashMap<DocId, AutoCommit> {
    let storage = server.server().storage();
    let loaded = rt.block_on(storage.load(ids.to_vec())).expect("load from the server");
    ids.iter()
        .zip(loaded)
        .filter_map(|(id, stored)| {
            stored.map(|s| (*id, AutoCommit::load(&s.bytes).expect("the server's bytes load")))
        })
        .collect()
}

/// The server's change log as read so far: how often each `(document, change)` appears.
#[derive(Default)]
struct ServerLog {
    after: u64,
    seen: HashMap<(DocId, ChangeHash), usize>,
}

impl ServerLog {
    /// Reads the entries logged since the last call.
    fn catch_up(&mut self, rt: &tokio::runtime::Runtime, server: &RunningServer) -> &Self {
        let storage = server.server().storage();
        loop {
            let page = rt.block_on(storage.audit(self.after, 1000)).expect("read the server's log");
            let Some(last) = page.last() else { break };
            self.after = last.seq;
            for r in page {
                *self.seen.entry((r.doc, ChangeHash(r.hash))).or_default() += 1;
            }
        }
        self
    }
}

/// What the phone pushed and heard back, over all its lives (from its `sending`, `acked` and
/// `progress` lines).
#[derive(Default)]
struct Ledger {
    /// Changes whose acknowledgement the phone recorded (the answer was followed by `progress`).
    recorded: HashMap<DocId, BTreeSet<ChangeHash>>,
    /// Every change sent so far.
    sent: BTreeSet<(DocId, ChangeHash)>,
    /// Changes sent although the phone had recorded their acknowledgement: must not happen.
    resent_recorded: Vec<String>,
    /// Changes sent more than once (an answer lost to a kill, or a document the server asked
    /// to retry).
    resent: u64,
    /// Kills that cut off the answer to a push, or killed the phone before it recorded it.
    cut_pushes: usize,
    /// ... of which the server had taken the push (found in its log before the next life).
    taken_unheard: usize,
}

impl Ledger {
    /// Follows one life; returns the changes first sent in the request whose answer the kill
    /// cut off (or which the phone did not live to record).
    fn life(&mut self, lines: &[Line]) -> Vec<(DocId, ChangeHash)> {
        let mut in_flight: HashMap<DocId, Vec<ChangeHash>> = HashMap::new();
        let mut answered: Vec<(DocId, Vec<ChangeHash>)> = Vec::new();
        let mut first_sent: Vec<(DocId, ChangeHash)> = Vec::new();
        for line in lines {
            match line {
                Line::Sending { doc, changes } => {
                    let recorded = self.recorded.get(doc);
                    for h in changes {
                        if recorded.is_some_and(|r| r.contains(h)) {
                            self.resent_recorded.push(format!("{doc}: {h}"));
                        }
                        if self.sent.insert((*doc, *h)) {
                            first_sent.push((*doc, *h));
                        } else {
                            self.resent += 1;
                        }
                    }
                    in_flight.insert(*doc, changes.clone());
                }
                Line::Acked { doc } => {
                    if let Some(changes) = in_flight.remove(doc) {
                        answered.push((*doc, changes));
                    }
                }
                Line::Progress { .. } => {
                    for (doc, changes) in answered.drain(..) {
                        self.recorded.entry(doc).or_default().extend(changes);
                    }
                    in_flight.clear();
                    first_sent.clear();
                }
                Line::SyncStarted | Line::Synced { .. } => {
                    in_flight.clear();
                    answered.clear();
                    first_sent.clear();
                }
                Line::Wrote(_) => {}
            }
        }
        if !first_sent.is_empty() {
            self.cut_pushes += 1;
        }
        first_sent
    }
}

/// Bytes received by the syncs in `lines`: whole syncs by their summary, a killed one by its
/// last progress line.
fn bytes_down(lines: &[Line]) -> u64 {
    let mut tally = Tally::default();
    tally.traffic(lines);
    tally.bytes_down
}

/// The largest answer among `lines` (bytes received between two progress lines of a sync).
fn largest_answer(lines: &[Line]) -> u64 {
    let mut last = 0;
    let mut largest = 0;
    for line in lines {
        match line {
            Line::SyncStarted => last = 0,
            Line::Progress { bytes_down, .. } | Line::Synced { bytes_down, .. } => {
                largest = largest.max(bytes_down.saturating_sub(last));
                last = *bytes_down;
            }
            _ => {}
        }
    }
    largest
}

/// New phones catch up from nothing, with the server's data standing still: one without a
/// kill, for the figures, and one killed `kills` times during its catch-up. The killed one ends
/// with the same documents and heads as `reference`, none doubled, and downloads at most one
/// answer again per kill. Returns (lives killed mid-catch-up, bytes down, clean bytes down).
fn catch_up_under_kills(
    (rt, server): (&tokio::runtime::Runtime, &RunningServer),
    dir: &Path,
    rng: &mut StdRng,
    kills: usize,
    reference: &BTreeMap<DocId, Vec<ChangeHash>>,
    expected: &BTreeMap<DocId, Expected>,
    replay: &str,
) -> (usize, u64, u64) {
    let clean = dir.join("clean.db");
    enrol(rt, server, "dispatch-wu", &clean);
    let clean_lines = run_to_end(&clean, replay);
    let clean_down = bytes_down(&clean_lines);
    let largest = largest_answer(&clean_lines);
    let pages = clean_lines.iter().filter(|l| matches!(l, Line::Progress { .. })).count();
    let ms = clean_lines
        .iter()
        .find_map(|l| match l {
            Line::Synced { ms, requests, .. } => Some(ms / requests.max(&1)),
            _ => None,
        })
        .unwrap_or(20);

    let path = dir.join("fresh.db");
    enrol(rt, server, "dispatch-zhou", &path);
    let mut killed = 0;
    let mut down = 0;
    let mut problems = Vec::new();
    for _ in 0..kills {
        let mut worker = Worker::start(&path, 0, "final", true);
        let answers = rng.random_range(1..=(pages / kills).max(1));
        let delay = Duration::from_millis(rng.random_range(0..=ms.max(1)));
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        let mut seen = 0;
        while seen < answers {
            let Some(line) = worker.next(deadline, replay) else { break };
            seen += usize::from(matches!(line, Line::Progress { .. }));
            lines.push(line);
        }
        std::thread::sleep(delay);
        let _ = worker.child.kill();
        let (status, rest, stderr) = worker.finish(replay);
        lines.extend(rest);
        down += bytes_down(&lines);
        if status.signal() != Some(9) {
            // The catch-up ended before the kill: nothing left to interrupt.
            assert!(
                status.success(),
                "the catching-up phone failed ({status}); {replay}\n{stderr}"
            );
            break;
        }
        killed += 1;
        let store = Store::open(&path).expect("the store opens after a kill");
        if let Err(e) = store.integrity_check() {
            problems.push(format!("catching-up phone: integrity check after kill {killed}: {e}"));
        }
    }
    down += bytes_down(&run_to_end(&path, replay));

    let store = Store::open(&path).expect("open the caught-up store");
    if heads_of(&store) != *reference {
        problems.push(format!(
            "the caught-up phone holds {} documents, not the same as the {} of the others",
            store.doc_ids().expect("ids").len(),
            reference.len()
        ));
    }
    for &id in reference.keys() {
        match store.get(id) {
            Ok(record) => check_record(&mut problems, "caught-up", id, &record, expected.get(&id)),
            Err(e) => problems.push(format!("caught-up: {id}: does not read: {e}")),
        }
    }
    // Each kill may cost the answer it cut off (or one received but not yet recorded).
    let allowed = clean_down + killed as u64 * largest;
    if down > allowed {
        problems.push(format!(
            "the catch-up downloaded {down} B over {killed} kills; a clean one took {clean_down} B \
             and the largest answer is {largest} B"
        ));
    }
    assert!(
        problems.is_empty(),
        "a phone killed {killed} times while catching up ({replay}), {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    (killed, down, clean_down)
}

/// Enrols a new device of `user` (a dispatcher of the whole jurisdiction) as a phone does, into
/// a new store at `path`: the store keeps the server's URL and the device's token.
fn enrol(rt: &tokio::runtime::Runtime, server: &RunningServer, user: &str, path: &Path) {
    let accounts = server.server().accounts();
    if accounts.user(user).expect("accounts").is_none() {
        accounts.add_user(user, Role::Dispatcher, None, &["jl".to_string()]).expect("add user");
    }
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = accounts.issue_code(user, &admin, Duration::from_secs(600)).expect("code").code;
    let store = Store::open(path).expect("open a new store");
    let transport = HttpTransport::new(&server.url()).expect("url");
    rt.block_on(fieldsync_core::sync::enroll(&store, &transport, &code, "patrol phone"))
        .expect("enrol the phone");
}

/// Runs the worker's final mode on `path` (two syncs, no edits) to its end; returns its lines.
fn run_to_end(path: &Path, replay: &str) -> Vec<Line> {
    let mut worker = Worker::start(path, 0, "final", true);
    let deadline = Instant::now() + PATIENCE;
    let mut lines = Vec::new();
    while let Some(line) = worker.next(deadline, replay) {
        lines.push(line);
    }
    if Instant::now() >= deadline {
        let _ = worker.child.kill();
    }
    let (status, rest, stderr) = worker.finish(replay);
    lines.extend(rest);
    assert!(status.success(), "the final sync did not finish ({status}); {replay}\n{stderr}");
    lines
}

#[test]
fn a_phone_killed_during_syncs_loses_and_doubles_nothing() {
    let seed: u64 = match std::env::var(SEED_VAR) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not a u64")),
        Err(_) => rand::random(),
    };
    let kills: usize = match std::env::var(KILLS_VAR) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("{KILLS_VAR}={s:?} is not a number")),
        Err(_) => DEFAULT_KILLS,
    };
    let replay = format!("replay with {SEED_VAR}={seed}");
    println!("phone_crash: seed {seed}, {kills} kills ({replay})");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig::new(dir.path().join("server"))
        .with_listen("127.0.0.1:0".parse().expect("address"));
    let server = rt.block_on(Server::start(&config)).expect("server starts");

    let path = dir.path().join("phone.db");
    enrol(&rt, &server, PHONE, &path);
    let other = Phone::new(dir.path(), OTHER, enrol_http(&server, OTHER));
    let mut other_editor = Editor::new(rng.random(), "o");

    // Everything written, and the phone's promises alone (what its store must hold after a kill).
    let mut expected: BTreeMap<DocId, Expected> = BTreeMap::new();
    let mut promised: BTreeMap<DocId, Expected> = BTreeMap::new();
    let mut tally = Tally::default();
    let mut pace = Pace::default();
    let mut ledger = Ledger::default();
    let mut server_log = ServerLog::default();
    for round in 1..=kills {
        // While the phone lives, the second device edits the same records in small bursts and
        // syncs after each, so the phone's pushes meet other writes and its pulls find new ones.
        let stop = AtomicBool::new(false);
        let (life, during) = std::thread::scope(|s| {
            let busy = s.spawn(|| {
                let mut writes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    rt.block_on(other.sync());
                    other_editor.refresh(&other.store).expect("list the second device's records");
                    for _ in 0..other_editor.roll(2..6) {
                        writes.push(
                            other_editor.edit(&other.store).expect("the second device edits"),
                        );
                    }
                    std::thread::sleep(OTHER_PAUSE);
                }
                rt.block_on(other.sync());
                writes
            });
            let life = live_and_die(&path, &mut rng, &format!("p{round}"), &pace, &replay);
            stop.store(true, Ordering::SeqCst);
            (life, busy.join().expect("the second device's thread"))
        });
        tally.other_writes += during.len();
        for w in during {
            expected.entry(w.doc()).or_default().add(w);
        }
        tally.kills += 1;
        tally.mid_sync += usize::from(life.mid_sync);
        tally.after_answer += usize::from(life.after_answer);
        tally.traffic(&life.lines);
        pace.add(&life.lines);
        let cut_off = ledger.life(&life.lines);
        let written: Vec<&Written> = life
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Wrote(w) => Some(w),
                _ => None,
            })
            .collect();
        tally.promised += written.len();
        for w in &written {
            expected.entry(w.doc()).or_default().add((*w).clone());
            promised.entry(w.doc()).or_default().add((*w).clone());
        }
        let problems = check_promises(&path, &written, &promised);
        println!(
            "kill {round}: {} promised writes, {} syncs completed, killed {} ({:?})",
            written.len(),
            life.lines.iter().filter(|l| matches!(l, Line::Synced { .. })).count(),
            match (life.mid_sync, life.after_answer) {
                (true, true) => "mid-sync, after an answer",
                (true, false) => "mid-sync, before the first answer",
                _ => "outside a sync",
            },
            life.plan,
        );
        assert!(
            problems.is_empty(),
            "after kill {round} of {kills} ({replay}), {} problems:\n{}",
            problems.len(),
            problems.join("\n")
        );

        // Between lives the second device edits more, for the next life's first pull.
        rt.block_on(other.sync());
        other_editor.refresh(&other.store).expect("list the second device's records");
        for _ in 0..other_editor.roll(10..30) {
            let w = other_editor.edit(&other.store).expect("the second device edits");
            tally.other_writes += 1;
            expected.entry(w.doc()).or_default().add(w);
        }
        rt.block_on(other.sync());

        // Did the server take the push whose answer the phone never recorded? (The next life
        // sends it again; the log must still hold it once.)
        let log = &server_log.catch_up(&rt, &server).seen;
        if !cut_off.is_empty() && cut_off.iter().all(|c| log.contains_key(c)) {
            ledger.taken_unheard += 1;
        }
    }

    // The phone comes back for good and syncs to the end.
    let lines = run_to_end(&path, &replay);
    let summaries: Vec<&Line> = lines.iter().filter(|l| matches!(l, Line::Synced { .. })).collect();
    assert_eq!(summaries.len(), 2, "{lines:?}");
    println!("final syncs: {} then {}", summaries[0], summaries[1]);
    assert!(
        matches!(summaries[1], Line::Synced { pushed: 0, pulled: 0, .. }),
        "a second sync right after the final one still had work: {}; {replay}",
        summaries[1]
    );
    tally.traffic(&lines);
    ledger.life(&lines);
    rt.block_on(other.sync());

    let mut problems = Vec::new();
    // A restarted phone resumes: what it recorded as acknowledged it never sends again.
    if !ledger.resent_recorded.is_empty() {
        problems.push(format!(
            "phone: {} changes sent again after their acknowledgement was recorded, e.g. {}",
            ledger.resent_recorded.len(),
            ledger.resent_recorded[0]
        ));
    }
    let phone = Store::open(&path).expect("open the phone's store");
    if let Err(e) = phone.integrity_check() {
        problems.push(format!("phone: integrity check: {e}"));
    }
    let status = phone.sync_status().expect("sync status");
    if status.pending_docs != 0 || !status.rejected.is_empty() {
        problems.push(format!("phone: sync state not clean: {status:?}"));
    }
    let phone_heads = heads_of(&phone);
    let ids: Vec<DocId> = phone_heads.keys().copied().collect();
    for id in expected.keys() {
        if !phone_heads.contains_key(id) {
            problems.push(format!("phone: {id}: written, but not held"));
        }
    }
    for &id in &ids {
        match phone.get(id) {
            Ok(record) => check_record(&mut problems, "phone", id, &record, expected.get(&id)),
            Err(e) => problems.push(format!("phone: {id}: does not read: {e}")),
        }
    }

    // The server holds the same documents, once each, with the same heads and contents.
    let server_ids = rt.block_on(server.server().storage().doc_ids()).expect("server ids");
    let server_set: BTreeSet<DocId> = server_ids.iter().copied().collect();
    if server_set.len() != server_ids.len() {
        problems.push(format!(
            "server: {} rows for {} documents",
            server_ids.len(),
            server_set.len()
        ));
    }
    if server_set != phone_heads.keys().copied().collect::<BTreeSet<_>>() {
        problems.push(format!(
            "server holds {} documents, the phone {}",
            server_set.len(),
            phone_heads.len()
        ));
    }
    let mut on_server = server_records(&rt, &server, &ids);
    for &id in &ids {
        let Some(doc) = on_server.get_mut(&id) else {
            problems.push(format!("server: {id}: not held"));
            continue;
        };
        let mut heads = doc.get_heads();
        heads.sort();
        if Some(&heads) != phone_heads.get(&id) {
            problems.push(format!("server: {id}: heads differ from the phone's"));
        }
        match fieldsync_core::model::read_record(doc, id) {
            Ok(record) => check_record(&mut problems, "server", id, &record, expected.get(&id)),
            Err(e) => problems.push(format!("server: {id}: does not read: {e}")),
        }
    }

    // The server's log holds each of the phone's changes exactly once.
    let log = &server_log.catch_up(&rt, &server).seen;
    let actor: ActorId = phone.identity().actor;
    let mut phone_changes = 0usize;
    for &id in &ids {
        let mut doc = phone.load(id).expect("load");
        for change in doc.get_changes(&[]) {
            if change.actor_id() != &actor {
                continue;
            }
            phone_changes += 1;
            match log.get(&(id, change.hash())) {
                Some(1) => {}
                Some(n) => {
                    problems.push(format!("server log: {id}: change {} {n} times", change.hash()))
                }
                None => {
                    problems.push(format!("server log: {id}: change {} missing", change.hash()))
                }
            }
        }
    }
    let doubled = log.values().filter(|&&n| n > 1).count();
    if doubled > 0 {
        problems.push(format!("server log: {doubled} changes logged more than once"));
    }

    // The second device converged too.
    let other_heads = heads_of(&other.store);
    if other_heads != phone_heads {
        problems.push(format!(
            "the second device holds {} documents, {} with other heads than the phone's",
            other_heads.len(),
            other_heads.iter().filter(|(id, h)| phone_heads.get(id) != Some(h)).count()
        ));
    }
    for &id in &ids {
        if let Ok(record) = other.store.get(id) {
            check_record(&mut problems, OTHER, id, &record, expected.get(&id));
        }
    }

    println!(
        "phone_crash: {} kills ({} mid-sync, {} of them after the sync's first answer; {} cut \
         off a push's answer, {} of those after the server had taken it), {} syncs completed, \
         {} promised writes and {} by the second device checked on {} documents; {} changes \
         pushed, {} of them again (answer lost or retry), none that the phone had recorded as \
         acknowledged; {} of the phone's changes logged once each; phone traffic {} requests, \
         {} B up, {} B down; {:?}",
        tally.kills,
        tally.mid_sync,
        tally.after_answer,
        ledger.cut_pushes,
        ledger.taken_unheard,
        tally.syncs_completed,
        tally.promised,
        tally.other_writes,
        ids.len(),
        ledger.sent.len(),
        ledger.resent,
        phone_changes,
        tally.requests,
        tally.bytes_up,
        tally.bytes_down,
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "after {kills} kills ({replay}), {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // A run whose kills missed the syncs, or whose phone hardly wrote, would prove little.
    assert!(
        tally.mid_sync * 2 >= tally.kills,
        "only {} of {} kills landed during a sync; {replay}",
        tally.mid_sync,
        tally.kills
    );
    assert!(tally.promised >= 10 * kills, "only {} promised writes; {replay}", tally.promised);

    // A new phone catching up on all of it is killed too.
    let started = Instant::now();
    let catch_up_kills = (kills / 4).max(5);
    let (killed, down, clean_down) = catch_up_under_kills(
        (&rt, &server),
        dir.path(),
        &mut rng,
        catch_up_kills,
        &phone_heads,
        &expected,
        &replay,
    );
    println!(
        "catch-up of {} documents: killed {killed} times, {down} B down (a clean one: {clean_down} \
         B); {:?}",
        phone_heads.len(),
        started.elapsed()
    );
    assert!(killed >= 1, "the catch-up ended before any kill; {replay}");
    rt.block_on(server.shutdown()).expect("server shuts down");
}

/// The checker itself: a lost item, a doubled one and a doubled notes fragment are reported, so
/// a green run means something.
#[test]
fn the_check_finds_lost_and_doubled_items() {
    use fieldsync_core::model::Command;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("phone.db")).expect("open");
    store.set_user(PHONE).expect("user");
    let mut editor = Editor::new(1, "c");
    let mut expected: BTreeMap<DocId, Expected> = BTreeMap::new();
    // Enough edits to make every kind of record and item.
    for _ in 0..60 {
        let w = editor.edit(&store).expect("edit");
        expected.entry(w.doc()).or_default().add(w);
    }
    let problems = |store: &Store, expected: &BTreeMap<DocId, Expected>| {
        let mut problems = Vec::new();
        for id in store.doc_ids().expect("ids") {
            let record = store.get(id).expect("get");
            check_record(&mut problems, "phone", id, &record, expected.get(&id));
        }
        problems
    };
    assert_eq!(problems(&store, &expected), Vec::<String>::new());

    let (patrol, entry_text) = expected
        .iter()
        .find_map(|(id, e)| e.entries.values().next().map(|t| (*id, t.clone())))
        .expect("an entry was written");
    let (case, session, fragment) = expected
        .iter()
        .find_map(|(id, e)| e.sessions.iter().next().map(|(k, f)| (*id, k.clone(), f[0].clone())))
        .expect("a session was written");
    let report = expected
        .iter()
        .find(|(_, e)| e.kind == Some(Kind::Report))
        .map(|(id, _)| *id)
        .expect("a report was written");
    // What a change applied twice as a new edit would leave: the same entry text twice, the same
    // fragment twice; and a comment that was promised but never stored.
    let entry = fieldsync_core::model::NewEntry {
        kind: fieldsync_core::model::EntryKind::Observation,
        text: entry_text.clone(),
        location: None,
        photos: vec![],
        checkpoint: None,
    };
    store.execute(patrol, &Command::AddPatrolEntry { entry }).expect("entry again");
    store
        .execute(
            case,
            &Command::EditNotes {
                session: session.clone(),
                pos: 0,
                delete: 0,
                insert: fragment.clone(),
            },
        )
        .expect("fragment again");
    expected.entry(report).or_default().add(Written::Comment {
        doc: report,
        key: "lost-key".into(),
        text: "「丢失」".into(),
    });
    let found = problems(&store, &expected);
    let wanted = [
        format!("{patrol}: entry text {entry_text} appears more than once"),
        format!("{case}: notes fragment {fragment} appears more than once"),
        format!("{case}: session {session}: notes {fragment} appear 2 times"),
        format!("{report}: comment lost-key 「丢失」 is missing"),
    ];
    for w in &wanted {
        assert!(found.iter().any(|p| p.contains(w.as_str())), "{w:?} not in {found:#?}");
    }
    assert_eq!(found.len(), wanted.len(), "{found:#?}");
}
