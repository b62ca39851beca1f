//! Who may read, create and change a report: residents report, the command centre accepts,
//! dispatches and supervises, the assignee works and resolves, the reporter confirms.

use super::diff::{appended, appended_photos, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules, reachable};
use super::{Denied, Profile, Role};
use crate::model::{Report, ReportStatus};

impl KindRules for Report {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Dispatcher | Role::Admin => in_scope,
            Role::Resident | Role::Mediator => a.created_by == p.user || a.names(&p.user),
            Role::GridLeader | Role::Patrol => in_scope || a.names(&p.user),
            Role::Supervisor | Role::System | Role::BusinessOperator => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        matches!(
            p.role,
            Role::Resident | Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin
        )
    }

    fn check(p: &Profile, before: Option<&Report>, after: &Report) -> Result<(), Denied> {
        match before {
            Some(b) => report(p, b, after, None),
            None => report(p, &fresh_report(after), after, None),
        }
    }

    fn check_now(
        p: &Profile,
        b: &Report,
        a: &Report,
        c: &Report,
        m: &Report,
    ) -> Result<(), Denied> {
        // The rights a person holds by being named in the report are judged as they stand.
        report(p, b, a, Some(m))?;
        let moved = b.status != a.status
            || (&b.assignee, &b.deadline) != (&a.assignee, &a.deadline)
            || b.points != a.points;
        if moved {
            still_follows("report.status", b.status, a.status, c.status, |f, t| {
                report_step(p, m, f, t)
            })?;
        }
        Ok(())
    }
}

/// Whether `p` may move a report from `from` to `to` in one workflow step.
fn report_step(p: &Profile, r: &Report, from: ReportStatus, to: ReportStatus) -> bool {
    use ReportStatus as S;
    let in_scope = p.covers(&r.header.scope);
    let command_centre = in_scope && matches!(p.role, Role::Dispatcher | Role::GridLeader);
    let assignee = r.assignee.as_deref() == Some(p.user.as_str());
    let reporter = r.header.created_by == p.user;
    match (from, to) {
        (S::Submitted | S::Reopened, S::Accepted) => command_centre,
        (S::Submitted | S::Accepted | S::Reopened, S::Rejected) => command_centre,
        (S::Accepted | S::Reopened | S::Dispatched, S::Dispatched) => command_centre,
        (S::Dispatched, S::InProgress) | (S::InProgress, S::Resolved) => {
            assignee || (in_scope && p.role == Role::Dispatcher)
        }
        (S::Resolved, S::Confirmed) => reporter || (in_scope && p.role == Role::Dispatcher),
        (S::Resolved, S::Reopened) => reporter || command_centre,
        // A confirmed report found not fixed after all (a return visit): the points it earned
        // are given back (the server's ledger) until it is confirmed again.
        (S::Rejected | S::Confirmed, S::Reopened) => command_centre,
        _ => false,
    }
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
fn report(p: &Profile, b: &Report, a: &Report, now: Option<&Report>) -> Result<(), Denied> {
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
    let new_photos = appended_photos("report.photos", &b.photos, &a.photos, &p.user)?;
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
