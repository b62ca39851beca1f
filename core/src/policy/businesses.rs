//! Who keeps and who reads the business registry (走访联系制度): the same rule on the phone (which
//! fetches the registry after a sync for those who read it) and on the server (which enforces it).

use super::{PatrolKind, Profile, Role};

/// Whether `p` keeps the registry (registers, changes and closes businesses) in their scopes:
/// police patrol members, grid leaders, dispatchers and admins.
pub fn keeps_businesses(p: &Profile) -> bool {
    match p.role {
        Role::Dispatcher | Role::GridLeader | Role::Admin => true,
        Role::Patrol => p.patrol == Some(PatrolKind::Police),
        _ => false,
    }
}

/// Whether `p` reads the registry of their scopes: its keepers, every patrol member and
/// supervisors.
pub fn reads_businesses(p: &Profile) -> bool {
    keeps_businesses(p) || matches!(p.role, Role::Patrol | Role::Supervisor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(role: Role, patrol: Option<PatrolKind>) -> Profile {
        Profile { user: "u".into(), role, patrol, scopes: vec!["jl".into()] }
    }

    #[test]
    fn police_leaders_and_dispatchers_keep_it_patrols_and_supervisors_read_it() {
        assert!(keeps_businesses(&profile(Role::Patrol, Some(PatrolKind::Police))));
        assert!(!keeps_businesses(&profile(Role::Patrol, Some(PatrolKind::Volunteer))));
        assert!(reads_businesses(&profile(Role::Patrol, Some(PatrolKind::Volunteer))));
        assert!(keeps_businesses(&profile(Role::GridLeader, None)));
        assert!(keeps_businesses(&profile(Role::Dispatcher, None)));
        for role in [Role::Resident, Role::Mediator, Role::System, Role::BusinessOperator] {
            assert!(!reads_businesses(&profile(role, None)), "{role}");
        }
        assert!(reads_businesses(&profile(Role::Supervisor, None)));
        assert!(!keeps_businesses(&profile(Role::Supervisor, None)));
    }
}
