//! The end-to-end and fault tests: phones and the real server, weak links, crashes, long offline work.
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// libtest starts tests in the order of their names, two at a time on two cores. The day's work
// over a dropping 2G link takes the longest (52 s) while using the CPU least (1.3 s): its module
// is named to sort among the first, so that it waits out the link beside the tests that need
// the CPU instead of after them (87 s for this binary when it came last, 67 s when first).
mod businesses;
mod dropping_link;
mod enrollment;
mod link;
mod long_offline;
mod peer;
mod phone_crash;
mod photos;
mod photos_at_rest;
mod points;
mod store_crash;
mod store_key_crash;
mod sync_e2e;
mod tls;
