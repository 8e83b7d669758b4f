//! Helpers shared by the integration tests: fresh databases on every storage backend, and the real server.

pub mod databases;
pub mod pages;
pub mod server;
