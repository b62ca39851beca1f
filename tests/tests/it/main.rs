//! The end-to-end and fault tests: phones and the real server, weak links, crashes, long offline work.
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod enrollment;
mod link;
mod long_offline;
mod phone_crash;
mod photos;
mod store_crash;
mod sync_e2e;
mod weak_link;
