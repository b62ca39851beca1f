//! The server's check of a change, and the phone's before it commits: compare the typed record
//! before and after and allow the change only if every difference is one this user may make.
//!
//! "Before" is the record as the author saw it (the server forks the document at the changes'
//! dependencies), so concurrent edits by others never count against the author.

use std::collections::HashSet;
use std::hash::Hash;

use super::rules::{
    Audience, can_create, can_read, case_step, case_writer, patrol_writer, reachable, report_step,
    timeline_action,
};
use super::{Denied, Profile, Role};
use crate::model::{
    CaseStatus, MediationCase, PatrolLog, PatrolStatus, Record, Report, ReportStatus, TimelineEvent,
};

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
    match (before, after) {
        (Some(Record::Report { report: b }), Record::Report { report: a }) => report(p, b, a, None),
        (None, Record::Report { report: a }) => report(p, &fresh_report(a), a, None),
        (Some(Record::PatrolLog { patrol_log: b }), Record::PatrolLog { patrol_log: a }) => {
            patrol(p, b, a)
        }
        (None, Record::PatrolLog { patrol_log: a }) => patrol(p, &fresh_patrol(a), a),
        (
            Some(Record::MediationCase { mediation_case: b }),
            Record::MediationCase { mediation_case: a },
        ) => case(p, b, a, false),
        (None, Record::MediationCase { mediation_case: a }) => case(p, &fresh_case(a), a, true),
        _ => Err(Denied::new("header", "the kind of a record never changes")),
    }
}

/// Items of `after` not in `before` (by key), after checking that every item of `before` is
/// still in `after`, unchanged (`same`), and that every new item is by `user`.
fn appended<'a, T, K: Eq + Hash>(
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

fn timeline(
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

fn fresh_report(a: &Report) -> Report {
    Report {
        photos: Vec::new(),
        status: ReportStatus::Submitted,
        assignee: None,
        deadline: None,
        points: 0,
        comments: Vec::new(),
        timeline: Vec::new(),
        ..a.clone()
    }
}

/// Checks the author's change of a report from `b` to `a`. The rights a person holds by being
/// named in the report (its assignee) are those of `now` when given (the report as it stands
/// on the server with the change merged), else those the author saw (`b`, or `a` for a
/// dispatch and the start of work in one push).
pub(super) fn report(
    p: &Profile,
    b: &Report,
    a: &Report,
    now: Option<&Report>,
) -> Result<(), Denied> {
    if matches!(p.role, Role::Supervisor | Role::System) {
        // They add timeline events (supervision, escalation) and change nothing else.
        let rest = |r: &Report| Report { timeline: Vec::new(), ..r.clone() };
        if rest(b) != rest(a) {
            return Err(Denied::new(
                "report.timeline_only",
                format!("a {} only adds timeline events to a report", p.role),
            ));
        }
        return timeline(p, &a.header.scope, &b.timeline, &a.timeline);
    }
    let in_scope = p.covers(&a.header.scope);
    let command_centre = in_scope && matches!(p.role, Role::Dispatcher | Role::GridLeader);
    let content_changed = (&b.category, &b.title, &b.description, &b.location)
        != (&a.category, &a.title, &a.description, &a.location);
    if content_changed && !command_centre {
        return Err(Denied::new(
            "report.content",
            "only the command centre may edit a report's content",
        ));
    }
    let new_photos = appended(
        "report.photos",
        &b.photos,
        &a.photos,
        |x| x.hash.clone(),
        |_| None,
        |x, y| x == y,
        &p.user,
    )?;
    let reporter = a.header.created_by == p.user;
    let named = |r: &Report| r.assignee.as_deref() == Some(p.user.as_str());
    let assignee = match now {
        Some(m) => named(m),
        None => named(b) || named(a),
    };
    if !(new_photos.is_empty() || reporter || assignee || command_centre) {
        return Err(Denied::new("report.photos", format!("{} may not add photos here", p.user)));
    }
    if b.status != a.status {
        // The steps are judged against the report as it stands after the change, so a dispatch
        // and the start of work in one push are judged with the new assignee.
        let rights = now.unwrap_or(a);
        let ok =
            reachable(ReportStatus::ALL, b.status, a.status, |f, t| report_step(p, rights, f, t));
        if !ok {
            return Err(Denied::new(
                "report.status",
                format!("a {} may not move a report from {} to {}", p.role, b.status, a.status),
            ));
        }
    }
    if (&b.assignee, &b.deadline) != (&a.assignee, &a.deadline) && !command_centre {
        return Err(Denied::new(
            "report.dispatch",
            "only the command centre sets the assignee and the deadline",
        ));
    }
    if b.points != a.points && !(in_scope && p.role == Role::Dispatcher) {
        return Err(Denied::new("report.points", "only a dispatcher of the scope awards points"));
    }
    appended(
        "report.comments",
        &b.comments,
        &a.comments,
        |c| c.id.clone(),
        |c| Some(c.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)?;
    Ok(())
}

fn fresh_patrol(a: &PatrolLog) -> PatrolLog {
    PatrolLog {
        status: PatrolStatus::Active,
        ended_at: None,
        entries: Vec::new(),
        timeline: Vec::new(),
        ..a.clone()
    }
}

fn patrol(p: &Profile, b: &PatrolLog, a: &PatrolLog) -> Result<(), Denied> {
    if (&b.area, &b.members, &b.checkpoints, b.started_at)
        != (&a.area, &a.members, &a.checkpoints, a.started_at)
    {
        return Err(Denied::new(
            "patrol.team",
            "the area, team and route are fixed when the patrol starts",
        ));
    }
    let writer = patrol_writer(p, a);
    let same_but_photos = |x: &crate::model::PatrolEntry, y: &crate::model::PatrolEntry| {
        let keep = x.photos.iter().all(|ph| y.photos.contains(ph));
        keep && crate::model::PatrolEntry { photos: Vec::new(), ..x.clone() }
            == crate::model::PatrolEntry { photos: Vec::new(), ..y.clone() }
    };
    let new = appended(
        "patrol.entries",
        &b.entries,
        &a.entries,
        |e| e.id.clone(),
        |e| Some(e.by.as_str()),
        same_but_photos,
        &p.user,
    )?;
    let photos_added = a
        .entries
        .iter()
        .any(|e| b.entries.iter().any(|o| o.id == e.id && o.photos.len() != e.photos.len()));
    if (!new.is_empty() || photos_added) && !writer {
        return Err(Denied::new("patrol.entries", format!("{} is not on this patrol", p.user)));
    }
    // As the author saw it: an entry made before someone else finished the patrol is still
    // its entry; one added to a patrol the author knew was finished is not.
    if !new.is_empty() && b.status != PatrolStatus::Active {
        return Err(Denied::new("patrol.entries", "the patrol is finished: no more entries"));
    }
    if (b.status, b.ended_at) != (a.status, a.ended_at) {
        let finishing = b.status == PatrolStatus::Active
            && a.status == PatrolStatus::Finished
            && a.ended_at.is_some();
        let dispatcher = p.role == Role::Dispatcher && p.covers(&a.header.scope);
        if !(dispatcher || finishing && writer) {
            return Err(Denied::new("patrol.status", "only the team finishes a patrol, once"));
        }
    }
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)?;
    Ok(())
}

fn fresh_case(a: &MediationCase) -> MediationCase {
    MediationCase {
        sessions: Vec::new(),
        agreement: String::new(),
        status: CaseStatus::Intake,
        escalated_to: None,
        follow_ups: Vec::new(),
        photos: Vec::new(),
        timeline: Vec::new(),
        ..a.clone()
    }
}

fn case(p: &Profile, b: &MediationCase, a: &MediationCase, creating: bool) -> Result<(), Denied> {
    if !case_writer(p, a) {
        return Err(Denied::new("case.write", format!("{} may not write to this case", p.user)));
    }
    if !creating
        && (&b.category, &b.place, &b.parties, &b.mediators)
            != (&a.category, &a.place, &a.parties, &a.mediators)
    {
        return Err(Denied::new(
            "case.parties",
            "category, place, parties and mediators are fixed when the case opens",
        ));
    }
    // Session notes may be edited by any writer; the rest of a session is fixed.
    let same_but_notes = |x: &crate::model::Session, y: &crate::model::Session| {
        (&x.id, x.at, &x.by, &x.attendees) == (&y.id, y.at, &y.by, &y.attendees)
    };
    appended(
        "case.sessions",
        &b.sessions,
        &a.sessions,
        |s| s.id.clone(),
        |s| Some(s.by.as_str()),
        same_but_notes,
        &p.user,
    )?;
    if b.status != a.status && !reachable(CaseStatus::ALL, b.status, a.status, case_step) {
        return Err(Denied::new(
            "case.status",
            format!("a case does not go from {} to {}", b.status, a.status),
        ));
    }
    appended(
        "case.follow_ups",
        &b.follow_ups,
        &a.follow_ups,
        |f| f.id.clone(),
        |f| Some(f.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    appended(
        "case.photos",
        &b.photos,
        &a.photos,
        |x| x.hash.clone(),
        |_| None,
        |x, y| x == y,
        &p.user,
    )?;
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)?;
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
            kind: crate::model::Kind::MediationCase,
            scope: GRID.into(),
            created_by: "med-1".into(),
            participants: vec!["med-1".into()],
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
