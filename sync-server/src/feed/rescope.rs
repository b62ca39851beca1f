//! What a device's feed was read under, and where it restarts when that changed.
//!
//! Every cursor carries a tag of the rights it was issued under ([`view_tag`]: role, patrol kind
//! and scopes). When a user's scopes change, their device's next cursor names rights they no
//! longer have, and the feed restarts with a catch-up of what they may read now. A device whose
//! cursor was in the log (its earlier catch-up finished) holds every document its former
//! rights let it read, up to the cursor's seq: when those rights are one of the user's
//! [former scopes](crate::storage::AccountStorage::former_scopes), the catch-up leaves those
//! documents out ([`Cursor::Rescope`]) and the log resumes at the old seq, so that what changed
//! in them since still arrives. Otherwise (a catch-up cut short, scopes replaced too long ago)
//! the catch-up is whole.
//!
//! A device that forges such a cursor can only leave out documents it could read under rights
//! its user had, and never gets one its user may not read now: the catch-up only takes what
//! the current rights allow.

use fieldsync_core::policy::Profile;

use super::cursor::Cursor;
use crate::accounts::secret;
use crate::storage::{Storage, StorageError};

/// A short tag of what `p` may see (role, patrol kind, scopes): cursors carry it, so a feed
/// read under other rights is noticed.
pub(crate) fn view_tag(p: &Profile) -> String {
    let mut scopes = p.scopes.clone();
    scopes.sort();
    let patrol = p.patrol.map_or("", |k| k.as_str());
    let text = format!("{}\n{patrol}\n{}", p.role.as_str(), scopes.join("\n"));
    hex::encode(&secret::hash(&text)[..8])
}

/// The tag of [`view_tag`] as the number a [`Cursor::Rescope`] carries; `None` for text that
/// is not a tag.
pub(crate) fn tag_number(tag: &str) -> Option<u64> {
    if tag.len() != 16 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(tag, 16).ok()
}

/// The rights of `user` (with their role and patrol kind now) that a feed tagged `tag` was read
/// under, when they are one of the user's former scope sets.
async fn former_rights(
    storage: &dyn Storage,
    user: &Profile,
    tag: u64,
) -> Result<Option<Profile>, StorageError> {
    let former = storage.former_scopes(user.user.clone()).await?;
    Ok(former
        .into_iter()
        .map(|scopes| Profile { scopes, ..user.clone() })
        .find(|p| tag_number(&view_tag(p)) == Some(tag)))
}

/// Where a device's feed goes on, read once per request.
#[derive(Debug)]
pub(crate) struct Resume {
    /// The position to read from.
    pub(crate) cursor: Cursor,
    /// With a [`Cursor::Rescope`]: the former rights whose documents the catch-up leaves out.
    pub(crate) held: Option<Profile>,
    /// The user's rights changed since the device's cursor was issued.
    pub(crate) rescoped: bool,
    /// With `rescoped`: the rights only grew (every former scope kept), so everything the
    /// device holds it may still read.
    pub(crate) widened: bool,
}

/// Where the feed of a device whose cursor is `cursor`, issued under the rights tagged
/// `issued_for`, goes on for `user`, whose rights are tagged `view` now.
///
/// When the rights changed, the feed restarts: with a catch-up that leaves out what the former
/// rights let the device read, when its cursor was in the log and those rights are known;
/// otherwise with a whole catch-up. A catch-up of that kind already under way goes on while its
/// former rights are still known, and starts over whole when they are not.
pub(crate) async fn resume(
    storage: &dyn Storage,
    user: &Profile,
    cursor: Cursor,
    issued_for: Option<&str>,
    view: &str,
) -> Result<Resume, StorageError> {
    let rescoped = issued_for.is_some_and(|v| v != view);
    let (seq, row, tag) = match (cursor, rescoped) {
        (Cursor::Log { seq }, true) => match issued_for.and_then(tag_number) {
            Some(tag) => (seq, 0, tag),
            None => return Ok(Resume::start(true)),
        },
        (Cursor::Rescope { seq, row, held }, false) => (seq, row, held),
        (_, true) => return Ok(Resume::start(true)),
        (cursor, false) => return Ok(Resume { cursor, held: None, rescoped, widened: false }),
    };
    Ok(match former_rights(storage, user, tag).await? {
        Some(former) => Resume {
            cursor: Cursor::Rescope { seq, row, held: tag },
            widened: rescoped && former.scopes.iter().all(|s| user.scopes.contains(s)),
            held: Some(former),
            rescoped,
        },
        None => Resume::start(rescoped),
    })
}

impl Resume {
    /// A whole catch-up from the start.
    fn start(rescoped: bool) -> Resume {
        Resume { cursor: Cursor::Start, held: None, rescoped, widened: false }
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_core::policy::Role;

    use super::*;

    #[test]
    fn tags_are_numbers_of_sixteen_hex_digits() {
        let p = Profile {
            user: "gl-1".into(),
            role: Role::GridLeader,
            patrol: None,
            scopes: vec!["jl/b".into(), "jl/a".into()],
        };
        let tag = view_tag(&p);
        assert_eq!(tag.len(), 16);
        assert_eq!(tag_number(&tag).map(|n| format!("{n:016x}")), Some(tag.clone()));
        let same = Profile { scopes: vec!["jl/a".into(), "jl/b".into()], ..p.clone() };
        assert_eq!(view_tag(&same), tag, "the order of the scopes does not count");
        let other = Profile { scopes: vec!["jl/a".into()], ..p };
        assert_ne!(view_tag(&other), tag);
        for bad in ["", "abc", "0123456789abcdeg", "0123456789abcdef0", "+123456789abcdef"] {
            assert_eq!(tag_number(bad), None, "{bad}");
        }
    }
}
