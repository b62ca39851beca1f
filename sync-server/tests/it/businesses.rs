//! The business registry (走访联系制度) over the phones' protocol against a real server: police,
//! grid leaders and dispatchers register and change the businesses of their scopes; every patrol
//! and supervisor reads them; residents and mediators do not; every bad input is a typed refusal
//! that changes nothing.

use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::{
    BusinessList, BusinessRequest, BusinessResponse, BusinessesRequest, VERSION,
};

use crate::common::{Phone, TestServer, call, enroll_as, refused, start};

const AREA: &str = "jl/changchun/jingyue/scenic-area";
const OTHER: &str = "jl/changchun/jingyue/village-3";

fn phone(ts: &TestServer, user: &str, role: Role, patrol: Option<PatrolKind>) -> Phone {
    let p = Phone::new(user);
    enroll_as(ts.running.server(), &p, role, patrol, &[AREA]);
    p
}

fn guesthouse() -> BusinessRequest {
    BusinessRequest {
        v: VERSION,
        scope: Some(format!("{AREA}/north")),
        name: Some("湖景民宿".into()),
        kind: Some("guesthouse".into()),
        address: Some("湖滨路 8 号".into()),
        lat: Some(43.79),
        lon: Some(125.46),
        contact: Some("0431-1234".into()),
        ..Default::default()
    }
}

async fn names(ts: &TestServer, p: &Phone) -> Vec<String> {
    let list: BusinessList =
        call(ts, p, "/v1/businesses/list", BusinessesRequest { v: VERSION }).await.unwrap();
    list.businesses.into_iter().map(|b| b.name).collect()
}

#[tokio::test]
async fn the_registry_is_kept_by_police_leaders_and_dispatchers_of_the_scope() {
    let ts = start().await;
    let police = phone(&ts, "police-li", Role::Patrol, Some(PatrolKind::Police));
    let volunteer = phone(&ts, "volunteer-zhao", Role::Patrol, Some(PatrolKind::Volunteer));
    let resident = phone(&ts, "resident-sun", Role::Resident, None);
    let leader = phone(&ts, "leader-zhou", Role::GridLeader, None);
    let outsider = Phone::new("police-wu");
    enroll_as(ts.running.server(), &outsider, Role::Patrol, Some(PatrolKind::Police), &[OTHER]);
    ts.running
        .server()
        .accounts()
        .add_user("owner-gao", Role::Resident, None, &[AREA.into()])
        .unwrap();

    let made: BusinessResponse =
        call(&ts, &police, "/v1/businesses/add", guesthouse()).await.unwrap();
    let id = made.business.id.clone();
    assert_eq!((made.business.kind.as_str(), made.business.lat), ("guesthouse", Some(43.79)));
    let r = call::<_, BusinessResponse>(&ts, &volunteer, "/v1/businesses/add", guesthouse());
    refused(r.await, 403, "forbidden");
    let r = call::<_, BusinessResponse>(&ts, &outsider, "/v1/businesses/add", guesthouse());
    refused(r.await, 403, "forbidden");

    // Bad input: each refused, nothing registered.
    let bad = [
        BusinessRequest { kind: Some("casino".into()), ..guesthouse() },
        BusinessRequest { name: Some(" ".into()), ..guesthouse() },
        BusinessRequest { name: Some("x".repeat(201)), ..guesthouse() },
        BusinessRequest { lat: Some(91.0), ..guesthouse() },
        BusinessRequest { lon: None, ..guesthouse() },
        BusinessRequest { lat: Some(f64::NAN), ..guesthouse() },
        BusinessRequest { scope: None, ..guesthouse() },
        BusinessRequest { id: Some("b".into()), ..guesthouse() },
        BusinessRequest { contact: Some("a\u{0}b".into()), ..guesthouse() },
    ];
    for req in bad {
        let r = call::<_, BusinessResponse>(&ts, &police, "/v1/businesses/add", req.clone());
        refused(r.await, 400, "invalid_input");
    }
    let ghost = BusinessRequest { operator: Some("nobody".into()), ..guesthouse() };
    let r = call::<_, BusinessResponse>(&ts, &police, "/v1/businesses/add", ghost);
    refused(r.await, 404, "unknown_user");
    assert_eq!(names(&ts, &police).await, ["湖景民宿"], "nothing else registered");

    // Changes: by the keepers of its scope; the operator must be a user.
    let change =
        |fields: BusinessRequest| BusinessRequest { v: VERSION, id: Some(id.clone()), ..fields };
    let owner =
        change(BusinessRequest { operator: Some("owner-gao".into()), ..Default::default() });
    let b: BusinessResponse = call(&ts, &leader, "/v1/businesses/change", owner).await.unwrap();
    assert_eq!(
        (b.business.operator.as_deref(), b.business.name.as_str()),
        (Some("owner-gao"), "湖景民宿")
    );
    let rename =
        change(BusinessRequest { name: Some("湖景客栈".into()), ..Default::default() });
    let r = call::<_, BusinessResponse>(&ts, &outsider, "/v1/businesses/change", rename.clone());
    refused(r.await, 404, "unknown_business");
    let r = call::<_, BusinessResponse>(&ts, &resident, "/v1/businesses/change", rename.clone());
    refused(r.await, 403, "forbidden");
    let moved = change(BusinessRequest { scope: Some(OTHER.into()), ..Default::default() });
    let r = call::<_, BusinessResponse>(&ts, &police, "/v1/businesses/change", moved);
    refused(r.await, 400, "invalid_input");
    let nope = BusinessRequest { id: Some("nope".into()), ..rename.clone() };
    let r = call::<_, BusinessResponse>(&ts, &police, "/v1/businesses/change", nope);
    refused(r.await, 404, "unknown_business");
    let _: BusinessResponse = call(&ts, &police, "/v1/businesses/change", rename).await.unwrap();
    let close = change(BusinessRequest { close: true, ..Default::default() });
    let b: BusinessResponse = call(&ts, &police, "/v1/businesses/change", close).await.unwrap();
    assert!(b.business.closed_at.is_some());

    // Who reads: patrols of every kind and the keepers of the scope; not residents; not others.
    assert_eq!(names(&ts, &volunteer).await, ["湖景客栈"]);
    assert_eq!(names(&ts, &leader).await, ["湖景客栈"]);
    assert!(names(&ts, &outsider).await.is_empty(), "another scope's police see none of it");
    let r = call::<_, BusinessList>(
        &ts,
        &resident,
        "/v1/businesses/list",
        BusinessesRequest { v: VERSION },
    );
    refused(r.await, 403, "forbidden");
}
