//! Who may read and change what: one policy, run by the phone before it commits a command and by
//! the server on every change it receives, so an honest user never meets a server rejection.
//!
//! Access is decided by role and by scope: a user's scopes are paths in the jurisdiction tree,
//! and a record is inside a scope when its own scope is that path or below it.

mod bulletin;
mod businesses;
mod case;
mod deliberation;
mod diff;
mod each;
mod now;
mod patrol;
mod report;
mod rules;
mod visit;

pub use bulletin::is_addressed;
pub use businesses::{keeps_businesses, reads_businesses};
pub use diff::check_change;
pub use each::check_each_change;
pub use now::check_now;
pub use rules::{Audience, ESCALATE, SUPERVISE, can_create, can_read, delivered};

use crate::error::CoreError;
use crate::model::macros::string_enum;

string_enum! {
    /// What a user does.
    Role as "role" {
        /// Reports problems, confirms resolutions of their own reports.
        Resident => "resident",
        /// Manages the reports of their grid.
        GridLeader => "grid_leader",
        /// A patrol member (police, village cadre or villager volunteer).
        Patrol => "patrol",
        /// Mediates disputes.
        Mediator => "mediator",
        /// The command centre: dispatches and supervises.
        Dispatcher => "dispatcher",
        /// Manages users and devices.
        Admin => "admin",
        /// The command centre's assessment (考核监督): reads everything in scope, writes only
        /// supervision notes.
        Supervisor => "supervisor",
        /// The server's own device: appends overdue escalations and nothing else. Never a
        /// person; no user of this role can be created or enrolled.
        System => "system",
        /// Runs a business of the registry: their one scope is the business's own place
        /// (`model::business_scope`); reads the bulletins addressed to businesses around it,
        /// acknowledges them, and reads the visits to their business. Nothing else.
        BusinessOperator => "business_operator",
    }
}

string_enum! {
    /// Which kind of patrol member a user is.
    PatrolKind as "patrol_kind" {
        /// A police officer.
        Police => "police",
        /// A village cadre.
        Cadre => "cadre",
        /// A villager volunteer.
        Volunteer => "volunteer",
    }
}

/// Who a device acts for: the user, their role and their scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Profile {
    /// User id, written as the author of records and changes (`by`, `createdBy`).
    pub user: String,
    /// The user's role.
    pub role: Role,
    /// For the patrol role: police, cadre or volunteer.
    pub patrol: Option<PatrolKind>,
    /// Scope paths the user works in.
    pub scopes: Vec<String>,
}

impl Profile {
    /// A profile from its fields as messages and the store keep them (role and patrol kind as
    /// strings); a typed error for a value that is not one.
    pub fn parse(
        user: String,
        role: &str,
        patrol: Option<&str>,
        scopes: Vec<String>,
    ) -> Result<Profile, CoreError> {
        Ok(Profile {
            user,
            role: role.parse()?,
            patrol: patrol.map(str::parse).transpose()?,
            scopes,
        })
    }

    /// Whether `scope` is one of the user's scopes or below one.
    pub fn covers(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| scope_covers(s, scope))
    }
}

/// Whether `outer` is `inner` or an ancestor of it in the jurisdiction tree.
pub fn scope_covers(outer: &str, inner: &str) -> bool {
    inner == outer
        || (inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner.as_bytes()[outer.len()] == b'/')
}

/// A refusal: which rule, and why, for the person and for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The rule's name, e.g. `report.status`.
    pub rule: &'static str,
    /// What was not allowed.
    pub message: String,
}

impl Denied {
    pub(crate) fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Denied { rule, message: message.into() }
    }
}

impl From<Denied> for CoreError {
    fn from(d: Denied) -> Self {
        CoreError::Forbidden { rule: d.rule, message: d.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_by_path_segments() {
        assert!(scope_covers("jl/cc", "jl/cc"));
        assert!(scope_covers("jl/cc", "jl/cc/grid-1"));
        assert!(!scope_covers("jl/cc", "jl/ccx"));
        assert!(!scope_covers("jl/cc/grid-1", "jl/cc"));
        assert!(!scope_covers("jl/cc/grid-1", "jl/cc/grid-10"));
    }
}
