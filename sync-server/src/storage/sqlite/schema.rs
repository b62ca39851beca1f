//! The server database's schema: its pragmas, its upgrade steps by `user_version` and the epoch
//! made on creation, opened through core's [`open_database`], the one the phone's store uses
//! too.

use std::path::Path;

use fieldsync_core::sql::{Initializer, open_database};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction};

use crate::config::Durability;
use crate::storage::{StorageError, StorageResult};

/// The schema version this build writes.
pub(crate) const VERSION: i64 = 18;

/// Upgrade steps: `UPGRADES[n]` takes a database from version `n` to `n + 1`.
const UPGRADES: &[&str] = &[
    include_str!("sql/v1.sql"),
    include_str!("sql/v2.sql"),
    include_str!("sql/v3.sql"),
    include_str!("sql/v4.sql"),
    include_str!("sql/v5.sql"),
    include_str!("sql/v6.sql"),
    include_str!("sql/v7.sql"),
    include_str!("sql/v8.sql"),
    include_str!("sql/v9.sql"),
    include_str!("sql/v10.sql"),
    include_str!("sql/v11.sql"),
    include_str!("sql/v12.sql"),
    include_str!("sql/v13.sql"),
    include_str!("sql/v14.sql"),
    include_str!("sql/v15.sql"),
    include_str!("sql/v16.sql"),
    include_str!("sql/v17.sql"),
    include_str!("sql/v18.sql"),
];

/// Page cache of the writer connection, in KiB. One commit of a bulk upload writes several
/// MiB of pages (documents, the log, the index, each document's savepoint); with SQLite's
/// default of 2 MiB the writer spilled dirty pages into the log in the middle of the
/// transaction and read index pages back from the file, on the thread every push waits on.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Page cache of one reader connection, in KiB.
const READER_CACHE_KIB: i64 = 512;

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// A new random epoch: 16 random bytes in hex.
pub(crate) fn new_epoch() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The server database's settings and schema.
struct Schema {
    durability: Durability,
}

impl Initializer for Schema {
    const NAME: &'static str = "server";
    const END_VERSION: u32 = VERSION as u32;

    fn prepare(&self, conn: &Connection) -> rusqlite::Result<()> {
        // First, so that the statements below wait for another connection's lock (a CLI
        // command run beside the server) instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
        // WAL must be set before the first transaction. NORMAL survives the death of the
        // process (the WAL is written before COMMIT returns); FULL also survives power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match self.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // After a checkpoint the WAL file is cut back to this size instead of staying as large
        // as its largest burst.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        // Room for the index's updates too: one statement per set of changed columns.
        conn.set_prepared_statement_cache_capacity(128);
        plans_fixed(conn)?;
        Ok(())
    }

    fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        UPGRADES.iter().try_for_each(|step| tx.execute_batch(step))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1), ('created_at', ?2)",
            rusqlite::params![new_epoch(), fieldsync_core::time::now_ms().to_string()],
        )?;
        Ok(())
    }

    fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> rusqlite::Result<()> {
        tx.execute_batch(UPGRADES[version as usize])
    }
}

/// Opens the writer connection, creating or upgrading the schema; returns it with the epoch.
pub(crate) fn open_writer(
    path: &Path,
    durability: Durability,
) -> StorageResult<(Connection, String)> {
    let conn = open_database(path, &Schema { durability })?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    let epoch = read_epoch(&conn)?;
    Ok((conn, epoch))
}

fn read_epoch(conn: &Connection) -> StorageResult<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StorageError::Corrupt("the database has no epoch".into()))
}

/// Opens a read-only connection beside the writer.
pub(crate) fn open_reader(path: &Path) -> StorageResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    conn.set_prepared_statement_cache_capacity(64);
    plans_fixed(&conn)?;
    // A small page cache per reader: the operating system's file cache serves the rest without
    // counting against the server's memory, and there may be a dozen readers.
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

/// Keeps each cached statement's query plan whatever values are bound to it (SQLite's query
/// planner stability guarantee). Without it, SQLite marks a statement whose plan could depend
/// on a bound value (`LIMIT ?`, and with the STAT4 statistics the bundled build enables, any
/// compared value) and prepares it again whenever a new value is bound: every execution of a
/// cached statement re-parsed and re-planned its SQL, 11% of the server's CPU under `bench
/// load`. The server's statements are written for the indexes they use, so one plan serves
/// every value.
fn plans_fixed(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Gives the database a new epoch (after it was restored from a backup); returns it.
pub(crate) fn renew_epoch(conn: &Connection) -> StorageResult<String> {
    let epoch = new_epoch();
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'epoch'", [&epoch])?;
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (conn, epoch) = open_writer(&path, Durability::Normal).unwrap();
        assert_eq!(epoch.len(), 32);
        drop(conn);
        let (conn, again) = open_writer(&path, Durability::Normal).unwrap();
        assert_eq!(again, epoch, "reopening keeps the epoch");
        let renewed = renew_epoch(&conn).unwrap();
        assert_ne!(renewed, epoch);
        conn.pragma_update(None, "user_version", VERSION + 1).unwrap();
        drop(conn);
        assert!(matches!(
            open_writer(&path, Durability::Normal),
            Err(StorageError::TooNew { found, .. }) if found == VERSION + 1
        ));
    }

    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt =
            conn.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn each_upgrade_step_gives_the_schema_of_a_fresh_database() {
        let dir = tempfile::tempdir().unwrap();
        let (fresh, _) = open_writer(&dir.path().join("fresh.db"), Durability::Normal).unwrap();
        for old in 1..VERSION {
            let path = dir.path().join(format!("v{old}.db"));
            {
                let conn = Connection::open(&path).unwrap();
                for step in &UPGRADES[..old as usize] {
                    conn.execute_batch(step).unwrap();
                }
                conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', 'e')", []).unwrap();
                conn.pragma_update(None, "user_version", old).unwrap();
            }
            let (upgraded, epoch) = open_writer(&path, Durability::Normal).unwrap();
            assert_eq!(epoch, "e", "an upgrade keeps the epoch");
            assert_eq!(schema_of(&upgraded), schema_of(&fresh), "from version {old}");
            let version: i64 =
                upgraded.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(version, VERSION);
        }
    }

    #[test]
    fn the_codes_of_a_version_6_database_are_enrollment_codes_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let conn = Connection::open(&path).unwrap();
            for step in &UPGRADES[..6] {
                conn.execute_batch(step).unwrap();
            }
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', 'e')", []).unwrap();
            conn.execute(
                "INSERT INTO users (user_id, role, scopes, created_at, updated_at) \
                 VALUES ('res-1', 'resident', 'jl', 1, 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO enrol_codes (code_hash, user_id, issued_by, issued_at, expires_at, \
                 revoked_at) VALUES (x'0102', 'res-1', 'admin', 1, 2, 3)",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 6).unwrap();
        }
        let (conn, _) = open_writer(&path, Durability::Normal).unwrap();
        let row: (String, i64, i64) = conn
            .query_row(
                "SELECT user_id, expires_at, revoked_at FROM enroll_codes WHERE code_hash = x'0102'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("res-1".to_string(), 2, 3));
        let old: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'enrol_codes'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(old, 0);
    }

    #[test]
    fn the_devices_of_a_version_7_database_are_phones_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v7.db");
        {
            let conn = Connection::open(&path).unwrap();
            for step in &UPGRADES[..7] {
                conn.execute_batch(step).unwrap();
            }
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', 'e')", []).unwrap();
            conn.execute(
                "INSERT INTO users (user_id, role, scopes, created_at, updated_at) \
                 VALUES ('res-1', 'resident', 'jl', 1, 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO devices (device_id, user_id, name, token_hash, actor, enrolled_at) \
                 VALUES ('dev-1', 'res-1', 'phone', x'01', x'02', 1)",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 7).unwrap();
        }
        let (conn, _) = open_writer(&path, Durability::Normal).unwrap();
        let kind: String = conn
            .query_row("SELECT kind FROM devices WHERE device_id = 'dev-1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "phone");
        let sessions: i64 =
            conn.query_row("SELECT count(*) FROM desk_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(sessions, 0);
    }
}
