//! Residents' points over the phones' protocol against a real server: a confirmed report earns
//! its category's points and gives them back when reopened; grid leaders award, list goods and
//! collect vouchers within their scopes; residents redeem idempotently; every bad input is a
//! typed refusal that changes nothing; 64 residents redeeming at once neither overspend nor
//! oversell.

use fieldsync_core::model::Command;
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{
    self, AwardRequest, AwardResponse, CollectRequest, CollectResponse, GoodRequest, GoodResponse,
    GoodsList, GoodsRequest, PointsStatement, RedeemRequest, RedeemResponse, StatementRequest,
    VERSION,
};

use crate::common::{
    GRID, Phone, TestServer, acked, call, enroll_as, error_body, fetch, refused, start,
};

const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-09";

async fn statement(ts: &TestServer, phone: &Phone, account: Option<&str>) -> PointsStatement {
    let req = StatementRequest { v: VERSION, after: 0, account: account.map(str::to_string) };
    call(ts, phone, "/v1/points/statement", req).await.unwrap()
}

async fn balance(ts: &TestServer, phone: &Phone) -> i64 {
    statement(ts, phone, None).await.balance
}

fn award(account: &str, amount: i64, reason: &str) -> AwardRequest {
    AwardRequest {
        v: VERSION,
        account: account.into(),
        amount,
        reason: reason.into(),
        source: None,
    }
}

fn redeem(request_id: &str, good: &str) -> RedeemRequest {
    RedeemRequest { v: VERSION, request_id: request_id.into(), good: good.into() }
}

fn good(community: &str, name: &str, points: i64, stock: i64) -> GoodRequest {
    GoodRequest {
        v: VERSION,
        community: Some(community.into()),
        name: Some(name.into()),
        points: Some(points),
        stock: Some(stock),
        ..Default::default()
    }
}

fn phone(ts: &TestServer, user: &str, role: Role, scope: &str) -> Phone {
    let p = Phone::new(user);
    enroll_as(ts.running.server(), &p, role, None, &[scope]);
    p
}

#[tokio::test]
async fn the_exchange_and_its_bad_inputs() {
    let ts = start().await;
    let leader = phone(&ts, "leader-zhou", Role::GridLeader, GRID);
    let other_leader = phone(&ts, "leader-sun", Role::GridLeader, OTHER_GRID);
    let wang = phone(&ts, "resident-wang", Role::Resident, &format!("{GRID}/building-7"));
    let li = phone(&ts, "resident-li", Role::Resident, GRID);
    let outsider = phone(&ts, "resident-zhao", Role::Resident, OTHER_GRID);

    // A leader lists goods of their grid, not of another.
    let rice: GoodResponse =
        call(&ts, &leader, "/v1/points/goods/add", good(GRID, "大米 5kg", 30, 1)).await.unwrap();
    let rice = rice.good.id;
    let r =
        call::<_, GoodResponse>(&ts, &leader, "/v1/points/goods/add", good(OTHER_GRID, "油", 5, 1));
    refused(r.await, 403, "forbidden");
    let r = call::<_, GoodResponse>(&ts, &wang, "/v1/points/goods/add", good(GRID, "油", 5, 1));
    refused(r.await, 403, "forbidden");
    for bad in [
        good(GRID, "油", 0, 1),
        good(GRID, "油", -5, 1),
        good(GRID, "", 5, 1),
        good(GRID, "油", 5, -1),
    ] {
        let r = call::<_, GoodResponse>(&ts, &leader, "/v1/points/goods/add", &bad);
        refused(r.await, 400, "invalid_input");
    }
    let soap: GoodResponse =
        call(&ts, &other_leader, "/v1/points/goods/add", good(OTHER_GRID, "肥皂", 1, 9))
            .await
            .unwrap();
    let soap = soap.good.id;

    // Awards: a leader to a resident of their scopes, with a reason, within bounds.
    let given: AwardResponse =
        call(&ts, &leader, "/v1/points/award", award("resident-wang", 50, "参加议事协商"))
            .await
            .unwrap();
    assert_eq!((given.entry.amount, given.entry.balance_after), (50, 50));
    for (amount, reason) in
        [(0, "志愿"), (-5, "志愿"), (10_001, "志愿"), (i64::MAX, "志愿"), (5, "")]
    {
        let r = call::<_, AwardResponse>(
            &ts,
            &leader,
            "/v1/points/award",
            award("resident-wang", amount, reason),
        );
        refused(r.await, 400, "invalid_input");
    }
    let r =
        call::<_, AwardResponse>(&ts, &leader, "/v1/points/award", award("leader-zhou", 5, "自己"));
    refused(r.await, 404, "unknown_user");
    let r = call::<_, AwardResponse>(&ts, &leader, "/v1/points/award", award("nobody", 5, "志愿"));
    refused(r.await, 404, "unknown_user");
    let r = call::<_, AwardResponse>(
        &ts,
        &other_leader,
        "/v1/points/award",
        award("resident-wang", 5, "志愿"),
    );
    refused(r.await, 404, "unknown_user");
    let r =
        call::<_, AwardResponse>(&ts, &li, "/v1/points/award", award("resident-wang", 5, "志愿"));
    refused(r.await, 403, "forbidden");
    assert_eq!(balance(&ts, &wang).await, 50, "no refused award counted");

    // Goods: residents see their community's; a redemption is made once per request id.
    let listed: GoodsList =
        call(&ts, &wang, "/v1/points/goods", &GoodsRequest { v: VERSION }).await.unwrap();
    assert_eq!(listed.goods.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), [rice.as_str()]);
    let made: RedeemResponse =
        call(&ts, &wang, "/v1/points/redeem", redeem("req-1", &rice)).await.unwrap();
    assert!(!made.again);
    assert_eq!(made.balance, 20);
    let voucher = made.redemption.voucher.clone();
    let again: RedeemResponse =
        call(&ts, &wang, "/v1/points/redeem", redeem("req-1", &rice)).await.unwrap();
    assert!(again.again);
    assert_eq!((again.redemption, again.balance), (made.redemption.clone(), 20));
    let bad_redeem = |id: &'static str, good: String| {
        let (ts, wang) = (&ts, &wang);
        async move { call::<_, RedeemResponse>(ts, wang, "/v1/points/redeem", redeem(id, &good)).await }
    };
    refused(bad_redeem("req-2", rice.clone()).await, 409, "out_of_stock");
    let restock =
        GoodRequest { v: VERSION, id: Some(rice.clone()), stock: Some(5), ..Default::default() };
    let _: GoodResponse = call(&ts, &leader, "/v1/points/goods/change", &restock).await.unwrap();
    refused(bad_redeem("req-2", rice.clone()).await, 409, "not_enough_points");
    refused(bad_redeem("req-1", soap.clone()).await, 409, "request_reused");
    refused(bad_redeem("req-3", soap.clone()).await, 403, "not_in_community");
    refused(bad_redeem("req-3", "nope".into()).await, 404, "unknown_good");
    for id in ["", "bad id!", "x/y", &"a".repeat(65)] {
        let r = call::<_, RedeemResponse>(&ts, &wang, "/v1/points/redeem", redeem(id, &rice));
        refused(r.await, 400, "invalid_input");
    }
    let r = call::<_, RedeemResponse>(&ts, &leader, "/v1/points/redeem", redeem("req-9", &rice));
    refused(r.await, 403, "forbidden");
    let r = call::<_, RedeemResponse>(&ts, &outsider, "/v1/points/redeem", redeem("req-9", &rice));
    refused(r.await, 403, "not_in_community");
    assert_eq!(balance(&ts, &wang).await, 20, "no refused redemption debited");

    // The voucher is collected once, by a leader of the good's community.
    let collect = |code: &str| CollectRequest { v: VERSION, voucher: code.into() };
    let r = call::<_, CollectResponse>(&ts, &wang, "/v1/points/collect", collect(&voucher));
    refused(r.await, 403, "forbidden");
    let r = call::<_, CollectResponse>(&ts, &other_leader, "/v1/points/collect", collect(&voucher));
    refused(r.await, 404, "unknown_voucher");
    let r = call::<_, CollectResponse>(&ts, &leader, "/v1/points/collect", collect("not a code"));
    refused(r.await, 400, "invalid_input");
    let typed = voucher.to_lowercase().replace('-', " ");
    let done: CollectResponse =
        call(&ts, &leader, "/v1/points/collect", collect(&typed)).await.unwrap();
    assert_eq!(done.redemption.collected_by.as_deref(), Some("leader-zhou"));
    let r = call::<_, CollectResponse>(&ts, &leader, "/v1/points/collect", collect(&voucher));
    refused(r.await, 409, "already_collected");

    // Statements: one's own; a leader reads a resident of their scope; nobody else does.
    let mine = statement(&ts, &wang, None).await;
    let kinds: Vec<(&str, i64)> =
        mine.entries.iter().map(|e| (e.kind.as_str(), e.amount)).collect();
    assert_eq!(kinds, [("awarded", 50), ("redeemed", -30)]);
    assert_eq!(mine.redemptions.len(), 1);
    assert!(mine.redemptions[0].collected_at.is_some());
    assert_eq!(statement(&ts, &leader, Some("resident-wang")).await.balance, 20);
    let peek = StatementRequest { v: VERSION, after: 0, account: Some("resident-wang".into()) };
    let r = call::<_, PointsStatement>(&ts, &li, "/v1/points/statement", &peek);
    refused(r.await, 404, "unknown_user");
    let r = call::<_, PointsStatement>(&ts, &other_leader, "/v1/points/statement", &peek);
    refused(r.await, 404, "unknown_user");
}

#[tokio::test]
async fn a_confirmed_report_earns_and_a_reopened_one_gives_back() {
    let ts = start().await;
    let resident = phone(&ts, "resident-1", Role::Resident, GRID);
    let leader = phone(&ts, "leader-1", Role::GridLeader, GRID);
    let id = resident.report("违章搭建");
    acked(&ts, &resident, id).await;
    fetch(&ts, &leader, id).await;
    leader.accept(id, "受理");
    let dispatch = Command::DispatchReport {
        assignee: "leader-1".into(),
        deadline: (fieldsync_core::time::now_ms() + 86_400_000).into(),
        note: String::new(),
    };
    leader.store.execute(id, &dispatch).unwrap();
    leader.store.execute(id, &Command::StartWork { note: String::new() }).unwrap();
    leader.store.execute(id, &Command::ResolveReport { note: "已拆除".into() }).unwrap();
    acked(&ts, &leader, id).await;
    assert_eq!(balance(&ts, &resident).await, 0, "nothing before confirmation");

    fetch(&ts, &resident, id).await;
    resident.store.execute(id, &Command::ConfirmReport { note: "谢谢".into() }).unwrap();
    acked(&ts, &resident, id).await;
    // Illegal construction earns 20 by the built-in rules.
    assert_eq!(balance(&ts, &resident).await, 20);
    // A comment later settles nothing new.
    fetch(&ts, &leader, id).await;
    leader.comment(id, "已回访");
    acked(&ts, &leader, id).await;
    assert_eq!(statement(&ts, &resident, None).await.entries.len(), 1);
    // A dispatcher's award on the report's page adds to what it earned.
    let dispatcher = phone(&ts, "dispatch-1", Role::Dispatcher, GRID);
    fetch(&ts, &dispatcher, id).await;
    let award = Command::AwardPoints { points: 15, note: "举报属实".into() };
    dispatcher.store.execute(id, &award).unwrap();
    acked(&ts, &dispatcher, id).await;
    assert_eq!(balance(&ts, &resident).await, 35, "the award on the report's page counts");

    // Reopened: everything it earned goes back, by a compensating entry.
    dispatcher.store.execute(id, &Command::ReopenReport { reason: "又搭起来了".into() }).unwrap();
    acked(&ts, &dispatcher, id).await;
    let st = statement(&ts, &resident, None).await;
    assert_eq!(st.balance, 0);
    let moves: Vec<(&str, i64)> = st.entries.iter().map(|e| (e.kind.as_str(), e.amount)).collect();
    assert_eq!(
        moves,
        [("earned", 20), ("earned", 15), ("reversed", -35)],
        "compensated, not edited"
    );
    assert!(st.entries.iter().all(|e| e.source == Some(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_residents_redeeming_at_once_never_overspend_nor_oversell() {
    let ts = start().await;
    let leader = phone(&ts, "leader-zhou", Role::GridLeader, GRID);
    let made: GoodResponse =
        call(&ts, &leader, "/v1/points/goods/add", good(GRID, "鸡蛋", 30, 40)).await.unwrap();
    let eggs = made.good.id;
    let mut residents = Vec::new();
    for n in 0..64 {
        let r = phone(&ts, &format!("resident-{n}"), Role::Resident, GRID);
        let _: AwardResponse =
            call(&ts, &leader, "/v1/points/award", award(&format!("resident-{n}"), 50, "志愿"))
                .await
                .unwrap();
        residents.push(r);
    }
    // Each resident sends the same redemption twice and another it cannot also afford.
    let mut tasks = Vec::new();
    let ts = std::sync::Arc::new(ts);
    for (n, r) in residents.iter().enumerate() {
        for id in ["a", "a", "b"] {
            let (ts, actor, eggs) = (ts.clone(), r.actor(), eggs.clone());
            tasks.push(tokio::spawn(async move {
                let body = protocol::encode(&redeem(&format!("{id}-{n}"), &eggs));
                ts.post_as(&actor, "/v1/points/redeem", body).await
            }));
        }
    }
    let mut made = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => {
                let r: RedeemResponse = protocol::decode(&body).unwrap();
                made += usize::from(!r.again);
            }
            409 => {
                let code = error_body(&body).code;
                assert!(code == "out_of_stock" || code == "not_enough_points", "{code}");
            }
            other => panic!("{other}: {}", String::from_utf8_lossy(&body)),
        }
    }
    assert_eq!(made, 40, "every egg, and no more");
    let listed: GoodsList =
        call(&ts, &leader, "/v1/points/goods", &GoodsRequest { v: VERSION }).await.unwrap();
    assert_eq!(listed.goods[0].stock, 0);
    let mut spent = 0;
    for r in &residents {
        let st = statement(&ts, r, None).await;
        assert!(st.redemptions.len() <= 1, "50 points bought {} eggs of 30", st.redemptions.len());
        assert_eq!(st.balance, 50 - 30 * st.redemptions.len() as i64);
        spent += 50 - st.balance;
    }
    assert_eq!(spent, 40 * 30, "never overspent");
}
