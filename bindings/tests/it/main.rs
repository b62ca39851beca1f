//! The bindings' tests: bad input from foreign code, observers, and the sources an app generates.
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The store key of every store the tests open (an app's comes from the Keystore or Keychain).
const KEY: [u8; 32] = [7; 32];

mod bad_input;
mod generated;
mod observers;
