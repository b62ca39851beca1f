//! Enrollment: a phone exchanges the single-use code a user was given for its device id, bearer
//! token, Automerge actor id and profile, and keeps them in its store.
//!
//! A phone handed to another user (the next resident, a shared patrol phone) keeps nothing of
//! the first user's that the new one may not read, and never loses the first user's unsynced
//! work unless the app asks for it: see [`EnrollOptions`] and `store::handover`.

use automerge::ActorId;

use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::policy::Profile;
use crate::protocol::{self, EnrollRequest, EnrollResponse};
use crate::store::{Enrollment, Store};

/// Longest code or device name accepted, in characters.
const MAX_INPUT_CHARS: usize = 64;

/// How to enroll.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EnrollOptions {
    /// Enroll even if the code is another user's while the phone holds unsynced work of its
    /// current user: that work is discarded. Without it such an enrollment is refused
    /// (`OtherUser`) and the code stays unused.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub discard_unsynced_work: bool,
}

/// Enrolls the device of `store` through `transport` with `code`; on success the store holds
/// the credentials and writes with the actor the server assigned. A code works once.
pub async fn enroll<T: Transport>(
    store: &Store,
    transport: &T,
    code: &str,
    device_name: &str,
) -> Result<Enrollment> {
    enroll_with(store, transport, code, device_name, EnrollOptions::default()).await
}

/// [`enroll`], with options. Enrolling as the phone's current user keeps everything (its
/// records, its unsynced work, its actor). Enrolling as another user removes, before it
/// returns, every record the new user may not read; it is refused while the phone holds
/// unsynced work of the current user, unless `options` say to discard that work.
pub async fn enroll_with<T: Transport>(
    store: &Store,
    transport: &T,
    code: &str,
    device_name: &str,
    options: EnrollOptions,
) -> Result<Enrollment> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > MAX_INPUT_CHARS {
        return Err(CoreError::invalid("code", "an enrollment code is 10 letters and digits"));
    }
    if device_name.chars().count() > MAX_INPUT_CHARS || device_name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "device_name",
            format!("at most {MAX_INPUT_CHARS} characters, no control characters"),
        ));
    }
    let current = store.identity().user;
    let keep = store.unsynced_work()? && !options.discard_unsynced_work;
    let request = EnrollRequest {
        v: protocol::VERSION,
        code: code.to_string(),
        device_name: device_name.to_string(),
        actor: Some(store.identity().actor.to_bytes().to_vec()),
        keep_user: keep.then(|| current.clone()),
        device_key: Some(store.device_key()?.public_key().to_vec()),
    };
    let answer =
        transport.post("/v1/enroll", protocol::encode(&request)).await.map_err(|e| match e {
            TransportError::Network(message) => CoreError::Network { attempts: 1, message },
            TransportError::RateLimited { retry_after_secs, message } => {
                CoreError::RateLimited { retry_after_secs, message }
            }
            TransportError::Status { code, message, .. } if code == "other_user" => {
                CoreError::OtherUser { current: current.clone(), message }
            }
            TransportError::Status { status, code, message, wipe } => {
                CoreError::from_server(status, code, message, wipe)
            }
        })?;
    let r: EnrollResponse =
        protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
    if r.actor.is_empty() || r.actor.len() > 32 || r.token.is_empty() {
        return Err(CoreError::Protocol("the enrollment answer lacks an actor or a token".into()));
    }
    let profile = Profile::parse(r.user, &r.role, r.patrol.as_deref(), r.scopes)?;
    let enrollment =
        Enrollment { device: r.device, token: r.token, profile, server: transport.server_url() };
    let actor = ActorId::from(r.actor);
    let peer_trust = (r.server_key, r.credential);
    if enrollment.profile.user == current {
        store.save_enrollment(&enrollment, actor)?;
    } else if keep {
        // A server that does not know `keep_user` enrolled the phone anyway: the work stays
        // and so does the current enrollment; the new device is left unused on the server.
        return Err(CoreError::OtherUser {
            current,
            message: format!("the code enrolls {}", enrollment.profile.user),
        });
    } else {
        store.hand_over(&enrollment, actor)?;
    }
    // A server that issues peer credentials (docs/peer.md): its key is pinned now.
    if let (Some(key), credential) = peer_trust {
        store.pin_server_key(&key)?;
        if let Some(c) = credential {
            store.save_credential(&c)?;
        }
    }
    Ok(enrollment)
}
