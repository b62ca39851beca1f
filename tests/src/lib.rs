//! Helpers shared by the end-to-end tests.

pub mod backend;
pub mod browser;
pub mod crash;
pub mod link;
pub mod phone;
pub mod phone_crash;
pub mod postgres;
pub mod tls;
pub mod tools;
