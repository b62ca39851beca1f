//! The phone's copy of its user's points: the balance, the ledger's entries and the vouchers of
//! the redemptions, as the server last gave them (`SyncClient::refresh_points`). The server
//! owns the ledger; the phone only shows it, also offline, as of the time it was fetched.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use crate::error::Result;
use crate::id::DocId;
use crate::protocol::PointsStatement;
use crate::time::Timestamp;

/// The user's points as of the last fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PointsBalance {
    /// Whose (the enrolled user).
    pub account: String,
    /// Points the user may spend.
    pub balance: i64,
    /// Points taken back (a report reopened or rejected after they were spent) that the next
    /// points earned pay first.
    pub owed: i64,
    /// When the server gave these figures.
    pub as_of: Timestamp,
}

/// One entry of the user's points history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PointsEntry {
    /// Its place in the server's ledger.
    pub seq: i64,
    /// How the balance moved (negative: spent or taken back).
    pub amount: i64,
    /// `earned`, `reversed`, `awarded` or `redeemed`.
    pub kind: String,
    /// Why, in words.
    pub reason: String,
    /// The report it is about, if any.
    pub source: Option<DocId>,
    /// Who made it happen.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// The balance after it.
    pub balance_after: i64,
}

/// A redemption of the user's, with the voucher code to show at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Voucher {
    /// The id the phone chose for the redemption.
    pub request_id: String,
    /// The good's id.
    pub good: String,
    /// Its name.
    pub good_name: String,
    /// The community that hands it out.
    pub community: String,
    /// What it cost.
    pub points: i64,
    /// The code.
    pub code: String,
    /// When it was redeemed.
    pub at: Timestamp,
    /// When the good was handed over, if it was.
    pub collected_at: Option<Timestamp>,
}

fn entry(r: &Row<'_>) -> rusqlite::Result<PointsEntry> {
    let source: Option<Vec<u8>> = r.get(4)?;
    Ok(PointsEntry {
        seq: r.get(0)?,
        amount: r.get(1)?,
        kind: r.get(2)?,
        reason: r.get(3)?,
        source: source.and_then(|b| DocId::from_slice(&b).ok()),
        by: r.get(5)?,
        at: Timestamp::from(r.get::<_, i64>(6)?),
        balance_after: r.get(7)?,
    })
}

fn voucher(r: &Row<'_>) -> rusqlite::Result<Voucher> {
    Ok(Voucher {
        request_id: r.get(0)?,
        good: r.get(1)?,
        good_name: r.get(2)?,
        community: r.get(3)?,
        points: r.get(4)?,
        code: r.get(5)?,
        at: Timestamp::from(r.get::<_, i64>(6)?),
        collected_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from),
    })
}

/// Removes the copy (the phone was handed to another user).
pub(crate) fn forget(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM points_statement; DELETE FROM points_entries; DELETE FROM points_vouchers;",
    )
}

impl Store {
    /// The user's points as the server last gave them; `None` before the first fetch.
    pub fn points(&self) -> Result<Option<PointsBalance>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT account, balance, owed, synced_at FROM points_statement WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok(PointsBalance {
                    account: r.get(0)?,
                    balance: r.get(1)?,
                    owed: r.get(2)?,
                    as_of: Timestamp::from(r.get::<_, i64>(3)?),
                })
            })
            .optional()?)
        })
    }

    /// The user's points history, newest first, at most `limit` entries.
    pub fn points_history(&self, limit: u32) -> Result<Vec<PointsEntry>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT seq, amount, kind, reason, source, by_user, at, balance_after \
                 FROM points_entries ORDER BY seq DESC LIMIT ?1",
            )?
            .query_map([limit], entry)?
            .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The user's redemptions with their vouchers, newest first.
    pub fn vouchers(&self) -> Result<Vec<Voucher>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT request_id, good, good_name, community, points, voucher, at, \
                 collected_at FROM points_vouchers ORDER BY at DESC, request_id DESC",
            )?
            .query_map([], voucher)?
            .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Where the next fetch starts: the account and the last seq held (0 when nothing is).
    pub(crate) fn points_position(&self) -> Result<(Option<String>, i64)> {
        self.read(|c| {
            let held: Option<(String, i64)> = c
                .prepare_cached("SELECT account, last_seq FROM points_statement WHERE id = 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(held.map_or((None, 0), |(a, s)| (Some(a), s)))
        })
    }

    /// Keeps a statement the server gave at `at`: its figures and vouchers replace those held,
    /// its entries join them (all of them are replaced when it is another account's).
    pub(crate) fn save_points(&self, s: &PointsStatement, at: Timestamp) -> Result<()> {
        let mut w = self.writer();
        w.in_tx(|tx| {
            let held: Option<String> = tx
                .prepare_cached("SELECT account FROM points_statement WHERE id = 1")?
                .query_row([], |r| r.get(0))
                .optional()?;
            if held.as_deref().is_some_and(|a| a != s.account) {
                forget(tx)?;
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO points_statement \
                 (id, account, balance, owed, last_seq, synced_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                s.account,
                s.balance,
                s.owed,
                s.last_seq,
                i64::from(at)
            ])?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO points_entries (seq, amount, owed_change, kind, reason, \
                 source, redemption, by_user, at, balance_after) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for e in &s.entries {
                put.execute(params![
                    e.seq,
                    e.amount,
                    e.owed_change,
                    e.kind,
                    e.reason,
                    e.source.map(|d| d.as_bytes().to_vec()),
                    e.redemption,
                    e.by,
                    e.at,
                    e.balance_after
                ])?;
            }
            tx.execute("DELETE FROM points_vouchers", [])?;
            let mut put = tx.prepare_cached(
                "INSERT INTO points_vouchers (request_id, good, good_name, community, points, \
                 voucher, at, collected_at, collected_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for r in &s.redemptions {
                put.execute(params![
                    r.request_id,
                    r.good,
                    r.good_name,
                    r.community,
                    r.points,
                    r.voucher,
                    r.at,
                    r.collected_at,
                    r.collected_by
                ])?;
            }
            Ok(())
        })
    }
}
