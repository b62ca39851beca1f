//! The SQL of the business registry. "At or below a scope" is one range of `scope_key` (the
//! scope and a `/`, compared bytewise: `COLLATE "C"`): from `scope/` up to, not including,
//! `scope0` (`0` follows `/`).

use tokio_postgres::Row;

use super::db::{Tx, execute, query, query_opt};
use crate::storage::{Business, BusinessChange, StorageResult};

const COLUMNS: &str = "business_id, scope, name, kind, address, lat, lon, contact, operator, \
                       created_by, created_at, updated_at, closed_at";

fn business(r: &Row) -> StorageResult<Business> {
    let (lat, lon): (Option<f64>, Option<f64>) = (r.try_get(5)?, r.try_get(6)?);
    Ok(Business {
        id: r.try_get(0)?,
        scope: r.try_get(1)?,
        name: r.try_get(2)?,
        kind: r.try_get(3)?,
        address: r.try_get(4)?,
        location: lat.zip(lon),
        contact: r.try_get(7)?,
        operator: r.try_get(8)?,
        created_by: r.try_get(9)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
        closed_at: r.try_get(12)?,
    })
}

pub(crate) async fn add(tx: &Tx<'_>, b: &Business) -> StorageResult<bool> {
    let sql = format!(
        "INSERT INTO businesses ({COLUMNS}, scope_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT DO NOTHING"
    );
    let added = execute(
        tx,
        &sql,
        &[
            &b.id,
            &b.scope,
            &b.name,
            &b.kind,
            &b.address,
            &b.location.map(|l| l.0),
            &b.location.map(|l| l.1),
            &b.contact,
            &b.operator,
            &b.created_by,
            &b.created_at,
            &b.updated_at,
            &b.closed_at,
            &format!("{}/", b.scope),
        ],
    )
    .await?;
    Ok(added == 1)
}

pub(crate) async fn by_id(tx: &Tx<'_>, id: &str) -> StorageResult<Option<Business>> {
    let sql = format!("SELECT {COLUMNS} FROM businesses WHERE business_id = $1");
    query_opt(tx, &sql, &[&id]).await?.map(|r| business(&r)).transpose()
}

pub(crate) async fn change(tx: &Tx<'_>, c: &BusinessChange) -> StorageResult<Option<Business>> {
    let Some(mut b) = by_id(tx, &c.id).await? else { return Ok(None) };
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
    execute(
        tx,
        "UPDATE businesses SET name = $2, kind = $3, address = $4, lat = $5, lon = $6, \
         contact = $7, operator = $8, updated_at = $9, closed_at = $10 WHERE business_id = $1",
        &[
            &b.id,
            &b.name,
            &b.kind,
            &b.address,
            &b.location.map(|l| l.0),
            &b.location.map(|l| l.1),
            &b.contact,
            &b.operator,
            &b.updated_at,
            &b.closed_at,
        ],
    )
    .await?;
    Ok(Some(b))
}

pub(crate) async fn inside(tx: &Tx<'_>, scopes: &[String]) -> StorageResult<Vec<Business>> {
    let mut found: Vec<Business> = Vec::new();
    let sql = format!("SELECT {COLUMNS} FROM businesses WHERE scope_key >= $1 AND scope_key < $2");
    for scope in scopes {
        for r in query(tx, &sql, &[&format!("{scope}/"), &format!("{scope}0")]).await? {
            let b = business(&r)?;
            if !found.iter().any(|f| f.id == b.id) {
                found.push(b);
            }
        }
    }
    found.sort_by(|a, b| (&a.scope, &a.name, &a.id).cmp(&(&b.scope, &b.name, &b.id)));
    Ok(found)
}
