//! The phone's copy of the business registry (schema version 8): the businesses of the user's
//! scopes as the server last gave them (`SyncClient::refresh_businesses`), read offline when a
//! patrol picks the business it visits.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use super::visits::VisitRules;
use crate::error::Result;
use crate::time::Timestamp;

/// A business of the registry, as the phone shows it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Business {
    /// Its id (what a visit names).
    pub id: String,
    /// The scope it lies in.
    pub scope: String,
    /// Its name.
    pub name: String,
    /// `restaurant`, `guesthouse`, `shop`, `boat_rental`, `attraction`, `transport` or `other`.
    pub kind: String,
    /// Its address.
    pub address: String,
    /// Latitude, when known.
    pub lat: Option<f64>,
    /// Longitude, when known.
    pub lon: Option<f64>,
    /// How to reach it.
    pub contact: String,
    /// The user who runs it, if they have an account.
    pub operator: Option<String>,
    /// When it closed, if it did.
    pub closed_at: Option<Timestamp>,
}

fn business(r: &Row<'_>) -> rusqlite::Result<Business> {
    Ok(Business {
        id: r.get(0)?,
        scope: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        address: r.get(4)?,
        lat: r.get(5)?,
        lon: r.get(6)?,
        contact: r.get(7)?,
        operator: r.get(8)?,
        closed_at: r.get::<_, Option<i64>>(9)?.map(Timestamp::from),
    })
}

const COLUMNS: &str = "id, scope, name, kind, address, lat, lon, contact, operator, closed_at";

/// Every business of the copy, by scope then name.
pub(crate) fn all(c: &Connection) -> Result<Vec<Business>> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM businesses ORDER BY scope, name, id"))?
        .query_map([], business)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The business `id` of the copy, if it holds it.
pub(crate) fn one(c: &Connection, id: &str) -> Result<Option<Business>> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM businesses WHERE id = ?1"))?
        .query_row([id], business)
        .optional()?)
}

impl Store {
    /// The businesses of the registry as last fetched, by scope then name (empty before the
    /// first fetch). Readable offline.
    pub fn businesses(&self) -> Result<Vec<Business>> {
        self.read(all)
    }

    /// Replaces the copy held with `found` and the visit rules given with it, in one
    /// transaction.
    pub(crate) fn save_businesses(
        &self,
        found: &[Business],
        rules: Option<&VisitRules>,
    ) -> Result<()> {
        let mut w = self.writer();
        w.in_tx(|tx| {
            super::visits::save_rules(tx, rules)?;
            tx.execute("DELETE FROM businesses", [])?;
            let mut put = tx.prepare_cached(
                "INSERT INTO businesses (id, scope, name, kind, address, lat, lon, contact, \
                 operator, closed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for b in found {
                put.execute(params![
                    b.id,
                    b.scope,
                    b.name,
                    b.kind,
                    b.address,
                    b.lat,
                    b.lon,
                    b.contact,
                    b.operator,
                    b.closed_at.map(i64::from)
                ])?;
            }
            Ok(())
        })
    }
}
