//! Open311 GeoReport v2, domain side: the interchange third-party reporting apps speak
//! (`docs/protocol.md`, "Open311"). No HTTP types: `http/open311/` reads requests into the types
//! here and writes what they answer as the spec's XML or JSON.
//!
//! - `keys`: API keys (issued by the admin CLI, only their hashes stored), each with the scopes
//!   its app may read and file into; every request about reports names one.
//! - `services`: our report categories as the spec's services.
//! - `requests`: service requests as a key may see them: the public fields of reports in its
//!   scopes, read from the record index; the spec's filters, defaults and limits.
//! - `file`: a request filed by an app becomes a real report document, authored by the key's
//!   own identity and ingested as that identity's push (same checks, log and index as a phone's).
//! - `time`: the spec's W3C date and time format.

mod error;
mod file;
pub mod keys;
mod requests;
mod services;
pub mod time;

pub use error::Open311Error;
pub(crate) use file::file;
pub use file::{Identity, NewRequest, identity};
pub use keys::{ApiKey, IssuedKey};
pub use requests::{
    DEFAULT_DAYS, MAX_IDS, MAX_REQUESTS, OpenClosed, RequestQuery, ServiceRequest, list, one,
};
pub use services::{Service, service, services};
