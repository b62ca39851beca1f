//! The points messages (`POST /v1/points/…`, `docs/protocol.md`, "Points"): an account's statement,
//! the exchange's goods, a redemption and its voucher, a grid leader's award, goods listed and
//! changed, a voucher collected. The server owns the ledger; a phone keeps the last statement
//! it was given to show offline.

use serde::{Deserialize, Serialize};

use crate::id::DocId;

/// One entry of the points ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsEntryMsg {
    /// Its place in the ledger (increasing).
    pub seq: i64,
    /// How the balance moved (negative: debited).
    pub amount: i64,
    /// How what the account owes moved (see `docs/protocol.md`).
    pub owed_change: i64,
    /// `earned`, `reversed`, `awarded` or `redeemed`.
    pub kind: String,
    /// Why, in words.
    pub reason: String,
    /// The report it is about.
    pub source: Option<DocId>,
    /// The redemption it paid for (its request id).
    pub redemption: Option<String>,
    /// Who made it happen.
    pub by: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// The balance after it.
    pub balance_after: i64,
}

/// A redemption and its voucher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionMsg {
    /// The redeemer's request id.
    pub request_id: String,
    /// The good's id.
    pub good: String,
    /// Its name when redeemed.
    pub good_name: String,
    /// The community that hands it out.
    pub community: String,
    /// What it cost.
    pub points: i64,
    /// The code to show at the counter.
    pub voucher: String,
    /// When.
    pub at: i64,
    /// When the good was handed over.
    pub collected_at: Option<i64>,
    /// Who handed it over.
    pub collected_by: Option<String>,
}

/// `POST /v1/points/statement`: the points of the caller (or, for a grid leader, dispatcher or
/// admin, of a resident of their scopes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRequest {
    /// Protocol version.
    pub v: u32,
    /// Entries after this seq (0: from the start).
    pub after: i64,
    /// Whose; the caller's own when absent.
    pub account: Option<String>,
}

/// The answer to [`StatementRequest`]: an account's standing, its entries after `after`
/// (oldest first, at most 500: ask again from the last seq while `more`) and its redemptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsStatement {
    /// Protocol version.
    pub v: u32,
    /// The account.
    pub account: String,
    /// Points it may spend.
    pub balance: i64,
    /// Points taken back that the balance could not cover.
    pub owed: i64,
    /// The seq of its latest entry.
    pub last_seq: i64,
    /// Entries after the position asked for.
    pub entries: Vec<PointsEntryMsg>,
    /// Whether more entries follow the last one given.
    pub more: bool,
    /// Its redemptions, newest first.
    pub redemptions: Vec<RedemptionMsg>,
}

/// A good of the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodMsg {
    /// Its id.
    pub id: String,
    /// The community (scope path) whose residents may redeem it.
    pub community: String,
    /// What it is.
    pub name: String,
    /// Its price in points.
    pub points: i64,
    /// How many are left.
    pub stock: i64,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<i64>,
}

/// `POST /v1/points/goods`: the goods of the caller's communities (those holding a resident's
/// scopes, those inside a leader's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodsRequest {
    /// Protocol version.
    pub v: u32,
}

/// The answer to [`GoodsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodsList {
    /// Protocol version.
    pub v: u32,
    /// The goods, by community then name.
    pub goods: Vec<GoodMsg>,
}

/// `POST /v1/points/redeem`: a resident redeems one of a good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemRequest {
    /// Protocol version.
    pub v: u32,
    /// An id the phone chooses once per redemption (1–64 of `A-Za-z0-9_-`): sending the request
    /// again with it answers the same redemption, never a second one.
    pub request_id: String,
    /// The good's id.
    pub good: String,
}

/// The answer to a redemption made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemResponse {
    /// Protocol version.
    pub v: u32,
    /// The redemption.
    pub redemption: RedemptionMsg,
    /// Whether an earlier request with this id made it.
    pub again: bool,
    /// The balance after it.
    pub balance: i64,
}

/// `POST /v1/points/award`: a grid leader awards points to a resident of their scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardRequest {
    /// Protocol version.
    pub v: u32,
    /// The resident.
    pub account: String,
    /// How many (1–10,000).
    pub amount: i64,
    /// Why (a deliberation attended, volunteer work; 1–200 characters).
    pub reason: String,
    /// The deliberation the resident attended, when the award is for one: the ledger entry
    /// names it as its source (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DocId>,
}

/// The answer to an award: the entry written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardResponse {
    /// Protocol version.
    pub v: u32,
    /// The entry.
    pub entry: PointsEntryMsg,
}

/// `POST /v1/points/goods/add`: a grid leader lists a good (`community`, `name`, `points`,
/// `stock`); `POST /v1/points/goods/change` changes one (`id`, and the fields given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GoodRequest {
    /// Protocol version.
    pub v: u32,
    /// The good (changing only).
    pub id: Option<String>,
    /// The community (listing only).
    pub community: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Its price (1–1,000,000).
    pub points: Option<i64>,
    /// Listing: the stock; changing: stock to add (negative to remove).
    pub stock: Option<i64>,
    /// Changing: withdraw it from the exchange.
    #[serde(default)]
    pub withdraw: bool,
}

/// The answer to listing or changing a good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodResponse {
    /// Protocol version.
    pub v: u32,
    /// The good as it is now.
    pub good: GoodMsg,
}

/// `POST /v1/points/collect`: a grid leader hands the good of a voucher over, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectRequest {
    /// Protocol version.
    pub v: u32,
    /// The voucher code as shown (`XXXX-XXXX-XXXX`; case, spaces, O/0 and I/L/1 forgiven).
    pub voucher: String,
}

/// The answer to [`CollectRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectResponse {
    /// Protocol version.
    pub v: u32,
    /// The redemption, now collected.
    pub redemption: RedemptionMsg,
}
