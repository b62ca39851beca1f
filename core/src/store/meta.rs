//! The `meta` table as a store reads it when it opens (the device's identity, its enrolled
//! profile, the flags upgrades leave) and for its enrollment: in one statement. A query per key
//! cost a prepare and a read transaction each (a key list, `IN (…)`, builds a temporary table
//! besides): a sixth of an open's time, in `perf` over 1,000 opens.

use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::types::{FromSql, Value, ValueRef};

use crate::error::Result;

/// The rows of `meta`, by key.
pub(crate) struct Meta(HashMap<String, Value>);

impl Meta {
    /// Reads every row of `meta` (a few dozen short values).
    pub(crate) fn read(conn: &Connection) -> Result<Meta> {
        let mut stmt = conn.prepare_cached("SELECT key, value FROM meta")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Value>(1)?)))?;
        Ok(Meta(rows.collect::<rusqlite::Result<_>>()?))
    }

    /// The value at `key` as a `T` (an error if it is stored as another type), if there is one.
    pub(crate) fn get<T: FromSql>(&self, key: &str) -> Result<Option<T>> {
        let Some(value) = self.0.get(key) else { return Ok(None) };
        let parsed = T::column_result(ValueRef::from(value)).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, value.data_type(), Box::new(e))
        })?;
        Ok(Some(parsed))
    }

    /// Whether `meta` holds `key` (a flag).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_stored_and_a_mistyped_one_is_an_error() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
             INSERT INTO meta VALUES ('user', 'li'), ('actor', x'0102'), ('flag', '1');",
        )?;
        let meta = Meta::read(&conn)?;
        assert_eq!(meta.get::<String>("user")?.as_deref(), Some("li"));
        assert_eq!(meta.get::<Vec<u8>>("actor")?, Some(vec![1, 2]));
        assert_eq!(meta.get::<String>("role")?, None);
        assert!(meta.has("flag") && !meta.has("role"));
        assert!(meta.get::<Vec<u8>>("user").is_err(), "text is not read as bytes");
        Ok(())
    }
}
