//! Who may read, create and change a patrol log: the team and the patrols and dispatchers of
//! its scope append entries and finish it; its area, team and route are fixed at the start.

use super::diff::{appended, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules};
use super::{Denied, Profile, Role};
use crate::model::{PatrolEntry, PatrolLog, PatrolStatus};

impl KindRules for PatrolLog {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Dispatcher | Role::Admin => in_scope,
            Role::Patrol | Role::GridLeader => in_scope || a.names(&p.user),
            Role::Resident
            | Role::Mediator
            | Role::Supervisor
            | Role::System
            | Role::BusinessOperator => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        matches!(p.role, Role::Patrol | Role::Dispatcher)
    }

    fn check(p: &Profile, before: Option<&PatrolLog>, after: &PatrolLog) -> Result<(), Denied> {
        match before {
            Some(b) => patrol(p, b, after),
            None => patrol(p, &fresh_patrol(after), after),
        }
    }

    fn check_now(
        _p: &Profile,
        b: &PatrolLog,
        a: &PatrolLog,
        c: &PatrolLog,
        _m: &PatrolLog,
    ) -> Result<(), Denied> {
        if (b.status, b.ended_at) != (a.status, a.ended_at) {
            still_follows("patrol.status", b.status, a.status, c.status, |f, t| {
                f == PatrolStatus::Active && t == PatrolStatus::Finished
            })?;
        }
        Ok(())
    }
}

/// Whether `p` may append to or finish a patrol log.
fn patrol_writer(p: &Profile, l: &PatrolLog) -> bool {
    let member = l.members.iter().any(|m| m.user == p.user);
    let in_scope = p.covers(&l.header.scope);
    member || (in_scope && matches!(p.role, Role::Patrol | Role::Dispatcher))
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
    let same_but_photos = |x: &PatrolEntry, y: &PatrolEntry| {
        let keep = x.photos.iter().all(|ph| y.photos.contains(ph));
        keep && PatrolEntry { photos: Vec::new(), ..x.clone() }
            == PatrolEntry { photos: Vec::new(), ..y.clone() }
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
