//! The integration tests of fieldsync-core: the phone's store, its commands, photos, convergence.
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bulletins;
mod cipher_provider;
mod commands;
mod common;
mod convergence;
mod deliberations;
mod encryption;
mod inbox;
mod peer;
mod photos;
mod photos_at_rest;
mod store;
mod visits;
mod wipe;
