//! The points' part of the conformance suite: a report's points settle to their target once,
//! a reversal the balance cannot cover is owed and paid from the next credit, redemptions are
//! idempotent and refused with reasons, 64 redeemers at once neither overspend nor oversell,
//! a voucher is collected once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use fieldsync_core::DocId;

use super::join::futures_join;
use super::sample_write;
use crate::storage::{
    Award, Collected, EntryKind, Good, GoodChange, PointsTarget, Redeem, RedeemRefusal, Redeemed,
    Storage,
};

const T0: i64 = 1_800_000_000_000;
const COMMUNITY: &str = "jl/changchun/grid-07";

fn target(doc: DocId, target: i64) -> PointsTarget {
    PointsTarget {
        account: "resident-1".into(),
        source: doc,
        target,
        earned_reason: "report confirmed (safety_hazard)".into(),
        reversed_reason: "report reopened (safety_hazard)".into(),
        by: "resident-1".into(),
    }
}

/// Writes the next version of `doc` carrying `points`; returns the version written.
async fn write(s: &dyn Storage, doc: DocId, base: Option<u64>, points: Option<i64>) -> u64 {
    let mut w = sample_write(doc, base, 1);
    w.points = points.map(|t| target(doc, t));
    s.commit(vec![w]).await.unwrap().remove(0).unwrap().version
}

async fn balance(s: &dyn Storage, account: &str) -> (i64, i64) {
    let (b, _) = s.points_of(account.into(), 0, 1000).await.unwrap();
    (b.balance, b.owed)
}

/// An award of `amount` to `account` at `at`, by a grid leader.
pub(crate) fn award(account: &str, amount: i64, at: i64) -> Award {
    Award {
        account: account.into(),
        amount,
        reason: "volunteer work".into(),
        by: "leader-1".into(),
        at,
        source: None,
    }
}

fn good(id: &str, points: i64, stock: i64) -> Good {
    Good {
        id: id.into(),
        community: COMMUNITY.into(),
        name: format!("good {id}"),
        points,
        stock,
        created_by: "leader-1".into(),
        created_at: T0,
        updated_at: T0,
        withdrawn_at: None,
    }
}

fn redeem(account: &str, request: &str, good: &str, voucher: &str) -> Redeem {
    Redeem {
        account: account.into(),
        request_id: request.into(),
        good: good.into(),
        scopes: vec![format!("{COMMUNITY}/building-3")],
        voucher: voucher.into(),
        at: T0 + 10,
    }
}

pub async fn a_report_settles_to_its_target_once(s: &dyn Storage) {
    let doc = DocId::random();
    let v = write(s, doc, None, None).await;
    assert_eq!(balance(s, "resident-1").await, (0, 0), "no target, no entry");
    let v = write(s, doc, Some(v), Some(20)).await;
    let v = write(s, doc, Some(v), Some(20)).await;
    assert_eq!(balance(s, "resident-1").await, (20, 0), "settled once");
    let v = write(s, doc, Some(v), Some(25)).await;
    let v = write(s, doc, Some(v), Some(0)).await;
    let _ = write(s, doc, Some(v), Some(20)).await;
    let (b, entries) = s.points_of("resident-1".into(), 0, 1000).await.unwrap();
    let moves: Vec<(EntryKind, i64, i64)> =
        entries.iter().map(|e| (e.kind, e.amount, e.balance_after)).collect();
    assert_eq!(
        moves,
        [
            (EntryKind::Earned, 20, 20),
            (EntryKind::Earned, 5, 25),
            (EntryKind::Reversed, -25, 0),
            (EntryKind::Earned, 20, 20)
        ]
    );
    assert!(entries.iter().all(|e| e.source == Some(doc) && e.account == "resident-1"));
    assert_eq!(entries[2].reason, "report reopened (safety_hazard)");
    assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!((b.balance, b.owed, b.last_seq), (20, 0, entries[3].seq));
    let (_, after) = s.points_of("resident-1".into(), entries[1].seq, 1000).await.unwrap();
    assert_eq!(after, entries[2..].to_vec(), "entries after a seq");

    // A target for another document than the write's is refused with the write.
    let other = DocId::random();
    let mut w = sample_write(other, None, 1);
    w.points = Some(target(doc, 99));
    assert!(s.commit(vec![w]).await.unwrap().remove(0).is_err());
    assert_eq!(balance(s, "resident-1").await, (20, 0));
}

/// A batch of many reports of two residents, each with its points, settles every one of them
/// in the one commit (a phone's backlog: PostgreSQL commits such a batch in bulk); a second
/// batch moving some targets up and some to nothing settles the differences.
pub async fn a_batch_of_reports_settles_each_ones_points(s: &dyn Storage) {
    let accounts = ["resident-7", "resident-8"];
    let docs: Vec<DocId> = (0..40).map(|_| DocId::random()).collect();
    let batch = |base: Option<u64>, points: &dyn Fn(usize) -> i64| {
        docs.iter()
            .enumerate()
            .map(|(i, doc)| {
                let mut w = sample_write(*doc, base, 1);
                w.points = Some(PointsTarget {
                    account: accounts[i % 2].into(),
                    by: accounts[i % 2].into(),
                    ..target(*doc, points(i))
                });
                w
            })
            .collect::<Vec<_>>()
    };
    let first = s.commit(batch(None, &|i| 10 + i as i64)).await.unwrap();
    assert!(first.iter().all(Result::is_ok), "{first:?}");
    // resident-7 holds the even reports (10, 12, ..., 48), resident-8 the odd (11, ..., 49).
    assert_eq!(balance(s, "resident-7").await, (580, 0));
    assert_eq!(balance(s, "resident-8").await, (600, 0));
    let second = s.commit(batch(Some(1), &|i| if i < 20 { 10 + i as i64 + 5 } else { 0 })).await;
    assert!(second.unwrap().iter().all(Result::is_ok));
    // The first 20 earn 5 more each (10 a resident); the last 20 are reversed whole.
    let reversed =
        |parity: usize| (20..40).filter(|i| i % 2 == parity).map(|i| 10 + i as i64).sum::<i64>();
    assert_eq!(balance(s, "resident-7").await, (580 + 50 - reversed(0), 0));
    assert_eq!(balance(s, "resident-8").await, (600 + 50 - reversed(1), 0));
    let (_, entries) = s.points_of("resident-7".into(), 0, 1000).await.unwrap();
    assert_eq!(entries.len(), 20 + 10 + 10, "one entry per report and per move");
    assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// In a batch, a write whose points cannot be settled (the account's balance would overflow)
/// fails alone: the others are stored and their points settled (PostgreSQL falls back from its
/// bulk commit to committing write by write).
pub async fn a_write_whose_points_cannot_settle_fails_alone_in_its_batch(s: &dyn Storage) {
    s.award(award("resident-9", i64::MAX - 5, T0)).await.unwrap();
    let docs: Vec<DocId> = (0..3).map(|_| DocId::random()).collect();
    let writes = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let account = if i == 1 { "resident-9" } else { "resident-10" };
            let mut w = sample_write(*doc, None, 1);
            w.points = Some(PointsTarget { account: account.into(), ..target(*doc, 10) });
            w
        })
        .collect();
    let results = s.commit(writes).await.unwrap();
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(results[1].is_err(), "the overflowing write is refused");
    assert_eq!(balance(s, "resident-10").await, (20, 0));
    assert_eq!(balance(s, "resident-9").await, (i64::MAX - 5, 0));
    let stored = s.load(docs.clone()).await.unwrap();
    assert!(stored[0].is_some() && stored[1].is_none() && stored[2].is_some());
}

pub async fn a_reversal_past_the_balance_is_owed_and_paid_from_the_next_credit(s: &dyn Storage) {
    let doc = DocId::random();
    let v = write(s, doc, None, Some(30)).await;
    s.add_good(good("g1", 25, 5)).await.unwrap();
    assert!(matches!(
        s.redeem(redeem("resident-1", "r1", "g1", "V1")).await.unwrap(),
        Redeemed::Made { .. }
    ));
    assert_eq!(balance(s, "resident-1").await, (5, 0));
    let _ = write(s, doc, Some(v), Some(0)).await;
    assert_eq!(balance(s, "resident-1").await, (0, 25), "5 taken back, 25 owed");
    let entry = s.award(award("resident-1", 10, T0 + 20)).await.unwrap();
    assert_eq!((entry.amount, entry.owed_change, entry.balance_after), (0, -10, 0));
    assert_eq!(balance(s, "resident-1").await, (0, 15));
    let entry = s.award(award("resident-1", 40, T0 + 30)).await.unwrap();
    assert_eq!((entry.amount, entry.owed_change, entry.balance_after), (25, -15, 25));
    assert_eq!(balance(s, "resident-1").await, (25, 0));
    let (_, entries) = s.points_of("resident-1".into(), 0, 1000).await.unwrap();
    let sum: i64 = entries.iter().map(|e| e.amount).sum();
    let owed: i64 = entries.iter().map(|e| e.owed_change).sum();
    assert_eq!((sum, owed), (25, 0), "the balance is the sum of the entries");
    assert!(entries.iter().all(|e| e.balance_after >= 0));
}

pub async fn redemptions_are_idempotent_and_refused_with_reasons(s: &dyn Storage) {
    s.award(award("resident-1", 100, T0)).await.unwrap();
    assert!(s.add_good(good("g1", 30, 2)).await.unwrap());
    assert!(!s.add_good(good("g1", 1, 1)).await.unwrap(), "the id is taken");
    let Redeemed::Made { redemption: first, again, .. } =
        s.redeem(redeem("resident-1", "r1", "g1", "V1")).await.unwrap()
    else {
        panic!("refused")
    };
    assert!(!again);
    assert_eq!(
        (first.points, first.voucher.as_str(), first.good_name.as_str()),
        (30, "V1", "good g1")
    );
    // The same request again: the same redemption, nothing debited.
    let Redeemed::Made { redemption: repeat, again, .. } =
        s.redeem(redeem("resident-1", "r1", "g1", "V2")).await.unwrap()
    else {
        panic!("refused")
    };
    assert!(again);
    assert_eq!(repeat, first);
    assert_eq!(balance(s, "resident-1").await, (70, 0));
    assert_eq!(s.good("g1".into()).await.unwrap().unwrap().stock, 1);

    let refused = |r: Redeemed| match r {
        Redeemed::Refused(why) => why,
        made => panic!("made: {made:?}"),
    };
    let r = s.redeem(redeem("resident-1", "r1", "g2", "V3")).await.unwrap();
    assert_eq!(refused(r), RedeemRefusal::RequestReused);
    let r = s.redeem(redeem("resident-1", "r2", "nope", "V3")).await.unwrap();
    assert_eq!(refused(r), RedeemRefusal::UnknownGood);
    let mut outside = redeem("resident-1", "r2", "g1", "V3");
    outside.scopes = vec!["jl/changchun/grid-08".into()];
    assert_eq!(refused(s.redeem(outside).await.unwrap()), RedeemRefusal::NotInCommunity);
    s.add_good(good("dear", 500, 3)).await.unwrap();
    let r = s.redeem(redeem("resident-1", "r2", "dear", "V3")).await.unwrap();
    assert_eq!(refused(r), RedeemRefusal::NotEnoughPoints { balance: 70, needed: 500 });
    s.redeem(redeem("resident-1", "r3", "g1", "V4")).await.unwrap();
    let r = s.redeem(redeem("resident-1", "r4", "g1", "V5")).await.unwrap();
    assert_eq!(refused(r), RedeemRefusal::OutOfStock);
    let change = GoodChange { id: "g1".into(), withdraw: true, at: T0 + 50, ..Default::default() };
    let g = s.change_good(change).await.unwrap().unwrap();
    assert_eq!((g.withdrawn_at, g.stock), (Some(T0 + 50), 0));
    let r = s.redeem(redeem("resident-1", "r4", "g1", "V5")).await.unwrap();
    assert_eq!(refused(r), RedeemRefusal::Withdrawn);
    assert_eq!(balance(s, "resident-1").await, (40, 0), "refusals changed nothing");
    let restock = GoodChange { id: "dear".into(), restock: Some(-9), ..Default::default() };
    assert_eq!(s.change_good(restock).await.unwrap().unwrap().stock, 0, "never below 0");
    let none = GoodChange { id: "nope".into(), ..Default::default() };
    assert_eq!(s.change_good(none).await.unwrap(), None);

    let mine: Vec<String> = s
        .redemptions_of("resident-1".into())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&"r1".to_string()) && mine.contains(&"r3".to_string()));
    let goods: Vec<String> = s
        .goods(vec![format!("{COMMUNITY}/building-3")])
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(goods, ["dear", "g1"], "a resident's community's goods, by name");
    assert_eq!(s.goods(vec!["jl/changchun".into()]).await.unwrap().len(), 2, "a leader's");
    assert!(s.goods(vec!["jl/jilin".into()]).await.unwrap().is_empty());
}

pub async fn many_redeemers_at_once_never_overspend_nor_oversell(s: &dyn Storage) {
    // 64 residents with 50 points each race for 40 goods of 30 points; each also tries twice
    // with the same request id, and a second time with a new id it cannot afford.
    s.add_good(good("g1", 30, 40)).await.unwrap();
    for n in 0..64 {
        s.award(award(&format!("resident-{n}"), 50, T0)).await.unwrap();
    }
    let attempts = (0..64).flat_map(|n| {
        let account = format!("resident-{n}");
        [
            redeem(&account, "a", "g1", &format!("A{n}")),
            redeem(&account, "a", "g1", &format!("B{n}")),
            redeem(&account, "b", "g1", &format!("C{n}")),
        ]
    });
    let results = futures_join(attempts.map(|r| s.redeem(r))).await;
    let results: Vec<Redeemed> = results.into_iter().map(Result::unwrap).collect();
    let made = results.iter().filter(|r| matches!(r, Redeemed::Made { again: false, .. })).count();
    assert_eq!(made, 40, "every good and no more");
    assert_eq!(s.good("g1".into()).await.unwrap().unwrap().stock, 0);
    let mut spent = 0;
    for n in 0..64 {
        let account = format!("resident-{n}");
        let (balance, owed) = balance(s, &account).await;
        let mine = s.redemptions_of(account).await.unwrap();
        assert!(mine.len() <= 1, "a resident with 50 points redeemed {} goods of 30", mine.len());
        assert_eq!(balance, 50 - 30 * mine.len() as i64, "debited once per redemption");
        assert_eq!(owed, 0);
        spent += 50 - balance;
    }
    assert_eq!(spent, 40 * 30);
}

pub async fn a_voucher_is_collected_once(s: &dyn Storage) {
    s.award(award("resident-1", 100, T0)).await.unwrap();
    s.add_good(good("g1", 30, 2)).await.unwrap();
    s.redeem(redeem("resident-1", "r1", "g1", "V1")).await.unwrap();
    assert_eq!(
        s.collect("V9".into(), "leader-1".into(), T0 + 1).await.unwrap(),
        Collected::Unknown
    );
    let Collected::Now(r) = s.collect("V1".into(), "leader-1".into(), T0 + 2).await.unwrap() else {
        panic!("not collected")
    };
    assert_eq!((r.collected_at, r.collected_by.as_deref()), (Some(T0 + 2), Some("leader-1")));
    let Collected::Before(again) = s.collect("V1".into(), "leader-2".into(), T0 + 3).await.unwrap()
    else {
        panic!("collected twice")
    };
    assert_eq!(again, r, "the first collection stands");
    assert_eq!(s.redemption("V1".into()).await.unwrap(), Some(r));
}
