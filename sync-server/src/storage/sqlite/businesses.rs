//! The SQL of the business registry (schema version 12): reads on a reader connection, writes as
//! jobs of the writer thread. "At or below a scope" is one range of `scope_key` (the scope and
//! a `/`): from `scope/` up to, not including, `scope0` (`0` follows `/`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::storage::{Business, BusinessChange, StorageResult};

const COLUMNS: &str = "business_id, scope, name, kind, address, lat, lon, contact, operator, \
                       created_by, created_at, updated_at, closed_at";

fn business(r: &Row<'_>) -> rusqlite::Result<Business> {
    let (lat, lon): (Option<f64>, Option<f64>) = (r.get(5)?, r.get(6)?);
    Ok(Business {
        id: r.get(0)?,
        scope: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        address: r.get(4)?,
        location: lat.zip(lon),
        contact: r.get(7)?,
        operator: r.get(8)?,
        created_by: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        closed_at: r.get(12)?,
    })
}

pub(crate) fn add(conn: &Connection, b: &Business) -> StorageResult<bool> {
    let added = conn
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO businesses ({COLUMNS}, scope_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?
        .execute(params![
            b.id,
            b.scope,
            b.name,
            b.kind,
            b.address,
            b.location.map(|l| l.0),
            b.location.map(|l| l.1),
            b.contact,
            b.operator,
            b.created_by,
            b.created_at,
            b.updated_at,
            b.closed_at,
            format!("{}/", b.scope)
        ])?;
    Ok(added == 1)
}

pub(crate) fn by_id(conn: &Connection, id: &str) -> StorageResult<Option<Business>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM businesses WHERE business_id = ?1"))?
        .query_row([id], business)
        .optional()?)
}

pub(crate) fn change(conn: &Connection, c: &BusinessChange) -> StorageResult<Option<Business>> {
    let Some(mut b) = by_id(conn, &c.id)? else { return Ok(None) };
    let set = |slot: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            slot.clone_from(v);
        }
    };
    set(&mut b.name, &c.name);
    set(&mut b.kind, &c.kind);
    set(&mut b.address, &c.address);
    set(&mut b.contact, &c.contact);
    if let Some(location) = c.location {
        b.location = Some(location);
    }
    if let Some(operator) = &c.operator {
        b.operator = (!operator.is_empty()).then(|| operator.clone());
    }
    if c.close && b.closed_at.is_none() {
        b.closed_at = Some(c.at);
    }
    b.updated_at = c.at;
    conn.prepare_cached(
        "UPDATE businesses SET name = ?2, kind = ?3, address = ?4, lat = ?5, lon = ?6, \
         contact = ?7, operator = ?8, updated_at = ?9, closed_at = ?10 WHERE business_id = ?1",
    )?
    .execute(params![
        b.id,
        b.name,
        b.kind,
        b.address,
        b.location.map(|l| l.0),
        b.location.map(|l| l.1),
        b.contact,
        b.operator,
        b.updated_at,
        b.closed_at
    ])?;
    Ok(Some(b))
}

pub(crate) fn inside(conn: &Connection, scopes: &[String]) -> StorageResult<Vec<Business>> {
    let mut found: Vec<Business> = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM businesses WHERE scope_key >= ?1 AND scope_key < ?2"
    ))?;
    for scope in scopes {
        let rows = stmt.query_map([format!("{scope}/"), format!("{scope}0")], business)?;
        for b in rows {
            let b = b?;
            if !found.iter().any(|f| f.id == b.id) {
                found.push(b);
            }
        }
    }
    found.sort_by(|a, b| (&a.scope, &a.name, &a.id).cmp(&(&b.scope, &b.name, &b.id)));
    Ok(found)
}
