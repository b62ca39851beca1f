//! The integration tests of fieldsync-server: the real server on loopback (in-process or as a child process).
//!
//! One binary for all of them (every extra test binary links the whole dependency tree again);
//! each module is one area, as its own documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod blobs;
mod board;
mod bulletins;
mod businesses;
mod child;
mod common;
mod crash_loop;
mod deliberations;
mod desk;
mod fuzz_corpus;
mod fuzz_findings;
mod hostile;
mod http;
mod index;
mod interop;
mod open311;
mod points;
mod policy;
mod postgres;
mod probing;
mod process;
mod relay;
mod rights;
mod tls;
mod visits;
