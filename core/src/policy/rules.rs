//! The rules by role and scope: who may create which kind where, who may read what, and which
//! workflow steps each person may take.

use super::{Denied, Profile, Role};
use crate::model::{CaseStatus, Kind, Record, ReportStatus};

/// What decides who may read a record: its kind, scope, creator and the people it names
/// (a report's assignee, a patrol's team, a case's mediators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The record's kind.
    pub kind: Kind,
    /// Its scope.
    pub scope: String,
    /// Its creator.
    pub created_by: String,
    /// People it names: assignee, team members, mediators.
    pub participants: Vec<String>,
}

impl Audience {
    /// The audience of a record as read.
    pub fn of(record: &Record) -> Audience {
        let h = record.header();
        let participants = match record {
            Record::Report { report: r } => r.assignee.iter().cloned().collect(),
            Record::PatrolLog { patrol_log: p } => {
                p.members.iter().map(|m| m.user.clone()).collect()
            }
            Record::MediationCase { mediation_case: c } => c.mediators.clone(),
        };
        Audience {
            kind: h.kind,
            scope: h.scope.clone(),
            created_by: h.created_by.clone(),
            participants,
        }
    }

    fn names(&self, user: &str) -> bool {
        self.participants.iter().any(|p| p == user)
    }
}

/// Whether `p` may read a record with this audience.
///
/// Mediation cases (parties' names, what they said) are for mediators and dispatchers of their
/// scope and the mediators they name: never residents, patrols, grid leaders or admins. A
/// resident reads only their own reports.
pub fn can_read(p: &Profile, a: &Audience) -> bool {
    let in_scope = p.covers(&a.scope);
    match (a.kind, p.role) {
        (_, Role::System) => true,
        (_, Role::Supervisor) => in_scope,
        (Kind::MediationCase, Role::Mediator) => in_scope || a.names(&p.user),
        (Kind::MediationCase, Role::Dispatcher) => in_scope,
        (Kind::MediationCase, _) => false,
        (_, Role::Dispatcher | Role::Admin) => in_scope,
        (Kind::Report, Role::Resident | Role::Mediator) => {
            a.created_by == p.user || a.names(&p.user)
        }
        (Kind::Report, Role::GridLeader | Role::Patrol) => in_scope || a.names(&p.user),
        (Kind::PatrolLog, Role::Patrol | Role::GridLeader) => in_scope || a.names(&p.user),
        (Kind::PatrolLog, Role::Resident | Role::Mediator) => false,
    }
}

/// Whether `p` may add a timeline event with this action to a record of `scope`: supervision
/// (`supervise`) is the command centre's and the supervisor's, an overdue escalation
/// (`escalate`) the server's own system device's, and those two roles add nothing else.
pub(crate) fn timeline_action(p: &Profile, scope: &str, action: &str) -> bool {
    match action {
        SUPERVISE => {
            p.covers(scope)
                && matches!(p.role, Role::Dispatcher | Role::GridLeader | Role::Supervisor)
        }
        ESCALATE => p.role == Role::System,
        _ => !matches!(p.role, Role::Supervisor | Role::System),
    }
}

/// The timeline action of a supervision (督办).
pub const SUPERVISE: &str = "supervise";
/// The timeline action of an overdue escalation by the server's system device.
pub const ESCALATE: &str = "escalate";

/// Whether `p` may create a record of `kind` in `scope`.
pub fn can_create(p: &Profile, kind: Kind, scope: &str) -> Result<(), Denied> {
    let allowed = match kind {
        Kind::Report => matches!(
            p.role,
            Role::Resident | Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin
        ),
        Kind::PatrolLog => matches!(p.role, Role::Patrol | Role::Dispatcher),
        Kind::MediationCase => matches!(p.role, Role::Mediator | Role::Dispatcher),
    };
    if !allowed {
        return Err(Denied::new("create", format!("a {} may not create a {kind}", p.role)));
    }
    if !p.covers(scope) {
        return Err(Denied::new("create.scope", format!("{scope} is outside {}'s scopes", p.user)));
    }
    Ok(())
}

/// Whether `p` may move a report from `from` to `to` in one workflow step.
pub(crate) fn report_step(
    p: &Profile,
    r: &crate::model::Report,
    from: ReportStatus,
    to: ReportStatus,
) -> bool {
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

/// Whether `p` may write to a mediation case at all.
pub(crate) fn case_writer(p: &Profile, c: &crate::model::MediationCase) -> bool {
    match p.role {
        Role::Dispatcher => p.covers(&c.header.scope),
        Role::Mediator => p.covers(&c.header.scope) || c.mediators.contains(&p.user),
        _ => false,
    }
}

/// Whether `p` may move a case from `from` to `to` in one workflow step.
pub(crate) fn case_step(from: CaseStatus, to: CaseStatus) -> bool {
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

/// Whether `p` may append to or finish a patrol log.
pub(crate) fn patrol_writer(p: &Profile, l: &crate::model::PatrolLog) -> bool {
    let member = l.members.iter().any(|m| m.user == p.user);
    let in_scope = p.covers(&l.header.scope);
    member || (in_scope && matches!(p.role, Role::Patrol | Role::Dispatcher))
}

/// Whether some chain of steps, each allowed by `step`, leads from `from` to `to`.
pub(crate) fn reachable<S: Copy + Eq>(
    all: &[S],
    from: S,
    to: S,
    step: impl Fn(S, S) -> bool,
) -> bool {
    let mut seen = vec![from];
    let mut frontier = vec![from];
    while let Some(s) = frontier.pop() {
        if s == to {
            return true;
        }
        for &n in all {
            if !seen.contains(&n) && step(s, n) {
                seen.push(n);
                frontier.push(n);
            }
        }
    }
    false
}
