//! The business registry's part of the conformance suite: businesses added once, changed field
//! by field, closed once, listed at or below the scopes asked for.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::storage::{Business, BusinessChange, Storage};

const T0: i64 = 1_800_000_000_000;

fn business(id: &str, scope: &str, name: &str) -> Business {
    Business {
        id: id.into(),
        scope: scope.into(),
        name: name.into(),
        kind: "guesthouse".into(),
        address: "湖滨路 8 号".into(),
        location: Some((43.79, 125.46)),
        contact: "0431-1234".into(),
        operator: None,
        created_by: "police-li".into(),
        created_at: T0,
        updated_at: T0,
        closed_at: None,
    }
}

pub async fn businesses_are_added_once_changed_and_listed_by_scope(s: &dyn Storage) {
    let area = "jl/changchun/jingyue/scenic-area";
    assert!(s.add_business(business("b2", &format!("{area}/north"), "湖景民宿")).await.unwrap());
    assert!(s.add_business(business("b1", area, "游船码头")).await.unwrap());
    assert!(
        s.add_business(business("b3", "jl/changchun/jingyue/scenic-area2", "x")).await.unwrap()
    );
    assert!(!s.add_business(business("b1", area, "again")).await.unwrap(), "the id is taken");
    let listed = |scopes: &[&str]| {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        async move { s.businesses(scopes).await.unwrap().into_iter().map(|b| b.id).collect::<Vec<_>>() }
    };
    assert_eq!(listed(&[area]).await, ["b1", "b2"], "the area and below, not a sibling");
    assert_eq!(listed(&[&format!("{area}/north")]).await, ["b2"]);
    assert_eq!(listed(&["jl/changchun", area]).await, ["b1", "b2", "b3"], "each once");
    assert!(listed(&["jl/jilin"]).await.is_empty());

    let change = BusinessChange {
        id: "b1".into(),
        contact: Some("139-0000".into()),
        operator: Some("owner-gao".into()),
        at: T0 + 5,
        ..Default::default()
    };
    let b = s.change_business(change).await.unwrap().unwrap();
    assert_eq!((b.contact.as_str(), b.operator.as_deref()), ("139-0000", Some("owner-gao")));
    assert_eq!(
        (b.name.as_str(), b.location, b.updated_at),
        ("游船码头", Some((43.79, 125.46)), T0 + 5)
    );
    let close = BusinessChange { id: "b1".into(), close: true, at: T0 + 9, ..Default::default() };
    assert_eq!(s.change_business(close.clone()).await.unwrap().unwrap().closed_at, Some(T0 + 9));
    let again = BusinessChange { at: T0 + 20, ..close };
    assert_eq!(s.change_business(again).await.unwrap().unwrap().closed_at, Some(T0 + 9));
    let unset = BusinessChange {
        id: "b1".into(),
        operator: Some(String::new()),
        at: T0 + 30,
        ..Default::default()
    };
    assert_eq!(s.change_business(unset).await.unwrap().unwrap().operator, None);
    assert_eq!(s.business("b1".into()).await.unwrap().unwrap().closed_at, Some(T0 + 9));
    assert_eq!(s.business("nope".into()).await.unwrap(), None);
    let none = BusinessChange { id: "nope".into(), ..Default::default() };
    assert_eq!(s.change_business(none).await.unwrap(), None);
}
