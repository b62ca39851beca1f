//! How an instance learns that other instances moved the log: every document commit sends
//! `NOTIFY fieldsync_log, '<its last seq>'` (delivered when, and only if, it commits), and each
//! storage keeps one connection of its own that LISTENs and publishes the largest seq heard in
//! a `watch` channel (`DocumentStorage::log_watch`). The payload is a number, never data:
//! PostgreSQL caps a payload at 8,000 bytes and queues notifications globally. A notification
//! lost while the connection was down is made up for on reconnecting, by reading the log's end.
//!
//! The cost: one idle connection per instance, and one queue entry per commit (the commits
//! already run one at a time under the head lock, so NOTIFY's commit-time lock adds no wait).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_core::poison::Recover;
use futures_util::future::poll_fn;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};

use super::db::Db;

/// The channel document commits notify, one per schema: notifications go to every session
/// of the database, and several deployments (or tests) may share one database in schemas of
/// their own. A hash keeps the name within PostgreSQL's 63 bytes and of safe characters.
const CHANNEL: &str = "SELECT 'fieldsync_log_' || md5(current_schema())";

/// The statement a document commit notifies with, the new log end as the payload (`$1`).
pub(crate) const NOTIFY: &str = "SELECT pg_notify('fieldsync_log_' || md5(current_schema()), $1)";

/// How long the listener waits before connecting again after its connection was lost.
const RECONNECT: Duration = Duration::from_secs(1);

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

/// Listens on this schema's channel ([`CHANNEL`]) until `closing` says so, publishing into `end`.
pub(crate) async fn run(
    config: tokio_postgres::Config,
    db: Arc<Db>,
    end: End,
    mut closing: watch::Receiver<bool>,
) {
    while !*closing.borrow() {
        tokio::select! {
            lost = listen(&config, &db, &end) => {
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
async fn listen(config: &tokio_postgres::Config, db: &Db, end: &End) -> String {
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
    let channel: String = match client.query_one(CHANNEL, &[]).await.and_then(|r| r.try_get(0)) {
        Ok(c) => c,
        Err(e) => {
            driver.abort();
            return e.to_string();
        }
    };
    if let Err(e) = client.batch_execute(&format!("LISTEN {channel}")).await {
        driver.abort();
        return e.to_string();
    }
    // Commits made while no connection listened are read from the log's end.
    match db.read((), |tx, ()| Box::pin(super::read::log_end(tx))).await {
        Ok(seq) => publish(end, seq),
        Err(e) => tracing::debug!("log end after LISTEN: {e}"),
    }
    while let Some(payload) = rx.recv().await {
        match payload.parse::<u64>() {
            Ok(seq) => publish(end, seq),
            Err(_) => tracing::debug!(payload, "a notification that is no seq"),
        }
    }
    drop(client);
    driver.await.unwrap_or_else(|e| e.to_string())
}
