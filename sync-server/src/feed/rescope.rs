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
pub(crate) async fn former_rights(
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

/// Where the feed of a device whose rights changed restarts: a catch-up that leaves out what
/// its former rights let it read, when its cursor was in the log and those rights are known;
/// otherwise a whole catch-up. Also whether the rights only grew (every former scope kept):
/// then everything the device holds it may still read.
pub(crate) async fn restart(
    storage: &dyn Storage,
    user: &Profile,
    cursor: Cursor,
    issued_for: &str,
) -> Result<(Cursor, bool), StorageError> {
    let (Cursor::Log { seq }, Some(held)) = (cursor, tag_number(issued_for)) else {
        return Ok((Cursor::Start, false));
    };
    Ok(match former_rights(storage, user, held).await? {
        Some(former) => {
            let widened = former.scopes.iter().all(|s| user.scopes.contains(s));
            (Cursor::Rescope { seq, row: 0, held }, widened)
        }
        None => (Cursor::Start, false),
    })
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
