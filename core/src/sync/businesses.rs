//! The business registry's calls of the sync client (`POST /v1/businesses/…`): the businesses a
//! patrol may visit, fetched and kept in the store for offline use (`Store::businesses`), and
//! registering or changing one (police, grid leaders, dispatchers). The registry is the
//! server's.

use super::client::{SyncClient, blocking};
use super::transport::Transport;
use crate::error::Result;
use crate::protocol::{
    self, BusinessList, BusinessMsg, BusinessRequest, BusinessResponse, BusinessesRequest,
};
use crate::store::{Business, VisitRules};
use crate::time::Timestamp;

/// A business to register, or the fields of one to change (those given are set; `operator`
/// empty removes it).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BusinessFields {
    /// Its scope (registering only).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub scope: Option<String>,
    /// Its name.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub name: Option<String>,
    /// Its kind.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub kind: Option<String>,
    /// Its address.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub address: Option<String>,
    /// Latitude (with `lon`).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub lat: Option<f64>,
    /// Longitude (with `lat`).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub lon: Option<f64>,
    /// How to reach it.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub contact: Option<String>,
    /// The user who runs it.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub operator: Option<String>,
    /// Changing only: mark it closed.
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub close: bool,
}

fn business(b: BusinessMsg) -> Business {
    Business {
        id: b.id,
        scope: b.scope,
        name: b.name,
        kind: b.kind,
        address: b.address,
        lat: b.lat,
        lon: b.lon,
        contact: b.contact,
        operator: b.operator,
        closed_at: b.closed_at.map(Timestamp::from),
    }
}

fn request(id: Option<&str>, f: BusinessFields) -> BusinessRequest {
    BusinessRequest {
        v: protocol::VERSION,
        id: id.map(str::to_string),
        scope: f.scope,
        name: f.name,
        kind: f.kind,
        address: f.address,
        lat: f.lat,
        lon: f.lon,
        contact: f.contact,
        operator: f.operator,
        close: f.close,
    }
}

impl<T: Transport> SyncClient<T> {
    /// Fetches the businesses of the user's scopes (for roles that read the registry) and the
    /// rules of visits, and keeps them in the store, replacing the copy held; returns the
    /// businesses.
    pub async fn refresh_businesses(&self) -> Result<Vec<Business>> {
        let req = BusinessesRequest { v: protocol::VERSION };
        let list: BusinessList = self.call("/v1/businesses/list", &req, true).await?;
        let found: Vec<Business> = list.businesses.into_iter().map(business).collect();
        let rules =
            list.visits.map(|r| VisitRules { every_days: r.every_days, checklist: r.checklist });
        let (store, kept) = (self.store.clone(), found.clone());
        blocking(move || store.save_businesses(&kept, rules.as_ref())).await?;
        Ok(found)
    }

    /// Registers a business (`scope`, `name` and `kind` needed); sent once.
    pub async fn add_business(&self, fields: BusinessFields) -> Result<Business> {
        let made: BusinessResponse =
            self.call("/v1/businesses/add", &request(None, fields), false).await?;
        Ok(business(made.business))
    }

    /// Changes business `id`: the fields given are set (retried safely: the same change again
    /// sets the same values).
    pub async fn change_business(&self, id: &str, fields: BusinessFields) -> Result<Business> {
        let made: BusinessResponse =
            self.call("/v1/businesses/change", &request(Some(id), fields), true).await?;
        Ok(business(made.business))
    }
}
