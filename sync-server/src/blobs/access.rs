//! Who may do what with a blob (`docs/blobs.md`, "Who may do what"): upload it when a reference
//! of the device's own names it with that size; read it when the device may read a document
//! that references it (the documents' read policy, `policy::can_read`).

use fieldsync_core::policy::{Profile, can_read};

use crate::app::App;
use crate::error::ServerError;
use crate::storage::StoredBlobRef;

/// The recorded references to one blob.
pub(crate) struct Access {
    refs: Vec<StoredBlobRef>,
}

impl Access {
    /// The references to `hash`.
    pub(crate) async fn of(app: &App, hash: &str) -> Result<Access, ServerError> {
        Ok(Access { refs: app.storage.blob_refs(hash.to_string()).await? })
    }

    /// A reference `device` added itself with this size: it may upload the blob.
    pub(crate) fn own(&self, device: &str, size: u64) -> Option<&StoredBlobRef> {
        self.refs.iter().find(|r| r.size == size && r.device.as_deref() == Some(device))
    }

    /// Any reference `device` added itself.
    pub(crate) fn any_own(&self, device: &str) -> Option<&StoredBlobRef> {
        self.refs.iter().find(|r| r.device.as_deref() == Some(device))
    }

    /// Whether `profile` may read a document referencing the blob with this size.
    pub(crate) fn may_read(&self, profile: &Profile, size: u64) -> bool {
        self.refs.iter().any(|r| r.size == size && can_read(profile, &r.audience))
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
            audience: Audience {
                kind,
                scope: "jl/grid-07".into(),
                created_by: created_by.into(),
                participants: vec![],
            },
            size,
            media_type: "image/jpeg".into(),
            device: device.map(str::to_string),
        }
    }

    fn profile(user: &str, role: Role) -> Profile {
        Profile { user: user.into(), role, patrol: None, scopes: vec!["jl/grid-07".into()] }
    }

    #[test]
    fn uploads_need_an_own_reference_of_that_size_and_reads_a_readable_document() {
        let access = Access {
            refs: vec![
                reference(Kind::Report, "resident-1", 100, Some("dev-1")),
                reference(Kind::MediationCase, "mediator-1", 100, Some("dev-2")),
            ],
        };
        assert!(access.own("dev-1", 100).is_some());
        assert!(access.own("dev-1", 101).is_none(), "the size is part of the reference");
        assert!(access.own("dev-3", 100).is_none());
        assert!(access.any_own("dev-2").is_some());

        assert!(access.may_read(&profile("resident-1", Role::Resident), 100));
        assert!(!access.may_read(&profile("resident-1", Role::Resident), 99));
        assert!(!access.may_read(&profile("resident-2", Role::Resident), 100));
        // A grid leader reads the report of their grid, not the case.
        assert!(access.may_read(&profile("leader", Role::GridLeader), 100));
        let case_only = Access { refs: vec![access.refs[1].clone()] };
        assert!(!case_only.may_read(&profile("leader", Role::GridLeader), 100));
        assert!(case_only.may_read(&profile("mediator-9", Role::Mediator), 100));
    }
}
