//! Integration tests against the built `palisade-engine` binary in explicit mode, on
//! loopback, without root. Every test starts its own app and engine on ephemeral ports.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // helpers shared by all test modules; each uses a subset
mod support;

mod bodies;
mod config;
mod crs;
mod differential;
mod drain;
mod front;
mod hook;
mod http1;
mod limits;
mod protocols;
mod reload;
mod tune;
mod upstream;
