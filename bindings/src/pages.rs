//! Pages of query results: core's generic `Page<T>` for each summary type, since foreign
//! languages see no generics.

use fieldsync_core::store::{
    BulletinSummary, CaseSummary, DeliberationSummary, InboxItem, Page, PatrolSummary,
    ReportSummary, SearchHit, VisitSummary,
};

macro_rules! page {
    ($(#[$meta:meta])* $name:ident of $item:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, uniffi::Record)]
        pub struct $name {
            /// The items, newest first.
            pub items: Vec<$item>,
            /// Pass as `PageRequest.after` to read the next page; `null` on the last page.
            pub next: Option<String>,
        }

        impl From<Page<$item>> for $name {
            fn from(page: Page<$item>) -> Self {
                $name { items: page.items, next: page.next }
            }
        }
    };
}

page! {
    /// One page of reports.
    ReportPage of ReportSummary
}
page! {
    /// One page of patrol logs.
    PatrolPage of PatrolSummary
}
page! {
    /// One page of mediation cases.
    CasePage of CaseSummary
}
page! {
    /// One page of warning bulletins.
    BulletinPage of BulletinSummary
}

page! {
    /// One page of deliberations.
    DeliberationPage of DeliberationSummary
}
page! {
    /// One page of business visits.
    VisitPage of VisitSummary
}
page! {
    /// One page of search hits.
    SearchPage of SearchHit
}
page! {
    /// One page of the inbox.
    InboxPage of InboxItem
}
