//! Who may read, create and change a mediation case: its mediators, the mediators and the
//! dispatchers of its scope; never residents, patrols, grid leaders or admins.

use super::diff::{appended, appended_photos, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules, reachable};
use super::{Denied, Profile, Role};
use crate::model::{CaseStatus, MediationCase, Session};

impl KindRules for MediationCase {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Mediator => in_scope || a.names(&p.user),
            Role::Dispatcher => in_scope,
            _ => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        matches!(p.role, Role::Mediator | Role::Dispatcher)
    }

    fn check(
        p: &Profile,
        before: Option<&MediationCase>,
        after: &MediationCase,
    ) -> Result<(), Denied> {
        match before {
            Some(b) => case(p, b, after, false),
            None => case(p, &fresh_case(after), after, true),
        }
    }

    fn check_now(
        _p: &Profile,
        b: &MediationCase,
        a: &MediationCase,
        c: &MediationCase,
        _m: &MediationCase,
    ) -> Result<(), Denied> {
        if b.status != a.status {
            still_follows("case.status", b.status, a.status, c.status, case_step)?;
        }
        Ok(())
    }
}

/// Whether `p` may write to a mediation case at all.
fn case_writer(p: &Profile, c: &MediationCase) -> bool {
    match p.role {
        Role::Dispatcher => p.covers(&c.header.scope),
        Role::Mediator => p.covers(&c.header.scope) || c.mediators.contains(&p.user),
        _ => false,
    }
}

/// Whether `p` may move a case from `from` to `to` in one workflow step.
fn case_step(from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus as S;
    matches!(
        (from, to),
        (S::Intake, S::Mediating)
            | (S::Mediating, S::Agreed)
            | (S::Mediating, S::Failed)
            | (S::Mediating | S::Failed, S::Escalated)
            | (S::Agreed | S::Failed | S::Escalated, S::Closed)
    )
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
    let same_but_notes = |x: &Session, y: &Session| {
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
    appended_photos("case.photos", &b.photos, &a.photos, &p.user)?;
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)?;
    Ok(())
}
