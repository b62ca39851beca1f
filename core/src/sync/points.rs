//! The points calls of the sync client (`POST /v1/points/…`): they need the network, since the
//! server owns the ledger. A statement fetched is kept in the store, so the app shows the
//! balance, history and vouchers offline (`Store::points`). A redemption carries an id the
//! app chooses once (keep it until the answer comes): retried, with the same id, it is never
//! made twice. An award is sent once and not retried (a lost answer could otherwise award
//! twice); the app asks the statement to learn whether it landed.

use super::client::{SyncClient, blocking};
use super::transport::Transport;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::protocol::{
    self, AwardRequest, AwardResponse, CollectRequest, CollectResponse, GoodMsg, GoodRequest,
    GoodResponse, GoodsList, GoodsRequest, PointsStatement, RedeemRequest, RedeemResponse,
    RedemptionMsg, StatementRequest,
};
use crate::store::{PointsBalance, Voucher};
use crate::time::Timestamp;

/// A good of the exchange, as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Good {
    /// Its id (what a redemption names).
    pub id: String,
    /// The community whose residents may redeem it.
    pub community: String,
    /// What it is.
    pub name: String,
    /// Its price in points.
    pub points: i64,
    /// How many are left.
    pub stock: i64,
    /// Whether it was withdrawn from the exchange.
    pub withdrawn: bool,
}

/// A change a grid leader makes to a good: the fields given are set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct GoodUpdate {
    /// A new name.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub name: Option<String>,
    /// A new price.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub points: Option<i64>,
    /// Stock to add (negative: to take away).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub restock: Option<i64>,
    /// Withdraw it from the exchange.
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub withdraw: bool,
}

fn good(g: GoodMsg) -> Good {
    Good {
        id: g.id,
        community: g.community,
        name: g.name,
        points: g.points,
        stock: g.stock,
        withdrawn: g.withdrawn_at.is_some(),
    }
}

fn voucher(r: RedemptionMsg) -> Voucher {
    Voucher {
        request_id: r.request_id,
        good: r.good,
        good_name: r.good_name,
        community: r.community,
        points: r.points,
        code: r.voucher,
        at: Timestamp::from(r.at),
        collected_at: r.collected_at.map(Timestamp::from),
    }
}

/// Most statement pages one refresh reads (500 entries each).
const MAX_PAGES: usize = 64;

impl<T: Transport> SyncClient<T> {
    /// Fetches the user's points (balance, new entries, vouchers) and keeps them in the store
    /// for offline reading; returns the balance.
    pub async fn refresh_points(&self) -> Result<PointsBalance> {
        let store = self.store.clone();
        let user = self.store.identity().user.clone();
        let (held, mut after) = blocking(move || store.points_position()).await?;
        if held.as_deref().is_some_and(|a| a != user) {
            after = 0;
        }
        for _ in 0..MAX_PAGES {
            let req = StatementRequest { v: protocol::VERSION, after, account: None };
            let s: PointsStatement = self.call("/v1/points/statement", &req, true).await?;
            let more = s.more && s.entries.last().is_some_and(|e| e.seq > after);
            after = s.entries.last().map_or(after, |e| e.seq);
            let store = self.store.clone();
            blocking(move || store.save_points(&s, Timestamp::now())).await?;
            if !more {
                break;
            }
        }
        let store = self.store.clone();
        blocking(move || store.points())
            .await?
            .ok_or_else(|| CoreError::Protocol("the points statement was not kept".into()))
    }

    /// The goods of the user's communities.
    pub async fn goods(&self) -> Result<Vec<Good>> {
        let req = GoodsRequest { v: protocol::VERSION };
        let list: GoodsList = self.call("/v1/points/goods", &req, true).await?;
        Ok(list.goods.into_iter().map(good).collect())
    }

    /// Redeems one of `good` with `request_id` (chosen once by the app for this redemption:
    /// asking again with it answers the same redemption); returns its voucher, and keeps the
    /// new balance and vouchers in the store.
    pub async fn redeem(&self, good: &str, request_id: &str) -> Result<Voucher> {
        let req = RedeemRequest {
            v: protocol::VERSION,
            request_id: request_id.to_string(),
            good: good.to_string(),
        };
        let made: RedeemResponse = self.call("/v1/points/redeem", &req, true).await?;
        // The voucher is the answer; a failure to refresh the copy does not undo it.
        if let Err(e) = self.refresh_points().await {
            tracing::info!("points not refreshed after a redemption: {e}");
        }
        Ok(voucher(made.redemption))
    }

    /// A grid leader awards `amount` points to the resident `account` for `reason`; returns
    /// the resident's balance after it. Sent once, never retried.
    pub async fn award_points(&self, account: &str, amount: i64, reason: &str) -> Result<i64> {
        self.award_points_for(account, amount, reason, None).await
    }

    /// [`award_points`](Self::award_points) for attending a meeting of deliberation `source`
    /// (when given): the server checks the resident attended one, and the entry names it.
    pub async fn award_points_for(
        &self,
        account: &str,
        amount: i64,
        reason: &str,
        source: Option<DocId>,
    ) -> Result<i64> {
        let req = AwardRequest {
            v: protocol::VERSION,
            account: account.to_string(),
            amount,
            reason: reason.to_string(),
            source,
        };
        let made: AwardResponse = self.call("/v1/points/award", &req, false).await?;
        Ok(made.entry.balance_after)
    }

    /// A grid leader marks the good of voucher `code` handed over; the voucher as collected.
    pub async fn collect_voucher(&self, code: &str) -> Result<Voucher> {
        let req = CollectRequest { v: protocol::VERSION, voucher: code.to_string() };
        let made: CollectResponse = self.call("/v1/points/collect", &req, false).await?;
        Ok(voucher(made.redemption))
    }

    /// A grid leader lists a good in `community` (a scope of theirs).
    pub async fn add_good(
        &self,
        community: &str,
        name: &str,
        points: i64,
        stock: i64,
    ) -> Result<Good> {
        let req = GoodRequest {
            v: protocol::VERSION,
            community: Some(community.to_string()),
            name: Some(name.to_string()),
            points: Some(points),
            stock: Some(stock),
            ..Default::default()
        };
        let made: GoodResponse = self.call("/v1/points/goods/add", &req, false).await?;
        Ok(good(made.good))
    }

    /// A grid leader changes a good.
    pub async fn change_good(&self, id: &str, update: GoodUpdate) -> Result<Good> {
        let req = GoodRequest {
            v: protocol::VERSION,
            id: Some(id.to_string()),
            community: None,
            name: update.name,
            points: update.points,
            stock: update.restock,
            withdraw: update.withdraw,
        };
        let made: GoodResponse = self.call("/v1/points/goods/change", &req, false).await?;
        Ok(good(made.good))
    }
}
