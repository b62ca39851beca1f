//! What the server holds and logged: records, the phone's changes, bytes sent.

use super::*;

/// Totals over the run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) kills: usize,
    pub(crate) mid_sync: usize,
    pub(crate) after_answer: usize,
    pub(crate) syncs_completed: usize,
    pub(crate) promised: usize,
    pub(crate) other_writes: usize,
    pub(crate) requests: u64,
    pub(crate) bytes_up: u64,
    pub(crate) bytes_down: u64,
}

impl Tally {
    /// Adds the traffic of the syncs in `lines`: whole syncs by their summary, a killed one by
    /// its last progress line.
    pub(crate) fn traffic(&mut self, lines: &[Line]) {
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

pub(crate) fn server_records(
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
pub(crate) struct ServerLog {
    pub(crate) after: u64,
    pub(crate) seen: HashMap<(DocId, ChangeHash), usize>,
}

impl ServerLog {
    /// Reads the entries logged since the last call.
    pub(crate) fn catch_up(
        &mut self,
        rt: &tokio::runtime::Runtime,
        server: &RunningServer,
    ) -> &Self {
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
pub(crate) struct Ledger {
    /// Changes whose acknowledgement the phone recorded (the answer was followed by `progress`).
    pub(crate) recorded: HashMap<DocId, BTreeSet<ChangeHash>>,
    /// Every change sent so far.
    pub(crate) sent: BTreeSet<(DocId, ChangeHash)>,
    /// Changes sent although the phone had recorded their acknowledgement: must not happen.
    pub(crate) resent_recorded: Vec<String>,
    /// Changes sent more than once (an answer lost to a kill, or a document the server asked
    /// to retry).
    pub(crate) resent: u64,
    /// Kills that cut off the answer to a push, or killed the phone before it recorded it.
    pub(crate) cut_pushes: usize,
    /// ... of which the server had taken the push (found in its log before the next life).
    pub(crate) taken_unheard: usize,
}

impl Ledger {
    /// Follows one life; returns the changes first sent in the request whose answer the kill
    /// cut off (or which the phone did not live to record).
    pub(crate) fn life(&mut self, lines: &[Line]) -> Vec<(DocId, ChangeHash)> {
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
pub(crate) fn bytes_down(lines: &[Line]) -> u64 {
    let mut tally = Tally::default();
    tally.traffic(lines);
    tally.bytes_down
}

/// The largest answer among `lines` (bytes received between two progress lines of a sync).
pub(crate) fn largest_answer(lines: &[Line]) -> u64 {
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
