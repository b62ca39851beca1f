//! The connection pool and the two ways every statement runs: a read in one REPEATABLE READ,
//! READ ONLY transaction (one snapshot, as SQLite's readers have), and a write in one
//! SERIALIZABLE transaction retried when PostgreSQL could not serialise it. SQLite runs every
//! write on one connection, one after the other; SERIALIZABLE gives the same outcome to writes
//! that run at once from several connections or several server instances, so the SQL written
//! for SQLite's one writer (read, decide, write) stays correct here. The document commit is
//! the exception, with its own lock (`documents`).

use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use crate::storage::{BoxFuture, StorageError, StorageResult};

/// A transaction of the pool's connections.
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// A connection of the pool, outside any explicit transaction (see [`Db::read_one`]).
pub(crate) type Client = deadpool_postgres::Client;

/// Parameters of a statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Connections the pool keeps at most: enough for the blocking work SQLite's readers do, and
/// far below PostgreSQL's default `max_connections` (100) with a few instances.
const MAX_CONNECTIONS: usize = 16;
/// How long a request waits for a connection (or for one to be made) before it fails as
/// [`StorageError::Unavailable`].
const WAIT: Duration = Duration::from_secs(10);
/// How many times a write that PostgreSQL could not serialise is run again.
const ATTEMPTS: u32 = 20;

/// The pool, and how it runs reads and writes.
pub(crate) struct Db {
    pool: Pool,
}

impl Db {
    /// A pool of connections to `config`'s database (none is made yet).
    pub(crate) fn new(config: tokio_postgres::Config) -> StorageResult<Db> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Unavailable(format!("connection pool: {e}")))?;
        Ok(Db { pool })
    }

    /// A connection of the pool.
    pub(crate) async fn client(&self) -> StorageResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => StorageError::Postgres(e),
            PoolError::Closed => StorageError::Closed,
            other => StorageError::Unavailable(other.to_string()),
        })
    }

    /// Closes the pool: connections in use are closed when given back, and every later call
    /// fails with [`StorageError::Closed`].
    pub(crate) fn close(&self) {
        self.pool.close();
    }

    /// Runs `f` in one REPEATABLE READ, READ ONLY transaction: everything it reads comes from
    /// one snapshot.
    pub(crate) async fn read<D, R, F>(&self, data: D, f: F) -> StorageResult<R>
    where
        D: Send + Sync,
        F: for<'a> Fn(&'a Tx<'a>, &'a D) -> BoxFuture<'a, StorageResult<R>> + Send + Sync,
    {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let result = f(&tx, &data).await;
        // Nothing to keep: ending the transaction either way frees its snapshot.
        tx.rollback().await?;
        result
    }

    /// Runs `f`, which sends exactly one statement, on a connection outside any explicit
    /// transaction: one statement reads one snapshot of its own, so the `BEGIN` and `ROLLBACK`
    /// that [`Db::read`] wraps it in would be two round trips for nothing (on the hot paths:
    /// every request's token, every pull's log entries).
    pub(crate) async fn read_one<D, R, F>(&self, data: D, f: F) -> StorageResult<R>
    where
        D: Send + Sync,
        F: for<'a> Fn(&'a Client, &'a D) -> BoxFuture<'a, StorageResult<R>> + Send + Sync,
    {
        let client = self.client().await?;
        f(&client, &data).await
    }

    /// Runs `f` in one SERIALIZABLE transaction, committed when it returns `Ok`; a transaction
    /// PostgreSQL could not serialise with others (or chose as a deadlock's victim) is rolled
    /// back and run again, up to [`ATTEMPTS`] times.
    pub(crate) async fn write<D, R, F>(&self, data: D, f: F) -> StorageResult<R>
    where
        D: Send + Sync,
        F: for<'a> Fn(&'a Tx<'a>, &'a D) -> BoxFuture<'a, StorageResult<R>> + Send + Sync,
    {
        let mut client = self.client().await?;
        let mut attempt = 1;
        loop {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()
                .await?;
            let outcome = match f(&tx, &data).await {
                Ok(r) => tx.commit().await.map(|()| r).map_err(StorageError::from),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            match outcome {
                Err(e) if retryable(&e) && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, "write run again: {e}");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Whether `e` says the transaction lost a race and may be run again as it is.
pub(crate) fn retryable(e: &StorageError) -> bool {
    match e {
        StorageError::Postgres(e) => matches!(
            e.code(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
        ),
        _ => false,
    }
}

/// Whether `e` is a unique or primary key violation.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A short pause before running a transaction again, longer with each attempt and jittered so
/// that the writers that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    Duration::from_millis(base + rand::random::<u64>() % (base + 1))
}

/// Runs a statement (prepared once per connection) and returns its rows.
pub(crate) async fn query(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> StorageResult<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query(&stmt, params).await?)
}

/// Runs a statement that returns at most one row.
pub(crate) async fn query_opt(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> StorageResult<Option<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&stmt, params).await?)
}

/// Runs a statement that returns exactly one row.
pub(crate) async fn query_one(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> StorageResult<Row> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_one(&stmt, params).await?)
}

/// Runs a statement and returns how many rows it changed.
pub(crate) async fn execute(
    tx: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> StorageResult<u64> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&stmt, params).await?)
}
