//! The businesses of a scope (走访联系制度: the police station's visit-and-contact registry) as
//! storage keeps them, and the [`BusinessStorage`] part of the storage trait. Who may list and
//! change them is the businesses domain's (`crate::businesses`).

use super::{BoxFuture, StorageResult};

/// A business of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    /// Its id.
    pub id: String,
    /// The scope it lies in (a scenic area or a grid).
    pub scope: String,
    /// Its name.
    pub name: String,
    /// What it is (`restaurant`, `guesthouse`, `shop`, `boat_rental`, `attraction`,
    /// `transport`, `other`).
    pub kind: String,
    /// Its address.
    pub address: String,
    /// Where it is, when known: latitude, longitude.
    pub location: Option<(f64, f64)>,
    /// How to reach it (a phone number, a name).
    pub contact: String,
    /// The user who runs it (a business operator's account), if they have one.
    pub operator: Option<String>,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// When it was last changed.
    pub updated_at: i64,
    /// When it closed (it stays in the registry, no longer due visits), if it did.
    pub closed_at: Option<i64>,
}

/// A change to a business: the fields given are set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BusinessChange {
    /// The business.
    pub id: String,
    /// A new name.
    pub name: Option<String>,
    /// A new kind.
    pub kind: Option<String>,
    /// A new address.
    pub address: Option<String>,
    /// A new location.
    pub location: Option<(f64, f64)>,
    /// A new contact.
    pub contact: Option<String>,
    /// A new operator (`Some("")` removes it).
    pub operator: Option<String>,
    /// Mark it closed.
    pub close: bool,
    /// When.
    pub at: i64,
}

/// The registry of businesses.
///
/// Rules every backend keeps (the conformance suite checks them): ids are unique (adding a
/// business whose id is taken changes nothing); a change sets only the fields it gives and
/// keeps the first closing time; listings hold the businesses of scopes at or below the ones
/// asked for, by scope then name.
pub trait BusinessStorage: Send + Sync + 'static {
    /// Registers a business; `false` when its id is taken (nothing changes).
    fn add_business(&self, business: Business) -> BoxFuture<'_, StorageResult<bool>>;

    /// Changes a business; it as it is now, `None` when there is no such business.
    fn change_business(
        &self,
        change: BusinessChange,
    ) -> BoxFuture<'_, StorageResult<Option<Business>>>;

    /// The business with this id.
    fn business(&self, id: String) -> BoxFuture<'_, StorageResult<Option<Business>>>;

    /// The businesses in (at or below) one of `scopes`, closed ones too, by scope then name.
    fn businesses(&self, scopes: Vec<String>) -> BoxFuture<'_, StorageResult<Vec<Business>>>;
}
