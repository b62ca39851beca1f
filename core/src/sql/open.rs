//! Opening a SQLite database the one way both sides do it (application-services'
//! `components/support/sql/src/open_database.rs`): settings first, outside any transaction
//! (WAL must be set before the first one), then the schema created or upgraded in one IMMEDIATE
//! transaction that records `PRAGMA user_version`. A database written by a newer build is a
//! typed error, never a guess.
//!
//! What differs between the phone's store and the server (their pragmas, their schema files,
//! what a new database holds besides its tables) is an [`Initializer`].

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

/// How long an open tries its settings again while another connection holds the lock they need
/// (see [`connect`]).
const SETTINGS_WAIT: Duration = Duration::from_secs(10);

/// What a database needs when it is opened: its settings, its schema, its upgrades.
pub trait Initializer {
    /// What the database is, for logs ("store", "server").
    const NAME: &'static str;
    /// The schema version this build writes.
    const END_VERSION: u32;

    /// Settings for the connection (pragmas, busy timeout, statement cache), before any
    /// transaction.
    fn prepare(&self, _conn: &Connection) -> rusqlite::Result<()> {
        Ok(())
    }

    /// Creates the schema of a new database, at [`Initializer::END_VERSION`].
    fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()>;

    /// Takes the schema from `version` to `version + 1`.
    fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> rusqlite::Result<()>;
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer build, which this one cannot read.
    #[error("database {path} has schema version {found}; this build understands up to {supported}")]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The database's `user_version` is negative: no build writes that.
    #[error("database {path} has schema version {found}, which no build writes")]
    InvalidVersion {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
    },
}

/// The `user_version` of a connection's database.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Opens the database at `path` for writing (creating the file if needed), sets it up with
/// `init`'s settings and brings its schema to `I::END_VERSION` in one IMMEDIATE transaction:
/// nothing of a failed upgrade stays, and a second connection opening at the same moment
/// waits instead of upgrading twice. A database at `I::END_VERSION` already takes no
/// transaction (its version is read, and that is all): most opens.
pub fn open_database<I: Initializer>(path: &Path, init: &I) -> Result<Connection, OpenError> {
    let mut conn = connect(path, init)?;
    if checked_version::<I>(path, &conn)? == i64::from(I::END_VERSION) {
        return Ok(conn);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again under the lock: another connection may have upgraded it meanwhile.
    let found = checked_version::<I>(path, &tx)?;
    let end = i64::from(I::END_VERSION);
    if found == 0 {
        init.init(&tx)?;
        tracing::debug!(db = I::NAME, version = end, "database created");
    } else {
        for version in found..end {
            // `found` is in 1..end here, so the cast cannot truncate.
            init.upgrade_from(&tx, version as u32)?;
            tracing::info!(db = I::NAME, to = version + 1, "database upgraded");
        }
    }
    if found != end {
        tx.pragma_update(None, "user_version", end)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// A connection to `path` with `init`'s settings. Switching a new file to WAL mode takes its
/// exclusive lock; two connections doing it at once can each hold the shared lock the other
/// waits for, and SQLite then answers SQLITE_BUSY at once instead of calling the busy handler
/// (seen when six connections created one database together: 2 runs in 40 under load). Such a
/// refusal is tried again, on a new connection, for up to [`SETTINGS_WAIT`].
fn connect<I: Initializer>(path: &Path, init: &I) -> Result<Connection, OpenError> {
    let deadline = Instant::now() + SETTINGS_WAIT;
    loop {
        let conn = Connection::open(path)?;
        match init.prepare(&conn) {
            Ok(()) => return Ok(conn),
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                drop(conn);
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `user_version` of the database at `path`, refused when no build writes it or this one
/// cannot read it.
fn checked_version<I: Initializer>(path: &Path, conn: &Connection) -> Result<i64, OpenError> {
    let found = schema_version(conn)?;
    let end = i64::from(I::END_VERSION);
    if found < 0 {
        return Err(OpenError::InvalidVersion { path: path.display().to_string(), found });
    }
    if found > end {
        return Err(OpenError::TooNew { path: path.display().to_string(), found, supported: end });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema of two steps, recording what it was asked to do.
    struct Steps {
        calls: std::cell::RefCell<Vec<String>>,
        fail_at: Option<u32>,
    }

    const STEPS: [&str; 2] = ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y INTEGER;"];

    impl Initializer for Steps {
        const NAME: &'static str = "test";
        const END_VERSION: u32 = 2;

        fn prepare(&self, conn: &Connection) -> rusqlite::Result<()> {
            self.calls.borrow_mut().push("prepare".into());
            // Connections opening at once wait for each other's locks, as the real ones do.
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")
        }

        fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
            self.calls.borrow_mut().push("init".into());
            tx.execute_batch(&STEPS.concat())
        }

        fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> rusqlite::Result<()> {
            self.calls.borrow_mut().push(format!("upgrade {version}"));
            tx.execute_batch(STEPS[version as usize])?;
            if self.fail_at == Some(version) {
                return Err(rusqlite::Error::InvalidQuery);
            }
            Ok(())
        }
    }

    fn steps(fail_at: Option<u32>) -> Steps {
        Steps { calls: Default::default(), fail_at }
    }

    #[test]
    fn creates_upgrades_and_refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let s = steps(None);
        let conn = open_database(&path, &s).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 2);
        assert_eq!(*s.calls.borrow(), ["prepare", "init"]);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(conn);

        // A current database: settings only.
        let s = steps(None);
        drop(open_database(&path, &s).unwrap());
        assert_eq!(*s.calls.borrow(), ["prepare"]);

        // A version-1 database takes the one step it lacks.
        let old = dir.path().join("old.db");
        let conn = Connection::open(&old).unwrap();
        conn.execute_batch(STEPS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let s = steps(None);
        let conn = open_database(&old, &s).unwrap();
        assert_eq!(*s.calls.borrow(), ["prepare", "upgrade 1"]);
        conn.execute("INSERT INTO a (x, y) VALUES (1, 2)", []).unwrap();
        drop(conn);

        Connection::open(&path).unwrap().pragma_update(None, "user_version", 3).unwrap();
        match open_database(&path, &steps(None)) {
            Err(OpenError::TooNew { found: 3, supported: 2, .. }) => {}
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    /// Opens `path` from six threads released together, each checking it is at version 2;
    /// the calls of all of them that `counted` picks.
    fn opened_at_once(path: &Path, counted: fn(&str) -> bool) -> usize {
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        let s = steps(None);
                        start.wait();
                        let conn = open_database(path, &s).unwrap();
                        assert_eq!(schema_version(&conn).unwrap(), 2);
                        s.calls.borrow().iter().filter(|c| counted(c)).count()
                    })
                })
                .collect();
            opens.into_iter().map(|h| h.join().unwrap()).sum()
        })
    }

    #[test]
    fn connections_upgrading_one_database_at_once_upgrade_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        // A version-1 database, in WAL mode as every database opened here is.
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(STEPS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let upgrades = opened_at_once(&path, |call| call.starts_with("upgrade"));
        assert_eq!(upgrades, 1, "the database was upgraded once");
    }

    #[test]
    fn connections_creating_one_database_at_once_all_open_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let inits = opened_at_once(&path, |call| call == "init");
        assert_eq!(inits, 1, "the schema was created once");
    }

    #[test]
    fn a_failed_upgrade_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(STEPS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        assert!(open_database(&path, &steps(Some(1))).is_err());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 1);
        let columns: i64 = conn
            .query_row("SELECT count(*) FROM pragma_table_info('a')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(columns, 1, "the step's ALTER was rolled back");
    }
}
