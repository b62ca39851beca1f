//! Rights checked now, not only as they were. [`super::check_change`] judges a change against
//! the record its author built it on; when others changed the record meanwhile, the server also
//! asks whether the author still holds, now, the rights the change uses, and whether the
//! author's workflow step still follows from the record's state now.
//!
//! A responder taken off a report may have started work, commented or resolved it on an old
//! copy: that change was right when it was made and is not now. A refusal of this kind is
//! `stale_rights` on the server (honest offline work, listed for dispatchers), never silent.
//! What is merely concurrent stays accepted where the domain allows it: an entry made before
//! someone else finished the patrol is still its entry; two people who took the record to the
//! same state both did what they meant; two dispatchers who chose different assignees leave a
//! conflict to settle.

use super::diff::same_kind;
use super::rules::{Audience, KindRules, can_read};
use super::{Denied, Profile};
use crate::model::{Record, on_record};

/// Checks that `p`, whose change turned `before` into `after` in the author's view, still holds
/// the rights it uses on `current`, the record as it stands now, and that its workflow step
/// still follows from `current`. `merged` is `current` with the change applied.
///
/// Call it after [`super::check_change`] accepted the change, when `current` differs from
/// `before` (when they are equal, `check_change` has judged the change against now already).
pub fn check_now(
    p: &Profile,
    before: &Record,
    after: &Record,
    current: &Record,
    merged: &Record,
) -> Result<(), Denied> {
    if !can_read(p, &Audience::of(current)) {
        return Err(Denied::new("read", format!("{} may no longer see this record", p.user)));
    }
    on_record!(after, a => judge_now(p, before, a, current, merged))
}

fn judge_now<K: KindRules>(
    p: &Profile,
    before: &Record,
    after: &K,
    current: &Record,
    merged: &Record,
) -> Result<(), Denied> {
    K::check_now(p, same_kind(before)?, after, same_kind(current)?, same_kind(merged)?)
}

/// The author took the workflow from `b` to `a` while, concurrently, it went from `b` to `c`.
/// The author's step still follows when nothing moved meanwhile (`c == b`: the step was judged
/// with the rights as they stand), when both reached the same state, or when `a` is one step
/// on from `c` for this person. Otherwise the merged record would show a state no single person
/// could have reached one step after the other (a confirmed report resolved again, a report
/// dispatched anew after its work was resolved).
pub(super) fn still_follows<S: Copy + Eq + std::fmt::Display>(
    rule: &'static str,
    b: S,
    a: S,
    c: S,
    step: impl Fn(S, S) -> bool,
) -> Result<(), Denied> {
    if c == b || c == a || step(c, a) {
        return Ok(());
    }
    Err(Denied::new(
        rule,
        format!("it is {c} now, made so meanwhile by someone else; {a} does not follow from {c}"),
    ))
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};

    use super::*;
    use crate::DocId;
    use crate::model::command::{apply, create};
    use crate::model::{
        Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, NewReport, ReportCategory,
        Stamp, TeamMember, read_record,
    };
    use crate::policy::{Role, check_change};
    use crate::time::Timestamp;

    const GRID: &str = "jl/cc/grid-7";

    fn profile(user: &str, role: Role) -> Profile {
        let patrol = (role == Role::Patrol).then_some(crate::policy::PatrolKind::Police);
        Profile { user: user.into(), role, patrol, scopes: vec![GRID.into()] }
    }

    fn run(doc: &mut AutoCommit, id: DocId, by: &str, cmd: Command) {
        apply(doc, id, &Stamp { by: by.into(), at: 1_700_000_000_000 }, &cmd).expect("applies");
    }

    fn dispatch(to: &str) -> Command {
        Command::DispatchReport {
            assignee: to.into(),
            deadline: Timestamp::from_millis(1_800_000_000_000),
            note: String::new(),
        }
    }

    /// A report dispatched to officer-a; returns it with the two copies to fork from.
    fn dispatched() -> (DocId, AutoCommit) {
        let new = NewRecord::Report {
            report: NewReport {
                scope: GRID.into(),
                category: ReportCategory::SafetyHazard,
                title: "loose rail".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        };
        let stamp = Stamp { by: "res-1".into(), at: 1_700_000_000_000 };
        let (id, mut doc) = create(&new, &stamp, ActorId::random()).expect("create");
        run(&mut doc, id, "disp", Command::AcceptReport { note: String::new() });
        run(&mut doc, id, "disp", dispatch("officer-a"));
        (id, doc)
    }

    /// Runs `mine` by `who` on one fork and `theirs` on another, merges theirs first (what the
    /// server holds now) and judges mine against it: (check_change, check_now).
    fn judge(
        who: &Profile,
        mine: Command,
        theirs: Vec<(&str, Command)>,
    ) -> (Result<(), Denied>, Result<(), Denied>) {
        let (id, mut doc) = dispatched();
        let mut author = doc.fork().with_actor(ActorId::from([9u8; 16]));
        let mut server = doc.fork().with_actor(ActorId::from([1u8; 16]));
        let before = read_record(&author, id).unwrap();
        run(&mut author, id, &who.user, mine);
        let after = read_record(&author, id).unwrap();
        for (by, cmd) in theirs {
            run(&mut server, id, by, cmd);
        }
        let current = read_record(&server, id).unwrap();
        server.merge(&mut author).unwrap();
        let merged = read_record(&server, id).unwrap();
        (
            check_change(who, Some(&before), &after),
            check_now(who, &before, &after, &current, &merged),
        )
    }

    #[test]
    fn work_started_by_a_responder_taken_off_the_report_is_stale() {
        let officer = profile("officer-a", Role::Patrol);
        let (then, now) = judge(
            &officer,
            Command::StartWork { note: String::new() },
            vec![("disp", dispatch("officer-b"))],
        );
        assert!(then.is_ok(), "right when it was made");
        assert_eq!(now.map_err(|d| d.rule), Err("report.status"));
    }

    #[test]
    fn a_comment_by_someone_who_may_no_longer_read_is_stale_and_one_by_a_reader_is_kept() {
        // A mediator reads a report only while it names them.
        let named_only =
            Profile { scopes: vec!["jl/elsewhere".into()], ..profile("officer-a", Role::Mediator) };
        let comment = || Command::CommentReport { text: "on my way".into() };
        let (then, now) = judge(&named_only, comment(), vec![("disp", dispatch("officer-b"))]);
        assert!(then.is_ok());
        assert_eq!(now.map_err(|d| d.rule), Err("read"));
        // A patrol of the grid still reads it: the comment stays.
        let (then, now) = judge(
            &profile("officer-a", Role::Patrol),
            comment(),
            vec![("disp", dispatch("officer-b"))],
        );
        assert!(then.is_ok() && now.is_ok(), "{now:?}");
    }

    #[test]
    fn a_resolution_against_a_confirmed_report_is_stale() {
        let officer = profile("officer-a", Role::Patrol);
        let (id, mut doc) = dispatched();
        let mut author = doc.fork().with_actor(ActorId::from([9u8; 16]));
        run(&mut author, id, "officer-a", Command::StartWork { note: String::new() });
        let mut server = author.fork().with_actor(ActorId::from([1u8; 16]));
        let before = read_record(&author, id).unwrap();
        run(&mut author, id, "officer-a", Command::ResolveReport { note: "done".into() });
        let after = read_record(&author, id).unwrap();
        // Meanwhile the dispatcher resolved it and the resident confirmed.
        run(&mut server, id, "disp", Command::ResolveReport { note: "done".into() });
        run(&mut server, id, "res-1", Command::ConfirmReport { note: String::new() });
        let current = read_record(&server, id).unwrap();
        server.merge(&mut author).unwrap();
        let merged = read_record(&server, id).unwrap();
        assert!(check_change(&officer, Some(&before), &after).is_ok());
        let now = check_now(&officer, &before, &after, &current, &merged);
        assert_eq!(now.map_err(|d| d.rule), Err("report.status"));
    }

    #[test]
    fn concurrent_choices_the_domain_allows_stay_accepted() {
        let disp = profile("disp-2", Role::Dispatcher);
        // Two dispatchers re-dispatch to different people: a conflict to settle, not a refusal.
        let (then, now) =
            judge(&disp, dispatch("officer-c"), vec![("disp", dispatch("officer-b"))]);
        assert!(then.is_ok() && now.is_ok(), "{now:?}");
        // A re-dispatch after the assignee started work does not follow.
        let (_, now) = judge(
            &disp,
            dispatch("officer-c"),
            vec![("officer-a", Command::StartWork { note: String::new() })],
        );
        assert_eq!(now.map_err(|d| d.rule), Err("report.status"));
    }

    #[test]
    fn an_entry_made_before_the_patrol_was_finished_stays_its_entry() {
        let new = NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "valley".into(),
                members: ["p-1", "p-2"]
                    .iter()
                    .map(|u| TeamMember {
                        user: (*u).into(),
                        name: (*u).into(),
                        kind: MemberKind::Police,
                    })
                    .collect(),
                checkpoints: vec![],
            },
        };
        let stamp = Stamp { by: "p-1".into(), at: 1_700_000_000_000 };
        let (id, mut doc) = create(&new, &stamp, ActorId::random()).unwrap();
        let mut author = doc.fork().with_actor(ActorId::from([9u8; 16]));
        let mut server = doc.fork().with_actor(ActorId::from([1u8; 16]));
        let before = read_record(&author, id).unwrap();
        let entry = NewEntry {
            kind: EntryKind::Observation,
            text: "rock fall".into(),
            location: None,
            photos: vec![],
            checkpoint: None,
        };
        run(&mut author, id, "p-2", Command::AddPatrolEntry { entry });
        run(&mut author, id, "p-2", Command::FinishPatrol { note: String::new() });
        let after = read_record(&author, id).unwrap();
        run(&mut server, id, "p-1", Command::FinishPatrol { note: String::new() });
        let current = read_record(&server, id).unwrap();
        server.merge(&mut author).unwrap();
        let merged = read_record(&server, id).unwrap();
        let p2 = profile("p-2", Role::Patrol);
        assert!(check_change(&p2, Some(&before), &after).is_ok());
        assert!(check_now(&p2, &before, &after, &current, &merged).is_ok());
        // An entry added to a patrol its author knew was finished is refused as it was made.
        let finished = read_record(&server, id).unwrap();
        let mut late = server.fork();
        let entries = match late.get(ROOT, "entries").unwrap() {
            Some((_, obj)) => obj,
            None => panic!("entries"),
        };
        let item = late.insert_object(&entries, late.length(&entries), ObjType::Map).unwrap();
        for (k, v) in [("id", "late"), ("by", "p-2"), ("kind", "observation"), ("text", "x")] {
            late.put(&item, k, v).unwrap();
        }
        late.put(&item, "at", ScalarValue::Timestamp(1_700_000_000_000)).unwrap();
        late.put(&item, "location", ScalarValue::Null).unwrap();
        late.put(&item, "checkpoint", ScalarValue::Null).unwrap();
        late.put_object(&item, "photos", ObjType::List).unwrap();
        let late_after = read_record(&late, id).unwrap();
        let refused = check_change(&p2, Some(&finished), &late_after);
        assert_eq!(refused.map_err(|d| d.rule), Err("patrol.entries"));
    }
}
