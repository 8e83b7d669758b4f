//! The `upkeep` binary as a library, so integration tests can start the real server in-process.
//!
//! This is the only crate that names concrete storage backends ([`backend`]).

pub mod backend;
pub mod bench;
pub mod cli;
pub mod logging;
pub mod server;
