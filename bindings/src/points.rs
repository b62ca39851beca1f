//! The points of `FieldStore`: the balance, history and vouchers as last fetched (readable
//! offline), and the calls that need the server (refresh, goods, redeem; a grid leader's award,
//! goods and voucher collection), async like the other network calls.

use fieldsync_core::store::{PointsBalance, PointsEntry, Voucher};
use fieldsync_core::sync::{Good, GoodUpdate};

use crate::error::FieldError;
use crate::store::FieldStore;

/// Most history entries one call returns.
const HISTORY_MAX: u32 = 1_000;

#[uniffi::export]
impl FieldStore {
    /// The user's points as the server last gave them (`refreshPoints`, or a redemption);
    /// `null` before the first fetch. Readable offline.
    pub fn points(&self) -> Result<Option<PointsBalance>, FieldError> {
        Ok(self.store()?.points()?)
    }

    /// The user's points history as last fetched, newest first, at most `limit` (≤ 1,000).
    #[uniffi::method(default(limit = 100))]
    pub fn points_history(&self, limit: u32) -> Result<Vec<PointsEntry>, FieldError> {
        Ok(self.store()?.points_history(limit.min(HISTORY_MAX))?)
    }

    /// The user's redemptions with their voucher codes, newest first, as last fetched.
    pub fn vouchers(&self) -> Result<Vec<Voucher>, FieldError> {
        Ok(self.store()?.vouchers()?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// Fetches the user's points from the server and keeps them for offline reading; returns
    /// the balance.
    pub async fn refresh_points(&self) -> Result<PointsBalance, FieldError> {
        Ok(self.client()?.refresh_points().await?)
    }

    /// The goods of the user's communities' exchange (needs the network).
    pub async fn goods(&self) -> Result<Vec<Good>, FieldError> {
        Ok(self.client()?.goods().await?)
    }

    /// Redeems one of `good`. `requestId` is chosen once for this redemption (a UUID) and kept
    /// until an answer comes: asking again with it answers the same redemption, never a second.
    /// Returns the voucher to show at the counter; refusals are `PointsRefused` with the
    /// reason's code (`not_enough_points`, `out_of_stock`, …), offline is `Network`.
    pub async fn redeem(&self, good: String, request_id: String) -> Result<Voucher, FieldError> {
        Ok(self.client()?.redeem(&good, &request_id).await?)
    }

    /// A grid leader awards `amount` points (1–10,000) to the resident `account` for `reason`;
    /// returns the resident's balance after it. Sent once (not retried). `source`, when given,
    /// is a deliberation one of whose meetings the resident attended (refused otherwise): the
    /// ledger entry names it.
    #[uniffi::method(default(source))]
    pub async fn award_points(
        &self,
        account: String,
        amount: i64,
        reason: String,
        source: Option<String>,
    ) -> Result<i64, FieldError> {
        let source = source.as_deref().map(crate::input::doc_id).transpose()?;
        Ok(self.client()?.award_points_for(&account, amount, &reason, source).await?)
    }

    /// A grid leader marks the good of voucher `code` handed over (once: a second time is
    /// `PointsRefused` `already_collected`).
    pub async fn collect_voucher(&self, code: String) -> Result<Voucher, FieldError> {
        Ok(self.client()?.collect_voucher(&code).await?)
    }

    /// A grid leader lists a good in `community` (one of their scopes).
    pub async fn add_good(
        &self,
        community: String,
        name: String,
        points: i64,
        stock: i64,
    ) -> Result<Good, FieldError> {
        Ok(self.client()?.add_good(&community, &name, points, stock).await?)
    }

    /// A grid leader changes a good (name, price, stock, withdrawal).
    pub async fn change_good(&self, id: String, update: GoodUpdate) -> Result<Good, FieldError> {
        Ok(self.client()?.change_good(&id, update).await?)
    }
}
