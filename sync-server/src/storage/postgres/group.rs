//! Group commit inside one instance: the document commits of concurrent requests that arrive
//! while a transaction is committing wait, and go into the next transaction together, as
//! SQLite's writer thread merges them. Every document commit of every instance holds the log
//! head's lock from its first statement to its commit (`documents`), so one instance's
//! requests would otherwise take that lock, and pay a commit (a WAL flush), one after the
//! other; together they pay one. A batch that `bulk` commits takes the head's lock first and
//! only then takes in the requests that queued while it waited (another instance held the
//! lock, through its commit's WAL flush): the flush that every commit pays while holding the
//! lock is then shared by as many requests as arrived. A failing write still leaves the
//! others of the batch untouched (`bulk` falls back to one savepoint per write), and each
//! caller gets its own results back.

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
        batches.fetch_add(1, Ordering::Relaxed);
        let outcome = commit_batch(&db, &channel, &mut jobs, &mut batch, &mut bytes).await;
        answer(batch, outcome);
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

/// Commits `batch` in one transaction. A batch `bulk` takes waits for the log head's lock
/// first and then takes in the requests that queued meanwhile (while another instance
/// committed, say): they share this transaction's commit instead of waiting for the next.
async fn commit_batch(
    db: &Db,
    channel: &str,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    batch: &mut Vec<Job>,
    bytes: &mut usize,
) -> StorageResult<Vec<StorageResult<Committed>>> {
    let mut client = db.client().await?;
    let fits = |batch: &[Job]| batch.iter().all(|j| bulk::fits(&j.writes));
    if fits(batch) {
        let head = bulk::lock(&client).await?;
        take_queued(jobs, batch, bytes);
        let writes = writes_of(batch);
        if bulk::fits(&writes) {
            match bulk::commit_locked(&client, channel, head, &writes).await? {
                bulk::Outcome::Done(results) => return Ok(results),
                bulk::Outcome::WriteByWrite(e) => {
                    tracing::debug!("a bulk commit failed, committed write by write: {e}");
                }
            }
        } else {
            bulk::rollback(&client).await;
        }
        return documents::commit_write_by_write(&mut client, channel, &writes).await;
    }
    let writes = writes_of(batch);
    documents::commit_write_by_write(&mut client, channel, &writes).await
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
