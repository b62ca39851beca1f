//! Driving devices through their rounds: each round is one sync (a write round's local changes
//! first), or one read-style request, timed per request; at most `concurrency` devices are in a
//! round at once, and a device queues again behind the others after each of its rounds.
//!
//! Failures do not stop the run: each failed request or refusal is counted (and the first few
//! kept to be shown), a failed request is tried again after a pause, as a phone would, so that
//! the convergence check at the end still says whether anything was lost.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_core::DocId;
use fieldsync_core::sync::Transport;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::workload::Agent;
use crate::bench::sim::Reconciled;
use crate::bench::{Result, Samples};

/// What a device does in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A sync that pulls what is new (as a phone does when its user opens the app), local
    /// changes made on what it then holds, and a sync that pushes them.
    Write,
    /// A sync that pulls until the feed is read.
    Pull,
    /// `POST /v1/visible` about every document it holds.
    Visible,
    /// `POST /v1/reconcile` about up to [`RECONCILE_SAMPLE`] documents it holds.
    Reconcile,
}

/// The kinds of rounds in turn: write 5, pull 3, visible 1, reconcile 1 in every ten.
const SCHEDULE: [Kind; 10] = [
    Kind::Write,
    Kind::Pull,
    Kind::Write,
    Kind::Visible,
    Kind::Write,
    Kind::Pull,
    Kind::Write,
    Kind::Reconcile,
    Kind::Write,
    Kind::Pull,
];

/// Documents a reconcile round asks about.
const RECONCILE_SAMPLE: usize = 20;
/// Attempts at one request before the round gives up on it.
const ATTEMPTS: u32 = 4;
/// Sync requests in one sync before it counts as not finishing.
const MAX_PAGES: usize = 200;
/// Failures whose message is kept to be shown.
const KEPT_FAILURES: usize = 10;

/// The kind of round `round` of device `device` (devices start at different places of the
/// schedule, so every round mixes all kinds).
pub(super) fn kind_of(device: usize, round: usize) -> Kind {
    SCHEDULE[(device + round) % SCHEDULE.len()]
}

/// What rounds measured and met.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Latency of every answered request.
    pub(super) all: Samples,
    /// Sync requests that pushed.
    pub(super) push: Samples,
    /// Sync requests that only pulled.
    pub(super) pull: Samples,
    /// Visible and reconcile requests.
    pub(super) read: Samples,
    /// Failed requests and refusals an honest device should never meet.
    pub(super) errors: u64,
    /// The first failures, said.
    pub(super) failures: Vec<String>,
    /// Rounds done.
    pub(super) rounds: u64,
    /// Documents acknowledged.
    pub(super) acked: u64,
    /// Pieces of pulled data applied.
    pub(super) pulled: u64,
    /// Request and answer bytes.
    pub(super) bytes: (u64, u64),
}

impl Tally {
    /// Counts one unexpected failure.
    pub(super) fn fail(&mut self, what: impl Into<String>) {
        self.errors += 1;
        if self.failures.len() < KEPT_FAILURES {
            self.failures.push(what.into());
        }
    }

    fn add(&mut self, other: Tally) {
        for (mine, theirs) in [
            (&mut self.all, other.all),
            (&mut self.push, other.push),
            (&mut self.pull, other.pull),
            (&mut self.read, other.read),
        ] {
            mine.extend(theirs);
        }
        self.errors += other.errors;
        for f in other.failures {
            if self.failures.len() < KEPT_FAILURES {
                self.failures.push(f);
            }
        }
        self.rounds += other.rounds;
        self.acked += other.acked;
        self.pulled += other.pulled;
        self.bytes.0 += other.bytes.0;
        self.bytes.1 += other.bytes.1;
    }
}

/// Runs `f` on the agent on the blocking pool (Automerge work, which must not hold up the
/// runtime's threads that carry the other devices' requests) and gives the agent back.
async fn blocking<T: Send + 'static>(
    agent: Agent,
    f: impl FnOnce(&mut Agent) -> T + Send + 'static,
) -> Result<(Agent, T)> {
    Ok(tokio::task::spawn_blocking(move || {
        let mut agent = agent;
        let out = f(&mut agent);
        (agent, out)
    })
    .await?)
}

/// POSTs `body` to `path`, trying again after a pause on failure; each failure is counted.
/// Returns the answer and how long the answered attempt took.
async fn post(
    agent: &Agent,
    path: &'static str,
    body: Vec<u8>,
    tally: &mut Tally,
) -> Option<(Vec<u8>, Duration)> {
    for attempt in 0..ATTEMPTS {
        let t = Instant::now();
        match agent.sim.transport().post(path, body.clone()).await {
            Ok(answer) => return Some((answer, t.elapsed())),
            Err(e) => {
                let user = agent.sim.user();
                tally.fail(format!("{path} by {user}, attempt {}: {e}", attempt + 1));
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    None
}

/// A sync: requests until nothing is left to push, nothing is wanted and the feed is read.
pub(super) async fn sync(mut agent: Agent, tally: &mut Tally) -> Result<Agent> {
    for _ in 0..MAX_PAGES {
        let (a, mut out) = blocking(agent, |a| a.sim.outgoing()).await?;
        agent = a;
        let pushing = out.pushed() > 0;
        let body = std::mem::take(&mut out.body);
        let Some((answer, took)) = post(&agent, "/v1/sync", body, tally).await else {
            return Ok(agent);
        };
        tally.all.push(took);
        let kind = if pushing { &mut tally.push } else { &mut tally.pull };
        kind.push(took);
        let (a, ex) = blocking(agent, move |a| a.sim.absorb(&out, &answer)).await?;
        agent = a;
        let ex = match ex {
            Ok(ex) => ex,
            Err(e) => {
                tally.fail(format!("/v1/sync answer to {}: {e}", agent.sim.user()));
                return Ok(agent);
            }
        };
        for r in &ex.refused {
            tally.fail(format!("push by {} not acknowledged: {r}", agent.sim.user()));
        }
        tally.acked += ex.acked as u64;
        tally.pulled += ex.pulled as u64;
        tally.bytes.0 += ex.bytes_up as u64;
        tally.bytes.1 += ex.bytes_down as u64;
        if !ex.refused.is_empty() || !(ex.more || agent.sim.wanted() > 0) {
            return Ok(agent);
        }
    }
    tally.fail(format!("a sync of {} took more than {MAX_PAGES} requests", agent.sim.user()));
    Ok(agent)
}

async fn visible(agent: Agent, tally: &mut Tally) -> Result<Agent> {
    let body = agent.sim.visible_ask();
    if let Some((answer, took)) = post(&agent, "/v1/visible", body, tally).await {
        tally.all.push(took);
        tally.read.push(took);
        match agent.sim.visible_hidden(&answer) {
            // Nobody's rights change during the run: everything a device holds stays readable.
            Ok(hidden) if hidden.is_empty() => {}
            Ok(hidden) => tally.fail(format!(
                "{} told {} documents are hidden",
                agent.sim.user(),
                hidden.len()
            )),
            Err(e) => tally.fail(format!("/v1/visible answer to {}: {e}", agent.sim.user())),
        }
    }
    Ok(agent)
}

/// One reconcile request about `ids` (with `have`: naming every document held); refusals and
/// failures are counted. Gives what the answer said, if there was one.
pub(super) async fn reconcile_once(
    agent: Agent,
    ids: Vec<DocId>,
    have: bool,
    tally: &mut Tally,
) -> Result<(Agent, Option<Reconciled>)> {
    let (agent, mut ask) = blocking(agent, move |a| a.sim.reconcile_ask(&ids, have)).await?;
    let body = std::mem::take(&mut ask.body);
    let Some((answer, took)) = post(&agent, "/v1/reconcile", body, tally).await else {
        return Ok((agent, None));
    };
    tally.all.push(took);
    tally.read.push(took);
    let (agent, seen) = blocking(agent, move |a| a.sim.reconcile_absorb(ask, &answer)).await?;
    match seen {
        Ok(seen) => {
            for r in &seen.refused {
                tally.fail(format!("reconcile by {} refused {r}", agent.sim.user()));
            }
            Ok((agent, Some(seen)))
        }
        Err(e) => {
            tally.fail(format!("/v1/reconcile answer to {}: {e}", agent.sim.user()));
            Ok((agent, None))
        }
    }
}

/// A reconcile round: about [`RECONCILE_SAMPLE`] documents it holds, drawn at random.
async fn reconcile(mut agent: Agent, tally: &mut Tally) -> Result<Agent> {
    let ids = agent.sample(RECONCILE_SAMPLE);
    Ok(reconcile_once(agent, ids, false, tally).await?.0)
}

/// One round of `kind`.
async fn round(agent: Agent, kind: Kind, tally: &mut Tally) -> Result<Agent> {
    tally.rounds += 1;
    match kind {
        Kind::Write => {
            let agent = sync(agent, tally).await?;
            let (agent, worked) = blocking(agent, Agent::work).await?;
            if let Err(e) = worked {
                // The harness chose a command the record's state refuses: a bug to fix here.
                tally.fail(format!("local change refused: {e}"));
            }
            sync(agent, tally).await
        }
        Kind::Pull => sync(agent, tally).await,
        Kind::Visible => visible(agent, tally).await,
        Kind::Reconcile => reconcile(agent, tally).await,
    }
}

/// Runs `step` for every agent, at most `concurrency` at once, once per pass, for `passes`
/// passes (`step` gets the agent's index and the pass); returns the agents in their order and
/// what they met, with the wall time.
pub(super) async fn passes<F, Fut>(
    agents: Vec<Agent>,
    concurrency: usize,
    passes: usize,
    step: F,
) -> Result<(Vec<Agent>, Tally, Duration)>
where
    F: Fn(Agent, usize, usize, Tally) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(Agent, Tally)>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let step = Arc::new(step);
    let mut set = JoinSet::new();
    let start = Instant::now();
    for (i, agent) in agents.into_iter().enumerate() {
        let (gate, step) = (gate.clone(), step.clone());
        set.spawn(async move {
            let mut agent = agent;
            let mut tally = Tally::default();
            for pass in 0..passes {
                let _turn = gate.clone().acquire_owned().await?;
                (agent, tally) = step(agent, i, pass, tally).await?;
            }
            Ok::<_, crate::bench::Error>((i, agent, tally))
        });
    }
    let mut out: Vec<Option<Agent>> = std::iter::repeat_with(|| None).take(set.len()).collect();
    let mut total = Tally::default();
    while let Some(joined) = set.join_next().await {
        let (i, agent, tally) = joined??;
        total.add(tally);
        out[i] = Some(agent);
    }
    let wall = start.elapsed();
    Ok((out.into_iter().flatten().collect(), total, wall))
}

/// The measured rounds: `rounds` per device, of the kinds [`kind_of`] gives.
pub(super) async fn rounds(
    agents: Vec<Agent>,
    concurrency: usize,
    rounds: usize,
) -> Result<(Vec<Agent>, Tally, Duration)> {
    passes(agents, concurrency, rounds, |agent, i, r, mut tally| async move {
        let agent = round(agent, kind_of(i, r), &mut tally).await?;
        Ok((agent, tally))
    })
    .await
}
