//! Residents' points as storage keeps them, and the [`PointsStorage`] part of the storage
//! trait: the append-only ledger, each account's balance, the goods of each community's
//! exchange and the redemptions made from it. What earns points and who may do what is the
//! points domain's (`crate::points`); storage makes atomic what must be (a redemption debits
//! the points and takes the stock together, or does neither) and keeps the rules every
//! backend keeps, listed on [`PointsStorage`].

use fieldsync_core::DocId;

use super::{BoxFuture, StorageResult};

/// Why points moved; storage keeps the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A report of the account's was confirmed (or awarded points on its page).
    Earned,
    /// A report's earned points taken back: it was reopened or rejected.
    Reversed,
    /// A grid leader's award with a reason (a deliberation attended, volunteer work).
    Awarded,
    /// Points spent on a good of the exchange.
    Redeemed,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 4] =
        [EntryKind::Earned, EntryKind::Reversed, EntryKind::Awarded, EntryKind::Redeemed];

    /// The name storage and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earned => "earned",
            EntryKind::Reversed => "reversed",
            EntryKind::Awarded => "awarded",
            EntryKind::Redeemed => "redeemed",
        }
    }

    /// The kind of a stored name.
    pub fn from_stored(name: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One entry of the ledger, as stored: never changed after it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsEntry {
    /// Its place in the ledger (increasing).
    pub seq: i64,
    /// The user whose points moved.
    pub account: String,
    /// How the balance moved (negative: debited). A credit pays what is owed first, so it may
    /// move the balance by less than it earned (see [`PointsEntry::owed_change`]).
    pub amount: i64,
    /// How what the account owes moved: positive when a reversal found too few points to take
    /// back, negative when a credit paid it off.
    pub owed_change: i64,
    /// Why.
    pub kind: EntryKind,
    /// In words.
    pub reason: String,
    /// The record it is about (a report), when there is one.
    pub source: Option<DocId>,
    /// The redemption it paid for (its request id), for a redemption.
    pub redemption: Option<String>,
    /// Who made it happen (the confirming reporter, the awarding leader, the redeemer).
    pub by: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// The balance after it.
    pub balance_after: i64,
}

/// An account's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Points the account may spend (never negative).
    pub balance: i64,
    /// Points taken back that the balance could not cover, paid from the next credits.
    pub owed: i64,
    /// The seq of its latest entry (0: none).
    pub last_seq: i64,
}

/// What a report's points should come to, carried by the document write that indexes it and
/// settled in the same transaction: the ledger gains the entry that makes the report's net
/// equal `target` (none when it already does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsTarget {
    /// The reporter.
    pub account: String,
    /// The report.
    pub source: DocId,
    /// What its entries should net to: the category's points and the awards on its page while
    /// it is confirmed, 0 otherwise.
    pub target: i64,
    /// The reason an entry gets, by direction: when points are earned, when taken back.
    pub earned_reason: String,
    /// See [`PointsTarget::earned_reason`].
    pub reversed_reason: String,
    /// Who made the change (the device's user), or the reporter.
    pub by: String,
}

/// A grid leader's award.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    /// Who gets the points.
    pub account: String,
    /// How many (positive).
    pub amount: i64,
    /// Why.
    pub reason: String,
    /// The leader.
    pub by: String,
    /// When.
    pub at: i64,
    /// The record it is for (a deliberation attended), checked by the domain.
    pub source: Option<DocId>,
}

/// A good of a community's exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Good {
    /// Its id.
    pub id: String,
    /// The community (a scope path) whose residents may redeem it.
    pub community: String,
    /// What it is.
    pub name: String,
    /// What it costs.
    pub points: i64,
    /// How many are left.
    pub stock: i64,
    /// The grid leader who listed it.
    pub created_by: String,
    /// When it was listed.
    pub created_at: i64,
    /// When it was last changed.
    pub updated_at: i64,
    /// When it was withdrawn from the exchange, if it was.
    pub withdrawn_at: Option<i64>,
}

/// A change to a good: the fields given are set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoodChange {
    /// The good.
    pub id: String,
    /// A new name.
    pub name: Option<String>,
    /// A new price.
    pub points: Option<i64>,
    /// Stock to add (negative: to remove; the stock stays at least 0).
    pub restock: Option<i64>,
    /// Withdraw it (it can no longer be redeemed; redemptions made stand).
    pub withdraw: bool,
    /// When.
    pub at: i64,
}

/// A redemption to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeem {
    /// The redeemer.
    pub account: String,
    /// The id the redeemer's phone chose: asking again with it answers the first redemption.
    pub request_id: String,
    /// The good.
    pub good: String,
    /// The communities the redeemer belongs to (their scopes): the good's must hold one.
    pub scopes: Vec<String>,
    /// The voucher code this redemption gets if it is made (unique).
    pub voucher: String,
    /// When.
    pub at: i64,
}

/// A redemption made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// The redeemer.
    pub account: String,
    /// The redeemer's request id.
    pub request_id: String,
    /// The good.
    pub good: String,
    /// Its name when redeemed.
    pub good_name: String,
    /// The community that hands it out.
    pub community: String,
    /// What it cost.
    pub points: i64,
    /// The code shown at the counter.
    pub voucher: String,
    /// When.
    pub at: i64,
    /// When a grid leader handed the good over, if they have.
    pub collected_at: Option<i64>,
    /// Who handed it over.
    pub collected_by: Option<String>,
}

/// Why a redemption was not made; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemRefusal {
    /// No such good.
    UnknownGood,
    /// The good was withdrawn from the exchange.
    Withdrawn,
    /// The good belongs to a community the redeemer is not in.
    NotInCommunity,
    /// None left.
    OutOfStock,
    /// The balance does not cover the price.
    NotEnoughPoints {
        /// The balance.
        balance: i64,
        /// The price.
        needed: i64,
    },
    /// The request id was used for a redemption of another good.
    RequestReused,
}

impl RedeemRefusal {
    /// The protocol's code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            RedeemRefusal::UnknownGood => "unknown_good",
            RedeemRefusal::Withdrawn => "good_withdrawn",
            RedeemRefusal::NotInCommunity => "not_in_community",
            RedeemRefusal::OutOfStock => "out_of_stock",
            RedeemRefusal::NotEnoughPoints { .. } => "not_enough_points",
            RedeemRefusal::RequestReused => "request_reused",
        }
    }
}

/// The answer to a redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Made now, or earlier with the same request id (`again`).
    Made {
        /// The redemption.
        redemption: Redemption,
        /// Whether it was made by an earlier request with this id.
        again: bool,
        /// The redeemer's balance now.
        balance: i64,
    },
    /// Refused; nothing changed.
    Refused(RedeemRefusal),
}

/// The answer to marking a voucher collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    /// Marked now.
    Now(Redemption),
    /// It had been collected before (when and by whom it says); nothing changed.
    Before(Redemption),
    /// No redemption has this voucher.
    Unknown,
}

/// The points ledger and the exchange.
///
/// Rules every backend keeps (the conformance suite checks them): the ledger is append-only
/// (no entry is changed or removed); an account's balance is the sum of its entries' amounts
/// and never negative, and what it owes the sum of their owed changes; settling a report's
/// target writes at most one entry and none when the report's entries already net to it; a
/// redemption debits its price and takes one from the stock in one transaction, or changes
/// nothing, however many redeem at once (never overspent, never oversold); a request id makes
/// at most one redemption per account; a voucher is collected once.
pub trait PointsStorage: Send + Sync + 'static {
    /// Records an award; the entry written.
    fn award(&self, award: Award) -> BoxFuture<'_, StorageResult<PointsEntry>>;

    /// An account's standing and its entries after `after` (a seq), oldest first, at most
    /// `limit`.
    fn points_of(
        &self,
        account: String,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<(Balance, Vec<PointsEntry>)>>;

    /// Lists a good; `false` when its id is taken (nothing changes).
    fn add_good(&self, good: Good) -> BoxFuture<'_, StorageResult<bool>>;

    /// Changes a good; the good as it is now, `None` when there is no such good.
    fn change_good(&self, change: GoodChange) -> BoxFuture<'_, StorageResult<Option<Good>>>;

    /// The good with this id.
    fn good(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Good>>>;

    /// The goods of communities that hold or are held by one of `scopes` (withdrawn ones
    /// too), by community then name.
    fn goods(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Good>>>;

    /// Makes a redemption, or refuses it with nothing changed.
    fn redeem(&self, redeem: Redeem) -> BoxFuture<'_, StorageResult<Redeemed>>;

    /// The redemption with this voucher.
    fn redemption(&self, voucher: String) -> BoxFuture<'_, StorageResult<Option<Redemption>>>;

    /// An account's redemptions, newest first.
    fn redemptions_of(&self, account: String) -> BoxFuture<'_, StorageResult<Vec<Redemption>>>;

    /// Marks a voucher's good handed over by `by` at `at`, once.
    fn collect(
        &self,
        voucher: String,
        by: String,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<Collected>>;
}
