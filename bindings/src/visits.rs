//! Business visits of `FieldStore` (走访): a visit planned from the registry copy and the rules
//! held, recorded, read and listed, and the businesses overdue a visit, all offline.

use fieldsync_core::model::{Kind, NewRecord, NewVisit, Record, Visit};
use fieldsync_core::store::{OverdueBusiness, PageRequest, VisitFilter, VisitRules};
use fieldsync_core::time::{Timestamp, now_ms};

use crate::error::FieldError;
use crate::pages::VisitPage;
use crate::store::{FieldStore, wrong_kind};

#[uniffi::export]
impl FieldStore {
    /// The rules of visits the server last gave with the registry (how often a business is due
    /// one, the checklist); `None` before the registry was first fetched.
    pub fn visit_rules(&self) -> Result<Option<VisitRules>, FieldError> {
        Ok(self.store()?.visit_rules()?)
    }

    /// A visit to business `business` by this phone's user, ready to record: its scope and the
    /// rules' checklist filled from the registry copy and the rules held. `UnknownBusiness`
    /// when the copy does not hold it.
    pub fn plan_visit(&self, business: String) -> Result<NewVisit, FieldError> {
        Ok(self.store()?.plan_visit(&business)?)
    }

    /// Records a visit (police patrol members, grid leaders, dispatchers); returns its id.
    /// Refused, changing nothing: `UnknownBusiness` for a business the registry copy does not
    /// hold, `InvalidInput` (`checklist`) for an item the rules do not list, `Forbidden` for a
    /// role that does not keep the registry or a business outside the user's scopes.
    pub fn record_visit(&self, visit: NewVisit) -> Result<String, FieldError> {
        self.created(NewRecord::Visit { visit })
    }

    /// The visit `id`: its checklist, results (an item's latest stands), findings, follow-up.
    pub fn get_visit(&self, id: String) -> Result<Visit, FieldError> {
        match self.get(id)? {
            Record::Visit { visit } => Ok(visit),
            other => Err(wrong_kind(&other, Kind::Visit)),
        }
    }

    /// A page of visits matching `filter`, newest first.
    #[uniffi::method(default(page))]
    pub fn query_visits(
        &self,
        filter: VisitFilter,
        page: PageRequest,
    ) -> Result<VisitPage, FieldError> {
        Ok(self.store()?.query_visits(&filter, &page)?.into())
    }

    /// The open businesses of the registry copy due a visit at `at` (now when absent): never
    /// visited, or last visited longer ago than the rules allow. Never visited first.
    #[uniffi::method(default(at = None))]
    pub fn overdue_businesses(
        &self,
        at: Option<Timestamp>,
    ) -> Result<Vec<OverdueBusiness>, FieldError> {
        let at = at.unwrap_or_else(|| Timestamp::from_millis(now_ms()));
        Ok(self.store()?.overdue_businesses(at)?)
    }
}
