//! The business registry of `FieldStore` (走访联系制度): the businesses of the user's scopes, and
//! registering or changing one (police, grid leaders, dispatchers); async network calls.

use fieldsync_core::sync::{Business, BusinessFields};

use crate::error::FieldError;
use crate::store::FieldStore;

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// The businesses of the user's scopes (patrols, grid leaders, dispatchers, supervisors);
    /// other roles are refused (`Server` 403).
    pub async fn businesses(&self) -> Result<Vec<Business>, FieldError> {
        Ok(self.client()?.businesses().await?)
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
