//! The command centre's web board in a real browser (Debian's chromium, headless, through
//! chromedriver): signing in and the roles refused, a phone's report on the board within 2 s
//! without a reload, an overdue report marked and first, the filters, a hostile title shown
//! as text, dispatch and supervision from the page reaching the responder's phone at its next
//! sync (`live`); the map's markers and outlines, the assessment's figures against the API's,
//! the read lists and the English page (`map_stats`); the event stream surviving a server
//! restart (`restart`); and, without a browser, the shell, files and security headers the
//! server answers (`serving`). Each browser test saves screenshots (`browser::Browser::screenshot`); without
//! chromium and chromedriver they skip with one line (fail under
//! `FIELDSYNC_REQUIRE_ALL_TESTS=1`).

pub mod browser;
mod live;
mod map_stats;
mod restart;
mod serving;

use fieldsync_core::DocId;
use fieldsync_core::model::{Location, NewRecord, NewReport, ReportCategory};

use crate::common::{GRID, Phone};

/// A report of `category` titled `title`, at `place` (lat, lon) if given.
pub fn report(title: &str, category: ReportCategory, place: Option<(f64, f64)>) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category,
            title: title.to_string(),
            description: format!("{title}：现场情况说明"),
            location: place.map(|(lat, lon)| Location {
                lat,
                lon,
                accuracy: 8.0,
                address: "新华小区".to_string(),
            }),
            photos: vec![],
        },
    }
}

/// Files `new` on `phone` (offline: nothing is sent yet).
pub fn file(phone: &Phone, new: &NewRecord) -> DocId {
    phone.report_with(new)
}

/// A JavaScript expression: the board rows' titles, in order.
pub const ROW_TITLES: &str =
    "return [...document.querySelectorAll('#rows .row .title')].map(e => e.textContent);";
