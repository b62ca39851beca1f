//! Who may read, record and change a business visit. Those who keep the business registry
//! (police patrol members, grid leaders, dispatchers, admins: `keeps_businesses`) record and
//! change visits in their scopes; the registry's readers (every patrol member, and supervisors
//! as everywhere) read those of their scopes, and a patrol member named as a visitor reads it
//! too. A business's operator reads the visits to their business (whose own scope is theirs)
//! and changes nothing. Results, findings and visitors only grow, each signed by its author;
//! the checklist and the business never change; a closed visit takes nothing more.

use super::businesses::keeps_businesses;
use super::diff::{appended, appended_photos, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules};
use super::{Denied, Profile, Role};
use crate::model::{Visit, VisitStatus};

impl KindRules for Visit {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Dispatcher | Role::GridLeader | Role::Admin => in_scope,
            Role::Patrol => in_scope || a.names(&p.user),
            // Their one scope is their business's own place; a visit is read only there, never
            // below (no record lives below a business).
            Role::BusinessOperator => p.scopes.contains(&a.scope),
            Role::Resident | Role::Mediator | Role::Supervisor | Role::System => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        keeps_businesses(p)
    }

    fn check(p: &Profile, before: Option<&Visit>, after: &Visit) -> Result<(), Denied> {
        match before {
            Some(b) => visit(p, b, after),
            None => visit(p, &fresh(after), after),
        }
    }

    fn check_now(_p: &Profile, b: &Visit, a: &Visit, c: &Visit, _m: &Visit) -> Result<(), Denied> {
        if b.status != a.status {
            // Closing a visit someone else closed meanwhile reaches the same state.
            still_follows("visit.status", b.status, a.status, c.status, |f, t| {
                f == VisitStatus::Open && t == VisitStatus::Closed
            })?;
        }
        // Results and findings made while someone else closed the visit were made on an open
        // visit: they stay (merely concurrent), as a patrol's entries do.
        Ok(())
    }
}

/// Whether `p` keeps visits in `scope`.
fn keeps(p: &Profile, scope: &str) -> bool {
    keeps_businesses(p) && p.covers(scope)
}

/// The visit as its creation made it: the header and what creation writes, nothing appended.
fn fresh(a: &Visit) -> Visit {
    Visit {
        visitors: Vec::new(),
        results: Vec::new(),
        findings: Vec::new(),
        follow_up: String::new(),
        follow_up_deadline: None,
        status: VisitStatus::Open,
        timeline: Vec::new(),
        ..a.clone()
    }
}

fn visit(p: &Profile, b: &Visit, a: &Visit) -> Result<(), Denied> {
    if b == a {
        return Ok(());
    }
    if !keeps(p, &a.header.scope) {
        return Err(Denied::new(
            "visit.edit",
            format!("a {} does not record visits in {}", p.role, a.header.scope),
        ));
    }
    if (&b.business, &b.checklist) != (&a.business, &a.checklist) {
        return Err(Denied::new(
            "visit.content",
            "the business and the checklist of a visit never change",
        ));
    }
    if a.visitors.len() < b.visitors.len() || !b.visitors.iter().all(|v| a.visitors.contains(v)) {
        return Err(Denied::new("visit.visitors", "visitors may only be added"));
    }
    let results = appended(
        "visit.results",
        &b.results,
        &a.results,
        |x| x.id.clone(),
        |x| Some(x.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    let findings = appended(
        "visit.findings",
        &b.findings,
        &a.findings,
        |x| x.id.clone(),
        |x| Some(x.by.as_str()),
        |x, y| (&x.text, &x.at, &x.by) == (&y.text, &y.at, &y.by),
        &p.user,
    )?;
    for f in &b.findings {
        if let Some(now) = a.findings.iter().find(|x| x.id == f.id) {
            appended_photos("visit.photos", &f.photos, &now.photos, &p.user)?;
        }
    }
    let follow_up_changed =
        (&b.follow_up, b.follow_up_deadline) != (&a.follow_up, a.follow_up_deadline);
    if b.status != a.status && !(b.status == VisitStatus::Open && a.status == VisitStatus::Closed) {
        return Err(Denied::new("visit.status", "a visit is closed once, never reopened"));
    }
    // As the author saw it: nothing is added to a visit they knew was closed.
    let added = !results.is_empty()
        || !findings.is_empty()
        || follow_up_changed
        || a.visitors.len() != b.visitors.len();
    if b.status == VisitStatus::Closed && added {
        return Err(Denied::new("visit.closed", "the visit is closed"));
    }
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)
}

#[cfg(test)]
mod tests {
    use automerge::{ActorId, AutoCommit};

    use super::*;
    use crate::DocId;
    use crate::model::command::{apply, create};
    use crate::model::{
        CheckOutcome, Command, NewCheck, NewRecord, NewVisit, Record, Stamp, business_scope,
        read_record,
    };
    use crate::policy::{PatrolKind, can_read, check_change, check_now};

    const AREA: &str = "jl/cc/scenic-1";
    const AT: i64 = 1_700_000_000_000;

    fn profile(user: &str, role: Role, scope: &str) -> Profile {
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        Profile { user: user.into(), role, patrol, scopes: vec![scope.into()] }
    }

    fn stamp(by: &str) -> Stamp {
        Stamp { by: by.into(), at: AT }
    }

    fn recorded(business: &str) -> (DocId, AutoCommit) {
        let new = NewRecord::Visit {
            visit: NewVisit {
                business: business.into(),
                scope: business_scope(AREA, business),
                visitors: vec!["police-1".into()],
                checklist: vec!["fire_safety".into(), "hazards".into()],
                results: vec![NewCheck {
                    item: "fire_safety".into(),
                    result: CheckOutcome::Pass,
                    note: String::new(),
                }],
            },
        };
        create(&new, &stamp("police-1"), ActorId::random()).expect("record")
    }

    fn run(doc: &mut AutoCommit, id: DocId, by: &str, cmd: Command) -> (Record, Record) {
        let mut fork = doc.fork().with_actor(ActorId::random());
        let before = read_record(&fork, id).expect("before");
        apply(&mut fork, id, &stamp(by), &cmd).expect("applies");
        (before, read_record(&fork, id).expect("after"))
    }

    #[test]
    fn keepers_record_visits_in_their_scopes_and_nobody_else_does() {
        let (id, doc) = recorded("b1");
        let new = read_record(&doc, id).expect("read");
        assert!(check_change(&profile("police-1", Role::Patrol, AREA), None, &new).is_ok());
        let volunteer = Profile {
            patrol: Some(PatrolKind::Volunteer),
            ..profile("police-1", Role::Patrol, AREA)
        };
        assert_eq!(check_change(&volunteer, None, &new).map_err(|d| d.rule), Err("create"));
        let operator = profile("police-1", Role::BusinessOperator, &business_scope(AREA, "b1"));
        assert_eq!(check_change(&operator, None, &new).map_err(|d| d.rule), Err("create"));
        let elsewhere = profile("police-1", Role::GridLeader, "jl/cc/scenic-2");
        assert_eq!(check_change(&elsewhere, None, &new).map_err(|d| d.rule), Err("create.scope"));
    }

    #[test]
    fn the_operator_reads_the_visits_to_their_business_only() {
        let (id, doc) = recorded("b1");
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        let own = profile("op-1", Role::BusinessOperator, &business_scope(AREA, "b1"));
        let other = profile("op-2", Role::BusinessOperator, &business_scope(AREA, "b2"));
        let broad = profile("op-3", Role::BusinessOperator, AREA);
        assert!(can_read(&own, &a));
        assert!(!can_read(&other, &a), "another business's operator");
        assert!(!can_read(&broad, &a), "an operator whose scope is not the business's own");
        assert!(can_read(&profile("vol-1", Role::Patrol, AREA), &a));
        assert!(can_read(&profile("gl-1", Role::GridLeader, AREA), &a));
        assert!(can_read(&profile("sup-1", Role::Supervisor, "jl"), &a));
        assert!(!can_read(&profile("res-1", Role::Resident, AREA), &a));
        assert!(!can_read(&profile("med-1", Role::Mediator, AREA), &a));
        assert!(!can_read(&profile("gl-2", Role::GridLeader, "jl/cc/scenic-2"), &a));
    }

    #[test]
    fn keepers_add_results_and_findings_in_their_own_name_and_the_operator_changes_nothing() {
        let (id, mut doc) = recorded("b1");
        let police = profile("police-1", Role::Patrol, AREA);
        let check = || Command::RecordCheck {
            item: "hazards".into(),
            result: CheckOutcome::Fail,
            note: "灭火器过期".into(),
        };
        let (b, a) = run(&mut doc, id, "police-1", check());
        assert!(check_change(&police, Some(&b), &a).is_ok());
        let other = profile("gl-1", Role::GridLeader, AREA);
        assert_eq!(check_change(&other, Some(&b), &a).map_err(|d| d.rule), Err("visit.results"));
        let (b, a) = run(&mut doc, id, "op-1", check());
        let operator = profile("op-1", Role::BusinessOperator, &business_scope(AREA, "b1"));
        assert_eq!(check_change(&operator, Some(&b), &a).map_err(|d| d.rule), Err("visit.edit"));
        let finding = Command::AddFinding { text: "消防通道堵塞".into(), photos: vec![] };
        let (b, a) = run(&mut doc, id, "vol-1", finding);
        let volunteer =
            Profile { patrol: Some(PatrolKind::Volunteer), ..profile("vol-1", Role::Patrol, AREA) };
        assert_eq!(check_change(&volunteer, Some(&b), &a).map_err(|d| d.rule), Err("visit.edit"));
    }

    #[test]
    fn a_closed_visit_takes_nothing_more_and_closing_twice_is_the_same_state() {
        let (id, mut doc) = recorded("b1");
        let police = profile("police-1", Role::Patrol, AREA);
        let (b, a) = run(&mut doc, id, "police-1", Command::CloseVisit { note: String::new() });
        assert!(check_change(&police, Some(&b), &a).is_ok());
        let mut server = doc.fork().with_actor(ActorId::random());
        apply(&mut server, id, &stamp("gl-1"), &Command::CloseVisit { note: String::new() })
            .expect("close");
        let current = read_record(&server, id).expect("current");
        assert!(check_now(&police, &b, &a, &current, &current).is_ok());
    }
}
