//! Who sends changes, as ingestion checks them: the device, its actor, its user's profile.

use fieldsync_core::policy::Profile;

/// Who sent changes: the enrolled device, the actor its changes must carry, and the profile
/// the access policy checks them against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Author {
    /// The device id (written into the log).
    pub(crate) device: String,
    /// The Automerge actor assigned to the device at enrollment.
    pub(crate) actor: Vec<u8>,
    /// Its user's profile now.
    pub(crate) profile: Profile,
    /// The device has not yet heard that its user's rights changed (its cursor was issued
    /// under other rights): what it pushes was made under the rights it had.
    pub(crate) rights_changed: bool,
    /// The device's public key: a signature it sends with its own changes is checked with it
    /// and stored with them.
    pub(crate) key: Option<Vec<u8>>,
}
