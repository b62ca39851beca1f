//! The phone process: its lives, where each kill lands, and the promises it printed.

use super::*;

/// A running worker: its process, its complete stdout lines as they come, its stderr.
pub(crate) struct Worker {
    pub(crate) child: Child,
    pub(crate) lines: Receiver<Result<Line, String>>,
    pub(crate) stderr: JoinHandle<Vec<u8>>,
}

impl Worker {
    pub(crate) fn start(path: &Path, seed: u64, tag: &str, last: bool) -> Worker {
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
    pub(crate) fn next(&self, deadline: Instant, replay: &str) -> Option<Line> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => Some(line),
            Ok(Err(e)) => panic!("bad line from the worker: {e}; {replay}"),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the process to end (it was killed, or ends by itself); returns how it ended,
    /// every line it printed after those already taken, and its stderr.
    pub(crate) fn finish(mut self, replay: &str) -> (std::process::ExitStatus, Vec<Line>, String) {
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
pub(crate) struct Life {
    pub(crate) plan: Plan,
    pub(crate) lines: Vec<Line>,
    /// The kill came while a sync was running.
    pub(crate) mid_sync: bool,
    /// ... and after that sync had been answered at least once.
    pub(crate) after_answer: bool,
}

/// How long the phone's syncs have been taking, from the summaries of completed ones.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// (milliseconds, requests) of each completed sync.
    pub(crate) syncs: Vec<(u64, u64)>,
}

impl Pace {
    pub(crate) fn add(&mut self, lines: &[Line]) {
        for line in lines {
            if let Line::Synced { ms, requests, .. } = line {
                self.syncs.push((*ms, *requests));
            }
        }
    }

    /// The median of the last few syncs: (whole sync, one request).
    pub(crate) fn typical(&self) -> (Duration, Duration) {
        let mut recent: Vec<(u64, u64)> = self.syncs.iter().rev().take(9).copied().collect();
        recent.sort();
        let (ms, requests) = recent.get(recent.len() / 2).copied().unwrap_or((400, 4));
        let ms = ms.max(20);
        (Duration::from_millis(ms), Duration::from_millis((ms / requests.max(1)).max(5)))
    }
}

/// When to kill the worker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plan {
    /// At any moment of its life: opening, editing or syncing.
    Anytime(Duration),
    /// This long after the `n`th sync of its life started.
    AfterStart(usize, Duration),
    /// This long after the `n`th answered request of its life (inside a sync's later rounds).
    AfterAnswer(usize, Duration),
}

impl Plan {
    pub(crate) fn draw(rng: &mut StdRng, pace: &Pace) -> Plan {
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
pub(crate) fn live_and_die(
    path: &Path,
    rng: &mut StdRng,
    tag: &str,
    pace: &Pace,
    replay: &str,
) -> Life {
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
pub(crate) fn check_promises(
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
pub(crate) fn heads_of(store: &Store) -> BTreeMap<DocId, Vec<ChangeHash>> {
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
