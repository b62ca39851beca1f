//! The `load` benchmark suite runs end to end at a small size (its own server, a child process)
//! with no failed request and every device holding what the server holds; and the check it ends
//! with does see a device that holds something the server lacks, or lacks what it may read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::ActorId;
use fieldsync_core::model::{Command, NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_examples::bench::server::BenchServer;
use fieldsync_examples::bench::sim::{Pulled, SimDevice};
use fieldsync_server::{Server, ServerConfig};

#[test]
fn load_suite_runs_small_without_errors_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("figures.json");
    let args = ["load", "--devices", "20", "--rounds", "3", "--concurrency", "8"];
    let run = crate::common::bench(&args, dir.path(), &json);
    let (f, stdout) = (|name: &str| run.get(name), &run.stdout);
    assert_eq!((f("load.devices"), f("load.rounds")), (20.0, 3.0));
    assert_eq!(f("load.errors"), 0.0, "{stdout}");
    assert_eq!((f("load.diverged"), f("load.missing")), (0.0, 0.0), "{stdout}");
    assert!(f("load.changes_made") > 0.0, "{stdout}");
    assert_eq!(f("load.changes_accepted"), f("load.changes_made"), "{stdout}");
    // Twenty devices of one grid hold several documents each, some written by several of them.
    assert!(f("load.docs_checked") > 20.0, "{stdout}");
    assert!(f("load.docs_shared") > 0.0, "{stdout}");
    for name in ["load.syncs_per_s", "load.p50_ms", "load.p99_ms", "load.server_rss_mb"] {
        assert!(f(name) > 0.0, "{name} in\n{stdout}");
    }
    assert!(f("load.server_peak_rss_mb") >= f("load.server_rss_mb"), "{stdout}");
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(written.contains("\"load.errors\"") && written.contains("\"load.p99_ms\""));
}

/// A device of `role` in `scope`, enrolled on `server`, applying what it pulls.
fn device(server: &BenchServer, user: &str, role: Role, scope: &str) -> SimDevice {
    let actor = ActorId::random();
    let profile = Profile { user: user.into(), role, patrol: None, scopes: vec![scope.into()] };
    let transport = server.enroll_profile(&profile, actor.to_bytes()).unwrap();
    SimDevice::new(transport, user.into(), actor, (None, String::new()), 0, Pulled::Apply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heads_check_sees_what_the_server_lacks_and_what_a_device_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path());
    let server = Server::open(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, std::future::pending()));
    // This test reads no metrics: the served listener stands in for the metrics one.
    let bench = BenchServer::remote(&url, &url, dir.path()).unwrap();

    let grid = "jl/cc/grid-1";
    let mut resident = device(&bench, "resident-1", Role::Resident, grid);
    let mut leader = device(&bench, "leader-1", Role::GridLeader, grid);
    let report = NewReport {
        scope: grid.into(),
        category: ReportCategory::Noise,
        title: "loud bar".into(),
        description: String::new(),
        location: None,
        photos: vec![],
    };
    let id = resident.create(&NewRecord::Report { report }).unwrap();
    assert_eq!(resident.round().await.unwrap().acked, 1);
    leader.round().await.unwrap();

    let ask = |d: &mut SimDevice, have: bool| {
        let ids: Vec<_> = d.ids().collect();
        d.reconcile_ask(&ids, have)
    };
    let post = async |d: &mut SimDevice, have: bool| {
        let mut a = ask(d, have);
        let body = std::mem::take(&mut a.body);
        let answer =
            fieldsync_core::sync::Transport::post(d.transport(), "/v1/reconcile", body).await;
        d.reconcile_absorb(a, &answer.unwrap()).unwrap()
    };
    // Both hold what the server holds.
    for d in [&mut resident, &mut leader] {
        let seen = post(d, true).await;
        assert_eq!(seen.docs.len(), 1);
        assert!(seen.docs[0].same() && !seen.docs[0].server.is_empty(), "{seen:?}");
        assert!(seen.missing.is_empty() && seen.refused.is_empty());
    }

    // A change the server never got: the device's heads are not the server's.
    resident.edit(id, &Command::CommentReport { text: "still loud".into() }).unwrap();
    let seen = post(&mut resident, false).await;
    assert!(!seen.docs[0].same(), "{seen:?}");

    // Pushed now: the leader, who has not pulled it, is behind the server.
    resident.round().await.unwrap();
    let seen = post(&mut leader, false).await;
    assert!(!seen.docs[0].same(), "{seen:?}");
    // Pulled: now it holds what the server holds. (The server's reconcile message may have
    // brought the change already, unless the leader's Bloom filter wrongly claimed it.)
    leader.round().await.unwrap();
    let seen = post(&mut leader, false).await;
    assert!(seen.docs[0].same(), "{seen:?}");

    // A device that never pulled the report it may read is told it lacks it.
    let mut other = device(&bench, "leader-2", Role::GridLeader, grid);
    let seen = post(&mut other, true).await;
    assert_eq!(seen.missing, vec![id]);
}
