//! The SQL of the points ledger and the exchange (schema version 11): reads on a reader
//! connection; every write a job of the writer thread in one transaction, so that an entry and
//! its account's balance, or a redemption with its debit and its stock, commit together. A
//! report's points are settled inside the document write that indexes it
//! ([`settle`], called by the writer).

use fieldsync_core::DocId;
use fieldsync_core::policy::scope_covers;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::storage::{
    Award, Balance, Collected, EntryKind, Good, GoodChange, PointsEntry, PointsTarget, Redeem,
    RedeemRefusal, Redeemed, Redemption, StorageError, StorageResult,
};

const ENTRY_COLUMNS: &str = "seq, account, amount, owed_change, kind, reason, source_doc, \
                             redemption, by_user, at, balance_after";
const GOOD_COLUMNS: &str =
    "good_id, community, name, points, stock, created_by, created_at, updated_at, withdrawn_at";
const REDEMPTION_COLUMNS: &str = "account, request_id, good_id, good_name, community, points, \
                                  voucher, at, collected_at, collected_by";

fn entry(r: &Row<'_>) -> rusqlite::Result<PointsEntry> {
    let kind: String = r.get(4)?;
    let source: Option<Vec<u8>> = r.get(6)?;
    Ok(PointsEntry {
        seq: r.get(0)?,
        account: r.get(1)?,
        amount: r.get(2)?,
        owed_change: r.get(3)?,
        kind: EntryKind::from_stored(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("unknown points entry kind {kind:?}").into(),
            )
        })?,
        reason: r.get(5)?,
        source: source.and_then(|b| DocId::from_slice(&b).ok()),
        redemption: r.get(7)?,
        by: r.get(8)?,
        at: r.get(9)?,
        balance_after: r.get(10)?,
    })
}

fn good(r: &Row<'_>) -> rusqlite::Result<Good> {
    Ok(Good {
        id: r.get(0)?,
        community: r.get(1)?,
        name: r.get(2)?,
        points: r.get(3)?,
        stock: r.get(4)?,
        created_by: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        withdrawn_at: r.get(8)?,
    })
}

fn redemption(r: &Row<'_>) -> rusqlite::Result<Redemption> {
    Ok(Redemption {
        account: r.get(0)?,
        request_id: r.get(1)?,
        good: r.get(2)?,
        good_name: r.get(3)?,
        community: r.get(4)?,
        points: r.get(5)?,
        voucher: r.get(6)?,
        at: r.get(7)?,
        collected_at: r.get(8)?,
        collected_by: r.get(9)?,
    })
}

/// An account's balance and what it owes (both 0 before its first entry).
fn standing(conn: &Connection, account: &str) -> StorageResult<(i64, i64)> {
    Ok(conn
        .prepare_cached("SELECT balance, owed FROM points_accounts WHERE account = ?1")?
        .query_row([account], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// What an entry is about, besides its amount.
struct Posting<'a> {
    account: &'a str,
    kind: EntryKind,
    reason: &'a str,
    source: Option<DocId>,
    redemption: Option<&'a str>,
    by: &'a str,
    at: i64,
}

/// Moves an account's points by `wanted` and writes the entry. A credit pays what the account
/// owes first; a debit takes what the balance has and records the rest as owed; the balance
/// never goes below 0.
fn post(conn: &Connection, p: &Posting<'_>, wanted: i64) -> StorageResult<PointsEntry> {
    let (balance, owed) = standing(conn, p.account)?;
    let (amount, owed_change) = if wanted >= 0 {
        let pay = wanted.min(owed);
        (wanted - pay, -pay)
    } else {
        let want = wanted.checked_neg().ok_or_else(|| overflow(p.account))?;
        let taken = want.min(balance);
        (-taken, want - taken)
    };
    let balance = balance.checked_add(amount).ok_or_else(|| overflow(p.account))?;
    let owed = owed.checked_add(owed_change).ok_or_else(|| overflow(p.account))?;
    conn.prepare_cached(
        "INSERT INTO points_accounts (account, balance, owed) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account) DO UPDATE SET balance = excluded.balance, owed = excluded.owed",
    )?
    .execute(params![p.account, balance, owed])?;
    conn.prepare_cached(
        "INSERT INTO points_ledger (account, amount, owed_change, kind, reason, source_doc, \
         redemption, by_user, at, balance_after) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        p.account,
        amount,
        owed_change,
        p.kind.as_str(),
        p.reason,
        p.source.map(|d| d.as_bytes().to_vec()),
        p.redemption,
        p.by,
        p.at,
        balance
    ])?;
    Ok(PointsEntry {
        seq: conn.last_insert_rowid(),
        account: p.account.to_string(),
        amount,
        owed_change,
        kind: p.kind,
        reason: p.reason.to_string(),
        source: p.source,
        redemption: p.redemption.map(str::to_string),
        by: p.by.to_string(),
        at: p.at,
        balance_after: balance,
    })
}

fn overflow(account: &str) -> StorageError {
    StorageError::Corrupt(format!("the points of {account} are out of range"))
}

/// Writes the entry that brings a report's entries to its target (none when they net to it
/// already); runs inside the document write that carries the target.
pub(crate) fn settle(conn: &Connection, t: &PointsTarget, at: i64) -> StorageResult<()> {
    let source = t.source.as_bytes().to_vec();
    let net: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(amount - owed_change), 0) FROM points_ledger \
             WHERE source_doc = ?1 AND account = ?2 AND kind IN ('earned', 'reversed')",
        )?
        .query_row(params![source, t.account], |r| r.get(0))?;
    let delta = t.target.checked_sub(net).ok_or_else(|| overflow(&t.account))?;
    if delta == 0 {
        return Ok(());
    }
    let (kind, reason) = if delta > 0 {
        (EntryKind::Earned, &t.earned_reason)
    } else {
        (EntryKind::Reversed, &t.reversed_reason)
    };
    let posting = Posting {
        account: &t.account,
        kind,
        reason,
        source: Some(t.source),
        redemption: None,
        by: &t.by,
        at,
    };
    post(conn, &posting, delta).map(drop)
}

pub(crate) fn award(conn: &Connection, a: &Award) -> StorageResult<PointsEntry> {
    if a.amount <= 0 {
        return Err(StorageError::InvalidQuery(format!("an award of {} points", a.amount)));
    }
    let posting = Posting {
        account: &a.account,
        kind: EntryKind::Awarded,
        reason: &a.reason,
        source: a.source,
        redemption: None,
        by: &a.by,
        at: a.at,
    };
    post(conn, &posting, a.amount)
}

pub(crate) fn points_of(
    conn: &Connection,
    account: &str,
    after: i64,
    limit: usize,
) -> StorageResult<(Balance, Vec<PointsEntry>)> {
    let (balance, owed) = standing(conn, account)?;
    let last_seq: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM points_ledger WHERE account = ?1")?
        .query_row([account], |r| r.get(0))?;
    let entries = conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM points_ledger WHERE account = ?1 AND seq > ?2 \
             ORDER BY seq LIMIT ?3"
        ))?
        .query_map(params![account, after, limit as i64], entry)?
        .collect::<Result<_, _>>()?;
    Ok((Balance { balance, owed, last_seq }, entries))
}

pub(crate) fn add_good(conn: &Connection, g: &Good) -> StorageResult<bool> {
    let added = conn
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO points_goods ({GOOD_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))?
        .execute(params![
            g.id,
            g.community,
            g.name,
            g.points,
            g.stock,
            g.created_by,
            g.created_at,
            g.updated_at,
            g.withdrawn_at
        ])?;
    Ok(added == 1)
}

pub(crate) fn good_by_id(conn: &Connection, id: &str) -> StorageResult<Option<Good>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {GOOD_COLUMNS} FROM points_goods WHERE good_id = ?1"))?
        .query_row([id], good)
        .optional()?)
}

pub(crate) fn change_good(conn: &Connection, c: &GoodChange) -> StorageResult<Option<Good>> {
    let Some(mut g) = good_by_id(conn, &c.id)? else { return Ok(None) };
    if let Some(name) = &c.name {
        g.name = name.clone();
    }
    if let Some(points) = c.points {
        g.points = points;
    }
    if let Some(restock) = c.restock {
        g.stock = g.stock.saturating_add(restock).max(0);
    }
    if c.withdraw && g.withdrawn_at.is_none() {
        g.withdrawn_at = Some(c.at);
    }
    g.updated_at = c.at;
    conn.prepare_cached(
        "UPDATE points_goods SET name = ?2, points = ?3, stock = ?4, updated_at = ?5, \
         withdrawn_at = ?6 WHERE good_id = ?1",
    )?
    .execute(params![g.id, g.name, g.points, g.stock, g.updated_at, g.withdrawn_at])?;
    Ok(Some(g))
}

pub(crate) fn goods(conn: &Connection, scopes: &[String]) -> StorageResult<Vec<Good>> {
    let all: Vec<Good> = conn
        .prepare_cached(&format!(
            "SELECT {GOOD_COLUMNS} FROM points_goods ORDER BY community, name, good_id"
        ))?
        .query_map([], good)?
        .collect::<Result<_, _>>()?;
    Ok(all
        .into_iter()
        .filter(|g| {
            scopes.iter().any(|s| scope_covers(&g.community, s) || scope_covers(s, &g.community))
        })
        .collect())
}

fn redemption_by_request(
    conn: &Connection,
    account: &str,
    request_id: &str,
) -> StorageResult<Option<Redemption>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REDEMPTION_COLUMNS} FROM points_redemptions \
             WHERE account = ?1 AND request_id = ?2"
        ))?
        .query_row([account, request_id], redemption)
        .optional()?)
}

pub(crate) fn redeem(conn: &Connection, r: &Redeem) -> StorageResult<Redeemed> {
    let refused = |why| Ok(Redeemed::Refused(why));
    if let Some(made) = redemption_by_request(conn, &r.account, &r.request_id)? {
        if made.good != r.good {
            return refused(RedeemRefusal::RequestReused);
        }
        let (balance, _) = standing(conn, &r.account)?;
        return Ok(Redeemed::Made { redemption: made, again: true, balance });
    }
    let Some(g) = good_by_id(conn, &r.good)? else { return refused(RedeemRefusal::UnknownGood) };
    if g.withdrawn_at.is_some() {
        return refused(RedeemRefusal::Withdrawn);
    }
    if !r.scopes.iter().any(|s| scope_covers(&g.community, s)) {
        return refused(RedeemRefusal::NotInCommunity);
    }
    if g.stock < 1 {
        return refused(RedeemRefusal::OutOfStock);
    }
    let (balance, _) = standing(conn, &r.account)?;
    if balance < g.points {
        return refused(RedeemRefusal::NotEnoughPoints { balance, needed: g.points });
    }
    conn.prepare_cached(
        "UPDATE points_goods SET stock = stock - 1, updated_at = ?2 WHERE good_id = ?1",
    )?
    .execute(params![g.id, r.at])?;
    let reason = format!("redeemed {}", g.name);
    let posting = Posting {
        account: &r.account,
        kind: EntryKind::Redeemed,
        reason: &reason,
        source: None,
        redemption: Some(&r.request_id),
        by: &r.account,
        at: r.at,
    };
    let balance = post(conn, &posting, -g.points)?.balance_after;
    let made = Redemption {
        account: r.account.clone(),
        request_id: r.request_id.clone(),
        good: g.id,
        good_name: g.name,
        community: g.community,
        points: g.points,
        voucher: r.voucher.clone(),
        at: r.at,
        collected_at: None,
        collected_by: None,
    };
    conn.prepare_cached(&format!(
        "INSERT INTO points_redemptions ({REDEMPTION_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL)"
    ))?
    .execute(params![
        made.account,
        made.request_id,
        made.good,
        made.good_name,
        made.community,
        made.points,
        made.voucher,
        made.at
    ])?;
    Ok(Redeemed::Made { redemption: made, again: false, balance })
}

pub(crate) fn by_voucher(conn: &Connection, voucher: &str) -> StorageResult<Option<Redemption>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REDEMPTION_COLUMNS} FROM points_redemptions WHERE voucher = ?1"
        ))?
        .query_row([voucher], redemption)
        .optional()?)
}

pub(crate) fn redemptions_of(conn: &Connection, account: &str) -> StorageResult<Vec<Redemption>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REDEMPTION_COLUMNS} FROM points_redemptions WHERE account = ?1 \
             ORDER BY at DESC, request_id DESC"
        ))?
        .query_map([account], redemption)?
        .collect::<Result<_, _>>()?)
}

pub(crate) fn collect(
    conn: &Connection,
    voucher: &str,
    by: &str,
    at: i64,
) -> StorageResult<Collected> {
    let Some(mut r) = by_voucher(conn, voucher)? else { return Ok(Collected::Unknown) };
    if r.collected_at.is_some() {
        return Ok(Collected::Before(r));
    }
    conn.prepare_cached(
        "UPDATE points_redemptions SET collected_at = ?2, collected_by = ?3 \
         WHERE voucher = ?1 AND collected_at IS NULL",
    )?
    .execute(params![voucher, at, by])?;
    r.collected_at = Some(at);
    r.collected_by = Some(by.to_string());
    Ok(Collected::Now(r))
}
