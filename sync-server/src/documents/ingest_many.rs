//! A push's documents ingested on several threads. A push names each document once and each
//! document's ingestion reads and changes only its own slot, so a bulk upload's decoding,
//! signature checks, merges, policy checks and encodings spread over the machine's cores
//! instead of taking one; the results come back in push order, so the writes commit in the
//! order a single thread would have produced them.

use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::thread;

use fieldsync_core::protocol::{self, PushDoc};

use super::batch::{Pending, Slot};
use crate::ingest::{self, Author, Refusal, RelayedAuthors, Signed, holds};
use crate::rules::Rules;

/// Pushes of fewer documents are ingested on the calling thread: a phone's everyday sync
/// carries a few, and starting threads would cost more than it saves.
const PARALLEL_FROM: usize = 64;

/// One pushed document to ingest, with its slot taken out of the working set.
pub(super) struct Job<'a> {
    /// Its place in the push.
    pub(super) index: usize,
    pub(super) push: &'a PushDoc,
    pub(super) slot: Slot,
}

/// What ingesting one document gave: its slot to put back, and its write (if any) with
/// whether the server then holds every pushed head, or its refusal.
pub(super) struct Ingested<'a> {
    pub(super) index: usize,
    pub(super) push: &'a PushDoc,
    pub(super) slot: Slot,
    pub(super) outcome: Result<(Option<Pending>, bool), Refusal>,
}

/// What every document of one push is ingested with.
pub(super) struct Context<'a> {
    pub(super) author: Option<&'a Author>,
    pub(super) relayed: &'a RelayedAuthors,
    pub(super) keep_new: bool,
    pub(super) max_bytes: usize,
    pub(super) rules: &'a Rules,
}

/// Ingests every job, on as many threads as the machine has cores when there are
/// [`PARALLEL_FROM`] or more; one result per job, in the jobs' order. A panic on a thread is
/// raised again on the caller's, as a single thread's would have been.
pub(super) fn ingest_all<'a>(jobs: Vec<Job<'a>>, ctx: &Context<'_>) -> Vec<Ingested<'a>> {
    let threads = if jobs.len() < PARALLEL_FROM { 1 } else { cores() };
    if threads < 2 {
        return jobs.into_iter().map(|job| one(job, ctx)).collect();
    }
    let per_thread = jobs.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Job<'a>>> = Vec::with_capacity(threads);
    let mut rest = jobs;
    while !rest.is_empty() {
        let tail = rest.split_off(per_thread.min(rest.len()));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    let mut chunks = chunks.into_iter();
    let first = chunks.next().unwrap_or_default();
    thread::scope(|s| {
        let others: Vec<_> = chunks
            .map(|chunk| {
                s.spawn(move || chunk.into_iter().map(|job| one(job, ctx)).collect::<Vec<_>>())
            })
            .collect();
        let mut out: Vec<Ingested<'a>> = first.into_iter().map(|job| one(job, ctx)).collect();
        for handle in others {
            out.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        out
    })
}

/// The machine's cores, read once: `available_parallelism` reads the cgroup's CPU quota from
/// files on Linux, which is not for every push.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// Ingests one pushed document into its slot.
fn one<'a>(job: Job<'a>, ctx: &Context<'_>) -> Ingested<'a> {
    let Job { index, push, mut slot } = job;
    let sigs = ingest::sigs_of(&push.signed);
    let signed = Signed { sigs: Some(&sigs), authors: Some(ctx.relayed) };
    let outcome = slot
        .ingest(push.doc, &push.changes, ctx.author, signed, ctx.keep_new, ctx.max_bytes, ctx.rules)
        .map(|write| {
            let heads = protocol::from_wire(&push.heads);
            let held = match slot.ready(push.doc) {
                Ok(Some(l)) => holds(&mut l.doc, &heads),
                Ok(None) => heads.is_empty(),
                Err(_) => false,
            };
            // A document built from changes is not cached, and nothing else of this push
            // needs it: free it now rather than holding a bulk upload in memory.
            if let Ok(l @ Some(_)) = slot.ready(push.doc)
                && l.as_ref().is_some_and(|l| l.built)
            {
                *l = None;
            }
            (write, held)
        });
    Ingested { index, push, slot, outcome }
}
