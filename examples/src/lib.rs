//! Shared helpers for the examples and the benchmark harness.

pub mod bench;
