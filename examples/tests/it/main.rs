//! The examples' tests: the field-day scenario and the benchmark suites run small.
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench_blobs;
mod bench_load;
mod bench_points;
mod bench_sync;
mod common;
mod field_day;
