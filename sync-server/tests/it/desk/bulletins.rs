//! Warning bulletins at the desk: the listing and the record view cut to the reader, who has
//! and who has not acknowledged (the issuer's view), the `bulletin` events of the stream, and
//! a withdrawal as a desk action.

use fieldsync_core::model::{Addressee, NewBulletin, NewRecord, Severity};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::{Timestamp, now_ms};
use serde_json::json;

use super::events::Events;
use super::*;
use crate::common::{Backend, GRID, Phone, acked, enroll_as, fetch, on_both, start_on};

const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

async fn the_desk_lists_a_bulletin_and_sees_who_has_not_acknowledged_it(backend: Backend) {
    let ts = start_on(backend).await;
    let s = ts.running.server();
    let maker = Phone::new("maker-1");
    let id = maker
        .store
        .create(&NewRecord::Bulletin {
            bulletin: NewBulletin {
                scope: GRID.into(),
                severity: Severity::Yellow,
                audience: vec![Addressee::Patrols, Addressee::Residents],
                title: "燃气检修".into(),
                text: "明日9点至12点停气".into(),
                valid_until: Timestamp::from_millis(now_ms() + 86_400_000),
                location: None,
                photos: vec![],
            },
        })
        .unwrap();
    acked(&ts, &maker, id).await;
    let cop = Phone::new("cop-1");
    enroll_as(s, &cop, Role::Patrol, Some(PatrolKind::Volunteer), &[GRID]);
    s.accounts().add_user("res-1", Role::Resident, None, &[GRID.to_string()]).unwrap();
    s.accounts().add_user("res-9", Role::Resident, None, &[OTHER.to_string()]).unwrap();
    fetch(&ts, &cop, id).await;
    cop.store.execute(id, &fieldsync_core::model::Command::AcknowledgeBulletin).unwrap();
    acked(&ts, &cop, id).await;
    let id = id.to_string();

    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, page) = get(&ts, &d, "/api/v1/bulletins?status=issued").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["doc"], id.as_str());
    assert_eq!(items[0]["acknowledged"], json!(["cop-1"]));
    let (status, view) = get(&ts, &d, &format!("/api/v1/records/{id}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["row"]["kind"], "bulletin");
    assert_eq!(view["unacknowledged"], json!(["res-1"]), "addressed, in reach, not yet");
    assert_eq!(view["record"]["bulletin"]["acknowledgements"][0]["by"], "cop-1");

    let mut live = Events::open(&ts, &d, "?after=0", None).await;
    let e = live.until(|e| e.data["doc"] == id.as_str()).await;
    assert_eq!(e.event, "bulletin");

    // A dispatcher of another grid: nothing, and not told apart from nothing.
    s.accounts().add_user("disp-9", Role::Dispatcher, None, &[OTHER.to_string()]).unwrap();
    let elsewhere = desk(&ts, "disp-9", Role::Dispatcher).await;
    let (_, page) = get(&ts, &elsewhere, "/api/v1/bulletins").await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (status, body) = get(&ts, &elsewhere, &format!("/api/v1/records/{id}")).await;
    assert_eq!((status, err_code(&body)), (404, "not_found"), "{body}");

    // Withdrawn from the desk: the row says so.
    let (status, after) =
        act(&ts, &d, &id, json!({"action": "withdraw_bulletin", "reason": "检修取消"})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["row"]["status"], "withdrawn");
    let (status, e) =
        act(&ts, &d, &id, json!({"action": "withdraw_bulletin", "reason": "x"})).await;
    assert_eq!((status, err_code(&e)), (409, "invalid_transition"), "{e}");
}
on_both!(the_desk_lists_a_bulletin_and_sees_who_has_not_acknowledged_it);
