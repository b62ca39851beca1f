//! The business registry of `FieldStore` (走访联系制度): the businesses of the user's scopes as
//! last fetched (read offline, when a patrol picks the business it visits), fetching them, and
//! registering or changing one (police, grid leaders, dispatchers).

use fieldsync_core::store::Business;
use fieldsync_core::sync::BusinessFields;

use crate::error::FieldError;
use crate::store::FieldStore;

#[uniffi::export]
impl FieldStore {
    /// The businesses of the registry as last fetched (`refreshBusinesses`, or `syncNow` for the
    /// roles that read it), by scope then name. Readable offline.
    pub fn businesses(&self) -> Result<Vec<Business>, FieldError> {
        Ok(self.store()?.businesses()?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// Fetches the businesses of the user's scopes (patrols, grid leaders, dispatchers,
    /// supervisors; other roles are refused, `Server` 403) and keeps them for offline reading.
    pub async fn refresh_businesses(&self) -> Result<Vec<Business>, FieldError> {
        Ok(self.client()?.refresh_businesses().await?)
    }

    /// Registers a business (`scope`, `name` and `kind` needed; `kind` one of restaurant,
    /// guesthouse, shop, boat_rental, attraction, transport, other). Sent once.
    pub async fn add_business(&self, fields: BusinessFields) -> Result<Business, FieldError> {
        Ok(self.client()?.add_business(fields).await?)
    }

    /// Changes business `id`: the fields given are set; `close` marks it closed.
    pub async fn change_business(
        &self,
        id: String,
        fields: BusinessFields,
    ) -> Result<Business, FieldError> {
        Ok(self.client()?.change_business(&id, fields).await?)
    }
}
