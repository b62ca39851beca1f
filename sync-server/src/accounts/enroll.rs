//! Exchanging a code for a new device, once: the code must work (known, not withdrawn, not
//! used, not expired, its user not disabled, and the user the phone keeps work for, if any),
//! the device gets the actor it proposes unless another user's device has it, and a device of
//! the same user that had it hands it over. The decision is made on what storage holds; the
//! storage's enrollment then commits only if none of that changed meanwhile
//! (`AccountStorage::enroll`), else the decision is made again on what it holds now. So a code
//! enrolls one device, whoever races for it.

use fieldsync_core::time::now_ms;

use super::{AccountError, Device, Enrolled, profile_of, secret};
use crate::storage::{
    DeviceKind, Enrollment, Storage, StorageError, StoredCode, StoredUser, Takeover,
};

/// How many times an enrollment is decided again when what it was decided on changed.
const ATTEMPTS: usize = 3;

/// What a phone asks for when it enrolls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnrollAsk<'a> {
    /// The code.
    pub(crate) code: &'a str,
    /// A name for the device.
    pub(crate) device_name: &'a str,
    /// The actor the phone writes with.
    pub(crate) actor: Option<&'a [u8]>,
    /// The user whose unsynced work the phone holds.
    pub(crate) keep_user: Option<&'a str>,
    /// The public key of the phone's device key (ed25519, 32 bytes).
    pub(crate) device_key: Option<&'a [u8]>,
}

/// Exchanges the code for a new device with the name asked. The device keeps the actor it
/// proposes when that is 1 to 32 bytes and no other user's device has it; otherwise it gets a
/// new one. For a phone that holds unsynced work of `keep_user`, a good code of another user
/// is refused (`other_user`) and stays unused. The device key is recorded with the device; one
/// that is not 32 bytes is refused before the code is looked at.
pub(crate) async fn enroll(
    storage: &dyn Storage,
    ask: EnrollAsk<'_>,
) -> Result<Enrolled, AccountError> {
    let EnrollAsk { code, device_name, actor: proposed_actor, keep_user, device_key } = ask;
    if let Some(k) = device_key
        && k.len() != fieldsync_core::authorship::PUBLIC_KEY_BYTES
    {
        return Err(AccountError::Invalid(format!(
            "a device key is an ed25519 public key of 32 bytes, not {}",
            k.len()
        )));
    }
    let canonical = secret::normalize_code(code).map_err(AccountError::MalformedCode)?;
    let name: String = device_name.chars().filter(|c| !c.is_control()).take(64).collect();
    let hash = secret::hash(&canonical);
    for _ in 0..ATTEMPTS {
        let code = storage.code(hash.clone()).await?.ok_or(AccountError::CodeUnknown)?;
        let user = storage.user(code.user.clone()).await?.ok_or(AccountError::CodeUnknown)?;
        let now = now_ms();
        check_code(&code, &user, now)?;
        if let Some(keep) = keep_user
            && keep != user.id
        {
            return Err(AccountError::OtherUser { keep: keep.to_string() });
        }
        let (actor, takeover) = actor_for(storage, proposed_actor, &user.id).await?;
        let device = Device {
            id: secret::new_device_id(),
            user: user.id.clone(),
            name: name.clone(),
            actor,
            enrolled_at: now,
            revoked_at: None,
            kind: DeviceKind::Phone,
            wipe: false,
            key: device_key.map(<[u8]>::to_vec),
        };
        let token = secret::new_token();
        let enrollment = Enrollment {
            code: hash.clone(),
            device: device.clone(),
            token_hash: secret::hash(&token),
            takeover,
        };
        match storage.enroll(enrollment).await {
            Ok(()) => return Ok(Enrolled { device, token, profile: profile_of(&user) }),
            // Raced by another enrollment or an operator: decide again on what is there now.
            Err(StorageError::Changed(what)) => {
                tracing::debug!("enrollment decided again: {what}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AccountError::Internal(format!(
        "the code's enrollment was raced {ATTEMPTS} times; try again"
    )))
}

/// Whether `code` of `user` would enroll a device at `now`: its user not disabled, the code
/// not withdrawn, not used, not expired. A desk sign-in asks the same.
pub(super) fn check_code(
    code: &StoredCode,
    user: &StoredUser,
    now: i64,
) -> Result<(), AccountError> {
    if user.disabled_at.is_some() {
        return Err(AccountError::UserDisabled);
    }
    if code.revoked_at.is_some() {
        return Err(AccountError::CodeRevoked);
    }
    if code.used_at.is_some() {
        return Err(AccountError::CodeUsed);
    }
    if now >= code.expires_at {
        return Err(AccountError::CodeExpired);
    }
    Ok(())
}

/// The actor a device of `user` proposing `proposed` gets, and the device it takes it over
/// from. The same user's phone enrolling again (its token lost, or the app asked) keeps its
/// actor, so its unsynced changes stay its own, and its old registration ends: the old row
/// keeps a tombstone in place of the actor (the log still names the actor and the device of
/// each change). An actor another user's device has is not given away.
async fn actor_for(
    storage: &dyn Storage,
    proposed: Option<&[u8]>,
    user: &str,
) -> Result<(Vec<u8>, Option<Takeover>), AccountError> {
    let Some(a) = proposed.filter(|a| (1..=32).contains(&a.len())) else {
        return Ok((secret::new_actor(), None));
    };
    match storage.device_by_actor(a.to_vec()).await? {
        None => Ok((a.to_vec(), None)),
        Some(old) if old.user == user => {
            let tombstone = secret::hash(&format!("moved {} {}", hex::encode(a), old.id));
            Ok((a.to_vec(), Some(Takeover { device: old.id, actor: a.to_vec(), tombstone })))
        }
        Some(_) => Ok((secret::new_actor(), None)),
    }
}
