//! The rules by role and scope: who may create which kind where, who may read what, and which
//! workflow steps each person may take.

use super::{Denied, Profile, Role};
use crate::model::{Addressee, Kind, KindSpec, Record, on_kind};

/// Who may read, create and change a record kind: implemented by each kind's typed record, in
/// the policy module named after the kind.
pub(crate) trait KindRules: KindSpec {
    /// Whether `p` may read a record of the kind with audience `a`, `in_scope` saying whether
    /// its scope is one of `p`'s or below one. Not asked of the system device (it reads
    /// everything) nor of a supervisor (everything in scope).
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool;
    /// Whether `p`'s role may create a record of the kind (the scope is checked for every kind).
    fn may_create(p: &Profile) -> bool;
    /// Checks that `p` may turn `before` (`None`: the record is being created) into `after`;
    /// the header, authorship and the right to read or create are checked already.
    fn check(p: &Profile, before: Option<&Self>, after: &Self) -> Result<(), Denied>;
    /// Checks that `p` still holds, on `current` (the record as it stands now), the rights the
    /// change from `before` to `after` uses; `merged` is `current` with the change.
    fn check_now(
        p: &Profile,
        before: &Self,
        after: &Self,
        current: &Self,
        merged: &Self,
    ) -> Result<(), Denied>;
}

/// What decides who may read a record: its kind, scope, creator and the people it names
/// (a report's assignee, a patrol's team, a case's mediators), and for a bulletin who it is
/// addressed to and until when it is in force.
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
    /// Who a bulletin is addressed to (empty for the other kinds).
    pub addressed: Vec<Addressee>,
    /// When a bulletin's validity ends, ms (`None` for the other kinds): a device enrolled
    /// after it is not sent the bulletin (see [`delivered`]).
    pub until: Option<i64>,
}

impl Audience {
    /// The audience of a record as read.
    pub fn of(record: &Record) -> Audience {
        let h = record.header();
        let (addressed, until) = match record {
            Record::Bulletin { bulletin: b } => {
                (b.audience.clone(), Some(b.valid_until.as_millis()))
            }
            _ => (Vec::new(), None),
        };
        Audience {
            kind: h.kind,
            scope: h.scope.clone(),
            created_by: h.created_by.clone(),
            participants: record.participants(),
            addressed,
            until,
        }
    }

    /// An audience of a kind that names nobody and is addressed to nobody in particular.
    pub fn plain(kind: Kind, scope: impl Into<String>, created_by: impl Into<String>) -> Audience {
        Audience {
            kind,
            scope: scope.into(),
            created_by: created_by.into(),
            participants: Vec::new(),
            addressed: Vec::new(),
            until: None,
        }
    }

    /// Whether the record names `user` (as its assignee, a team member, a mediator, ...).
    pub(crate) fn names(&self, user: &str) -> bool {
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
    match p.role {
        Role::System => true,
        Role::Supervisor => in_scope,
        _ => on_kind!(a.kind, K => K::may_read(p, a, in_scope)),
    }
}

/// Whether a device enrolled at `enrolled_at` (ms) is sent a record with this audience that its
/// user may read: every record, except a bulletin whose validity ended before the device
/// enrolled (a phone enrolled today is not sent last month's warnings).
pub fn delivered(a: &Audience, enrolled_at: i64) -> bool {
    a.until.is_none_or(|until| until >= enrolled_at)
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
    if !on_kind!(kind, K => K::may_create(p)) {
        return Err(Denied::new("create", format!("a {} may not create a {kind}", p.role)));
    }
    if !p.covers(scope) {
        return Err(Denied::new("create.scope", format!("{scope} is outside {}'s scopes", p.user)));
    }
    Ok(())
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
