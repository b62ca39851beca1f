//! The server's check of a change, and the phone's before it commits: compare the typed record
//! before and after and allow the change only if every difference is one this user may make.
//!
//! "Before" is the record as the author saw it (the server forks the document at the changes'
//! dependencies), so concurrent edits by others never count against the author. What a change
//! of each kind may do is its `KindRules::check`; this module holds what every kind shares.

use std::collections::HashSet;
use std::hash::Hash;

use super::rules::{Audience, KindRules, can_create, can_read, timeline_action};
use super::{Denied, Profile};
use crate::model::{PhotoRef, Record, TimelineEvent, on_record};

/// Checks that `p` may turn `before` (`None`: the record did not exist) into `after`.
pub fn check_change(p: &Profile, before: Option<&Record>, after: &Record) -> Result<(), Denied> {
    if let Some(b) = before {
        if b.header() != after.header() {
            return Err(Denied::new("header", "the header of a record never changes"));
        }
        if !can_read(p, &Audience::of(b)) {
            return Err(Denied::new("read", format!("{} may not see this record", p.user)));
        }
    } else {
        let h = after.header();
        can_create(p, h.kind, &h.scope)?;
        if h.created_by != p.user {
            return Err(Denied::new("authorship", format!("created_by must be {}", p.user)));
        }
    }
    on_record!(after, a => judge(p, before, a))
}

/// `before` as a record of `after`'s kind, then the kind's own check.
fn judge<K: KindRules>(p: &Profile, before: Option<&Record>, after: &K) -> Result<(), Denied> {
    let before = match before {
        Some(b) => Some(same_kind::<K>(b)?),
        None => None,
    };
    K::check(p, before, after)
}

/// `record` as a `K`, or the refusal of a change that would change a record's kind.
pub(super) fn same_kind<K: KindRules>(record: &Record) -> Result<&K, Denied> {
    K::of(record).ok_or_else(|| Denied::new("header", "the kind of a record never changes"))
}

/// Items of `after` not in `before` (by key), after checking that every item of `before` is
/// still in `after`, unchanged (`same`), and that every new item is by `user`.
pub(super) fn appended<'a, T, K: Eq + Hash>(
    rule: &'static str,
    before: &[T],
    after: &'a [T],
    key: impl Fn(&T) -> K,
    by: impl Fn(&T) -> Option<&str>,
    same: impl Fn(&T, &T) -> bool,
    user: &str,
) -> Result<Vec<&'a T>, Denied> {
    let old: HashSet<K> = before.iter().map(&key).collect();
    for b in before {
        let kept = after.iter().any(|a| key(a) == key(b) && same(b, a));
        if !kept {
            return Err(Denied::new(
                rule,
                "items of the list may only be added, not changed or removed",
            ));
        }
    }
    let new: Vec<&T> = after.iter().filter(|a| !old.contains(&key(a))).collect();
    if let Some(signer) = new.iter().filter_map(|n| by(n)).find(|b| *b != user) {
        return Err(Denied::new(rule, format!("a new item is signed by {signer}, not by {user}")));
    }
    Ok(new)
}

/// Photos of `after` not in `before` (by hash), after checking that none of `before` was
/// removed or changed: photo lists only grow, and a photo is nobody's signature.
pub(super) fn appended_photos<'a>(
    rule: &'static str,
    before: &[PhotoRef],
    after: &'a [PhotoRef],
    user: &str,
) -> Result<Vec<&'a PhotoRef>, Denied> {
    appended(rule, before, after, |x| x.hash.clone(), |_| None, |x, y| x == y, user)
}

/// Checks that `a` is `b` with events appended, each signed by `p` and one `p` may add.
pub(super) fn timeline(
    p: &Profile,
    scope: &str,
    b: &[TimelineEvent],
    a: &[TimelineEvent],
) -> Result<(), Denied> {
    // Events have no key; a multiset comparison keeps two identical events apart.
    let key = |e: &TimelineEvent| (e.at, e.by.clone(), e.action.clone(), e.note.clone());
    let mut old: Vec<_> = b.iter().map(key).collect();
    for e in a {
        if let Some(i) = old.iter().position(|o| *o == key(e)) {
            old.swap_remove(i);
        } else if e.by != p.user {
            return Err(Denied::new(
                "timeline",
                format!("a new event is signed by {}, not by {}", e.by, p.user),
            ));
        } else if !timeline_action(p, scope, &e.action) {
            return Err(Denied::new(
                "timeline.action",
                format!("a {} may not add a {:?} event here", p.role, e.action),
            ));
        }
    }
    if !old.is_empty() {
        return Err(Denied::new("timeline", "timeline events may only be added"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{
        Command, NewRecord, NewReport, OverdueLimit, ReportCategory, Stamp, read_record,
    };
    use crate::policy::Role;
    use crate::time::Timestamp;

    const GRID: &str = "jl/cc/street-1/grid-7";

    fn profile(user: &str, role: Role, scope: &str) -> Profile {
        let patrol = (role == Role::Patrol).then_some(super::super::PatrolKind::Police);
        Profile { user: user.into(), role, patrol, scopes: vec![scope.into()] }
    }

    fn stamp(user: &str) -> Stamp {
        Stamp { by: user.into(), at: 1_700_000_000_000 }
    }

    /// A report created by `resident-1`, and a function that runs a command as someone and
    /// returns (before, after).
    fn report_doc() -> (crate::DocId, automerge::AutoCommit) {
        let new = NewRecord::Report {
            report: NewReport {
                scope: GRID.into(),
                category: ReportCategory::Noise,
                title: "loud bar".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        };
        create(&new, &stamp("resident-1"), ActorId::random()).expect("create")
    }

    fn run(
        doc: &mut automerge::AutoCommit,
        id: crate::DocId,
        by: &str,
        cmd: Command,
    ) -> (Record, Record) {
        let before = read_record(doc, id).expect("before");
        apply(doc, id, &stamp(by), &cmd).expect("command applies");
        (before, read_record(doc, id).expect("after"))
    }

    #[test]
    fn creation_needs_role_scope_and_own_name() {
        let (id, doc) = report_doc();
        let r = read_record(&doc, id).expect("read");
        assert!(check_change(&profile("resident-1", Role::Resident, GRID), None, &r).is_ok());
        let other = check_change(&profile("resident-2", Role::Resident, GRID), None, &r);
        assert_eq!(other.map_err(|d| d.rule), Err("authorship"));
        let outside =
            check_change(&profile("resident-1", Role::Resident, "jl/cc/street-2"), None, &r);
        assert_eq!(outside.map_err(|d| d.rule), Err("create.scope"));
        let mediator = check_change(&profile("resident-1", Role::Mediator, GRID), None, &r);
        assert_eq!(mediator.map_err(|d| d.rule), Err("create"));
    }

    #[test]
    fn a_resident_may_confirm_but_not_resolve_or_award() {
        let (id, mut doc) = report_doc();
        let resident = profile("resident-1", Role::Resident, GRID);
        let dispatcher = profile("disp-1", Role::Dispatcher, "jl/cc");
        let (b, a) = run(&mut doc, id, "disp-1", Command::AcceptReport { note: String::new() });
        assert!(check_change(&dispatcher, Some(&b), &a).is_ok());
        assert_eq!(check_change(&resident, Some(&b), &a).map_err(|d| d.rule), Err("report.status"));
        let (b, a) = run(
            &mut doc,
            id,
            "disp-1",
            Command::DispatchReport {
                assignee: "officer-1".into(),
                deadline: Timestamp::from_millis(1_900_000_000_000),
                note: String::new(),
            },
        );
        assert!(check_change(&dispatcher, Some(&b), &a).is_ok());
        let officer = profile("officer-1", Role::Patrol, "jl/elsewhere");
        let (b, a) = run(&mut doc, id, "officer-1", Command::StartWork { note: String::new() });
        assert!(
            check_change(&officer, Some(&b), &a).is_ok(),
            "the assignee works outside their scope"
        );
        let (b, a) = run(
            &mut doc,
            id,
            "resident-1",
            Command::ResolveReport { note: "fixed it myself".into() },
        );
        assert_eq!(check_change(&resident, Some(&b), &a).map_err(|d| d.rule), Err("report.status"));
        let (b, a) =
            run(&mut doc, id, "resident-1", Command::ConfirmReport { note: String::new() });
        assert!(check_change(&resident, Some(&b), &a).is_ok());
        let mut fork = doc.fork().with_actor(ActorId::random());
        let award = Command::AwardPoints { points: 500, note: String::new() };
        let (b, a) = run(&mut doc, id, "resident-1", award.clone());
        assert_eq!(check_change(&resident, Some(&b), &a).map_err(|d| d.rule), Err("report.points"));
        let (b, a) = run(&mut fork, id, "disp-1", award);
        assert!(check_change(&dispatcher, Some(&b), &a).is_ok());
    }

    #[test]
    fn authorship_of_appended_items_is_bound_to_the_user() {
        let (id, mut doc) = report_doc();
        let (b, a) =
            run(&mut doc, id, "resident-1", Command::CommentReport { text: "still loud".into() });
        assert!(check_change(&profile("resident-1", Role::Resident, GRID), Some(&b), &a).is_ok());
        // The same change claimed by someone else: the comment is signed resident-1.
        let forged = check_change(&profile("disp-1", Role::Dispatcher, GRID), Some(&b), &a);
        assert_eq!(forged.map_err(|d| d.rule), Err("report.comments"));
    }

    #[test]
    fn patrols_and_residents_never_read_cases() {
        let case = Audience {
            participants: vec!["med-1".into()],
            ..Audience::plain(crate::model::Kind::MediationCase, GRID, "med-1")
        };
        assert!(can_read(&profile("med-2", Role::Mediator, GRID), &case));
        assert!(can_read(&profile("disp-1", Role::Dispatcher, "jl/cc"), &case));
        assert!(!can_read(&profile("med-3", Role::Mediator, "jl/other"), &case));
        for role in [Role::Patrol, Role::Resident, Role::GridLeader, Role::Admin] {
            assert!(!can_read(&profile("x", role, "jl"), &case), "{role}");
        }
    }

    #[test]
    fn supervision_is_the_command_centres_and_the_supervisors_alone() {
        let (id, mut doc) = report_doc();
        let supervise = || Command::Supervise { note: "go today".into() };
        let (b, a) = run(&mut doc, id, "sup-1", supervise());
        assert!(check_change(&profile("sup-1", Role::Supervisor, "jl/cc"), Some(&b), &a).is_ok());
        let outside = profile("sup-1", Role::Supervisor, "jl/other");
        assert_eq!(check_change(&outside, Some(&b), &a).map_err(|d| d.rule), Err("read"));
        for (user, role) in [("gl-1", Role::GridLeader), ("disp-1", Role::Dispatcher)] {
            let (b, a) = run(&mut doc, id, user, supervise());
            assert!(check_change(&profile(user, role, GRID), Some(&b), &a).is_ok(), "{role}");
        }
        for (user, role) in [("resident-1", Role::Resident), ("p-1", Role::Patrol)] {
            let (b, a) = run(&mut doc, id, user, supervise());
            let denied = check_change(&profile(user, role, GRID), Some(&b), &a);
            assert_eq!(denied.map_err(|d| d.rule), Err("timeline.action"), "{role}");
        }
        let count = read_record(&doc, id).expect("read");
        let Record::Report { report } = count else { panic!("a report") };
        assert_eq!(report.timeline.iter().filter(|e| e.action == "supervise").count(), 5);
    }

    #[test]
    fn a_supervisor_writes_nothing_but_supervision() {
        let (id, mut doc) = report_doc();
        let sup = profile("sup-1", Role::Supervisor, "jl/cc");
        for cmd in [
            Command::AcceptReport { note: String::new() },
            Command::CommentReport { text: "hm".into() },
        ] {
            let (b, a) = run(&mut doc.fork().with_actor(ActorId::random()), id, "sup-1", cmd);
            let denied = check_change(&sup, Some(&b), &a).map_err(|d| d.rule);
            assert_eq!(denied, Err("report.timeline_only"));
        }
        let mut fork = doc.fork().with_actor(ActorId::random());
        let (b, a) = run(&mut fork, id, "sup-1", Command::Supervise { note: "now".into() });
        assert!(check_change(&sup, Some(&b), &a).is_ok());
    }

    #[test]
    fn only_the_system_device_escalates_and_once_per_limit() {
        let (id, mut doc) = report_doc();
        let system =
            Profile { user: "system".into(), role: Role::System, patrol: None, scopes: Vec::new() };
        let escalate = |limit| Command::Escalate { limit, notify: vec!["gl-1".into()] };
        let (b, a) = run(&mut doc, id, "system", escalate(OverdueLimit::Accept));
        assert!(check_change(&system, Some(&b), &a).is_ok());
        let again = apply(&mut doc.fork(), id, &stamp("system"), &escalate(OverdueLimit::Accept));
        assert!(matches!(again, Err(crate::CoreError::InvalidTransition { .. })), "{again:?}");
        let mut fork = doc.fork().with_actor(ActorId::random());
        let (b, a) = run(&mut fork, id, "disp-1", escalate(OverdueLimit::Resolve));
        let denied = check_change(&profile("disp-1", Role::Dispatcher, GRID), Some(&b), &a);
        assert_eq!(denied.map_err(|d| d.rule), Err("timeline.action"));
        let (b, a) = run(&mut doc, id, "system", Command::AcceptReport { note: String::new() });
        let denied = check_change(&system, Some(&b), &a).map_err(|d| d.rule);
        assert_eq!(denied, Err("report.timeline_only"));
        let Record::Report { report } = read_record(&doc, id).expect("read") else {
            panic!("a report")
        };
        let limits: Vec<_> =
            report.timeline.iter().filter_map(crate::model::escalation_limit).collect();
        assert_eq!(limits, vec![OverdueLimit::Accept]);
    }
}
