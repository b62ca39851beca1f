//! After the rounds: did every device end up with what the server holds, and the server with
//! every change the devices made?
//!
//! First every device syncs until it has nothing to push, wants nothing and has read the feed to
//! its end, in two passes over all devices (the second brings each device what others pushed
//! late in the first). Then each device asks the server, with reconcile, about every document it
//! holds: the server's message for a document carries the server's heads, which must be the
//! device's; the last request names every document the device holds (`have`), and the answer's
//! list of documents it may read but lacks must be empty.

use std::sync::{Arc, Mutex};

use fieldsync_core::protocol::limits;

use super::drive::{self, Tally};
use super::workload::Agent;
use crate::bench::Result;

/// Divergences whose description is kept to be shown.
const KEPT: usize = 10;

/// What the check found.
#[derive(Debug, Default)]
pub(super) struct Convergence {
    /// Documents compared, counted once per device holding one.
    pub(super) checked: u64,
    /// Of those, documents whose heads on the device differ from the server's.
    pub(super) diverged: u64,
    /// Documents a device may read but does not hold.
    pub(super) missing: u64,
    /// The first divergences, said.
    pub(super) examples: Vec<String>,
}

impl Convergence {
    /// Whether every device holds what the server holds.
    pub(super) fn holds(&self) -> bool {
        self.diverged == 0 && self.missing == 0
    }

    fn note(&mut self, what: String) {
        if self.examples.len() < KEPT {
            self.examples.push(what);
        }
    }
}

/// Every device syncs to the end of the feed, twice over.
pub(super) async fn settle(agents: Vec<Agent>, concurrency: usize) -> Result<(Vec<Agent>, Tally)> {
    let (agents, tally, _) =
        drive::passes(agents, concurrency, 2, |agent, _, _, mut tally| async move {
            let agent = drive::sync(agent, &mut tally).await?;
            Ok((agent, tally))
        })
        .await?;
    Ok((agents, tally))
}

/// Compares every device's heads with the server's, document by document.
pub(super) async fn check(
    agents: Vec<Agent>,
    concurrency: usize,
) -> Result<(Vec<Agent>, Tally, Convergence)> {
    let found = Arc::new(Mutex::new(Convergence::default()));
    let shared = found.clone();
    let (agents, tally, _) =
        drive::passes(agents, concurrency, 1, move |agent, _, _, mut tally| {
            let found = shared.clone();
            async move {
                let agent = compare(agent, &mut tally, &found).await?;
                Ok((agent, tally))
            }
        })
        .await?;
    let found = std::mem::take(&mut *found.lock().map_err(|_| "convergence lock poisoned")?);
    Ok((agents, tally, found))
}

async fn compare(mut agent: Agent, tally: &mut Tally, found: &Mutex<Convergence>) -> Result<Agent> {
    let ids: Vec<_> = agent.sim.ids().collect();
    let batches: Vec<Vec<_>> = if ids.is_empty() {
        vec![Vec::new()]
    } else {
        ids.chunks(limits::RECONCILE_DOCS).map(<[_]>::to_vec).collect()
    };
    let last = batches.len() - 1;
    for (n, batch) in batches.into_iter().enumerate() {
        let (a, seen) = drive::reconcile_once(agent, batch, n == last, tally).await?;
        agent = a;
        let Some(seen) = seen else { continue };
        let mut f = found.lock().map_err(|_| "convergence lock poisoned")?;
        let user = agent.sim.user().to_string();
        for c in &seen.docs {
            f.checked += 1;
            if !c.same() {
                f.diverged += 1;
                f.note(format!(
                    "{user} holds {} with heads {:?}, the server {:?}",
                    c.doc, c.device, c.server
                ));
            }
        }
        if !seen.missing.is_empty() {
            f.missing += seen.missing.len() as u64;
            f.note(format!("{user} lacks {} documents it may read", seen.missing.len()));
        }
    }
    Ok(agent)
}
