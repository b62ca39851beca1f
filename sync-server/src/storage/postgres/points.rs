//! The SQL of the points ledger and the exchange. Every write that moves an account's points
//! first locks the account's row (`FOR UPDATE`, made if it is new), so that two writers of one
//! account, on any instance and in any isolation, run one after the other: the balance is read
//! and written back with nothing in between, and the account's ledger seqs become visible in
//! order. A report's points are settled in the transaction of the document write that indexes
//! it ([`settle`], called by `documents` and by `bulk`). A redemption locks the account, then
//! the good: always in that order.

use deadpool_postgres::GenericClient;
use fieldsync_core::DocId;
use fieldsync_core::policy::scope_covers;
use tokio_postgres::Row;

use super::db::{Tx, execute, query, query_one, query_opt};
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

fn entry(r: &Row) -> StorageResult<PointsEntry> {
    let kind: &str = r.try_get(4)?;
    let source: Option<&[u8]> = r.try_get(6)?;
    Ok(PointsEntry {
        seq: r.try_get(0)?,
        account: r.try_get(1)?,
        amount: r.try_get(2)?,
        owed_change: r.try_get(3)?,
        kind: EntryKind::from_stored(kind)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown points entry kind {kind:?}")))?,
        reason: r.try_get(5)?,
        source: source.and_then(|b| DocId::from_slice(b).ok()),
        redemption: r.try_get(7)?,
        by: r.try_get(8)?,
        at: r.try_get(9)?,
        balance_after: r.try_get(10)?,
    })
}

fn good(r: &Row) -> StorageResult<Good> {
    Ok(Good {
        id: r.try_get(0)?,
        community: r.try_get(1)?,
        name: r.try_get(2)?,
        points: r.try_get(3)?,
        stock: r.try_get(4)?,
        created_by: r.try_get(5)?,
        created_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
        withdrawn_at: r.try_get(8)?,
    })
}

fn redemption(r: &Row) -> StorageResult<Redemption> {
    Ok(Redemption {
        account: r.try_get(0)?,
        request_id: r.try_get(1)?,
        good: r.try_get(2)?,
        good_name: r.try_get(3)?,
        community: r.try_get(4)?,
        points: r.try_get(5)?,
        voucher: r.try_get(6)?,
        at: r.try_get(7)?,
        collected_at: r.try_get(8)?,
        collected_by: r.try_get(9)?,
    })
}

/// An account's balance and what it owes (both 0 before its first entry), not locked.
async fn standing(tx: &Tx<'_>, account: &str) -> StorageResult<(i64, i64)> {
    let row =
        query_opt(tx, "SELECT balance, owed FROM points_accounts WHERE account = $1", &[&account])
            .await?;
    match row {
        Some(r) => Ok((r.try_get(0)?, r.try_get(1)?)),
        None => Ok((0, 0)),
    }
}

/// Locks an account's row (making it if it is new) and returns its balance and what it owes.
async fn lock_account(tx: &impl GenericClient, account: &str) -> StorageResult<(i64, i64)> {
    execute(
        tx,
        "INSERT INTO points_accounts (account) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&account],
    )
    .await?;
    let r = query_one(
        tx,
        "SELECT balance, owed FROM points_accounts WHERE account = $1 FOR UPDATE",
        &[&account],
    )
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
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
/// owes first; a debit takes what the balance has and records the rest as owed.
async fn post(tx: &impl GenericClient, p: &Posting<'_>, wanted: i64) -> StorageResult<PointsEntry> {
    let (balance, owed) = lock_account(tx, p.account).await?;
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
    execute(
        tx,
        "UPDATE points_accounts SET balance = $2, owed = $3 WHERE account = $1",
        &[&p.account, &balance, &owed],
    )
    .await?;
    let source = p.source.map(|d| d.as_bytes().to_vec());
    let seq: i64 = query_one(
        tx,
        "INSERT INTO points_ledger (account, amount, owed_change, kind, reason, source_doc, \
         redemption, by_user, at, balance_after) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
        &[
            &p.account,
            &amount,
            &owed_change,
            &p.kind.as_str(),
            &p.reason,
            &source,
            &p.redemption,
            &p.by,
            &p.at,
            &balance,
        ],
    )
    .await?
    .try_get(0)?;
    Ok(PointsEntry {
        seq,
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
/// already); runs in the transaction of the document write that carries the target (in the
/// bulk commit, after all of the batch's rows).
pub(crate) async fn settle(
    tx: &impl GenericClient,
    t: &PointsTarget,
    at: i64,
) -> StorageResult<()> {
    // The account's lock first: the net is then read with no other writer of it in between.
    lock_account(tx, &t.account).await?;
    let net: i64 = query_one(
        tx,
        "SELECT coalesce(sum(amount - owed_change), 0)::bigint FROM points_ledger \
         WHERE source_doc = $1 AND account = $2 AND kind IN ('earned', 'reversed')",
        &[&t.source.as_bytes().as_slice(), &t.account],
    )
    .await?
    .try_get(0)?;
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
    post(tx, &posting, delta).await.map(drop)
}

pub(crate) async fn award(tx: &Tx<'_>, a: &Award) -> StorageResult<PointsEntry> {
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
    post(tx, &posting, a.amount).await
}

pub(crate) async fn points_of(
    tx: &Tx<'_>,
    account: &str,
    after: i64,
    limit: usize,
) -> StorageResult<(Balance, Vec<PointsEntry>)> {
    let (balance, owed) = standing(tx, account).await?;
    let last_seq: i64 = query_one(
        tx,
        "SELECT coalesce(max(seq), 0) FROM points_ledger WHERE account = $1",
        &[&account],
    )
    .await?
    .try_get(0)?;
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM points_ledger WHERE account = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let entries = query(tx, &sql, &[&account, &after, &limit])
        .await?
        .iter()
        .map(entry)
        .collect::<Result<_, _>>()?;
    Ok((Balance { balance, owed, last_seq }, entries))
}

pub(crate) async fn add_good(tx: &Tx<'_>, g: &Good) -> StorageResult<bool> {
    let sql = format!(
        "INSERT INTO points_goods ({GOOD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT DO NOTHING"
    );
    let added = execute(
        tx,
        &sql,
        &[
            &g.id,
            &g.community,
            &g.name,
            &g.points,
            &g.stock,
            &g.created_by,
            &g.created_at,
            &g.updated_at,
            &g.withdrawn_at,
        ],
    )
    .await?;
    Ok(added == 1)
}

/// The good with this id; locked until the transaction ends when `lock`.
async fn good_row(tx: &Tx<'_>, id: &str, lock: bool) -> StorageResult<Option<Good>> {
    let sql = format!(
        "SELECT {GOOD_COLUMNS} FROM points_goods WHERE good_id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(tx, &sql, &[&id]).await?.map(|r| good(&r)).transpose()
}

pub(crate) async fn good_by_id(tx: &Tx<'_>, id: &str) -> StorageResult<Option<Good>> {
    good_row(tx, id, false).await
}

pub(crate) async fn change_good(tx: &Tx<'_>, c: &GoodChange) -> StorageResult<Option<Good>> {
    let Some(mut g) = good_row(tx, &c.id, true).await? else { return Ok(None) };
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
    execute(
        tx,
        "UPDATE points_goods SET name = $2, points = $3, stock = $4, updated_at = $5, \
         withdrawn_at = $6 WHERE good_id = $1",
        &[&g.id, &g.name, &g.points, &g.stock, &g.updated_at, &g.withdrawn_at],
    )
    .await?;
    Ok(Some(g))
}

pub(crate) async fn goods(tx: &Tx<'_>, scopes: &[String]) -> StorageResult<Vec<Good>> {
    let sql = format!(
        "SELECT {GOOD_COLUMNS} FROM points_goods \
         ORDER BY community COLLATE \"C\", name COLLATE \"C\", good_id COLLATE \"C\""
    );
    let all = query(tx, &sql, &[]).await?.iter().map(good).collect::<StorageResult<Vec<_>>>()?;
    Ok(all
        .into_iter()
        .filter(|g| {
            scopes.iter().any(|s| scope_covers(&g.community, s) || scope_covers(s, &g.community))
        })
        .collect())
}

async fn redemption_by_request(
    tx: &Tx<'_>,
    account: &str,
    request_id: &str,
) -> StorageResult<Option<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM points_redemptions \
         WHERE account = $1 AND request_id = $2"
    );
    query_opt(tx, &sql, &[&account, &request_id]).await?.map(|r| redemption(&r)).transpose()
}

pub(crate) async fn redeem(tx: &Tx<'_>, r: &Redeem) -> StorageResult<Redeemed> {
    let refused = |why| Ok(Redeemed::Refused(why));
    // The account first (then the good): redemptions of one account run one at a time, so a
    // request id repeated at once finds the first one's redemption.
    let (balance, _) = lock_account(tx, &r.account).await?;
    if let Some(made) = redemption_by_request(tx, &r.account, &r.request_id).await? {
        if made.good != r.good {
            return refused(RedeemRefusal::RequestReused);
        }
        return Ok(Redeemed::Made { redemption: made, again: true, balance });
    }
    let Some(g) = good_row(tx, &r.good, true).await? else {
        return refused(RedeemRefusal::UnknownGood);
    };
    if g.withdrawn_at.is_some() {
        return refused(RedeemRefusal::Withdrawn);
    }
    if !r.scopes.iter().any(|s| scope_covers(&g.community, s)) {
        return refused(RedeemRefusal::NotInCommunity);
    }
    if g.stock < 1 {
        return refused(RedeemRefusal::OutOfStock);
    }
    if balance < g.points {
        return refused(RedeemRefusal::NotEnoughPoints { balance, needed: g.points });
    }
    execute(
        tx,
        "UPDATE points_goods SET stock = stock - 1, updated_at = $2 WHERE good_id = $1",
        &[&g.id, &r.at],
    )
    .await?;
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
    let balance = post(tx, &posting, -g.points).await?.balance_after;
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
    let sql = format!(
        "INSERT INTO points_redemptions ({REDEMPTION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
    );
    execute(
        tx,
        &sql,
        &[
            &made.account,
            &made.request_id,
            &made.good,
            &made.good_name,
            &made.community,
            &made.points,
            &made.voucher,
            &made.at,
        ],
    )
    .await?;
    Ok(Redeemed::Made { redemption: made, again: false, balance })
}

pub(crate) async fn by_voucher(tx: &Tx<'_>, voucher: &str) -> StorageResult<Option<Redemption>> {
    let sql = format!("SELECT {REDEMPTION_COLUMNS} FROM points_redemptions WHERE voucher = $1");
    query_opt(tx, &sql, &[&voucher]).await?.map(|r| redemption(&r)).transpose()
}

pub(crate) async fn redemptions_of(tx: &Tx<'_>, account: &str) -> StorageResult<Vec<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM points_redemptions WHERE account = $1 \
         ORDER BY at DESC, request_id COLLATE \"C\" DESC"
    );
    query(tx, &sql, &[&account]).await?.iter().map(redemption).collect()
}

pub(crate) async fn collect(
    tx: &Tx<'_>,
    voucher: &str,
    by: &str,
    at: i64,
) -> StorageResult<Collected> {
    let Some(mut r) = by_voucher(tx, voucher).await? else { return Ok(Collected::Unknown) };
    if r.collected_at.is_some() {
        return Ok(Collected::Before(r));
    }
    let n = execute(
        tx,
        "UPDATE points_redemptions SET collected_at = $2, collected_by = $3 \
         WHERE voucher = $1 AND collected_at IS NULL",
        &[&voucher, &at, &by],
    )
    .await?;
    if n != 1 {
        return Err(StorageError::Changed(format!("voucher {voucher} was collected meanwhile")));
    }
    r.collected_at = Some(at);
    r.collected_by = Some(by.to_string());
    Ok(Collected::Now(r))
}
