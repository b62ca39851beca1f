//! How an instance learns that the log moved, by other instances' commits or its own: every
//! document commit sends `NOTIFY fieldsync_log_<epoch>, '<its last seq>'` (delivered when, and
//! only if, it commits), and each storage keeps one connection of its own that LISTENs. On
//! each notification (or burst of them) it reads the log's end that readers may read up to
//! (the watermark, see `documents`) and publishes it in a `watch` channel
//! (`DocumentStorage::log_watch`): not the payload, since a commit's seqs may be visible while
//! a smaller one is still in flight, and whoever is woken reads up to what is published. The
//! in-flight commit's own notification comes when it commits, and moves the end past both.
//! The payload is a number, never data: PostgreSQL caps a payload at 8,000 bytes and queues
//! notifications globally. A notification lost while the connection was down is made up for
//! on reconnecting, by reading the log's end.
//!
//! The cost: one idle connection per instance, one queue entry per commit (NOTIFY takes a
//! database-wide lock at commit, held for an instant), and one one-row read per burst of
//! notifications per instance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_core::poison::Recover;
use futures_util::future::poll_fn;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};

use super::db::Db;

/// The channel the document commits of the storage of epoch `epoch` notify. Notifications go
/// to every session of the database, whatever its schema: the epoch (random, one per storage)
/// keeps apart the instances of several storages in one database (`search_path`), which would
/// otherwise hear each other's seqs.
pub(crate) fn channel(epoch: &str) -> String {
    let id: String = epoch.chars().filter(char::is_ascii_alphanumeric).take(40).collect();
    format!("fieldsync_log_{}", id.to_ascii_lowercase())
}

/// How long the listener waits before connecting again after its connection was lost.
const RECONNECT: Duration = Duration::from_secs(1);

/// How long the listener waits before reading the log's end again while it is below a seq
/// heard of.
const RECHECK: Duration = Duration::from_millis(20);

/// Where the log's end is published: taken (and so closed for its receivers) when the
/// storage closes.
pub(crate) type End = Arc<Mutex<Option<watch::Sender<u64>>>>;

/// Raises `end` to `seq` (never lowers it); tells its receivers only when it moved.
pub(crate) fn publish(end: &End, seq: u64) {
    if let Some(end) = end.lock().recover().as_ref() {
        end.send_if_modified(|e| {
            let later = seq > *e;
            if later {
                *e = seq;
            }
            later
        });
    }
}

/// Listens on `channel` until `closing` says so, publishing into `end`.
pub(crate) async fn run(
    config: tokio_postgres::Config,
    db: Arc<Db>,
    channel: String,
    end: End,
    mut closing: watch::Receiver<bool>,
) {
    while !*closing.borrow() {
        tokio::select! {
            lost = listen(&config, &db, &channel, &end) => {
                tracing::warn!("listening for other instances' commits stopped: {lost}");
            }
            _ = closing.changed() => break,
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT) => {}
            _ = closing.changed() => break,
        }
    }
}

/// One connection's life: LISTEN, catch up with the log's end, then publish every
/// notification until the connection fails (the answer says why).
async fn listen(config: &tokio_postgres::Config, db: &Db, channel: &str, end: &End) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return "the listener went away".to_string();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return e.to_string(),
                None => return "the connection closed".to_string(),
            }
        }
    });
    if let Err(e) = client.batch_execute(&format!("LISTEN {channel}")).await {
        driver.abort();
        return e.to_string();
    }
    // Commits made while no connection listened are read from the log's end.
    match db.read((), |tx, ()| Box::pin(super::read::log_end(tx))).await {
        Ok(seq) => publish(end, seq),
        Err(e) => tracing::debug!("log end after LISTEN: {e}"),
    }
    // The largest seq heard of, and whether the end read is still below it (a rolled back
    // commit's gap holds the watermark until older transactions end, and they may send no
    // notification).
    let mut heard = 0u64;
    let mut behind = false;
    loop {
        let payload = if behind {
            tokio::select! {
                p = rx.recv() => p,
                () = tokio::time::sleep(RECHECK) => Some(String::new()),
            }
        } else {
            rx.recv().await
        };
        let Some(payload) = payload else { break };
        // Those that arrived meanwhile are answered by the same read.
        for p in std::iter::once(payload).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match p.parse::<u64>() {
                Ok(seq) => heard = heard.max(seq),
                Err(_) if p.is_empty() => {}
                Err(_) => tracing::debug!(payload = p, "a notification that is no seq"),
            }
        }
        match db.read_one((), |c, ()| Box::pin(super::read::log_end(c))).await {
            Ok(seq) => {
                publish(end, seq);
                behind = seq < heard;
            }
            Err(e) => {
                tracing::debug!("log end after a notification: {e}");
                behind = true;
            }
        }
    }
    drop(client);
    driver.await.unwrap_or_else(|e| e.to_string())
}
