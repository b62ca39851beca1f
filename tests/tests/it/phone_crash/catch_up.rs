//! A new phone catching up in small pages while it is killed.

use super::*;

/// New phones catch up from nothing, with the server's data standing still: one without a
/// kill, for the figures, and one killed `kills` times during its catch-up. The killed one ends
/// with the same documents and heads as `reference`, none doubled, and downloads at most one
/// answer again per kill. Returns (lives killed mid-catch-up, bytes down, clean bytes down).
pub(crate) fn catch_up_under_kills(
    (rt, server): (&tokio::runtime::Runtime, &RunningServer),
    dir: &Path,
    rng: &mut StdRng,
    kills: usize,
    reference: &BTreeMap<DocId, Vec<ChangeHash>>,
    expected: &BTreeMap<DocId, Expected>,
    replay: &str,
) -> (usize, u64, u64) {
    let clean = dir.join("clean.db");
    enroll(rt, server, "dispatch-wu", &clean);
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
    enroll(rt, server, "dispatch-zhou", &path);
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

/// Enrolls a new device of `user` (a dispatcher of the whole jurisdiction) as a phone does, into
/// a new store at `path`: the store keeps the server's URL and the device's token.
pub(crate) fn enroll(
    rt: &tokio::runtime::Runtime,
    server: &RunningServer,
    user: &str,
    path: &Path,
) {
    let accounts = server.server().accounts();
    if accounts.user(user).expect("accounts").is_none() {
        accounts.add_user(user, Role::Dispatcher, None, &["jl".to_string()]).expect("add user");
    }
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = accounts.issue_code(user, &admin, Duration::from_secs(600)).expect("code").code;
    let store = Store::open(path).expect("open a new store");
    let transport = HttpTransport::new(&server.url()).expect("url");
    rt.block_on(fieldsync_core::sync::enroll(&store, &transport, &code, "patrol phone"))
        .expect("enroll the phone");
}

/// Runs the worker's final mode on `path` (two syncs, no edits) to its end; returns its lines.
pub(crate) fn run_to_end(path: &Path, replay: &str) -> Vec<Line> {
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
