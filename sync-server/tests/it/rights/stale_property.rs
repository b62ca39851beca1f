//! The stale-rights rule as a property: any change built on any earlier state of a report, by
//! a device whose rights changed since (it was taken off the report, or others moved the
//! workflow on), is accepted exactly when the rule allows it. The expected answer is computed
//! here from the rule as written in the issue, not by the policy under test.

use std::sync::LazyLock;

use fieldsync_core::model::{Command, ReportStatus as S};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::PushOutcome;
use proptest::prelude::*;

use super::*;

/// The people of the property, with their role and scope: the reporter, a dispatcher of the
/// jurisdiction, the grid's leader, and two responders from elsewhere (who read a report only
/// while it names them).
const CAST: [(&str, Role, &str); 5] = [
    ("res", Role::Resident, GRID),
    ("disp", Role::Dispatcher, "jl"),
    ("lead", Role::GridLeader, GRID),
    ("off-a", Role::Patrol, ELSEWHERE),
    ("off-b", Role::Patrol, ELSEWHERE),
];

/// A report's workflow state, as the rule needs it.
#[derive(Debug, Clone, PartialEq)]
struct State {
    status: S,
    assignee: Option<String>,
}

fn command_centre(who: &str) -> bool {
    matches!(who, "disp" | "lead")
}

/// Whether `who` may read a report in this state (written from the rule: the reporter, the
/// command centre of the grid, and a responder while the report names them).
fn reads(who: &str, s: &State) -> bool {
    who == "res" || command_centre(who) || s.assignee.as_deref() == Some(who)
}

/// Whether `who` may take the report from `from` to `to` in one step, with the report's
/// assignee being `assignee` (the workflow as the issue and DESIGN.md state it).
fn step(who: &str, assignee: Option<&str>, from: S, to: S) -> bool {
    let cc = command_centre(who);
    let works = assignee == Some(who) || who == "disp";
    match (from, to) {
        (S::Submitted | S::Reopened, S::Accepted) => cc,
        (S::Submitted | S::Accepted | S::Reopened, S::Rejected) => cc,
        (S::Accepted | S::Reopened | S::Dispatched, S::Dispatched) => cc,
        (S::Dispatched, S::InProgress) | (S::InProgress, S::Resolved) => works,
        (S::Resolved, S::Confirmed) => who == "res" || who == "disp",
        (S::Resolved, S::Reopened) => who == "res" || cc,
        (S::Rejected | S::Confirmed, S::Reopened) => cc,
        _ => false,
    }
}

/// A move: a command and the state it leads to (`None`: a comment, which changes none).
type Move = (Command, Option<State>);

/// What `who` may do in state `s`.
fn moves(who: &str, s: &State) -> Vec<Move> {
    let mut out = Vec::new();
    if !reads(who, s) {
        return out;
    }
    out.push((Command::CommentReport { text: format!("{who} 说") }, None));
    let to = |status: S, assignee: Option<String>| Some(State { status, assignee });
    let keep = s.assignee.clone();
    for (cmd, target) in [
        (Command::AcceptReport { note: String::new() }, to(S::Accepted, keep.clone())),
        (Command::RejectReport { reason: "不属实".into() }, to(S::Rejected, keep.clone())),
        (dispatch("off-a"), to(S::Dispatched, Some("off-a".into()))),
        (dispatch("off-b"), to(S::Dispatched, Some("off-b".into()))),
        (Command::StartWork { note: String::new() }, to(S::InProgress, keep.clone())),
        (Command::ResolveReport { note: "已处理".into() }, to(S::Resolved, keep.clone())),
        (Command::ConfirmReport { note: String::new() }, to(S::Confirmed, keep.clone())),
        (Command::ReopenReport { reason: "又出现了".into() }, to(S::Reopened, keep)),
    ] {
        if let Some(t) = &target
            && step(who, s.assignee.as_deref(), s.status, t.status)
        {
            out.push((cmd, target));
        }
    }
    out
}

/// Whether the rule accepts `who`'s move from `then` (leading to `target`, `None` for a
/// comment) when it arrives with the report in state `now` (`now` after the move merged: the
/// author changes the assignee only by dispatching).
fn accepted(who: &str, then: &State, target: Option<&State>, now: &State) -> bool {
    if then == now {
        return true;
    }
    // Nobody writes what they may not read now; a responder's rights are those of the
    // assignee now.
    if !reads(who, now) {
        return false;
    }
    let Some(t) = target else { return true };
    let assignee_now =
        if command_centre(who) { t.assignee.as_deref() } else { now.assignee.as_deref() };
    // The step's rights as they stand, and the step still following from the state now.
    step(who, assignee_now, then.status, t.status)
        && (now.status == then.status
            || now.status == t.status
            || step(who, assignee_now, now.status, t.status))
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    /// Per person: the device that makes the history, and the one that acts on an old copy.
    phones: Vec<(Phone, Phone)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = rt.block_on(start());
    let s = server.running.server();
    let phones = CAST
        .iter()
        .map(|(user, role, scope)| {
            let patrol = (*role == Role::Patrol).then_some(PatrolKind::Police);
            let pair = (Phone::new(user), Phone::new(user));
            enroll_as(s, &pair.0, *role, patrol, &[scope]);
            enroll_as(s, &pair.1, *role, patrol, &[scope]);
            pair
        })
        .collect();
    Fixture { rt, server, phones }
});

fn phones(who: &str) -> &'static (Phone, Phone) {
    let i = CAST.iter().position(|(u, ..)| *u == who).unwrap();
    &FIXTURE.phones[i]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_change_built_on_an_earlier_state_is_accepted_exactly_when_the_rule_allows(
        history in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..10),
        at in any::<prop::sample::Index>(),
        author in any::<prop::sample::Index>(),
        choice in any::<prop::sample::Index>(),
        comment in proptest::bool::weighted(0.25),
    ) {
        let f = &*FIXTURE;
        let server = &f.server;
        let outcome = f.rt.block_on(async {
            let res = &phones("res").0;
            let id = res.store.create(&report_in(GRID)).unwrap();
            acked(server, res, id).await;
            let mut states = vec![(State { status: S::Submitted, assignee: None }, stored(server, id).await.0.unwrap())];
            // The history: each step a move its person may make at that moment, made and synced.
            for (person, pick) in &history {
                let state = states.last().unwrap().0.clone();
                // Workflow steps make the history (a comment changes no state worth testing),
                // each by one of the people who have one.
                let movers: Vec<(&str, Vec<Move>)> = CAST
                    .iter()
                    .map(|(u, ..)| (*u, moves(u, &state).into_iter().filter(|(_, t)| t.is_some()).collect::<Vec<_>>()))
                    .filter(|(_, m)| !m.is_empty())
                    .collect();
                if movers.is_empty() {
                    break;
                }
                let (who, options) = &movers[person.index(movers.len())];
                let who = *who;
                let (cmd, target) = options[pick.index(options.len())].clone();
                let phone = &phones(who).0;
                fetch(server, phone, id).await;
                phone.store.execute(id, &cmd).unwrap();
                acked(server, phone, id).await;
                states.push((target.unwrap_or(state), stored(server, id).await.0.unwrap()));
            }
            // The author acts on the copy of an earlier state.
            let (then, bytes) = states[at.index(states.len())].clone();
            let now = states.last().unwrap().0.clone();
            // Someone who could read that copy makes a move on it (a workflow step when they
            // have one, a comment one time in four or when they have none).
            let readers: Vec<&str> =
                CAST.iter().map(|(u, ..)| *u).filter(|u| reads(u, &then)).collect();
            let who = readers[author.index(readers.len())];
            let mut options = moves(who, &then);
            let steps = options.len() - 1;
            if steps > 0 && !comment {
                options.remove(0);
            }
            let (cmd, target) = options[choice.index(options.len())].clone();
            let phone = &phones(who).1;
            phone.store.merge_remote(id, &bytes).unwrap();
            phone.store.execute(id, &cmd).unwrap();
            let expected = accepted(who, &then, target.as_ref(), &now);
            let before = stored(server, id).await;
            let outcome = push(server, phone, id).await;
            if !matches!(outcome, PushOutcome::Acked { .. }) {
                assert_eq!(stored(server, id).await, before, "a refusal stores nothing");
            }
            (format!("{who} {} then {then:?} now {now:?}", cmd.name()), expected, outcome)
        });
        let (what, expected, outcome) = outcome;
        match &outcome {
            PushOutcome::Acked { .. } => prop_assert!(expected, "{what}: accepted, the rule refuses it"),
            PushOutcome::Rejected { code, message } => {
                prop_assert!(!expected, "{what}: refused ({message}), the rule accepts it");
                prop_assert_eq!(code.as_str(), "stale_rights", "{}: {}", what, message);
            }
            other => prop_assert!(false, "{what}: {other:?}"),
        }
    }
}
