//! A service request filed by an app becomes a real report. Its author is the key's own
//! identity ([`identity`]): user `open311:<key id>`, device `open311-<key id>`, an Automerge
//! actor derived from the key and the storage's epoch, and the profile of a resident of the
//! key's scopes. The report is made with core's `create`, as a phone makes one, and pushed as
//! that identity's changes (`documents::push`), so it passes the same checks (layout, limits,
//! policy: a resident may create a report only inside their scopes), is logged, indexed, and
//! reaches phones and desks through the normal paths.

use automerge::ActorId;
use fieldsync_core::model::command::create;
use fieldsync_core::model::{Location, NewRecord, NewReport, ReportCategory, Stamp};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::protocol::{self, PushDoc, PushOutcome};
use fieldsync_core::{CoreError, DocId};
use sha2::{Digest, Sha256};

use super::requests::jurisdiction;
use super::{ApiKey, Open311Error, Service};
use crate::documents::{Documents, push};
use crate::ingest::Author;

/// The longest description, in characters (the spec's limit).
pub const DESCRIPTION_CHARS: usize = 4000;

/// The longest title made from a description, in characters.
const TITLE_CHARS: usize = 60;

/// A request an app files. The contact fields the spec allows (`email`, `first_name`,
/// `last_name`, `phone`) are not here: the server does not keep them.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// The service (`service_code`).
    pub service: ReportCategory,
    /// `lat` and `long`.
    pub position: Option<(f64, f64)>,
    /// `address_string`.
    pub address: Option<String>,
    /// `description`.
    pub description: String,
    /// `jurisdiction_id`: the scope to file into; the key's first scope when not given.
    pub jurisdiction: Option<String>,
}

/// Who files an app's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id written as the report's author.
    pub user: String,
    /// The device id written into the log.
    pub device: String,
    /// The Automerge actor of its changes.
    pub actor: Vec<u8>,
}

/// The identity of `key` under the storage epoch `epoch`. The actor is derived from the key's
/// hash, which only the server holds, so no phone can enroll with it beforehand; one actor per
/// key and epoch.
pub fn identity(key: &ApiKey, epoch: &str) -> Identity {
    let mut h = Sha256::new();
    h.update(b"fieldsync open311 actor\0");
    h.update(key.id.as_bytes());
    h.update(b"\0");
    h.update(epoch.as_bytes());
    h.update(b"\0");
    h.update(&key.hash);
    Identity {
        user: format!("open311:{}", key.id),
        device: format!("open311-{}", key.id),
        actor: h.finalize()[..16].to_vec(),
    }
}

/// The parameter a core refusal of the new report is about.
fn bad_input(e: CoreError) -> Open311Error {
    match e {
        CoreError::InvalidInput { field, reason } => {
            let name = match field {
                "location.lat" => "lat",
                "location.lon" => "long",
                "location.address" => "address_string",
                other => other,
            };
            Open311Error::bad(name, reason)
        }
        other => Open311Error::bad("request", other.to_string()),
    }
}

/// The report a request makes, in `scope`.
fn report(req: &NewRequest, scope: String) -> Result<NewReport, Open311Error> {
    if req.description.chars().count() > DESCRIPTION_CHARS {
        return Err(Open311Error::bad(
            "description",
            format!("at most {DESCRIPTION_CHARS} characters"),
        ));
    }
    let address = req.address.clone().unwrap_or_default();
    let mut description = req.description.trim().to_string();
    // Without a position the address has no place in the record's location: it goes into the
    // description, where the command centre reads it.
    if req.position.is_none() && !address.is_empty() {
        if !description.is_empty() {
            description.push('\n');
        }
        description.push_str(&format!("地址 Address: {address}"));
    }
    let first_line = description.lines().next().unwrap_or("").trim();
    let title = if first_line.is_empty() {
        Service::of(req.service).name.to_string()
    } else {
        first_line.chars().take(TITLE_CHARS).collect()
    };
    let location = req.position.map(|(lat, lon)| Location { lat, lon, accuracy: 0.0, address });
    Ok(NewReport { scope, category: req.service, title, description, location, photos: vec![] })
}

/// Files `req` for `key` at `now`: a new report document, pushed as the key's identity.
/// Returns its id once stored.
pub(crate) async fn file(
    docs: &Documents,
    key: &ApiKey,
    req: NewRequest,
    now: i64,
) -> Result<DocId, Open311Error> {
    if req.position.is_none() && req.address.as_deref().is_none_or(|a| a.trim().is_empty()) {
        return Err(Open311Error::bad(
            "lat",
            "a location is required: lat and long, or address_string",
        ));
    }
    jurisdiction(key, req.jurisdiction.as_deref())?;
    let scope = match &req.jurisdiction {
        Some(s) => s.clone(),
        None => key.scopes.first().cloned().ok_or_else(|| {
            Open311Error::bad("jurisdiction_id", "this key has no scope to file into")
        })?,
    };
    let who = identity(key, docs.epoch());
    let new = NewRecord::Report { report: report(&req, scope)? };
    let stamp = Stamp { by: who.user.clone(), at: now };
    let (id, mut doc) =
        create(&new, &stamp, ActorId::from(who.actor.clone())).map_err(bad_input)?;
    let changes: Vec<u8> =
        doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let heads = protocol::to_wire(&doc.get_heads());
    let author = Author {
        device: who.device,
        actor: who.actor,
        profile: Profile {
            user: who.user,
            role: Role::Resident,
            patrol: None,
            scopes: key.scopes.clone(),
        },
        rights_changed: false,
        key: None,
    };
    let pushed = PushDoc { doc: id, changes, heads, signed: vec![] };
    let results = push::push(docs, vec![pushed], Some(author), Default::default())
        .await
        .map_err(|e| Open311Error::Unavailable(e.to_string()))?;
    match results.into_iter().next().map(|r| r.outcome) {
        Some(PushOutcome::Acked { .. }) => Ok(id),
        Some(PushOutcome::Rejected { code, message }) => {
            Err(Open311Error::Refused { code, message })
        }
        Some(PushOutcome::Retry { message, .. }) => Err(Open311Error::Unavailable(message)),
        None => Err(Open311Error::Unavailable("the push answered nothing".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, hash: u8) -> ApiKey {
        ApiKey {
            id: id.into(),
            name: "app".into(),
            scopes: vec!["jl/a".into()],
            hash: vec![hash; 32],
        }
    }

    #[test]
    fn identities_are_per_key_and_epoch() {
        let a = identity(&key("key-1", 1), "e1");
        assert_eq!((a.user.as_str(), a.device.as_str()), ("open311:key-1", "open311-key-1"));
        assert_eq!(a.actor.len(), 16);
        assert_eq!(identity(&key("key-1", 1), "e1"), a);
        assert_ne!(identity(&key("key-1", 1), "e2").actor, a.actor);
        assert_ne!(identity(&key("key-2", 1), "e1").actor, a.actor);
        assert_ne!(identity(&key("key-1", 2), "e1").actor, a.actor, "the secret hash counts");
    }

    #[test]
    fn a_request_without_position_keeps_its_address_in_the_description() {
        let req = NewRequest {
            service: ReportCategory::Noise,
            position: None,
            address: Some("新华小区7号楼".into()),
            description: String::new(),
            jurisdiction: None,
        };
        let r = report(&req, "jl/a".into()).unwrap();
        assert_eq!(r.description, "地址 Address: 新华小区7号楼");
        assert_eq!(r.title, "地址 Address: 新华小区7号楼");
        assert!(r.location.is_none());
        let long = NewRequest { description: "x".repeat(DESCRIPTION_CHARS + 1), ..req.clone() };
        assert!(report(&long, "jl/a".into()).is_err());
        let titled = NewRequest {
            position: Some((43.9, 125.3)),
            description: "楼顶违建\n约20平方米".into(),
            ..req
        };
        let r = report(&titled, "jl/a".into()).unwrap();
        assert_eq!(r.title, "楼顶违建");
        assert_eq!(r.location.unwrap().address, "新华小区7号楼");
    }
}
