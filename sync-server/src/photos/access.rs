//! Who may do what with a blob (`docs/blobs.md`, "Who may do what"): upload it, or prove it
//! holds it, when a reference of the device's own names it with that size; read it when the
//! device may read a document (the documents' read policy, `policy::can_read`) whose reference
//! to the blob, at the blob's size, was added by a device that proved it holds the bytes.
//!
//! Knowing a hash and a size is not holding the bytes: a reference added by a device that
//! never uploaded the photo nor answered a possession challenge grants nobody anything, nor
//! does one whose adder is not known.

use fieldsync_core::policy::{Profile, can_read, delivered};

use super::PhotoResult;
use crate::storage::{Storage, StoredBlobRef};

/// The recorded references to one blob, and the devices that hold it.
pub(crate) struct Access {
    refs: Vec<StoredBlobRef>,
    holders: Vec<String>,
}

impl Access {
    /// The references to `hash`, which `holders` hold.
    pub(crate) async fn of(
        storage: &dyn Storage,
        hash: &str,
        holders: Vec<String>,
    ) -> PhotoResult<Access> {
        Ok(Access { refs: storage.blob_refs(hash.to_string()).await?, holders })
    }

    /// A reference `device` added itself with this size: it may upload the blob, or prove it
    /// holds it.
    pub(crate) fn own(&self, device: &str, size: u64) -> Option<&StoredBlobRef> {
        self.refs.iter().find(|r| r.size == size && r.device.as_deref() == Some(device))
    }

    /// The reference of the smallest size among those `device` added itself (one answer,
    /// whatever else is known of the blob, for a device that referenced it with several).
    pub(crate) fn any_own(&self, device: &str) -> Option<&StoredBlobRef> {
        self.refs.iter().filter(|r| r.device.as_deref() == Some(device)).min_by_key(|r| r.size)
    }

    /// Whether `device` proved it holds the blob.
    pub(crate) fn holds(&self, device: &str) -> bool {
        self.holders.iter().any(|h| h == device)
    }

    /// Whether `profile` may read a document whose reference to the blob, with this size, was
    /// added by a holder; for a phone enrolled at `enrolled_at`, also one the phone is given
    /// (not a bulletin that had expired before it enrolled: `policy::delivered`), as sync does.
    pub(crate) fn may_read(&self, profile: &Profile, enrolled_at: Option<i64>, size: u64) -> bool {
        self.refs.iter().any(|r| {
            r.size == size
                && r.device.as_deref().is_some_and(|d| self.holds(d))
                && can_read(profile, &r.audience)
                && enrolled_at.is_none_or(|at| delivered(&r.audience, at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_core::DocId;
    use fieldsync_core::model::Kind;
    use fieldsync_core::policy::{Audience, Role};

    fn reference(kind: Kind, created_by: &str, size: u64, device: Option<&str>) -> StoredBlobRef {
        StoredBlobRef {
            doc: DocId::random(),
            audience: Audience::plain(kind, "jl/grid-07", created_by),
            size,
            media_type: "image/jpeg".into(),
            device: device.map(str::to_string),
        }
    }

    fn profile(user: &str, role: Role) -> Profile {
        Profile { user: user.into(), role, patrol: None, scopes: vec!["jl/grid-07".into()] }
    }

    fn holders(devices: &[&str]) -> Vec<String> {
        devices.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn uploads_need_an_own_reference_of_that_size_and_reads_a_holders_readable_reference() {
        let refs = vec![
            reference(Kind::Report, "resident-1", 100, Some("dev-1")),
            reference(Kind::MediationCase, "mediator-1", 100, Some("dev-2")),
        ];
        let access = Access { refs: refs.clone(), holders: holders(&["dev-1", "dev-2"]) };
        assert!(access.own("dev-1", 100).is_some());
        assert!(access.own("dev-1", 101).is_none(), "the size is part of the reference");
        assert!(access.own("dev-3", 100).is_none());
        assert!(access.any_own("dev-2").is_some());

        assert!(access.may_read(&profile("resident-1", Role::Resident), None, 100));
        assert!(!access.may_read(&profile("resident-1", Role::Resident), None, 99));
        assert!(!access.may_read(&profile("resident-2", Role::Resident), None, 100));
        // A grid leader reads the report of their grid, not the case.
        assert!(access.may_read(&profile("leader", Role::GridLeader), None, 100));
        let case_only = Access { refs: vec![refs[1].clone()], holders: holders(&["dev-2"]) };
        assert!(!case_only.may_read(&profile("leader", Role::GridLeader), None, 100));
        assert!(case_only.may_read(&profile("mediator-9", Role::Mediator), None, 100));
    }

    #[test]
    fn a_reference_grants_reading_only_when_its_adder_holds_the_bytes() {
        let refs = vec![
            reference(Kind::MediationCase, "mediator-1", 100, Some("mediator-dev")),
            // A resident names the case's photo in a report of their own.
            reference(Kind::Report, "resident-1", 100, Some("resident-dev")),
            // A reference whose adder is not known.
            reference(Kind::Report, "resident-2", 100, None),
        ];
        let leader = profile("leader", Role::GridLeader);
        let access = Access { refs: refs.clone(), holders: holders(&["mediator-dev"]) };
        assert!(!access.may_read(&profile("resident-1", Role::Resident), None, 100));
        assert!(!access.may_read(&profile("resident-2", Role::Resident), None, 100));
        assert!(!access.may_read(&leader, None, 100), "a leader reads the report, not the photo");
        assert!(access.may_read(&profile("mediator-9", Role::Mediator), None, 100));
        // Once the resident's device proved it holds the bytes, its report grants them.
        let proven = Access { refs, holders: holders(&["mediator-dev", "resident-dev"]) };
        assert!(proven.may_read(&profile("resident-1", Role::Resident), None, 100));
        assert!(proven.may_read(&leader, None, 100));
        assert!(!proven.may_read(&profile("resident-2", Role::Resident), None, 100));
    }

    #[test]
    fn a_phone_enrolled_after_a_bulletin_expired_is_not_given_its_photos() {
        let mut bulletin = reference(Kind::Bulletin, "police-1", 100, Some("police-dev"));
        bulletin.audience.addressed = vec![fieldsync_core::model::Addressee::Patrols];
        bulletin.audience.until = Some(1_000);
        let access = Access { refs: vec![bulletin], holders: holders(&["police-dev"]) };
        let patrol = profile("patrol-1", Role::Patrol);
        assert!(access.may_read(&patrol, Some(1_000), 100), "enrolled while it was valid");
        assert!(!access.may_read(&patrol, Some(1_001), 100), "enrolled after it expired");
        // The desk (no enrolment to compare) reads it as the staff of its scope read it.
        assert!(access.may_read(&profile("disp-1", Role::Dispatcher), None, 100));
    }
}
