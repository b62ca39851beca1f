//! The phone API of fieldsync: a uniffi façade over fieldsync-core for the Android (Kotlin) and
//! iOS (Swift) apps, and Python for tools and tests.
//!
//! One object, [`FieldStore`], holds a phone's records: commands and reads are synchronous
//! calls, `enroll`, `syncNow` and the photo transfers are async; a [`ChangeObserver`] hears about
//! every change on the library's observer thread, a [`SyncListener`] about sync progress and a
//! [`PhotoListener`] about the bytes of a photo upload or download; a [`LogHook`] receives what
//! the library cannot return to a caller. A [`PeerSession`] syncs with another phone over a
//! [`PeerTransport`] the app provides, with no server in reach. Every failure is a [`FieldError`]. The record types
//! (reports, patrol logs, cases, commands, filters) come from core unchanged.
//!
//! Kotlin apps use the hand-written layer shipped beside the generated sources
//! (`bindings/kotlin/`: coroutines, `Flow`s, lambdas), Swift apps its `AsyncSequence`
//! counterpart (`bindings/swift/`).

uniffi::setup_scaffolding!("fieldsync");

mod businesses;
mod dispatch;
mod error;
mod input;
mod log;
mod observe;
mod open;
mod pages;
mod peer;
mod photos;
mod points;
mod store;
mod sync;
mod visits;

pub use dispatch::{ChangeObserver, Subscription, SubscriptionEnd};
pub use error::{FieldError, PeerRefusal};
pub use log::{LogHook, LogLevel, set_log_hook};
pub use observe::{PhotoListener, SyncListener};
pub use pages::{CasePage, PatrolPage, ReportPage, SearchPage};
pub use peer::{
    PeerListener, PeerSession, PeerSummary, PeerTcpListener, PeerTransport, connect_loopback_peer,
};
pub use store::{DeviceInfo, FieldStore, new_store_key};
