//! The push half of a sync: document by document, verified ingestion of the pushed changes
//! (a failing document does not stop the others), one commit for all of them, and an answer per
//! document: `acked` with the pushed heads once the server holds them all, or a refusal.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use fieldsync_core::DocId;
use fieldsync_core::protocol::{PushDoc, PushOutcome, PushResult};

use super::batch::{KEEP_NEW_DOCS, Pending, WorkingSet};
use super::ingest_many::{self, Context, Job};
use super::{Documents, DocumentsError, refusals};
use crate::ingest::{self, Author, Refusal, RelayedAuthors, code};

/// What became of one pushed document before the commit.
enum Step {
    /// Answered already.
    Done(PushOutcome),
    /// Waits for its write (if any) to commit; `held` says whether the server then holds
    /// every pushed head.
    Wait { write: Option<usize>, held: bool },
}

/// How many times in all a pushed document is applied when another writer keeps storing a
/// newer version of it first (another server instance on the same storage, whose write this
/// instance's cached copy does not hold yet) before the device is told to retry.
const ATTEMPTS: usize = 3;

/// Applies a push; one result per pushed document, in push order. `push` holds no document
/// twice (checked with the request). A document whose write lost the compare-and-set to
/// another writer, or whose cached copy lacked changes its new ones depend on (another
/// instance stored them: only where several instances share the storage), is applied again
/// here on the stored version (its cached copy is gone), as the device's own retry would, so
/// that several instances on one database cost the device no round trip. A document still
/// refused after [`ATTEMPTS`] is answered `retry`: the device sends it again later.
pub(crate) async fn push(
    docs: &Documents,
    push: Vec<PushDoc>,
    author: Option<Author>,
    relayed: Arc<RelayedAuthors>,
) -> Result<Vec<PushResult>, DocumentsError> {
    let (mut results, mut again) = push_once(docs, push, author.clone(), relayed.clone()).await?;
    for _ in 1..ATTEMPTS {
        if again.is_empty() {
            break;
        }
        tracing::debug!(docs = again.len(), "pushed again after another writer's commit");
        let (retried, more) = push_once(docs, again, author.clone(), relayed.clone()).await?;
        for r in retried {
            if let Some(earlier) = results.iter_mut().find(|e| e.doc == r.doc) {
                *earlier = r;
            }
        }
        again = more;
    }
    for _ in &again {
        docs.counters.refused(code::INTERNAL_ERROR);
    }
    Ok(results)
}

/// Applies a push once; one result per pushed document, and the pushed documents to apply
/// again on their stored version (their result says retry, and they are not counted as
/// refused yet): those whose write lost the compare-and-set to another writer, and those whose
/// cached copy lacked what their changes depend on.
async fn push_once(
    docs: &Documents,
    push: Vec<PushDoc>,
    author: Option<Author>,
    relayed: Arc<RelayedAuthors>,
) -> Result<(Vec<PushResult>, Vec<PushDoc>), DocumentsError> {
    if push.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut ids: Vec<DocId> = push.iter().map(|p| p.doc).collect();
    ids.sort();
    ids.dedup();
    let mut ws = WorkingSet::open(docs, ids).await?;
    let mut slots = std::mem::take(&mut ws.slots);
    let keep_new = push.len() <= KEEP_NEW_DOCS;
    let max_bytes = docs.doc_bytes;
    let rules = docs.rules.clone();
    let (slots, push, mut steps, pending, stale) = tokio::task::spawn_blocking(move || {
        let mut steps: Vec<Option<Step>> = Vec::with_capacity(push.len());
        let mut pending: Vec<Pending> = Vec::new();
        let mut stale = Vec::new();
        let mut jobs = Vec::with_capacity(push.len());
        let mut inflation = ingest::REQUEST_INFLATED_BYTES;
        for (index, p) in push.iter().enumerate() {
            if let Err(refusal) = ingest::reserve_inflation(p.doc, &p.changes, &mut inflation) {
                steps.push(Some(Step::Done(refusal.outcome())));
                continue;
            }
            let Some(slot) = slots.remove(&p.doc) else {
                steps.push(Some(Step::Done(
                    Refusal::retry(code::INTERNAL_ERROR, "document not gathered").outcome(),
                )));
                continue;
            };
            steps.push(None);
            jobs.push(Job { index, push: p, slot });
        }
        let ctx = Context {
            author: author.as_ref(),
            relayed: &relayed,
            keep_new,
            max_bytes,
            rules: &rules,
        };
        for done in ingest_many::ingest_all(jobs, &ctx) {
            let doc = done.push.doc;
            slots.insert(doc, done.slot);
            steps[done.index] = Some(match done.outcome {
                Err(refusal) => {
                    stale.extend(refusals::listed(doc, &refusal, author.as_ref()));
                    Step::Done(refusal.outcome())
                }
                Ok((write, held)) => {
                    let write = write.map(|w| {
                        pending.push(w);
                        pending.len() - 1
                    });
                    Step::Wait { write, held }
                }
            });
        }
        let steps: Vec<Step> = steps
            .into_iter()
            .map(|s| {
                s.unwrap_or_else(|| {
                    Step::Done(Refusal::retry(code::INTERNAL_ERROR, "not ingested").outcome())
                })
            })
            .collect();
        (slots, push, steps, pending, stale)
    })
    .await
    .map_err(|e| DocumentsError::Task(format!("push task failed: {e}")))?;
    ws.slots = slots;
    let pending = match registered(docs, &mut ws, &mut steps, pending).await {
        Ok(p) => p,
        Err(e) => {
            ws.finish(docs);
            return Err(e);
        }
    };
    let committed = match ws.commit(docs, pending).await {
        Ok(c) => c,
        Err(e) => {
            ws.finish(docs);
            return Err(e);
        }
    };
    // Run again on the stored version: a document whose write lost the compare-and-set, and,
    // where other instances write too, a cached one that lacks what the changes depend on
    // (another instance stored it, and the device pulled it from the log); the latter is not
    // put back in the cache. With one writer the cached copy is the stored version: changes
    // that lack what they depend on (orphans) would find it missing there too, and the cache
    // stays as it was.
    let mut again_ids = std::mem::take(&mut ws.conflicted);
    for (p, step) in push.iter().zip(&steps) {
        let lacking = match step {
            Step::Done(PushOutcome::Retry { code, .. }) => *code == code::MISSING_DEPENDENCIES,
            Step::Wait { held: false, .. } => true,
            _ => false,
        };
        if lacking && docs.shared && ws.cached.contains(&p.doc) {
            ws.slots.remove(&p.doc);
            again_ids.push(p.doc);
        }
    }
    ws.finish(docs);
    refusals::record(docs, stale).await;

    let mut results = Vec::with_capacity(push.len());
    let mut again = Vec::new();
    for (p, step) in push.into_iter().zip(steps) {
        let outcome = match step {
            Step::Done(o) => o,
            Step::Wait { write: Some(i), .. } if committed.get(i).is_some_and(|c| c.is_err()) => {
                match committed.get(i) {
                    Some(Err(r)) => r.clone().outcome(),
                    _ => Refusal::retry(code::INTERNAL_ERROR, "write lost").outcome(),
                }
            }
            Step::Wait { held: true, .. } => PushOutcome::Acked { heads: p.heads.clone() },
            Step::Wait { held: false, .. } => Refusal::retry(
                code::MISSING_DEPENDENCIES,
                format!("the server does not hold every head pushed for {}", p.doc),
            )
            .outcome(),
        };
        let doc = p.doc;
        match &outcome {
            PushOutcome::Retry { .. } if again_ids.contains(&doc) => again.push(p),
            PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => {
                tracing::info!(%doc, code, "push refused");
                docs.counters.refused(code);
            }
            PushOutcome::Acked { .. } => {}
        }
        results.push(PushResult { doc, outcome });
    }
    tracing::debug!(docs = results.len(), seq = docs.log_seq.load(Ordering::Relaxed), "push done");
    Ok((results, again))
}

/// The new visits of a push that name no business of the registry are refused
/// (`super::registered::check`); `steps` are made to point at the writes kept.
async fn registered(
    docs: &Documents,
    ws: &mut WorkingSet,
    steps: &mut [Step],
    pending: Vec<Pending>,
) -> Result<Vec<Pending>, DocumentsError> {
    let (kept, fate) = super::registered::check(docs, ws, pending).await?;
    let mut moved = Vec::with_capacity(fate.len());
    let mut next = 0;
    for f in &fate {
        moved.push(f.is_none().then(|| {
            next += 1;
            next - 1
        }));
    }
    for step in steps.iter_mut() {
        let Step::Wait { write: Some(i), .. } = step else { continue };
        let at = *i;
        match (moved[at], &fate[at]) {
            (Some(j), _) => *i = j,
            (None, Some(refusal)) => *step = Step::Done(refusal.clone().outcome()),
            (None, None) => {}
        }
    }
    Ok(kept)
}
