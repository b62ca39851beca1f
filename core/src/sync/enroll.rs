//! Enrolment: a phone exchanges the single-use code a user was given for its device id, bearer
//! token, Automerge actor id and profile, and keeps them in its store.

use automerge::ActorId;

use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::policy::Profile;
use crate::protocol::{self, EnrollRequest, EnrollResponse};
use crate::store::{Enrollment, Store};

/// Longest code or device name accepted, in characters.
const MAX_INPUT_CHARS: usize = 64;

/// Enrols the device of `store` through `transport` with `code`; on success the store holds
/// the credentials and writes with the actor the server assigned. A code works once.
pub async fn enroll<T: Transport>(
    store: &Store,
    transport: &T,
    code: &str,
    device_name: &str,
) -> Result<Enrollment> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > MAX_INPUT_CHARS {
        return Err(CoreError::invalid("code", "an enrolment code is 10 letters and digits"));
    }
    if device_name.chars().count() > MAX_INPUT_CHARS || device_name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "device_name",
            format!("at most {MAX_INPUT_CHARS} characters, no control characters"),
        ));
    }
    let request = EnrollRequest {
        v: protocol::VERSION,
        code: code.to_string(),
        device_name: device_name.to_string(),
        actor: Some(store.identity().actor.to_bytes().to_vec()),
    };
    let answer =
        transport.post("/v1/enroll", protocol::encode(&request)).await.map_err(|e| match e {
            TransportError::Network(message) => CoreError::Network { attempts: 1, message },
            TransportError::Status { status, code, message } => {
                CoreError::Server { status, code, message }
            }
        })?;
    let r: EnrollResponse =
        protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
    if r.actor.is_empty() || r.actor.len() > 32 || r.token.is_empty() {
        return Err(CoreError::Protocol("the enrolment answer lacks an actor or a token".into()));
    }
    let profile = Profile::parse(r.user, &r.role, r.patrol.as_deref(), r.scopes)?;
    let enrollment =
        Enrollment { device: r.device, token: r.token, profile, server: transport.server_url() };
    store.save_enrollment(&enrollment, ActorId::from(r.actor))?;
    Ok(enrollment)
}
