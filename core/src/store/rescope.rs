//! After the user's rights changed: the mark a pulled page leaves until the catch-up it
//! restarted is done, and then dropping what the user may no longer read
//! (docs/protocol.md, "When a user's role or scopes change").

use rusqlite::{Connection, OptionalExtension};

use super::{Origin, RecordChanged, Store, docs};
use crate::error::Result;
use crate::id::DocId;

/// What a page said of the user's rights, and what is left to do once the catch-up it
/// restarted is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rescope {
    /// The rights changed: ask which held documents may no longer be read, and drop them.
    Changed,
    /// The rights only grew: everything held may still be read; only the new profile is asked.
    Widened,
}

/// Notes that the user's rights changed: once the feed's new catch-up is done, the documents
/// no longer visible are dropped. Kept in `meta`, in the transaction of the page that said so;
/// a change of any kind noted earlier and not yet handled outweighs a widening.
pub(crate) fn mark(tx: &Connection, how: Rescope) -> Result<()> {
    match how {
        Rescope::Changed => {
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rescope', '1')", [])?
        }
        Rescope::Widened => {
            tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('rescope', 'widened')", [])?
        }
    };
    Ok(())
}

/// Forgets the mark: the change is handled, or no longer this store's to handle.
pub(crate) fn clear(tx: &Connection) -> Result<()> {
    tx.execute("DELETE FROM meta WHERE key = 'rescope'", [])?;
    Ok(())
}

/// Whether a scope change waits for its documents to be pruned, and of which kind.
fn pending(conn: &Connection) -> Result<Option<Rescope>> {
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'rescope'", [], |r| r.get(0))
        .optional()?;
    Ok(value.map(|v| if v == "widened" { Rescope::Widened } else { Rescope::Changed }))
}

impl Store {
    /// Whether the user's rights changed and the documents no longer visible wait to be
    /// dropped, and of which kind the change was.
    pub(crate) fn rescope_pending(&self) -> Result<Option<Rescope>> {
        self.read(pending)
    }

    /// After a scope change: drops the documents in `hidden` (the server says this user may no
    /// longer read them) unless they hold local changes the server has not taken (those stay,
    /// listed as refused); then clears the mark. Returns the documents dropped.
    pub(crate) fn drop_hidden(&self, hidden: &[DocId]) -> Result<Vec<DocId>> {
        let mut dropped = Vec::new();
        let mut notes = Vec::new();
        {
            let mut w = self.writer();
            let mut doomed = Vec::new();
            for id in hidden {
                let Some(row) = docs::find(&w.conn, *id)? else { continue };
                let unsynced: bool = w
                    .conn
                    .query_row(
                        "SELECT pending = 1 FROM sync_docs WHERE doc = ?1",
                        [row.rowid],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(false);
                if !unsynced {
                    doomed.push((*id, row.rowid, row.kind));
                }
            }
            w.in_tx(|tx| {
                for (_, rowid, _) in &doomed {
                    docs::remove(tx, *rowid)?;
                }
                clear(tx)?;
                Ok(())
            })?;
            for (id, _, kind) in doomed {
                w.forget(id);
                dropped.push(id);
                notes.push(RecordChanged { id, kind, origin: Origin::Removed, inbox: Vec::new() });
            }
        }
        if !notes.is_empty() {
            self.forget_unreferenced_photos()?;
            self.notify(&notes);
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_not_yet_handled_outweighs_a_later_widening() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")?;
        assert_eq!(pending(&conn)?, None);
        mark(&conn, Rescope::Widened)?;
        assert_eq!(pending(&conn)?, Some(Rescope::Widened));
        mark(&conn, Rescope::Changed)?;
        mark(&conn, Rescope::Widened)?;
        assert_eq!(pending(&conn)?, Some(Rescope::Changed), "the phone still asks about all");
        clear(&conn)?;
        assert_eq!(pending(&conn)?, None);
        Ok(())
    }
}
