//! The business registry's messages (`POST /v1/businesses/…`, `docs/protocol.md`,
//! "Businesses"): the businesses a device may see, and a business registered or changed by
//! those who keep the registry.

use serde::{Deserialize, Serialize};

/// A business of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessMsg {
    /// Its id.
    pub id: String,
    /// The scope it lies in.
    pub scope: String,
    /// Its name.
    pub name: String,
    /// `restaurant`, `guesthouse`, `shop`, `boat_rental`, `attraction`, `transport` or
    /// `other`.
    pub kind: String,
    /// Its address.
    pub address: String,
    /// Latitude, when known.
    pub lat: Option<f64>,
    /// Longitude, when known.
    pub lon: Option<f64>,
    /// How to reach it.
    pub contact: String,
    /// The user who runs it, if they have an account.
    pub operator: Option<String>,
    /// When it was registered, ms since the Unix epoch.
    pub created_at: i64,
    /// When it closed, if it did.
    pub closed_at: Option<i64>,
}

/// `POST /v1/businesses/list`: the businesses in the caller's scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessesRequest {
    /// Protocol version.
    pub v: u32,
}

/// The answer to [`BusinessesRequest`], by scope then name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessList {
    /// Protocol version.
    pub v: u32,
    /// The businesses.
    pub businesses: Vec<BusinessMsg>,
    /// The rules of visits (absent from a server older than visits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visits: Option<VisitRulesMsg>,
}

/// The rules file's `visits` key: how often each business is due a visit, and the checklist a
/// visit goes through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRulesMsg {
    /// A business is due a visit this many days after its last one.
    pub every_days: u32,
    /// The checklist items, in order.
    pub checklist: Vec<String>,
}

/// `POST /v1/businesses/add` (all of `scope`, `name`, `kind`, `address`, `contact`; the rest
/// optional) and `POST /v1/businesses/change` (`id` and the fields to set; `operator` empty
/// removes it; `close` marks it closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BusinessRequest {
    /// Protocol version.
    pub v: u32,
    /// The business (changing only).
    pub id: Option<String>,
    /// Its scope (registering only).
    pub scope: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Its kind.
    pub kind: Option<String>,
    /// Its address.
    pub address: Option<String>,
    /// Latitude (with `lon`).
    pub lat: Option<f64>,
    /// Longitude (with `lat`).
    pub lon: Option<f64>,
    /// How to reach it.
    pub contact: Option<String>,
    /// The user who runs it.
    pub operator: Option<String>,
    /// Changing: mark it closed.
    #[serde(default)]
    pub close: bool,
}

/// The answer to registering or changing a business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessResponse {
    /// Protocol version.
    pub v: u32,
    /// The business as it is now.
    pub business: BusinessMsg,
}
