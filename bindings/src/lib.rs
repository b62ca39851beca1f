//! The phone API of fieldsync: a uniffi façade over fieldsync-core for the Android (Kotlin) and
//! iOS (Swift) apps, and Python for tools and tests.
//!
//! One object, [`FieldStore`], holds a phone's records: commands and reads are synchronous
//! calls, `enroll`, `sync_now` and the photo transfers are async; a [`ChangeObserver`] hears about
//! every change, a [`SyncListener`] about sync progress and a [`PhotoListener`] about the bytes of
//! a photo upload or download. Every failure is a [`FieldError`]. The record types
//! (reports, patrol logs, cases, commands, filters) come from core unchanged.

uniffi::setup_scaffolding!("fieldsync");

mod error;
mod input;
mod observe;
mod open;
mod pages;
mod photos;
mod store;
mod sync;
#[cfg(feature = "testbed")]
mod testbed;

pub use error::FieldError;
pub use observe::{ChangeObserver, PhotoListener, Subscription, SyncListener};
pub use pages::{CasePage, PatrolPage, ReportPage};
pub use store::{DeviceInfo, FieldStore};
#[cfg(feature = "testbed")]
pub use testbed::Testbed;
