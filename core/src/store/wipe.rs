//! Erasing the store, as a lost phone whose administrator asked for a wipe must
//! (`device revoke <id> --wipe`; `docs/protocol.md`, "Revoked devices").
//!
//! Everything goes: records and their unsynced changes, photos (also those waiting to upload),
//! points, the business registry, the enrollment and token, the user and the device's actor.
//! Deleted rows are overwritten in the database file (`secure_delete`), the write-ahead log is
//! truncated, and the file is rebuilt (`VACUUM`), so the old pages do not linger in free space;
//! the photo folder is removed. An encrypted store's file secret is replaced too. The store stays open, empty and unenrolled, as if new: the app
//! may enroll it again with a new code.

use rusqlite::Connection;

use super::files_at_rest;
use super::writer::load_identity;
use super::{Origin, RecordChanged, Store};
use crate::error::Result;
use crate::model::Kind;

/// The tables of the store's schema that hold rows (FTS shadow tables go with their table).
fn tables(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' \
         AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

impl Store {
    /// Erases everything this store holds (see the module's documentation) and tells the
    /// observers that each record is gone ([`Origin::Wiped`]). Afterwards the store is empty,
    /// unenrolled, with a new actor.
    pub fn wipe(&self) -> Result<()> {
        let _files = self.blobs.lock();
        let (gone, keys) = {
            let mut w = self.writer();
            let gone: Vec<RecordChanged> = w
                .conn
                .prepare("SELECT doc_id, kind FROM docs")?
                .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?
                .filter_map(|row| {
                    let (id, code) = row.ok()?;
                    let id = crate::id::DocId::from_slice(&id).ok()?;
                    let kind = Kind::from_code(code)?;
                    Some(RecordChanged { id, kind, origin: Origin::Wiped, inbox: Vec::new() })
                })
                .collect();
            w.conn.pragma_update(None, "secure_delete", true)?;
            let names = tables(&w.conn)?;
            let encrypted = self.is_encrypted();
            let keys = w.in_tx(|tx| {
                // Rows referencing each other go in one transaction, checked at its end.
                tx.pragma_update(None, "defer_foreign_keys", true)?;
                for name in &names {
                    tx.execute(&format!("DELETE FROM \"{name}\""), [])?;
                }
                // The old secret goes with the rows: nothing left of the files can be read.
                encrypted.then(|| files_at_rest::renew(tx)).transpose()
            })?;
            w.clear_cache();
            w.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            w.conn.execute_batch("VACUUM")?;
            w.identity = load_identity(&w.conn)?;
            w.profile = None;
            (gone, keys)
        };
        self.blobs.erase_all()?;
        if let Some(keys) = keys {
            self.blobs.set_keys(keys);
        }
        tracing::warn!(records = gone.len(), "the store was wiped, as the administrator asked");
        if !gone.is_empty() {
            self.notify(&gone);
        }
        Ok(())
    }
}
