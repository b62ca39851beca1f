//! Residents' points (积分) and the community exchange, owned by the server.
//!
//! A resident earns points when a report of theirs is confirmed (the category's amount from
//! the rules file, plus what a leader awarded on the report's page) and by a grid leader's award
//! with a reason. Points earned on a report that is then reopened or rejected are taken back by
//! a compensating entry; the ledger is never edited. Both happen inside the document write that
//! indexes the report ([`target_of`]), so the ledger follows the reports whatever path their
//! changes took (a phone's push, the desk, a merge).
//!
//! The exchange: grid leaders list goods for a community (a scope path) with a price and stock;
//! a resident of that community redeems one online with an id of their phone's choosing (asking
//! again with it answers the same redemption), which debits the price and takes one from the
//! stock atomically, or is refused with a typed reason; the redemption's voucher code is shown
//! at the counter, where a grid leader of the community marks it collected, once.
//!
//! Who may do what: awards, goods and collection are grid leaders' (and admins'), within their
//! scopes; a resident reads their own points and redeems; a grid leader (or a dispatcher, or an
//! admin) reads the points of the residents in their scopes.

use std::sync::Arc;

use fieldsync_core::DocId;
use fieldsync_core::model::ReportStatus;
use fieldsync_core::policy::{Profile, Role, can_read};
use rand::Rng as _;

use crate::accounts::User;
use crate::rules::Rules;
use crate::storage::index::IndexRow;
use crate::storage::{
    Award, Balance, Collected, Good, GoodChange, PointsEntry, PointsTarget, Redeem, RedeemRefusal,
    Redeemed, Redemption, Storage, StorageError,
};

/// The most points one award gives.
pub const MAX_AWARD: i64 = 10_000;
/// The highest price of a good.
pub const MAX_PRICE: i64 = 1_000_000;
/// The most of a good in stock.
pub const MAX_STOCK: i64 = 1_000_000;
/// The longest reason, name or id, in characters.
pub const MAX_TEXT: usize = 200;
/// The longest request id a phone may choose.
pub const MAX_REQUEST_ID: usize = 64;
/// Most entries of one page of an account's history.
pub const PAGE: usize = 500;

/// Why a points operation was not done; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    /// An argument is out of bounds (an amount, a name, an id).
    #[error("{0}")]
    InvalidInput(String),
    /// The caller's role or scopes do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such user (or not one the caller may see).
    #[error("no user {0} in your scopes")]
    UnknownUser(String),
    /// No such good (or not one the caller may see).
    #[error("no good {0} in your scopes")]
    UnknownGood(String),
    /// A redemption refused (not enough points, out of stock, …).
    #[error("{}", refusal_message(.0))]
    Refused(RedeemRefusal),
    /// No redemption has this voucher (in the caller's communities).
    #[error("no voucher {0} in your communities")]
    UnknownVoucher(String),
    /// The voucher's good was handed over before.
    #[error("voucher {} was collected at {} by {}", .0.voucher, fieldsync_core::time::format_ms(.0.collected_at.unwrap_or(0)), .0.collected_by.as_deref().unwrap_or(""))]
    AlreadyCollected(Box<Redemption>),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn refusal_message(r: &RedeemRefusal) -> String {
    match r {
        RedeemRefusal::UnknownGood => "no such good".into(),
        RedeemRefusal::Withdrawn => "the good was withdrawn from the exchange".into(),
        RedeemRefusal::NotInCommunity => "the good belongs to another community".into(),
        RedeemRefusal::OutOfStock => "none of the good is left".into(),
        RedeemRefusal::NotEnoughPoints { balance, needed } => {
            format!("the good costs {needed} points; the balance is {balance}")
        }
        RedeemRefusal::RequestReused => {
            "this request id was used to redeem another good; choose a new one".into()
        }
    }
}

/// The target a report's write settles: while the report is confirmed, the category's points
/// and what was awarded on its page; 0 once it is reopened or rejected. `None` for other
/// kinds and for reports never confirmed (nothing was earned, nothing to settle).
pub fn target_of(row: &IndexRow, rules: &Rules) -> Option<PointsTarget> {
    let IndexRow::Report(r) = row else { return None };
    r.confirmed_at?;
    let confirmed = r.status == ReportStatus::Confirmed;
    let target = if confirmed {
        rules.of(r.category).points.saturating_add(r.points.clamp(0, MAX_AWARD))
    } else {
        0
    };
    Some(PointsTarget {
        account: r.created_by.clone(),
        source: r.doc,
        target,
        earned_reason: format!("report confirmed ({})", r.category),
        reversed_reason: format!("report {} ({})", r.status, r.category),
        by: r.created_by.clone(),
    })
}

/// An account's points as its owner (or a leader of its scope) reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The account.
    pub account: String,
    /// Its standing.
    pub balance: Balance,
    /// Entries after the position asked for, oldest first.
    pub entries: Vec<PointsEntry>,
    /// Its redemptions, newest first (with their vouchers).
    pub redemptions: Vec<Redemption>,
}

/// What a grid leader lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGood {
    /// The community (a scope path inside the leader's scopes).
    pub community: String,
    /// What it is.
    pub name: String,
    /// Its price.
    pub points: i64,
    /// How many there are.
    pub stock: i64,
}

/// The points domain over the server's storage.
#[derive(Clone)]
pub struct Points {
    storage: Arc<dyn Storage>,
}

fn check_text(what: &str, s: &str, max: usize) -> Result<(), PointsError> {
    let n = s.chars().count();
    if s.trim().is_empty() || n > max || s.chars().any(char::is_control) {
        return Err(PointsError::InvalidInput(format!(
            "{what} must be 1 to {max} characters without control characters ({n} given)"
        )));
    }
    Ok(())
}

fn check_range(what: &str, v: i64, min: i64, max: i64) -> Result<(), PointsError> {
    if !(min..=max).contains(&v) {
        return Err(PointsError::InvalidInput(format!("{what} must be {min} to {max}, not {v}")));
    }
    Ok(())
}

/// Whether `p` keeps the exchange and awards points: a grid leader or an admin.
fn is_leader(p: &Profile) -> bool {
    matches!(p.role, Role::GridLeader | Role::Admin)
}

/// A new voucher code: 12 characters of Crockford's base32 (60 random bits) in groups of
/// four, read aloud or typed at the counter without confusing 0/O or 1/I/L.
pub fn voucher() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    let chars: Vec<char> =
        (0..12).map(|_| ALPHABET[rng.random_range(0..32usize)] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A voucher code as typed: upper case, without spaces, `O` as `0` and `I`/`L` as `1`,
/// grouped again.
pub fn normalize_voucher(code: &str) -> Option<String> {
    let chars: Vec<char> = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    let valid = chars.len() == 12
        && chars.iter().all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && *c != 'U'));
    valid.then(|| {
        chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    })
}

impl Points {
    /// The domain over `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Points {
        Points { storage }
    }

    /// The user `id` if `by` may manage their points (their scopes inside `by`'s).
    async fn resident_in_scope(&self, by: &Profile, id: &str) -> Result<User, PointsError> {
        let user = self.storage.user(id.to_string()).await?.map(User::from);
        let unknown = || PointsError::UnknownUser(id.chars().take(MAX_TEXT).collect());
        let user = user.ok_or_else(unknown)?;
        let inside = user.profile.scopes.iter().any(|s| by.covers(s));
        if !inside || user.profile.role != Role::Resident {
            return Err(unknown());
        }
        Ok(user)
    }

    /// Checks that the resident `account` attended a meeting of `doc`, a deliberation `by`
    /// may read: the source record an award names.
    async fn attended(&self, by: &Profile, account: &str, doc: DocId) -> Result<(), PointsError> {
        let row = self.storage.index_row(doc).await?.map(|c| c.row);
        match row.filter(|r| can_read(by, &r.audience())) {
            Some(IndexRow::Deliberation(d)) if d.attendees.iter().any(|a| a == account) => Ok(()),
            Some(IndexRow::Deliberation(_)) => Err(PointsError::InvalidInput(format!(
                "{account} attended no meeting of deliberation {doc}"
            ))),
            _ => Err(PointsError::InvalidInput(format!(
                "no deliberation {doc} in your scopes: an award's source is a deliberation"
            ))),
        }
    }

    /// A grid leader's award of `amount` points to the resident `account`, for `reason`;
    /// `source`, when given, is a deliberation whose meeting the resident attended (the ledger
    /// entry names it).
    pub async fn award(
        &self,
        by: &Profile,
        account: &str,
        amount: i64,
        reason: &str,
        source: Option<DocId>,
        at: i64,
    ) -> Result<PointsEntry, PointsError> {
        if !is_leader(by) {
            return Err(PointsError::Forbidden(format!("a {} does not award points", by.role)));
        }
        check_range("an award", amount, 1, MAX_AWARD)?;
        check_text("the reason", reason, MAX_TEXT)?;
        let user = self.resident_in_scope(by, account).await?;
        if let Some(doc) = source {
            self.attended(by, &user.id, doc).await?;
        }
        let award = Award {
            account: user.id,
            amount,
            reason: reason.to_string(),
            by: by.user.clone(),
            at,
            source,
        };
        Ok(self.storage.award(award).await?)
    }

    /// The points of `account` after entry `after`, as `caller` may read them: their own, or
    /// a resident's in the scopes of a grid leader, dispatcher or admin.
    pub async fn statement(
        &self,
        caller: &Profile,
        account: &str,
        after: i64,
    ) -> Result<Statement, PointsError> {
        if account != caller.user {
            if !matches!(caller.role, Role::GridLeader | Role::Dispatcher | Role::Admin) {
                return Err(PointsError::UnknownUser(account.chars().take(MAX_TEXT).collect()));
            }
            self.resident_in_scope(caller, account).await?;
        }
        let (balance, entries) =
            self.storage.points_of(account.to_string(), after.max(0), PAGE).await?;
        let redemptions = self.storage.redemptions_of(account.to_string()).await?;
        Ok(Statement { account: account.to_string(), balance, entries, redemptions })
    }

    /// The goods of the caller's communities: those holding a resident's scopes, those inside
    /// a leader's.
    pub async fn goods(&self, caller: &Profile) -> Result<Vec<Good>, PointsError> {
        Ok(self.storage.goods(caller.scopes.clone()).await?)
    }

    /// A grid leader lists a good in a community of their scopes.
    pub async fn add_good(&self, by: &Profile, new: NewGood, at: i64) -> Result<Good, PointsError> {
        if !is_leader(by) {
            return Err(PointsError::Forbidden(format!(
                "a {} does not keep the exchange",
                by.role
            )));
        }
        check_text("the name", &new.name, MAX_TEXT)?;
        check_text("the community", &new.community, MAX_TEXT)?;
        check_range("the price", new.points, 1, MAX_PRICE)?;
        check_range("the stock", new.stock, 0, MAX_STOCK)?;
        if !by.covers(&new.community) {
            return Err(PointsError::Forbidden(format!(
                "{} is outside your scopes",
                new.community.chars().take(MAX_TEXT).collect::<String>()
            )));
        }
        let good = Good {
            id: fieldsync_core::id::item_key(),
            community: new.community,
            name: new.name,
            points: new.points,
            stock: new.stock,
            created_by: by.user.clone(),
            created_at: at,
            updated_at: at,
            withdrawn_at: None,
        };
        if !self.storage.add_good(good.clone()).await? {
            return Err(PointsError::Storage(StorageError::Changed(format!(
                "good id {} taken",
                good.id
            ))));
        }
        Ok(good)
    }

    /// A grid leader changes a good of their scopes (name, price, stock, withdrawal).
    pub async fn change_good(&self, by: &Profile, change: GoodChange) -> Result<Good, PointsError> {
        if !is_leader(by) {
            return Err(PointsError::Forbidden(format!(
                "a {} does not keep the exchange",
                by.role
            )));
        }
        if let Some(name) = &change.name {
            check_text("the name", name, MAX_TEXT)?;
        }
        if let Some(points) = change.points {
            check_range("the price", points, 1, MAX_PRICE)?;
        }
        if let Some(restock) = change.restock {
            check_range("the restock", restock, -MAX_STOCK, MAX_STOCK)?;
        }
        let unknown = || PointsError::UnknownGood(change.id.chars().take(MAX_TEXT).collect());
        let good = self.storage.good(change.id.clone()).await?.ok_or_else(unknown)?;
        if !by.covers(&good.community) {
            return Err(unknown());
        }
        self.storage.change_good(change.clone()).await?.ok_or_else(unknown)
    }

    /// A resident redeems a good with the request id their phone chose: the redemption (made
    /// now or by an earlier request with this id) with the balance after it, or why not.
    pub async fn redeem(
        &self,
        caller: &Profile,
        request_id: &str,
        good: &str,
        at: i64,
    ) -> Result<(Redemption, bool, i64), PointsError> {
        if caller.role != Role::Resident {
            return Err(PointsError::Forbidden(format!(
                "a {} does not redeem points",
                caller.role
            )));
        }
        let id_ok = !request_id.is_empty()
            && request_id.len() <= MAX_REQUEST_ID
            && request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(PointsError::InvalidInput(format!(
                "a request id is 1 to {MAX_REQUEST_ID} letters, digits, - or _"
            )));
        }
        check_text("the good", good, MAX_TEXT)?;
        let redeem = Redeem {
            account: caller.user.clone(),
            request_id: request_id.to_string(),
            good: good.to_string(),
            scopes: caller.scopes.clone(),
            voucher: voucher(),
            at,
        };
        match self.storage.redeem(redeem).await? {
            Redeemed::Made { redemption, again, balance } => Ok((redemption, again, balance)),
            Redeemed::Refused(why) => Err(PointsError::Refused(why)),
        }
    }

    /// A grid leader marks a voucher of their communities collected, once.
    pub async fn collect(
        &self,
        by: &Profile,
        voucher: &str,
        at: i64,
    ) -> Result<Redemption, PointsError> {
        if !is_leader(by) {
            return Err(PointsError::Forbidden(format!("a {} does not hand out goods", by.role)));
        }
        let shown: String = voucher.chars().take(MAX_TEXT).collect();
        let code = normalize_voucher(voucher).ok_or_else(|| {
            PointsError::InvalidInput(format!("{shown:?} is not a voucher code (XXXX-XXXX-XXXX)"))
        })?;
        let unknown = || PointsError::UnknownVoucher(code.clone());
        let found = self.storage.redemption(code.clone()).await?.ok_or_else(unknown)?;
        if !by.covers(&found.community) {
            return Err(unknown());
        }
        match self.storage.collect(code.clone(), by.user.clone(), at).await? {
            Collected::Now(r) => Ok(r),
            Collected::Before(r) => Err(PointsError::AlreadyCollected(Box::new(r))),
            Collected::Unknown => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouchers_are_grouped_crockford_and_read_back_as_typed() {
        let v = voucher();
        assert_eq!(v.len(), 14, "{v}");
        assert_eq!(normalize_voucher(&v).as_deref(), Some(v.as_str()));
        assert_eq!(
            normalize_voucher(" ab1o-iL23 4567 ").as_deref(),
            Some("AB10-1123-4567"),
            "lower case, O, I and L, spaces and dashes as people type them"
        );
        assert_eq!(normalize_voucher("AB10-1123-456"), None, "too short");
        assert_eq!(normalize_voucher("AB10-1123-456U"), None, "U is not in the alphabet");
        assert_eq!(normalize_voucher("AB10-1123-45!7"), None);
    }

    #[test]
    fn texts_and_ranges_are_bounded() {
        assert!(check_text("r", "volunteer work", MAX_TEXT).is_ok());
        assert!(check_text("r", "  ", MAX_TEXT).is_err());
        assert!(check_text("r", "a\u{7}b", MAX_TEXT).is_err());
        assert!(check_text("r", &"x".repeat(MAX_TEXT + 1), MAX_TEXT).is_err());
        assert!(check_range("a", 0, 1, MAX_AWARD).is_err());
        assert!(check_range("a", i64::MAX, 1, MAX_AWARD).is_err());
        assert!(check_range("a", MAX_AWARD, 1, MAX_AWARD).is_ok());
    }
}
