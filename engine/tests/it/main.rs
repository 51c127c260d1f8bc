//! Integration tests against the built `palisade-engine` binary in explicit mode, on
//! loopback, without root. Every test starts its own app and engine on ephemeral ports.

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
