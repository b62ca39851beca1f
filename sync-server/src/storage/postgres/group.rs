//! Group commit inside one instance: the document commits of concurrent requests that arrive
//! while a transaction is committing wait, and go into the next transaction together, as
//! SQLite's writer thread merges them: one instance's requests would otherwise pay a commit
//! (a WAL flush) one after the other; together they pay one. Other instances' commits run at
//! the same time (the log's numbering holds its lock only for an instant, `documents`), and
//! PostgreSQL flushes the WAL of commits that wait together once. A failing write still leaves
//! the others of the batch untouched (`bulk` falls back to one savepoint per write), and each
//! caller gets its own results back. Every `PRUNE_EVERY` transactions, the marks the log's
//! readers no longer need are pruned (`prune`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::db::Db;
use super::{bulk, documents};
use crate::storage::{Committed, DocWrite, StorageError, StorageResult};

/// Most requests committed in one transaction.
const MAX_JOBS: usize = 256;
/// Most bytes of document data committed in one transaction (beyond the first request's).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Per write of one request, what it became.
type Reply = StorageResult<Vec<StorageResult<Committed>>>;

/// One request's writes and where their results go.
struct Job {
    writes: Vec<DocWrite>,
    /// How many writes it brought (its writes are taken out to be committed).
    count: usize,
    reply: oneshot::Sender<Reply>,
}

/// The queue of document commits of one instance, and the task that commits them.
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
    /// Transactions committed (or tried) so far.
    #[cfg(test)]
    batches: Arc<AtomicU64>,
}

impl GroupCommit {
    /// Starts the committing task on the current runtime, its commits notifying `channel`;
    /// it ends when this goes.
    pub(crate) fn start(db: Arc<Db>, channel: String) -> GroupCommit {
        let (queue, jobs) = mpsc::unbounded_channel();
        let batches = Arc::new(AtomicU64::new(0));
        let group = GroupCommit {
            queue,
            #[cfg(test)]
            batches: batches.clone(),
        };
        tokio::spawn(run(db, channel, jobs, batches));
        group
    }

    /// Transactions the queue has committed (or tried to) so far: fewer than the requests
    /// when they were grouped.
    #[cfg(test)]
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Commits `writes` (in a transaction shared with other requests' writes); one result per
    /// write, as [`documents::commit_write_by_write`] gives them.
    pub(crate) async fn commit(&self, writes: Vec<DocWrite>) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { count: writes.len(), writes, reply })
            .map_err(|_| StorageError::Closed)?;
        answer.await.map_err(|_| StorageError::Closed)?
    }
}

/// Takes every request queued, commits them together, answers each; until the queue closes.
async fn run(
    db: Arc<Db>,
    channel: String,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    batches: Arc<AtomicU64>,
) {
    while let Some(first) = jobs.recv().await {
        let mut bytes = DocWrite::data_len(&first.writes);
        let mut batch = vec![first];
        take_queued(&mut jobs, &mut batch, &mut bytes);
        let n = batches.fetch_add(1, Ordering::Relaxed) + 1;
        let outcome = commit_batch(&db, &channel, &mut batch).await;
        answer(batch, outcome);
        if n.is_multiple_of(PRUNE_EVERY) {
            let db = db.clone();
            tokio::spawn(async move {
                if let Err(e) = prune(&db).await {
                    tracing::debug!("pruning the log's marks: {e}");
                }
            });
        }
    }
}

/// Moves the requests queued now into `batch`, within the bounds of one transaction.
fn take_queued(jobs: &mut mpsc::UnboundedReceiver<Job>, batch: &mut Vec<Job>, bytes: &mut usize) {
    while batch.len() < MAX_JOBS && *bytes < MAX_BYTES {
        match jobs.try_recv() {
            Ok(job) => {
                *bytes += DocWrite::data_len(&job.writes);
                batch.push(job);
            }
            Err(_) => break,
        }
    }
}

/// Commits `batch` in one transaction: in bulk when every write fits (`bulk`), else, or when
/// the bulk commit failed, write by write.
async fn commit_batch(
    db: &Db,
    channel: &str,
    batch: &mut [Job],
) -> StorageResult<Vec<StorageResult<Committed>>> {
    let mut client = db.client().await?;
    let writes = writes_of(batch);
    if bulk::fits(&writes) {
        match bulk::commit(&client, channel, &writes).await? {
            bulk::Outcome::Done(results) => return Ok(results),
            bulk::Outcome::WriteByWrite(e) => {
                tracing::debug!("a bulk commit failed, committed write by write: {e}");
            }
        }
    }
    documents::commit_write_by_write(&mut client, channel, &writes).await
}

/// Transactions between two prunings of the log's marks.
const PRUNE_EVERY: u64 = 64;

/// Folds the marks every reader is past into `log_head` and deletes them (see
/// `documents`): the latest mark below this snapshot's xmin is below every later snapshot's
/// xmin too, so no reader needs an earlier one. One pruner at a time (the head's row lock,
/// skipped when another holds it); readers and writers do not wait for it.
pub(crate) async fn prune(db: &Db) -> StorageResult<u64> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    if tx.query_opt("SELECT 1 FROM log_head FOR UPDATE SKIP LOCKED", &[]).await?.is_none() {
        return Ok(0);
    }
    let pruned = tx
        .execute(
            "WITH w AS (SELECT xid, seq, docs FROM log_marks \
             WHERE xid < (SELECT pg_snapshot_xmin(pg_current_snapshot())) \
             ORDER BY xid DESC LIMIT 1), \
             h AS (UPDATE log_head SET seq = w.seq, docs = w.docs FROM w \
             WHERE log_head.seq <= w.seq RETURNING w.xid) \
             DELETE FROM log_marks WHERE xid <= (SELECT xid FROM h)",
            &[],
        )
        .await?;
    tx.commit().await?;
    Ok(pruned)
}

/// Takes the writes of every request of `batch`, in order.
fn writes_of(batch: &mut [Job]) -> Vec<DocWrite> {
    batch.iter_mut().flat_map(|j| std::mem::take(&mut j.writes)).collect()
}

/// Gives each request of `batch` its own writes' results, or the batch's error.
fn answer(batch: Vec<Job>, outcome: StorageResult<Vec<StorageResult<Committed>>>) {
    match outcome {
        Ok(results) => {
            let mut results = results.into_iter();
            for job in batch {
                let n = job.count;
                let _ = job.reply.send(Ok(results.by_ref().take(n).collect()));
            }
        }
        Err(e) => {
            // Nothing of the batch is stored: each request is told so, in the error's words.
            let message = e.to_string();
            let mut first = Some(e);
            for job in batch {
                let error = match first.take() {
                    Some(e) => e,
                    None => StorageError::CommitFailed(message.clone()),
                };
                let _ = job.reply.send(Err(error));
            }
        }
    }
}
