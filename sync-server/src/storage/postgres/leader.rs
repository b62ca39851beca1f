//! Which instance runs the jobs that must run once across every instance on the database
//! (overdue escalation, ending idle uploads): the one holding a session-level advisory lock on
//! a connection of its own. The lock lives as long as that connection: if the instance dies or
//! loses the database, PostgreSQL ends the session, the lock goes, and another instance takes
//! it at its next try. A leader checks its connection at every try, so an instance whose
//! connection broke stops leading at once.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// The advisory lock key of the leader of the storage of epoch `epoch`. Advisory locks are
/// the database's, whatever the schema: the epoch (random, one per storage) gives each storage
/// of one database a leader of its own.
fn lock_key(epoch: &str) -> i64 {
    // FNV-1a of the epoch: stable across builds and machines, unlike std's hasher.
    let hash = epoch
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// This instance's hold on the leader's lock, if it has it.
pub(crate) struct Leader {
    config: tokio_postgres::Config,
    key: i64,
    held: Mutex<Option<Client>>,
}

impl Leader {
    /// Not leading yet the storage of epoch `epoch`: the first [`Leader::try_lead`] tries.
    pub(crate) fn new(config: tokio_postgres::Config, epoch: &str) -> Leader {
        Leader { config, key: lock_key(epoch), held: Mutex::new(None) }
    }

    /// Whether this instance leads now: it keeps the lock it holds (its connection still
    /// answers), or takes it if no instance holds it. A failure to reach the database is "not
    /// leading": the jobs wait for the next try.
    pub(crate) async fn try_lead(&self) -> bool {
        let mut held = self.held.lock().await;
        if let Some(client) = held.as_ref() {
            if client.simple_query("SELECT 1").await.is_ok() {
                return true;
            }
            tracing::warn!("the leader's connection was lost: no longer leading");
            *held = None;
        }
        let (client, connection) = match self.config.connect(NoTls).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("cannot reach the database to lead: {e}");
                return false;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("the leader's connection ended: {e}");
            }
        });
        let got = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])
            .await
            .and_then(|r| r.try_get::<_, bool>(0));
        match got {
            Ok(true) => {
                tracing::info!("leading the jobs that run once");
                *held = Some(client);
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!("cannot take the leader's lock: {e}");
                false
            }
        }
    }

    /// Gives the lock up (the storage is closing): another instance may lead.
    pub(crate) async fn resign(&self) {
        self.held.lock().await.take();
    }
}
