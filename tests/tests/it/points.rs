//! A resident's points from the phone's side, against a real server over HTTP: a confirmed
//! report earns points, which the phone fetches and shows offline; the resident redeems a good
//! (retried with the same request id: one redemption) and a grid leader's phone marks the
//! voucher collected, once; refusals arrive as typed errors.

use fieldsync_core::CoreError;
use fieldsync_core::model::{Command, NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::Role;
use fieldsync_core::sync::{GoodUpdate, HttpTransport, SyncClient, SyncOptions};
use fieldsync_server::{RunningServer, Server, ServerConfig};
use fieldsync_tests::phone::{Phone, enroll_http};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

async fn server(dir: &std::path::Path) -> RunningServer {
    let config = ServerConfig::new(dir.join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    Server::start(&config).await.expect("server starts")
}

fn phone(s: &RunningServer, dir: &std::path::Path, user: &str, role: Role) -> Phone<HttpTransport> {
    s.server().accounts().add_user(user, role, None, &[GRID.to_string()]).unwrap();
    Phone::new(dir, user, enroll_http(s, user))
}

fn points_code(e: CoreError) -> String {
    match e {
        CoreError::PointsRefused { code, .. } => code,
        other => panic!("not a points refusal: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_earns_sees_offline_redeems_once_and_collects() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let resident = phone(&s, dir.path(), "resident-wang", Role::Resident);
    let leader = phone(&s, dir.path(), "leader-zhou", Role::GridLeader);
    assert_eq!(resident.store.points().unwrap(), None, "nothing before the first fetch");

    // The resident's report is handled and confirmed: 10 points for sanitation.
    let report = NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::Sanitation,
            title: "垃圾堆积".into(),
            description: "7号楼后".into(),
            location: None,
            photos: vec![],
        },
    };
    let id = resident.store.create(&report).unwrap();
    resident.sync().await;
    leader.sync().await;
    let dispatch = Command::DispatchReport {
        assignee: "leader-zhou".into(),
        deadline: (fieldsync_core::time::now_ms() + 86_400_000).into(),
        note: String::new(),
    };
    for c in [
        Command::AcceptReport { note: String::new() },
        dispatch,
        Command::StartWork { note: String::new() },
        Command::ResolveReport { note: "已清理".into() },
    ] {
        leader.store.execute(id, &c).unwrap();
    }
    leader.sync().await;
    resident.sync().await;
    resident.store.execute(id, &Command::ConfirmReport { note: "谢谢".into() }).unwrap();
    resident.sync().await;
    let balance = resident.client.refresh_points().await.unwrap();
    assert_eq!((balance.account.as_str(), balance.balance), ("resident-wang", 10));
    let history = resident.store.points_history(10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].kind.as_str(), history[0].source), ("earned", Some(id)));

    // The leader awards 25 and lists a good; the resident redeems it, and again with the same
    // request id after a lost answer: one redemption.
    assert_eq!(leader.client.award_points("resident-wang", 25, "志愿服务").await.unwrap(), 35);
    let good = leader.client.add_good(GRID, "洗衣液", 30, 3).await.unwrap();
    let listed = resident.client.goods().await.unwrap();
    assert_eq!(listed, vec![good.clone()]);
    let voucher = resident.client.redeem(&good.id, "6f0c2a").await.unwrap();
    let again = resident.client.redeem(&good.id, "6f0c2a").await.unwrap();
    assert_eq!(again, voucher);
    assert_eq!(resident.store.points().unwrap().unwrap().balance, 5, "kept after the redemption");
    let e = resident.client.redeem(&good.id, "7a11b3").await.unwrap_err();
    assert_eq!(points_code(e), "not_enough_points");
    let e = leader.client.award_points("resident-wang", 0, "零").await.unwrap_err();
    assert!(matches!(e, CoreError::Server { status: 400, .. }), "{e}");

    // Offline (no server answers), the phone still shows the balance, history and voucher.
    let unreachable = HttpTransport::new("http://127.0.0.1:9").unwrap();
    let options = SyncOptions { attempts: 1, ..SyncOptions::default() };
    let offline = SyncClient::new(resident.store.clone(), unreachable).with_options(options);
    let e = offline.refresh_points().await.unwrap_err();
    assert!(matches!(e, CoreError::Network { .. }), "{e}");
    assert_eq!(resident.store.points().unwrap().unwrap().balance, 5, "the copy stays");
    let kinds: Vec<String> =
        resident.store.points_history(10).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["redeemed", "awarded", "earned"], "newest first");
    assert_eq!(resident.store.vouchers().unwrap(), vec![voucher.clone()]);

    // The leader collects once; the resident's copy then shows it collected.
    let collected = leader.client.collect_voucher(&voucher.code).await.unwrap();
    assert!(collected.collected_at.is_some());
    let e = leader.client.collect_voucher(&voucher.code).await.unwrap_err();
    assert_eq!(points_code(e), "already_collected");
    let withdrawn = GoodUpdate { withdraw: true, ..Default::default() };
    assert!(leader.client.change_good(&good.id, withdrawn).await.unwrap().withdrawn);
    resident.client.refresh_points().await.unwrap();
    assert!(resident.store.vouchers().unwrap()[0].collected_at.is_some());
    assert_eq!(resident.store.points_history(10).unwrap().len(), 3, "entries not doubled");
}
