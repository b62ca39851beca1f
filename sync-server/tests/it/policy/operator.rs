//! The business operator's row of the matrices.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The business operator's row of the matrices, written out by hand: an operator of the
/// business of the test grid (their one scope is that business's own) reads the visits to it and
/// the bulletins addressed to businesses whose scope covers it, and nothing else of any kind;
/// creates nothing; acknowledges what is addressed to them and changes nothing else.
async fn business_operator_matrix(backend: Backend) {
    let server = start_on(backend).await;
    with_businesses(&server).await;
    let s = server.running.server();
    let author = Phone::new("hq-1");
    enroll_as(s, &author, Role::Dispatcher, None, &["jl"]);
    // Deliberations are raised by residents and grid leaders, not by dispatchers.
    let leader = Phone::new("leader-9");
    enroll_as(s, &leader, Role::GridLeader, None, &["jl"]);
    let own = business_scope(GRID, &business_in(GRID));
    let operator = Phone::new("operator-1");
    enroll_as(s, &operator, Role::BusinessOperator, None, &[own.as_str()]);

    let to_businesses = |scope: &str| NewRecord::Bulletin {
        bulletin: NewBulletin {
            audience: vec![Addressee::Businesses],
            ..match record_of(Kind::Bulletin, scope, "hq-1") {
                NewRecord::Bulletin { bulletin } => bulletin,
                _ => unreachable!("a bulletin"),
            }
        },
    };
    // (record, read by the operator): every kind inside and outside the grid, and bulletins to
    // businesses at the grid, beside it and above it.
    let mut cases: Vec<(NewRecord, bool, &str)> = Vec::new();
    for kind in KINDS {
        for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
            let read = inside && kind == Kind::Visit;
            let by = if kind == Kind::Deliberation { "leader-9" } else { "hq-1" };
            cases.push((record_of(kind, scope, by), read, "a record of the grid or beside"));
        }
    }
    cases.push((to_businesses(GRID), true, "to businesses of the grid"));
    cases.push((to_businesses(OTHER_GRID), false, "to businesses of the grid beside"));
    cases.push((to_businesses("jl"), true, "to businesses of the whole city"));
    let mut made = Vec::new();
    for (new, read, what) in cases {
        let by = if new.kind() == Kind::Deliberation { &leader } else { &author };
        let id = by.store.create(&new).unwrap();
        acked(&server, by, id).await;
        made.push((id, new.kind(), read, what));
    }
    let visible = pulled(&server, &operator, "").await;
    for (id, kind, read, what) in &made {
        assert_eq!(visible.contains(id), *read, "operator reads {kind} ({what})");
    }
    assert_eq!(visible.len(), 3);

    // Creates nothing: no kind in the grid (a visit of the grid's business lies in their own
    // scope), and not even a report in their own scope.
    let mut attempts: Vec<NewRecord> =
        KINDS.iter().map(|k| record_of(*k, GRID, "operator-1")).collect();
    attempts.push(report_in(&own));
    for new in attempts {
        let kind = new.kind();
        let id = operator.store.create(&new).unwrap();
        let outcome = push(&server, &operator, id).await;
        assert!(
            matches!(&outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
            "operator creates {kind}: {outcome:?}"
        );
        assert!(s.storage().load(vec![id]).await.unwrap()[0].is_none(), "nothing stored");
    }

    // Acknowledges the bulletin to their businesses; records nothing on the visit.
    let first = |what: &str, kind: Kind| {
        made.iter().find(|m| m.3 == what && m.1 == kind).map(|m| m.0).expect("made")
    };
    let ack = first("to businesses of the grid", Kind::Bulletin);
    let visit = first("a record of the grid or beside", Kind::Visit);
    fetch(&server, &operator, ack).await;
    operator.store.execute(ack, &Command::AcknowledgeBulletin).unwrap();
    expect_push(&server, &operator, ack, true, "operator acknowledges").await;
    fetch(&server, &operator, visit).await;
    let check = Command::RecordCheck {
        item: "hazards".into(),
        result: CheckOutcome::Pass,
        note: String::new(),
    };
    operator.store.execute(visit, &check).unwrap();
    expect_push(&server, &operator, visit, false, "operator records a check").await;
}
on_both!(business_operator_matrix);
