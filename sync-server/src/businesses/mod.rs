//! The registry of a scope's businesses (走访联系制度): the police station's "warn first, prevent
//! first" visit-and-contact system with the scenic area's guesthouses, restaurants, boat
//! rentals and shops. Each business is registered once with its name, kind, address, location,
//! contact and operator, kept by those who visit it: police patrol members, grid leaders and
//! dispatchers of its scope (and admins). Patrols of every kind, supervisors and the keepers read
//! the businesses of their scopes (core's `keeps_businesses`, `reads_businesses`: the phone asks
//! by the same rule). A visit record kind (issue 18) refers to these by id.

use std::sync::Arc;

use fieldsync_core::policy::{Profile, keeps_businesses as keeps, reads_businesses as reads};

use crate::storage::{Business, BusinessChange, Storage, StorageError};

/// What a business may be.
pub const KINDS: [&str; 7] =
    ["restaurant", "guesthouse", "shop", "boat_rental", "attraction", "transport", "other"];
/// The longest name, address or contact, in characters.
pub const MAX_TEXT: usize = 200;

/// Why a registry operation was not done; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum BusinessError {
    /// A field is out of bounds (an empty name, an unknown kind, a location off the globe).
    #[error("{0}")]
    InvalidInput(String),
    /// The caller's role or scopes do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such business (or not one the caller may see).
    #[error("no business {0} in your scopes")]
    UnknownBusiness(String),
    /// The operator named is no user of the server.
    #[error("no user {0} to run the business")]
    UnknownUser(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A business due a visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue {
    /// The business.
    pub business: Business,
    /// Its last visit (ms), if it had one.
    pub last_visit: Option<i64>,
    /// When its next visit was due (ms); `None`: never visited.
    pub due_since: Option<i64>,
}

/// What is registered.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBusiness {
    /// The scope it lies in (inside the registrar's).
    pub scope: String,
    /// Its name.
    pub name: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// Its address.
    pub address: String,
    /// Latitude and longitude, when known.
    pub location: Option<(f64, f64)>,
    /// How to reach it.
    pub contact: String,
    /// The user who runs it, if they have an account.
    pub operator: Option<String>,
}

fn check_text(what: &str, s: &str, required: bool) -> Result<(), BusinessError> {
    let n = s.chars().count();
    let empty = s.trim().is_empty();
    if (required && empty) || n > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(BusinessError::InvalidInput(format!(
            "{what} must be {} to {MAX_TEXT} characters without control characters ({n} given)",
            usize::from(required)
        )));
    }
    Ok(())
}

fn check_kind(kind: &str) -> Result<(), BusinessError> {
    if KINDS.contains(&kind) {
        return Ok(());
    }
    let shown: String = kind.chars().take(40).collect();
    Err(BusinessError::InvalidInput(format!("kind {shown:?} is not one of {}", KINDS.join(", "))))
}

fn check_location(l: (f64, f64)) -> Result<(), BusinessError> {
    let (lat, lon) = l;
    if lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
    {
        return Ok(());
    }
    Err(BusinessError::InvalidInput(format!("({lat}, {lon}) is not a place on Earth")))
}

/// The business registry over the server's storage.
#[derive(Clone)]
pub struct Businesses {
    storage: Arc<dyn Storage>,
}

impl Businesses {
    /// The registry over `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Businesses {
        Businesses { storage }
    }

    async fn check_operator(&self, operator: &Option<String>) -> Result<(), BusinessError> {
        let Some(user) = operator.as_deref().filter(|u| !u.is_empty()) else { return Ok(()) };
        check_text("the operator", user, true)?;
        if self.storage.user(user.to_string()).await?.is_none() {
            return Err(BusinessError::UnknownUser(user.chars().take(MAX_TEXT).collect()));
        }
        Ok(())
    }

    /// Registers a business in a scope of `by`'s.
    pub async fn add(
        &self,
        by: &Profile,
        new: NewBusiness,
        at: i64,
    ) -> Result<Business, BusinessError> {
        if !keeps(by) {
            return Err(BusinessError::Forbidden(format!(
                "a {} does not keep the registry",
                by.role
            )));
        }
        check_text("the scope", &new.scope, true)?;
        check_text("the name", &new.name, true)?;
        check_kind(&new.kind)?;
        check_text("the address", &new.address, false)?;
        check_text("the contact", &new.contact, false)?;
        if let Some(l) = new.location {
            check_location(l)?;
        }
        if !by.covers(&new.scope) {
            return Err(BusinessError::Forbidden(format!(
                "{} is outside your scopes",
                new.scope.chars().take(MAX_TEXT).collect::<String>()
            )));
        }
        self.check_operator(&new.operator).await?;
        let business = Business {
            id: fieldsync_core::id::item_key(),
            scope: new.scope,
            name: new.name,
            kind: new.kind,
            address: new.address,
            location: new.location,
            contact: new.contact,
            operator: new.operator.filter(|o| !o.is_empty()),
            created_by: by.user.clone(),
            created_at: at,
            updated_at: at,
            closed_at: None,
        };
        if !self.storage.add_business(business.clone()).await? {
            return Err(StorageError::Changed(format!("business id {} taken", business.id)).into());
        }
        Ok(business)
    }

    /// Changes a business of `by`'s scopes.
    pub async fn change(
        &self,
        by: &Profile,
        change: BusinessChange,
    ) -> Result<Business, BusinessError> {
        if !keeps(by) {
            return Err(BusinessError::Forbidden(format!(
                "a {} does not keep the registry",
                by.role
            )));
        }
        if let Some(name) = &change.name {
            check_text("the name", name, true)?;
        }
        if let Some(kind) = &change.kind {
            check_kind(kind)?;
        }
        for (what, v) in [("the address", &change.address), ("the contact", &change.contact)] {
            if let Some(v) = v {
                check_text(what, v, false)?;
            }
        }
        if let Some(l) = change.location {
            check_location(l)?;
        }
        self.check_operator(&change.operator).await?;
        let unknown = || BusinessError::UnknownBusiness(change.id.chars().take(MAX_TEXT).collect());
        let found = self.storage.business(change.id.clone()).await?.ok_or_else(unknown)?;
        if !by.covers(&found.scope) {
            return Err(unknown());
        }
        self.storage.change_business(change.clone()).await?.ok_or_else(unknown)
    }

    /// The open businesses of the caller's scopes due a visit at `at` (ms): never visited, or
    /// last visited more than `every_ms` before `at`; never visited first, then the longest
    /// overdue. Refused as [`Businesses::list`] is.
    pub async fn overdue(
        &self,
        caller: &Profile,
        at: i64,
        every_ms: i64,
    ) -> Result<Vec<Overdue>, BusinessError> {
        let open: Vec<Business> =
            self.list(caller).await?.into_iter().filter(|b| b.closed_at.is_none()).collect();
        let last = self.storage.last_visits(open.iter().map(|b| b.id.clone()).collect()).await?;
        let mut due: Vec<Overdue> = open
            .into_iter()
            .zip(last)
            .filter_map(|(business, last_visit)| {
                let due_since = last_visit.map(|v| v.saturating_add(every_ms));
                due_since.is_none_or(|d| d < at).then_some(Overdue {
                    business,
                    last_visit,
                    due_since,
                })
            })
            .collect();
        due.sort_by_key(|o| (o.due_since.is_some(), o.due_since));
        Ok(due)
    }

    /// The businesses of the caller's scopes (none for a role that does not read the registry).
    pub async fn list(&self, caller: &Profile) -> Result<Vec<Business>, BusinessError> {
        if !reads(caller) {
            return Err(BusinessError::Forbidden(format!(
                "a {} does not read the business registry",
                caller.role
            )));
        }
        Ok(self.storage.businesses(caller.scopes.clone()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bounded() {
        assert!(check_kind("guesthouse").is_ok() && check_kind("casino").is_err());
        assert!(check_location((43.8, 125.3)).is_ok());
        for bad in [(91.0, 0.0), (0.0, -181.0), (f64::NAN, 0.0), (0.0, f64::INFINITY)] {
            assert!(check_location(bad).is_err(), "{bad:?}");
        }
        assert!(check_text("n", "", true).is_err() && check_text("n", "", false).is_ok());
        assert!(check_text("n", &"x".repeat(MAX_TEXT + 1), false).is_err());
        assert!(check_text("n", "a\nb", false).is_err());
    }
}
