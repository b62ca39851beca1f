//! Who may read, issue and acknowledge a warning bulletin. The police (patrol members who are
//! police), grid leaders and dispatchers issue them in their scopes; the staff of a scope (its
//! dispatchers, grid leaders, admins) read them all; patrols and residents read those addressed
//! to them whose scope is theirs, above or below it, and each acknowledges once, in their own
//! name. Nobody changes a bulletin after its issue: its issuer (or a dispatcher of its scope)
//! may only withdraw it or add photos.

use super::diff::{appended, appended_photos, timeline};
use super::now::still_follows;
use super::rules::{Audience, KindRules};
use super::{Denied, PatrolKind, Profile, Role, scope_covers};
use crate::model::{Addressee, Bulletin, BulletinStatus};

/// Whether one of `p`'s scopes is `scope`, inside it or around it: a warning to a scenic area
/// reaches the residents of its grids, and one to a grid the patrols of the whole area. A
/// business's operator is reached by a warning to the business's scope or one around it, not
/// by one to a grid beside or below the business.
fn reaches(p: &Profile, scope: &str) -> bool {
    if p.role == Role::BusinessOperator {
        return p.scopes.iter().any(|s| scope_covers(scope, s));
    }
    p.scopes.iter().any(|s| scope_covers(s, scope) || scope_covers(scope, s))
}

/// Who of `p`'s role the bulletin is addressed to, if any.
fn addressee(p: &Profile) -> Option<Addressee> {
    match p.role {
        Role::Patrol => Some(Addressee::Patrols),
        Role::Resident => Some(Addressee::Residents),
        Role::BusinessOperator => Some(Addressee::Businesses),
        _ => None,
    }
}

/// Whether a bulletin of `scope` by `issuer` to `addressed` is addressed to `p` (never to its
/// issuer).
fn addressed_to(p: &Profile, scope: &str, issuer: &str, addressed: &[Addressee]) -> bool {
    issuer != p.user
        && addressee(p).is_some_and(|who| addressed.contains(&who))
        && reaches(p, scope)
}

/// Whether the bulletin with audience `a` is addressed to `p`: whether `p` is one of those
/// who should acknowledge it (what the issuer's view of who has not is made of).
pub fn is_addressed(p: &Profile, a: &Audience) -> bool {
    a.kind == crate::model::Kind::Bulletin && addressed_to(p, &a.scope, &a.created_by, &a.addressed)
}

impl KindRules for Bulletin {
    fn may_read(p: &Profile, a: &Audience, in_scope: bool) -> bool {
        match p.role {
            Role::Dispatcher | Role::GridLeader | Role::Admin => in_scope || a.created_by == p.user,
            Role::Patrol | Role::Resident | Role::BusinessOperator => {
                a.created_by == p.user || addressed_to(p, &a.scope, &a.created_by, &a.addressed)
            }
            Role::Mediator | Role::Supervisor | Role::System => false,
        }
    }

    fn may_create(p: &Profile) -> bool {
        match p.role {
            Role::Dispatcher | Role::GridLeader => true,
            Role::Patrol => p.patrol == Some(PatrolKind::Police),
            _ => false,
        }
    }

    fn check(p: &Profile, before: Option<&Bulletin>, after: &Bulletin) -> Result<(), Denied> {
        match before {
            Some(b) => bulletin(p, b, after),
            None => bulletin(p, &fresh(after), after),
        }
    }

    fn check_now(
        _p: &Profile,
        b: &Bulletin,
        a: &Bulletin,
        c: &Bulletin,
        _m: &Bulletin,
    ) -> Result<(), Denied> {
        // An acknowledgement made before someone withdrew the bulletin is still a reader's:
        // merely concurrent. A withdrawal made twice reaches the same state.
        if b.status != a.status {
            still_follows("bulletin.status", b.status, a.status, c.status, |f, t| {
                f == BulletinStatus::Issued && t == BulletinStatus::Withdrawn
            })?;
        }
        Ok(())
    }
}

/// The bulletin as its issue made it: issued, acknowledged by nobody.
fn fresh(a: &Bulletin) -> Bulletin {
    Bulletin {
        status: BulletinStatus::Issued,
        acknowledgements: Vec::new(),
        timeline: Vec::new(),
        ..a.clone()
    }
}

fn bulletin(p: &Profile, b: &Bulletin, a: &Bulletin) -> Result<(), Denied> {
    let content = |x: &Bulletin| {
        (x.severity, x.audience.clone(), x.title.clone(), x.text.clone(), x.valid_until)
    };
    if content(b) != content(a) || b.location != a.location {
        return Err(Denied::new("bulletin.content", "a bulletin does not change after its issue"));
    }
    let issuer = a.header.created_by == p.user;
    let dispatcher = p.role == Role::Dispatcher && p.covers(&a.header.scope);
    let photos = appended_photos("bulletin.photos", &b.photos, &a.photos, &p.user)?;
    if !(photos.is_empty() || issuer || dispatcher) {
        return Err(Denied::new("bulletin.photos", "only the issuer adds photos to a bulletin"));
    }
    if b.status != a.status {
        let withdrawal =
            b.status == BulletinStatus::Issued && a.status == BulletinStatus::Withdrawn;
        if !(withdrawal && (issuer || dispatcher)) {
            return Err(Denied::new(
                "bulletin.status",
                "only its issuer or a dispatcher of its scope withdraws a bulletin, once",
            ));
        }
    }
    let acks = appended(
        "bulletin.acknowledgements",
        &b.acknowledgements,
        &a.acknowledgements,
        |x| x.id.clone(),
        |x| Some(x.by.as_str()),
        |x, y| x == y,
        &p.user,
    )?;
    if !acks.is_empty() {
        if !addressed_to(p, &a.header.scope, &a.header.created_by, &a.audience) {
            return Err(Denied::new(
                "bulletin.acknowledge",
                format!("the bulletin is not addressed to {}", p.user),
            ));
        }
        if acks.len() > 1 || b.acknowledged_by(&p.user) {
            return Err(Denied::new(
                "bulletin.acknowledge",
                format!("{} acknowledges a bulletin once", p.user),
            ));
        }
        // As the author saw it: an acknowledgement of a bulletin they knew was withdrawn.
        if b.status == BulletinStatus::Withdrawn {
            return Err(Denied::new("bulletin.acknowledge", "the bulletin was withdrawn"));
        }
    }
    timeline(p, &a.header.scope, &b.timeline, &a.timeline)
}

#[cfg(test)]
mod tests {
    use automerge::{ActorId, AutoCommit};

    use super::*;
    use crate::DocId;
    use crate::model::command::{apply, create};
    use crate::model::{Command, NewBulletin, NewRecord, Record, Severity, Stamp, read_record};
    use crate::policy::{can_read, check_change, check_now};
    use crate::time::Timestamp;

    const AREA: &str = "jl/cc/scenic-1";
    const AT: i64 = 1_700_000_000_000;

    fn profile(user: &str, role: Role, scope: &str) -> Profile {
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        Profile { user: user.into(), role, patrol, scopes: vec![scope.into()] }
    }

    fn stamp(by: &str) -> Stamp {
        Stamp { by: by.into(), at: AT }
    }

    fn issued(audience: Vec<Addressee>) -> (DocId, AutoCommit) {
        let new = NewRecord::Bulletin {
            bulletin: NewBulletin {
                scope: AREA.into(),
                severity: Severity::Red,
                audience,
                title: "落石".into(),
                text: "北坡步道落石，绕行".into(),
                valid_until: Timestamp::from_millis(AT + 3_600_000),
                location: None,
                photos: vec![],
            },
        };
        create(&new, &stamp("police-1"), ActorId::random()).expect("issue")
    }

    /// Runs `cmd` as `by` on a fork: (before, after).
    fn run(doc: &mut AutoCommit, id: DocId, by: &str, cmd: Command) -> (Record, Record) {
        let mut fork = doc.fork().with_actor(ActorId::random());
        let before = read_record(&fork, id).expect("before");
        apply(&mut fork, id, &stamp(by), &cmd).expect("applies");
        (before, read_record(&fork, id).expect("after"))
    }

    #[test]
    fn police_grid_leaders_and_dispatchers_issue_in_their_scopes() {
        let (id, doc) = issued(vec![Addressee::Patrols]);
        let new = read_record(&doc, id).expect("read");
        assert!(check_change(&profile("police-1", Role::Patrol, AREA), None, &new).is_ok());
        let volunteer = Profile {
            patrol: Some(PatrolKind::Volunteer),
            ..profile("police-1", Role::Patrol, AREA)
        };
        assert_eq!(check_change(&volunteer, None, &new).map_err(|d| d.rule), Err("create"));
        let resident = profile("police-1", Role::Resident, AREA);
        assert_eq!(check_change(&resident, None, &new).map_err(|d| d.rule), Err("create"));
        let elsewhere = profile("police-1", Role::Dispatcher, "jl/other");
        assert_eq!(check_change(&elsewhere, None, &new).map_err(|d| d.rule), Err("create.scope"));
    }

    #[test]
    fn recipients_read_what_is_addressed_to_them_around_their_scope() {
        let (id, doc) = issued(vec![Addressee::Residents]);
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        let grid = "jl/cc/scenic-1/grid-3";
        assert!(can_read(&profile("res-1", Role::Resident, grid), &a), "below the area");
        assert!(can_read(&profile("res-2", Role::Resident, "jl/cc"), &a), "above the area");
        assert!(!can_read(&profile("res-3", Role::Resident, "jl/cc/scenic-2"), &a));
        assert!(!can_read(&profile("p-1", Role::Patrol, grid), &a), "not addressed");
        assert!(can_read(&profile("police-1", Role::Patrol, "jl/other"), &a), "its issuer");
        assert!(can_read(&profile("gl-1", Role::GridLeader, AREA), &a));
        assert!(!can_read(&profile("gl-2", Role::GridLeader, grid), &a), "staff by scope");
        assert!(can_read(&profile("disp-1", Role::Dispatcher, "jl"), &a));
        assert!(!can_read(&profile("med-1", Role::Mediator, AREA), &a));
    }

    #[test]
    fn a_recipient_acknowledges_once_in_their_own_name_and_changes_nothing_else() {
        let (id, mut doc) = issued(vec![Addressee::Patrols, Addressee::Residents]);
        let patrol = profile("p-1", Role::Patrol, AREA);
        let (b, a) = run(&mut doc, id, "p-1", Command::AcknowledgeBulletin);
        assert!(check_change(&patrol, Some(&b), &a).is_ok());
        // The same acknowledgement claimed by another user: signed p-1.
        let other = profile("p-2", Role::Patrol, AREA);
        assert_eq!(
            check_change(&other, Some(&b), &a).map_err(|d| d.rule),
            Err("bulletin.acknowledgements")
        );
        // Readers it is not addressed to may not acknowledge it.
        for (user, role) in [("gl-1", Role::GridLeader), ("disp-1", Role::Dispatcher)] {
            let (b, a) = run(&mut doc, id, user, Command::AcknowledgeBulletin);
            let denied = check_change(&profile(user, role, AREA), Some(&b), &a);
            assert_eq!(denied.map_err(|d| d.rule), Err("bulletin.acknowledge"), "{role}");
        }
        // Its issuer does not acknowledge it either.
        let (b, a) = run(&mut doc, id, "police-1", Command::AcknowledgeBulletin);
        let issuer = profile("police-1", Role::Patrol, AREA);
        assert_eq!(
            check_change(&issuer, Some(&b), &a).map_err(|d| d.rule),
            Err("bulletin.acknowledge")
        );
        // Nobody withdraws it but its issuer and the dispatchers of its scope.
        let withdraw = || Command::WithdrawBulletin { reason: "误报".into() };
        let (b, a) = run(&mut doc, id, "p-1", withdraw());
        assert_eq!(check_change(&patrol, Some(&b), &a).map_err(|d| d.rule), Err("bulletin.status"));
        let (b, a) = run(&mut doc, id, "police-1", withdraw());
        assert!(check_change(&issuer, Some(&b), &a).is_ok());
        let (b, a) = run(&mut doc, id, "disp-1", withdraw());
        assert!(check_change(&profile("disp-1", Role::Dispatcher, "jl"), Some(&b), &a).is_ok());
    }

    #[test]
    fn a_business_operator_reads_and_acknowledges_what_is_addressed_to_businesses_around_it() {
        let own = crate::model::business_scope(AREA, "b1");
        let operator = profile("op-1", Role::BusinessOperator, &own);
        let (id, mut doc) = issued(vec![Addressee::Businesses]);
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        assert!(can_read(&operator, &a), "to the area around the business");
        let (b, after) = run(&mut doc, id, "op-1", Command::AcknowledgeBulletin);
        assert!(check_change(&operator, Some(&b), &after).is_ok());
        // In another's name: the acknowledgement is signed op-1.
        let other =
            profile("op-2", Role::BusinessOperator, &crate::model::business_scope(AREA, "b2"));
        assert_eq!(
            check_change(&other, Some(&b), &after).map_err(|d| d.rule),
            Err("bulletin.acknowledgements")
        );
        // Not addressed to businesses: not read, not acknowledged.
        let (id, mut doc) = issued(vec![Addressee::Patrols, Addressee::Residents]);
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        assert!(!can_read(&operator, &a));
        let (b, after) = run(&mut doc, id, "op-1", Command::AcknowledgeBulletin);
        assert_eq!(check_change(&operator, Some(&b), &after).map_err(|d| d.rule), Err("read"));
        // To a grid below the business's scope, or another area: not theirs.
        for scope in [format!("{AREA}/grid-3"), "jl/cc/scenic-2".to_string()] {
            let a = Audience {
                addressed: vec![Addressee::Businesses],
                ..Audience::plain(crate::model::Kind::Bulletin, scope.clone(), "police-1")
            };
            assert!(!can_read(&operator, &a), "{scope}");
            assert!(!is_addressed(&operator, &a), "{scope}");
        }
    }

    #[test]
    fn an_acknowledgement_made_before_a_withdrawal_stays_and_a_second_withdrawal_is_no_step() {
        let (id, mut doc) = issued(vec![Addressee::Patrols]);
        let patrol = profile("p-1", Role::Patrol, AREA);
        let (b, a) = run(&mut doc, id, "p-1", Command::AcknowledgeBulletin);
        let mut server = doc.fork().with_actor(ActorId::random());
        let withdraw = Command::WithdrawBulletin { reason: "解除".into() };
        apply(&mut server, id, &stamp("police-1"), &withdraw).expect("withdraw");
        let current = read_record(&server, id).expect("current");
        assert!(check_now(&patrol, &b, &a, &current, &current).is_ok());
        let (b, a) = run(&mut doc, id, "disp-1", withdraw);
        let disp = profile("disp-1", Role::Dispatcher, "jl");
        assert!(check_now(&disp, &b, &a, &current, &current).is_ok(), "the same state");
    }

    #[test]
    fn bulletins_expired_before_a_device_enrolled_are_not_delivered() {
        let (id, doc) = issued(vec![Addressee::Patrols]);
        let a = Audience::of(&read_record(&doc, id).expect("read"));
        assert!(crate::policy::delivered(&a, AT));
        assert!(crate::policy::delivered(&a, AT + 3_600_000));
        assert!(!crate::policy::delivered(&a, AT + 3_600_001));
        let report = Audience::plain(crate::model::Kind::Report, AREA, "res-1");
        assert!(crate::policy::delivered(&report, i64::MAX));
    }
}
