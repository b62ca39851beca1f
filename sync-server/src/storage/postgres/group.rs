//! Group commit inside one instance: the document commits of concurrent requests that arrive
//! while a transaction is committing wait, and go into the next transaction together, as
//! SQLite's writer thread merges them. Every document commit of every instance holds the log
//! head's lock from its first statement to its commit (`documents`), so one instance's
//! requests would otherwise take that lock, and pay a commit (a WAL flush), one after the
//! other; together they pay one. Each write keeps its own savepoint, so a failing write still
//! leaves the others of the batch untouched, and its caller gets its own results back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::db::Db;
use super::documents;
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
    /// write, as [`documents::commit`] gives them.
    pub(crate) async fn commit(&self, writes: Vec<DocWrite>) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { writes, reply }).map_err(|_| StorageError::Closed)?;
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
        while batch.len() < MAX_JOBS && bytes < MAX_BYTES {
            match jobs.try_recv() {
                Ok(job) => {
                    bytes += DocWrite::data_len(&job.writes);
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        batches.fetch_add(1, Ordering::Relaxed);
        commit_batch(&db, &channel, batch).await;
    }
}

async fn commit_batch(db: &Db, channel: &str, mut batch: Vec<Job>) {
    let counts: Vec<usize> = batch.iter().map(|j| j.writes.len()).collect();
    let writes: Vec<DocWrite> =
        batch.iter_mut().flat_map(|j| std::mem::take(&mut j.writes)).collect();
    tracing::trace!(jobs = batch.len(), writes = writes.len(), "group commit");
    match documents::commit(db, channel, &writes).await {
        Ok(results) => {
            let mut results = results.into_iter();
            for (job, n) in batch.into_iter().zip(counts) {
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
