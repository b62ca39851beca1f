//! The PostgreSQL schema: its upgrade steps, applied in order and recorded in the table
//! `schema_version`, and the epoch made on creation. Several instances may start at once on
//! one database: the upgrade runs under a transaction-scoped advisory lock, so one of them
//! creates or upgrades the schema and the others find it done. A database of a newer version
//! than this build knows is a clear error, not a guess (as SQLite's `open_database`).

use crate::storage::{StorageError, StorageResult};

use super::db::{Db, execute, query_one, query_opt};

/// The schema version this build writes.
pub(crate) const VERSION: i64 = 5;

/// Upgrade steps: `UPGRADES[n]` takes a database from version `n` to `n + 1`.
const UPGRADES: &[&str] = &[
    include_str!("sql/v1.sql"),
    include_str!("sql/v2.sql"),
    include_str!("sql/v3.sql"),
    include_str!("sql/v4.sql"),
    include_str!("sql/v5.sql"),
];

/// The advisory lock key under which the schema is created or upgraded ("fsschema").
const SCHEMA_LOCK: i64 = 0x6673_7363_6865_6d61;

/// Creates or upgrades the schema of the connection's `search_path` and returns the epoch.
pub(crate) async fn prepare(db: &Db, name: &str) -> StorageResult<String> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).await?;
    execute(
        &tx,
        "CREATE TABLE IF NOT EXISTS schema_version (\
         one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), version BIGINT NOT NULL)",
        &[],
    )
    .await?;
    let found = query_opt(&tx, "SELECT version FROM schema_version", &[])
        .await?
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()?
        .unwrap_or(0);
    if found > VERSION {
        return Err(StorageError::TooNew { path: name.to_string(), found, supported: VERSION });
    }
    let steps = usize::try_from(found).unwrap_or(0);
    for step in &UPGRADES[steps..] {
        tx.batch_execute(step).await?;
    }
    if found == 0 {
        execute(
            &tx,
            "INSERT INTO meta (key, value) VALUES ('epoch', $1), ('created_at', $2)",
            &[&new_epoch(), &fieldsync_core::time::now_ms().to_string()],
        )
        .await?;
    }
    execute(
        &tx,
        "INSERT INTO schema_version (one, version) VALUES (TRUE, $1) \
         ON CONFLICT (one) DO UPDATE SET version = excluded.version",
        &[&VERSION],
    )
    .await?;
    let epoch: String =
        query_one(&tx, "SELECT value FROM meta WHERE key = 'epoch'", &[]).await?.try_get(0)?;
    tx.commit().await?;
    if found < VERSION {
        tracing::info!(database = name, from = found, to = VERSION, "schema upgraded");
    }
    Ok(epoch)
}

/// A new random epoch: 16 random bytes in hex.
pub(crate) fn new_epoch() -> String {
    super::super::sqlite::schema::new_epoch()
}

/// Gives the database a new epoch (after a restore from a backup); returns it. Every server
/// instance is stopped (no document commit is in flight), so the log's marks are folded into
/// its head at the sequences' last numbers: a database restored into another cluster carries
/// marks with that cluster's transaction ids, which may lie ahead of this one's and would hold
/// the watermark (`log_visible`) back until its ids caught up.
pub(crate) async fn renew_epoch(db: &Db) -> StorageResult<String> {
    let epoch = new_epoch();
    db.write(epoch, |tx, epoch| {
        Box::pin(async move {
            execute(tx, "UPDATE meta SET value = $1 WHERE key = 'epoch'", &[epoch]).await?;
            execute(
                tx,
                "UPDATE log_head SET seq = (SELECT last_value FROM log_seq), \
                 docs = (SELECT last_value FROM doc_pos)",
                &[],
            )
            .await?;
            execute(tx, "DELETE FROM log_marks", &[]).await?;
            Ok(epoch.clone())
        })
    })
    .await
}
