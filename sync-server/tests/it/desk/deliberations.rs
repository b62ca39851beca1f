//! Deliberations at the desk: the listing (filtered by status and attendee) and the record
//! view cut to the reader, the row's counts and next meeting, and the `deliberation` events of
//! the stream.

use fieldsync_core::model::{Command, NewDeliberation, NewRecord};
use fieldsync_core::policy::Role;
use fieldsync_core::time::{Timestamp, now_ms};
use serde_json::json;

use super::events::Events;
use super::*;
use crate::common::{Backend, GRID, Phone, acked, enroll_as, fetch, on_both, start_on};

const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

async fn the_desk_lists_deliberations_of_its_scope_with_their_meetings(backend: Backend) {
    let ts = start_on(backend).await;
    let s = ts.running.server();
    let resident = Phone::new("res-1");
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    let leader = Phone::new("leader-1");
    enroll_as(s, &leader, Role::GridLeader, None, &[GRID]);
    let id = resident
        .store
        .create(&NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: GRID.into(),
                topic: "小区广场舞时间".into(),
                background: "晚上九点后仍有音乐".into(),
                options: vec!["九点结束".into(), "十点结束".into()],
            },
        })
        .unwrap();
    resident.store.execute(id, &Command::CommentDeliberation { text: "九点吧".into() }).unwrap();
    acked(&ts, &resident, id).await;
    fetch(&ts, &leader, id).await;
    let at = now_ms() + 86_400_000;
    let first = Command::ScheduleMeeting { at: Timestamp::from_millis(at), place: "广场".into() };
    let meeting = leader.store.execute(id, &first).unwrap().item.unwrap();
    let held = Command::RecordMeeting { meeting, attendees: vec!["res-1".into()] };
    leader.store.execute(id, &held).unwrap();
    let second = Command::ScheduleMeeting {
        at: Timestamp::from_millis(at + 1000),
        place: "活动室".into(),
    };
    leader.store.execute(id, &second).unwrap();
    acked(&ts, &leader, id).await;
    let id = id.to_string();

    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, page) = get(&ts, &d, "/api/v1/deliberations?status=scheduled").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let row = &items[0];
    assert_eq!(row["doc"], id.as_str());
    assert_eq!((row["comments"].as_u64(), row["options"].as_u64()), (Some(1), Some(2)));
    assert_eq!(row["meetings"], 2);
    assert_eq!(row["next_meeting_at"], at + 1000, "the first one was held");
    assert_eq!(row["attendees"], json!(["res-1"]));
    assert_eq!(row["decided_at"], json!(null));
    let (_, none) = get(&ts, &d, "/api/v1/deliberations?status=decided").await;
    assert_eq!(none["items"], json!([]), "{none}");
    let (_, by) = get(&ts, &d, "/api/v1/deliberations?attendee=res-1").await;
    assert_eq!(by["items"].as_array().map(Vec::len), Some(1), "{by}");
    let (_, nobody) = get(&ts, &d, "/api/v1/deliberations?attendee=res-2").await;
    assert_eq!(nobody["items"], json!([]), "{nobody}");
    let (status, view) = get(&ts, &d, &format!("/api/v1/records/{id}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["row"]["kind"], "deliberation");
    assert_eq!(view["record"]["deliberation"]["topic"], "小区广场舞时间");
    assert_eq!(view["record"]["deliberation"]["meetings"][0]["held"], true);

    let mut live = Events::open(&ts, &d, "?after=0", None).await;
    let e = live.until(|e| e.data["doc"] == id.as_str()).await;
    assert_eq!(e.event, "deliberation");

    // A dispatcher of another grid: nothing, and not told apart from nothing.
    s.accounts().add_user("disp-9", Role::Dispatcher, None, &[OTHER.to_string()]).unwrap();
    let elsewhere = desk(&ts, "disp-9", Role::Dispatcher).await;
    let (_, page) = get(&ts, &elsewhere, "/api/v1/deliberations").await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (status, body) = get(&ts, &elsewhere, &format!("/api/v1/records/{id}")).await;
    assert_eq!((status, err_code(&body)), (404, "not_found"), "{body}");
    let (status, body) = get(&ts, &d, "/api/v1/deliberations?status=argued").await;
    assert_eq!((status, err_code(&body)), (400, "invalid_request"), "{body}");

    // The command centre's desk: no follow-up before a decision; it may drop it, once; a
    // dispatcher of another grid may not.
    let early = json!({"action": "add_follow_up_action", "text": "联系物业"});
    let (status, body) = act(&ts, &d, &id, early).await;
    assert_eq!((status, err_code(&body)), (409, "invalid_transition"), "{body}");
    let drop = || json!({"action": "drop_deliberation", "reason": "并入另一议题"});
    let (status, body) = act(&ts, &elsewhere, &id, drop()).await;
    assert_eq!(status, 404, "{body}");
    let (status, after) = act(&ts, &d, &id, drop()).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["row"]["status"], "dropped");
    let (status, body) = act(&ts, &d, &id, drop()).await;
    assert_eq!((status, err_code(&body)), (409, "invalid_transition"), "{body}");
}
on_both!(the_desk_lists_deliberations_of_its_scope_with_their_meetings);

/// A grid leader awards points for a deliberation attended: the award names the deliberation
/// as its source; one for a resident who attended none of its meetings, or naming a record that
/// is not a readable deliberation, is refused and writes nothing.
async fn an_award_names_the_deliberation_attended_and_only_that(backend: Backend) {
    let ts = start_on(backend).await;
    let s = ts.running.server();
    let leader = Phone::new("leader-1");
    enroll_as(s, &leader, Role::GridLeader, None, &[GRID]);
    s.accounts().add_user("res-1", Role::Resident, None, &[GRID.to_string()]).unwrap();
    s.accounts().add_user("res-2", Role::Resident, None, &[GRID.to_string()]).unwrap();
    let id = leader
        .store
        .create(&NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: GRID.into(),
                topic: "楼道灯维修".into(),
                background: String::new(),
                options: vec![],
            },
        })
        .unwrap();
    let at = Timestamp::from_millis(now_ms());
    let meeting = leader
        .store
        .execute(id, &Command::ScheduleMeeting { at, place: "楼下".into() })
        .unwrap()
        .item
        .unwrap();
    let held = Command::RecordMeeting { meeting, attendees: vec!["res-1".into()] };
    leader.store.execute(id, &held).unwrap();
    acked(&ts, &leader, id).await;
    let source = id.to_string();

    s.accounts().add_user("gl-desk", Role::GridLeader, None, &[GRID.to_string()]).unwrap();
    let d = desk(&ts, "gl-desk", Role::GridLeader).await;
    let award = |account: &str, source: &str| json!({"account": account, "amount": 5, "reason": "参加议事会", "source": source});
    let (status, entry) =
        post_json(&ts, &d, "/api/v1/points/awards", award("res-1", &source)).await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["source"], source.as_str(), "{entry}");
    for (account, named, why) in [
        ("res-2", source.clone(), "did not attend"),
        ("res-1", fieldsync_core::DocId::random().to_string(), "no such deliberation"),
        ("res-1", "not-an-id".to_string(), "not a document id"),
    ] {
        let (status, body) =
            post_json(&ts, &d, "/api/v1/points/awards", award(account, &named)).await;
        assert_eq!(status, 400, "{why}: {body}");
    }
    for (account, balance) in [("res-1", 5), ("res-2", 0)] {
        let (_, statement) = get(&ts, &d, &format!("/api/v1/points/accounts/{account}")).await;
        assert_eq!(statement["balance"], balance, "{account}: {statement}");
    }
}
on_both!(an_award_names_the_deliberation_attended_and_only_that);
