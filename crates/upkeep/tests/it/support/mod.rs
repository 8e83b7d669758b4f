//! Helpers shared by the integration tests: fresh databases on every storage backend.

pub mod databases;
