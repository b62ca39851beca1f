//! Who may read, raise and take part in a deliberation (议事协商).
//!
//! - **Raise**: a resident or a grid leader, in their scope.
//! - **Read**: residents and grid leaders whose scope is the deliberation's, inside it or around
//!   it (a community's deliberation concerns the residents of its grids), who raised it, and
//!   who attended one of its meetings; dispatchers and admins of its scope; supervisors of its
//!   scope (as for every kind). Patrols and mediators do not.
//! - **Comment, propose an option**: the residents, grid leaders and dispatchers who read it,
//!   each in their own name.
//! - **Schedule a meeting, record its attendance, record the decision, add follow-up actions,
//!   mark it implemented**: the grid leaders and dispatchers of its scope (a deliberation's
//!   scope is theirs or below it) alone.
//! - **Edit a meeting's minutes**: the grid leaders and dispatchers of its scope, and those who
//!   attended that meeting.
//! - **Drop**: the grid leaders and dispatchers of its scope before it is implemented, and who
//!   raised it while it is only proposed.
//!
//! Its topic and background never change; comments, options, meetings and actions are only
//! appended; its status takes only the steps of the model's order.

use super::diff::{appended, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules, reachable};
use super::{Denied, Profile, Role, scope_covers};
use crate::model::{Deliberation, DeliberationStatus, Meeting};

/// Whether one of `p`'s scopes is `scope`, inside it or around it.
fn reaches(p: &Profile, scope: &str) -> bool {
    p.scopes.iter().any(|s| scope_covers(s, scope) || scope_covers(scope, s))
}

/// Whether `p` is of the staff who run a deliberation of `scope`: a grid leader or dispatcher
/// whose scope it is, or is below.
fn staff(p: &Profile, scope: &str) -> bool {
    matches!(p.role, Role::GridLeader | Role::Dispatcher) && p.covers(scope)
}

/// Whether `p`, who reads the deliberation (checked before any kind's rule), may take part in
/// its discussion (comment, propose an option): admins and supervisors only read.
fn discusses(p: &Profile) -> bool {
    matches!(p.role, Role::Resident | Role::GridLeader | Role::Dispatcher)
}

/// Whether a deliberation may go from `from` to `to` in one step.
fn step(from: DeliberationStatus, to: DeliberationStatus) -> bool {
    use DeliberationStatus as S;
    matches!(
        (from, to),
        (S::Proposed | S::Discussed, S::Scheduled)
            | (S::Scheduled, S::Discussed)
            | (S::Discussed, S::Decided)
            | (S::Decided, S::Implemented)
            | (S::Proposed | S::Scheduled | S::Discussed | S::Decided, S::Dropped)
    )
}

impl KindRules for Deliberation {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Resident | Role::GridLeader => {
                a.created_by == p.user || a.names(&p.user) || reaches(p, &a.scope)
            }
            Role::Dispatcher | Role::Admin => in_scope,
            Role::Patrol
            | Role::Mediator
            | Role::Supervisor
            | Role::System
            | Role::BusinessOperator => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        matches!(p.role, Role::Resident | Role::GridLeader)
    }

    fn check(
        p: &Profile,
        before: Option<&Deliberation>,
        after: &Deliberation,
    ) -> Result<(), Denied> {
        match before {
            Some(b) => deliberation(p, b, after),
            None => deliberation(p, &fresh(after), after),
        }
    }

    fn check_now(
        _p: &Profile,
        b: &Deliberation,
        a: &Deliberation,
        c: &Deliberation,
        _m: &Deliberation,
    ) -> Result<(), Denied> {
        if b.status != a.status {
            still_follows("deliberation.status", b.status, a.status, c.status, step)?;
        }
        Ok(())
    }
}

/// The deliberation as its raising made it: proposed, its first options, nothing else.
fn fresh(a: &Deliberation) -> Deliberation {
    let raiser = &a.header.created_by;
    Deliberation {
        status: DeliberationStatus::Proposed,
        comments: Vec::new(),
        options: a.options.iter().filter(|o| &o.by == raiser).cloned().collect(),
        meetings: Vec::new(),
        decision: None,
        actions: Vec::new(),
        timeline: Vec::new(),
        ..a.clone()
    }
}

fn deliberation(p: &Profile, b: &Deliberation, a: &Deliberation) -> Result<(), Denied> {
    let scope = &a.header.scope;
    let is_staff = staff(p, scope);
    if (&b.topic, &b.background) != (&a.topic, &a.background) {
        return Err(Denied::new(
            "deliberation.topic",
            "a deliberation's topic and background are fixed when it is raised",
        ));
    }
    let comments = appended(
        "deliberation.comments",
        &b.comments,
        &a.comments,
        |c| c.id.clone(),
        |c| Some(c.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    let options = appended(
        "deliberation.options",
        &b.options,
        &a.options,
        |o| o.id.clone(),
        |o| Some(o.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    let said = !(comments.is_empty() && options.is_empty());
    if said && !discusses(p) {
        return Err(Denied::new(
            "deliberation.discuss",
            format!("a {} does not take part in this deliberation", p.role),
        ));
    }
    // As the author saw it: the discussion closes with the deliberation, options with the
    // decision (the commands refuse both; a forged change is refused here).
    use DeliberationStatus as S;
    if !comments.is_empty() && matches!(b.status, S::Implemented | S::Dropped) {
        return Err(Denied::new(
            "deliberation.comments",
            format!("the deliberation is {}", b.status),
        ));
    }
    if !options.is_empty() && matches!(b.status, S::Decided | S::Implemented | S::Dropped) {
        return Err(Denied::new(
            "deliberation.options",
            format!("the deliberation is {}", b.status),
        ));
    }
    meetings(p, b, a, is_staff)?;
    if b.status != a.status {
        if !reachable(DeliberationStatus::ALL, b.status, a.status, step) {
            return Err(Denied::new(
                "deliberation.status",
                format!("a deliberation does not go from {} to {}", b.status, a.status),
            ));
        }
        let raiser_drops = a.status == DeliberationStatus::Dropped
            && b.status == DeliberationStatus::Proposed
            && a.header.created_by == p.user;
        if !(is_staff || raiser_drops) {
            return Err(Denied::new(
                "deliberation.status",
                format!(
                    "only the grid leaders and dispatchers of {scope} take a deliberation from {} \
                     to {}",
                    b.status, a.status
                ),
            ));
        }
    }
    if b.decision != a.decision {
        let first = b.decision.is_none() && a.decision.as_ref().is_some_and(|d| d.by == p.user);
        if !(first && is_staff) {
            return Err(Denied::new(
                "deliberation.decision",
                "the grid leaders and dispatchers of its scope record a decision, once, in their \
                 own name",
            ));
        }
    }
    let actions = appended(
        "deliberation.actions",
        &b.actions,
        &a.actions,
        |x| x.id.clone(),
        |x| Some(x.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    if !actions.is_empty() && !is_staff {
        return Err(Denied::new(
            "deliberation.actions",
            "the grid leaders and dispatchers of its scope add follow-up actions",
        ));
    }
    timeline(p, scope, &b.timeline, &a.timeline)
}

/// Meetings: scheduled (appended) and recorded by the staff; their time, place and scheduler
/// fixed; attendance recorded once; minutes edited by the staff and those who attended.
fn meetings(p: &Profile, b: &Deliberation, a: &Deliberation, is_staff: bool) -> Result<(), Denied> {
    let fixed =
        |x: &Meeting, y: &Meeting| (&x.id, x.at, &x.place, &x.by) == (&y.id, y.at, &y.place, &y.by);
    let new = appended(
        "deliberation.meetings",
        &b.meetings,
        &a.meetings,
        |m| m.id.clone(),
        |m| Some(m.by.as_str()),
        fixed,
        &p.user,
    )?;
    if !new.is_empty() && !is_staff {
        return Err(Denied::new(
            "deliberation.meetings",
            format!(
                "only the grid leaders and dispatchers of {} schedule meetings",
                a.header.scope
            ),
        ));
    }
    for m in &a.meetings {
        let was = b.meeting(&m.id);
        let attendance_was = was.map(|w| (w.held, &w.attendees));
        if attendance_was.is_some_and(|w| w != (m.held, &m.attendees)) || (was.is_none() && m.held)
        {
            if !is_staff {
                return Err(Denied::new(
                    "deliberation.meetings",
                    "only the grid leaders and dispatchers of its scope record who attended",
                ));
            }
            if was.is_some_and(|w| w.held) {
                return Err(Denied::new(
                    "deliberation.meetings",
                    format!("the attendance of meeting {} was recorded already", m.id),
                ));
            }
        }
        let minutes_were = was.map_or("", |w| w.minutes.as_str());
        if minutes_were != m.minutes {
            let attended =
                m.attendees.contains(&p.user) && was.is_some_and(|w| w.attendees.contains(&p.user));
            if !(is_staff || attended) {
                return Err(Denied::new(
                    "deliberation.minutes",
                    format!(
                        "{} may not edit these minutes: the staff of its scope and those who \
                         attended do",
                        p.user
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::{ActorId, AutoCommit};

    use super::*;
    use crate::DocId;
    use crate::model::command::{apply, create};
    use crate::model::{
        Command, DecisionMethod, NewDeliberation, NewRecord, Record, Stamp, read_record,
    };
    use crate::policy::{can_read, check_change, check_now};
    use crate::time::Timestamp;

    const STREET: &str = "jl/cc/street-1";
    const GRID: &str = "jl/cc/street-1/grid-7";
    const AT: i64 = 1_700_000_000_000;

    fn profile(user: &str, role: Role, scope: &str) -> Profile {
        Profile { user: user.into(), role, patrol: None, scopes: vec![scope.into()] }
    }

    fn stamp(by: &str) -> Stamp {
        Stamp { by: by.into(), at: AT }
    }

    fn raised(by: &str) -> (DocId, AutoCommit) {
        let new = NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: GRID.into(),
                topic: "小区停车位划线".into(),
                background: String::new(),
                options: vec!["划线".into()],
            },
        };
        create(&new, &stamp(by), ActorId::random()).expect("raise")
    }

    /// Runs `cmd` as `by` on `doc`: (before, after).
    fn run(doc: &mut AutoCommit, id: DocId, by: &str, cmd: Command) -> (Record, Record) {
        let before = read_record(doc, id).expect("before");
        apply(doc, id, &stamp(by), &cmd).expect("applies");
        (before, read_record(doc, id).expect("after"))
    }

    fn rule(p: &Profile, b: &Record, a: &Record) -> Result<(), &'static str> {
        check_change(p, Some(b), a).map_err(|d| d.rule)
    }

    fn schedule() -> Command {
        Command::ScheduleMeeting {
            at: Timestamp::from_millis(AT + 3_600_000),
            place: "居委会".into(),
        }
    }

    #[test]
    fn residents_and_grid_leaders_raise_in_their_scope_others_do_not() {
        let (id, doc) = raised("res-1");
        let new = read_record(&doc, id).expect("read");
        assert!(check_change(&profile("res-1", Role::Resident, GRID), None, &new).is_ok());
        let (id, by_leader) = raised("gl-1");
        let led = read_record(&by_leader, id).expect("read");
        assert!(check_change(&profile("gl-1", Role::GridLeader, STREET), None, &led).is_ok());
        for role in [Role::Dispatcher, Role::Patrol, Role::Mediator, Role::Admin, Role::Supervisor]
        {
            let denied = check_change(&profile("res-1", role, GRID), None, &new);
            assert_eq!(denied.map_err(|d| d.rule), Err("create"), "{role}");
        }
        let elsewhere = profile("res-1", Role::Resident, "jl/cc/street-1/grid-8");
        assert_eq!(check_change(&elsewhere, None, &new).map_err(|d| d.rule), Err("create.scope"));
    }

    #[test]
    fn the_access_matrix_for_reading() {
        let (id, doc) = raised("res-1");
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        // (who, role, scope, reads): every cell written out.
        let cells: &[(&str, Role, &str, bool)] = &[
            ("res-2", Role::Resident, GRID, true),
            ("res-3", Role::Resident, STREET, true),
            ("res-4", Role::Resident, "jl/cc/street-1/grid-8", false),
            ("res-1", Role::Resident, "jl/elsewhere", true),
            ("gl-1", Role::GridLeader, GRID, true),
            ("gl-2", Role::GridLeader, "jl/cc", true),
            ("gl-3", Role::GridLeader, "jl/cc/street-2", false),
            ("disp-1", Role::Dispatcher, "jl/cc", true),
            ("disp-2", Role::Dispatcher, "jl/cc/street-1/grid-7/building-3", false),
            ("adm-1", Role::Admin, "jl", true),
            ("adm-2", Role::Admin, "jl/other", false),
            ("sup-1", Role::Supervisor, STREET, true),
            ("sup-2", Role::Supervisor, "jl/other", false),
            ("p-1", Role::Patrol, GRID, false),
            ("med-1", Role::Mediator, GRID, false),
        ];
        for (user, role, scope, reads) in cells {
            assert_eq!(can_read(&profile(user, *role, scope), &a), *reads, "{user} {role} {scope}");
        }
    }

    #[test]
    fn only_the_staff_of_its_scope_schedule_decide_and_implement() {
        let (id, mut doc) = raised("res-1");
        let resident = profile("res-1", Role::Resident, GRID);
        let leader = profile("gl-1", Role::GridLeader, GRID);
        let other_leader = profile("gl-9", Role::GridLeader, "jl/cc/street-1/grid-8");
        let (b, a) = run(&mut doc.fork(), id, "res-1", schedule());
        assert_eq!(rule(&resident, &b, &a), Err("deliberation.meetings"));
        let (b, a) = run(&mut doc.fork(), id, "gl-9", schedule());
        assert_eq!(rule(&other_leader, &b, &a), Err("read"));
        let (b, a) = run(&mut doc, id, "gl-1", schedule());
        assert_eq!(rule(&leader, &b, &a), Ok(()));
        let Record::Deliberation { deliberation: d } = &a else { panic!("a deliberation") };
        let meeting = d.meetings[0].id.clone();
        let held = || Command::RecordMeeting {
            meeting: meeting.clone(),
            attendees: vec!["res-1".into(), "res-2".into()],
        };
        let (b, a) = run(&mut doc.fork(), id, "res-1", held());
        assert_eq!(rule(&resident, &b, &a), Err("deliberation.meetings"));
        let (b, a) = run(&mut doc, id, "disp-1", held());
        assert_eq!(rule(&profile("disp-1", Role::Dispatcher, "jl/cc"), &b, &a), Ok(()));
        let decide = || Command::RecordDecision {
            text: "划线".into(),
            method: DecisionMethod::Consensus,
            votes: vec![],
        };
        let (b, a) = run(&mut doc.fork(), id, "res-1", decide());
        assert_eq!(rule(&resident, &b, &a), Err("deliberation.status"));
        let (b, a) = run(&mut doc, id, "gl-1", decide());
        assert_eq!(rule(&leader, &b, &a), Ok(()));
        let act = || Command::AddFollowUpAction { text: "联系物业".into() };
        let (b, a) = run(&mut doc.fork(), id, "res-1", act());
        assert_eq!(rule(&resident, &b, &a), Err("deliberation.actions"));
        let (b, a) = run(&mut doc, id, "gl-1", act());
        assert_eq!(rule(&leader, &b, &a), Ok(()));
        let done = || Command::MarkImplemented { note: String::new() };
        let (b, a) = run(&mut doc.fork(), id, "res-2", done());
        assert_eq!(
            rule(&profile("res-2", Role::Resident, GRID), &b, &a),
            Err("deliberation.status")
        );
        let (b, a) = run(&mut doc, id, "gl-1", done());
        assert_eq!(rule(&leader, &b, &a), Ok(()));
    }

    #[test]
    fn readers_discuss_in_their_own_name_and_the_raiser_drops_only_a_proposal() {
        let (id, mut doc) = raised("res-1");
        let comment = || Command::CommentDeliberation { text: "支持".into() };
        let (b, a) = run(&mut doc.fork(), id, "res-2", comment());
        assert_eq!(rule(&profile("res-2", Role::Resident, STREET), &b, &a), Ok(()));
        // The same comment claimed by someone else: it is signed res-2.
        assert_eq!(
            rule(&profile("res-3", Role::Resident, GRID), &b, &a),
            Err("deliberation.comments")
        );
        let adm = profile("adm-1", Role::Admin, "jl");
        let (b, a) = run(&mut doc.fork(), id, "adm-1", comment());
        assert_eq!(rule(&adm, &b, &a), Err("deliberation.discuss"));
        let (b, a) =
            run(&mut doc.fork(), id, "res-2", Command::ProposeOption { text: "不划线".into() });
        assert_eq!(rule(&profile("res-2", Role::Resident, GRID), &b, &a), Ok(()));
        let drop = || Command::DropDeliberation { reason: "已解决".into() };
        let (b, a) = run(&mut doc.fork(), id, "res-1", drop());
        assert_eq!(rule(&profile("res-1", Role::Resident, GRID), &b, &a), Ok(()));
        let (b, a) = run(&mut doc.fork(), id, "res-2", drop());
        assert_eq!(
            rule(&profile("res-2", Role::Resident, GRID), &b, &a),
            Err("deliberation.status")
        );
        run(&mut doc, id, "gl-1", schedule());
        let (b, a) = run(&mut doc.fork(), id, "res-1", drop());
        assert_eq!(
            rule(&profile("res-1", Role::Resident, GRID), &b, &a),
            Err("deliberation.status")
        );
        let (b, a) = run(&mut doc, id, "gl-1", drop());
        assert_eq!(rule(&profile("gl-1", Role::GridLeader, GRID), &b, &a), Ok(()));
    }

    #[test]
    fn a_forged_comment_on_a_dropped_deliberation_is_refused() {
        let (id, mut doc) = raised("res-1");
        run(&mut doc, id, "gl-1", Command::DropDeliberation { reason: "重复".into() });
        let before = read_record(&doc, id).expect("before");
        // What the command refuses, written by hand: a comment appended anyway.
        let list = match automerge::ReadDoc::get(&doc, automerge::ROOT, "comments") {
            Ok(Some((_, list))) => list,
            other => panic!("no comments list: {other:?}"),
        };
        let fields = vec![
            ("id", "forged".into()),
            ("at", automerge::ScalarValue::Timestamp(AT)),
            ("by", "res-2".into()),
            ("text", "还要讨论".into()),
        ];
        crate::model::doc::append_map(&mut doc, &list, fields).expect("append");
        let after = read_record(&doc, id).expect("after");
        let resident = profile("res-2", Role::Resident, GRID);
        assert_eq!(rule(&resident, &before, &after), Err("deliberation.comments"));
    }

    #[test]
    fn the_staff_and_the_attendees_edit_minutes_nobody_else() {
        let (id, mut doc) = raised("res-1");
        let (_, a) = run(&mut doc, id, "gl-1", schedule());
        let Record::Deliberation { deliberation: d } = &a else { panic!("a deliberation") };
        let meeting = d.meetings[0].id.clone();
        let record =
            Command::RecordMeeting { meeting: meeting.clone(), attendees: vec!["res-2".into()] };
        run(&mut doc, id, "gl-1", record);
        let edit = || Command::EditMinutes {
            meeting: meeting.clone(),
            pos: 0,
            delete: 0,
            insert: "同意".into(),
        };
        let (b, a) = run(&mut doc.fork(), id, "res-2", edit());
        assert_eq!(rule(&profile("res-2", Role::Resident, GRID), &b, &a), Ok(()), "an attendee");
        let (b, a) = run(&mut doc.fork(), id, "res-3", edit());
        assert_eq!(
            rule(&profile("res-3", Role::Resident, GRID), &b, &a),
            Err("deliberation.minutes"),
            "a resident who did not attend"
        );
        let (b, a) = run(&mut doc.fork(), id, "gl-1", edit());
        assert_eq!(rule(&profile("gl-1", Role::GridLeader, GRID), &b, &a), Ok(()));
    }

    #[test]
    fn a_step_someone_else_overtook_is_stale_but_the_same_state_is_not() {
        let (id, mut doc) = raised("res-1");
        let leader = profile("gl-1", Role::GridLeader, GRID);
        let (b, a) = run(&mut doc.fork(), id, "gl-1", schedule());
        let mut server = doc.fork().with_actor(ActorId::random());
        let reason = Command::DropDeliberation { reason: "合并到另一议题".into() };
        apply(&mut server, id, &stamp("disp-1"), &reason).expect("drop");
        let current = read_record(&server, id).expect("current");
        let stale = check_now(&leader, &b, &a, &current, &current).map_err(|d| d.rule);
        assert_eq!(stale, Err("deliberation.status"));
        let (b, a) = run(&mut doc, id, "gl-1", Command::DropDeliberation { reason: "x".into() });
        assert!(check_now(&leader, &b, &a, &current, &current).is_ok());
    }
}
