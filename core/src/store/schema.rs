//! The phone store's schema: its pragmas and its upgrade steps by `user_version`, opened through
//! the one [`open_database`] the server uses too.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, Transaction};

use super::key::StoreKey;
use crate::error::Result;
use crate::sql::{Initializer, OpenError, open_database};

/// The schema version this build writes.
pub const VERSION: i64 = Schema::<'static>::END_VERSION as i64;

/// Upgrade steps: `STEPS[n]` takes a database from version `n` to `n + 1`.
const STEPS: &[&str] = &[
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
];

/// The store's settings and schema, and the key it is encrypted with.
struct Schema<'k> {
    key: Option<&'k StoreKey>,
}

impl Initializer for Schema<'_> {
    const NAME: &'static str = "store";
    const END_VERSION: u32 = 15;

    fn prepare(&self, conn: &Connection) -> rusqlite::Result<()> {
        // The key before anything reads the file; a wrong one fails the first pragma below.
        if let Some(key) = self.key {
            super::key::give_key(conn, key, super::key::Settings::Current)?;
        }
        conn.busy_timeout(super::wal::BUSY)?;
        // WAL before the first transaction; NORMAL is durable against process death in WAL mode.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // When the log starts over, its file is cut back to this size (super::wal).
        conn.pragma_update(None, "journal_size_limit", super::wal::LIMIT_BYTES as i64)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Checkpoints run on a thread of their own (see wal.rs), not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    fn init(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        (0..STEPS.len()).try_for_each(|n| step(tx, n))
    }

    fn upgrade_from(&self, tx: &Transaction<'_>, version: u32) -> rusqlite::Result<()> {
        step(tx, version as usize)
    }
}

/// The steps after which `docs` takes a new kind, and the kinds' codes it then takes: warning
/// bulletins (`sql/v9.sql`, 4), business visits (`sql/v10.sql`, 5) and deliberations
/// (`sql/v11.sql`, 6).
const WIDENINGS: &[(usize, u8)] = &[(8, 4), (9, 5), (10, 6)];

/// Runs upgrade step `n`.
fn step(tx: &Transaction<'_>, n: usize) -> rusqlite::Result<()> {
    tx.execute_batch(STEPS[n])?;
    if let Some(&(_, last)) = WIDENINGS.iter().find(|(at, _)| *at == n) {
        widen_kinds(tx, last)?;
    }
    Ok(())
}

/// The CHECK of `docs.kind` that lets it hold the codes 1 to `last`.
fn kinds_check(last: u8) -> String {
    let codes: Vec<String> = (1..=last).map(|c| c.to_string()).collect();
    format!("CHECK (kind IN ({}))", codes.join(", "))
}

/// Lets `docs` hold the kinds' codes up to `last`. SQLite alters no CHECK constraint, and
/// rebuilding `docs` would cascade through every table that references it; a constraint that
/// only loosens (every stored row keeps it) is rewritten in place instead, SQLite's documented
/// procedure: the table's definition changed under `writable_schema`, the schema version
/// raised so every connection reads it again. Whichever narrower list the table holds is
/// widened; running it twice changes nothing.
fn widen_kinds(tx: &Transaction<'_>, last: u8) -> rusqlite::Result<()> {
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "writable_schema", true)?;
    for narrower in 3..last {
        tx.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?1, ?2) \
             WHERE type = 'table' AND name = 'docs'",
            [kinds_check(narrower), kinds_check(last)],
        )?;
    }
    tx.pragma_update(None, "schema_version", version + 1)?;
    tx.pragma_update(None, "writable_schema", false)?;
    Ok(())
}

/// Opens (creating if needed) the writer connection, unlocked with `key` (none: a plaintext
/// store), and brings the schema up to date. A key that does not open the file is `WrongKey`,
/// and nothing is written.
pub(crate) fn open_writer(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    open_database(path, &Schema { key }).map_err(|e| match e {
        OpenError::Sqlite(e) => super::key::wrong_key_or(e, path, key.is_some()),
        other => other.into(),
    })
}

/// Opens a read-only connection beside the writer, unlocked with `key`.
pub(crate) fn open_reader(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    super::key::unlock(&conn, path, key)?;
    conn.pragma_update(None, "query_only", true)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;

    #[test]
    fn fresh_database_gets_current_version() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.db");
        let conn = open_writer(&path, None)?;
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(v, VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        drop(conn);
        // Reopening a current database changes nothing.
        open_writer(&path, None)?;
        Ok(())
    }

    fn schema_of(conn: &Connection) -> Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(
            "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    #[test]
    fn every_old_version_upgrades_to_the_fresh_schema() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let fresh = open_writer(&dir.path().join("fresh.db"), None)?;
        for old in 1..VERSION {
            let path = dir.path().join(format!("v{old}.db"));
            {
                // A database as version `old` left it (its steps, each kind's code added to
                // `docs` after its own), holding one document.
                let mut conn = Connection::open(&path)?;
                let tx = conn.transaction()?;
                for n in 0..old as usize {
                    step(&tx, n)?;
                }
                tx.commit()?;
                conn.pragma_update(None, "user_version", old)?;
                conn.execute(
                    "INSERT INTO docs (doc_id, kind, snapshot, updated_at) VALUES (?1, 1, x'00', 0)",
                    [[7u8; 16]],
                )?;
            }
            let upgraded = open_writer(&path, None)?;
            assert_eq!(schema_of(&upgraded)?, schema_of(&fresh)?, "upgrade from v{old}");
            let kept: i64 = upgraded.query_row("SELECT count(*) FROM docs", [], |r| r.get(0))?;
            assert_eq!(kept, 1, "upgrade from v{old} keeps the documents");
            upgraded.execute(
                "INSERT INTO docs (doc_id, kind, snapshot, updated_at) VALUES (?1, 4, x'00', 0)",
                [[8u8; 16]],
            )?;
            upgraded.execute(
                "INSERT INTO docs (doc_id, kind, snapshot, updated_at) VALUES (?1, 5, x'00', 0)",
                [[9u8; 16]],
            )?;
            upgraded.execute(
                "INSERT INTO docs (doc_id, kind, snapshot, updated_at) VALUES (?1, 6, x'00', 0)",
                [[10u8; 16]],
            )?;
            if old < 2 {
                let pending: i64 =
                    upgraded.query_row("SELECT pending FROM sync_docs", [], |r| r.get(0))?;
                assert_eq!(pending, 1, "a document stored before sync existed is unpushed");
            }
            if old < 3 {
                let flagged: i64 = upgraded.query_row(
                    "SELECT count(*) FROM meta WHERE key = 'blob_refs_rebuild'",
                    [],
                    |r| r.get(0),
                )?;
                assert_eq!(flagged, 1, "documents stored before blobs existed get their refs");
            }
        }
        // Photos a version-4 store marked uploaded go back in the queue, to be proven.
        let path = dir.path().join("v4-photos.db");
        {
            let conn = Connection::open(&path)?;
            for sql in &STEPS[..4] {
                conn.execute_batch(sql)?;
            }
            conn.pragma_update(None, "user_version", 4)?;
            for (hash, state) in [("a", "uploaded"), ("b", "downloaded"), ("c", "local")] {
                conn.execute(
                    "INSERT INTO blobs (hash, size, media_type, state, received, added_at) \
                     VALUES (?1, 10, 'image/jpeg', ?2, 10, 0)",
                    [hash.repeat(64), state.to_string()],
                )?;
            }
        }
        let upgraded = open_writer(&path, None)?;
        let states: Vec<(String, i64)> = upgraded
            .prepare("SELECT state, received FROM blobs ORDER BY hash")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let expected = [("local", 0), ("downloaded", 10), ("local", 10)];
        assert_eq!(states, expected.map(|(s, n)| (s.to_string(), n)));
        Ok(())
    }

    #[test]
    fn newer_database_is_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.db");
        drop(open_writer(&path, None)?);
        Connection::open(&path)?.pragma_update(None, "user_version", VERSION + 1)?;
        match open_writer(&path, None) {
            Err(CoreError::DatabaseTooNew { found, supported, .. }) => {
                assert_eq!((found, supported), (VERSION + 1, VERSION));
            }
            other => panic!("expected DatabaseTooNew, got {other:?}"),
        }
        Ok(())
    }
}
