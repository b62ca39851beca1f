//! Who the simulated devices are: users with real roles and scopes, in teams of twenty per grid,
//! as a street's field staff and residents would be.
//!
//! A team of a grid: one grid leader, one dispatcher (whose scopes are this grid and the next
//! four, so dispatchers' areas overlap), four patrol members (police, cadre, two volunteers),
//! two mediators who take their cases together, and twelve residents. Device `i` is member
//! `i % 20` of the team of grid `i / 20 + 1`; a last, partial team has the first positions.

use fieldsync_core::policy::{PatrolKind, Profile, Role};

use crate::bench::corpus;

/// Members of one grid's team.
pub(super) const TEAM: usize = 20;
/// Grids a dispatcher covers, its own first.
const DISPATCH_GRIDS: usize = 5;

/// One device's user.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// The user as the server knows them.
    pub(super) profile: Profile,
    /// The grid of its team (1-based), where it creates its records.
    pub(super) grid: usize,
    /// The patrol members of its team (by user id), for dispatches and patrol teams.
    pub(super) patrols: Vec<(String, PatrolKind)>,
    /// The other mediator of its team, for a mediator.
    pub(super) partner: Option<String>,
}

impl Member {
    /// The scope of its team's grid.
    pub(super) fn scope(&self) -> String {
        corpus::grid(self.grid)
    }

    /// Its role.
    pub(super) fn role(&self) -> Role {
        self.profile.role
    }
}

/// What team position `pos` is: role, patrol kind, and the user id's stem.
fn position(pos: usize) -> (Role, Option<PatrolKind>, String) {
    match pos {
        0 => (Role::GridLeader, None, "leader".into()),
        1 => (Role::Dispatcher, None, "dispatcher".into()),
        2..6 => {
            let kind =
                [PatrolKind::Police, PatrolKind::Cadre, PatrolKind::Volunteer][(pos - 2).min(2)];
            (Role::Patrol, Some(kind), format!("patrol-{}", pos - 1))
        }
        6..8 => (Role::Mediator, None, format!("mediator-{}", pos - 5)),
        _ => (Role::Resident, None, format!("resident-{:02}", pos - 7)),
    }
}

/// The members of `devices` devices, in device order.
pub(super) fn members(devices: usize) -> Vec<Member> {
    let grids = devices.div_ceil(TEAM).max(1);
    let user = |grid: usize, stem: &str| format!("{stem}-g{grid:02}");
    (0..devices)
        .map(|i| {
            let (grid, pos) = (i / TEAM + 1, i % TEAM);
            let team = TEAM.min(devices - (grid - 1) * TEAM);
            let (role, patrol, stem) = position(pos);
            let scopes = match role {
                Role::Dispatcher => (0..DISPATCH_GRIDS.min(grids))
                    .map(|k| corpus::grid((grid - 1 + k) % grids + 1))
                    .collect(),
                _ => vec![corpus::grid(grid)],
            };
            let patrols = (0..team)
                .filter_map(|p| match position(p) {
                    (Role::Patrol, Some(kind), stem) => Some((user(grid, &stem), kind)),
                    _ => None,
                })
                .collect();
            let partner = (role == Role::Mediator)
                .then(|| (6..8.min(team)).find(|&p| p != pos).map(|p| user(grid, &position(p).2)))
                .flatten();
            Member {
                profile: Profile { user: user(grid, &stem), role, patrol, scopes },
                grid,
                patrols,
                partner,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_hold_every_role_with_real_scopes() {
        let all = members(45);
        let users: std::collections::HashSet<_> = all.iter().map(|m| &m.profile.user).collect();
        assert_eq!(users.len(), 45, "user ids are unique");
        let count = |role| all.iter().filter(|m| m.role() == role).count();
        assert_eq!(count(Role::GridLeader), 3);
        assert_eq!(count(Role::Dispatcher), 3);
        assert_eq!(count(Role::Patrol), 4 + 4 + 3);
        assert_eq!(count(Role::Mediator), 4);
        assert_eq!(count(Role::Resident), 24);
        let m = &all[6];
        assert_eq!(m.partner.as_deref(), Some("mediator-2-g01"));
        assert_eq!(m.patrols.len(), 4);
        assert_eq!(all[1].profile.scopes, vec![corpus::grid(1), corpus::grid(2), corpus::grid(3)]);
        assert_eq!(all[41].profile.scopes, vec![corpus::grid(3), corpus::grid(1), corpus::grid(2)]);
        assert_eq!(all[44].patrols.len(), 3, "the last team has three patrol members");
        assert!(all.iter().all(|m| m.profile.covers(&m.scope())));
    }
}
