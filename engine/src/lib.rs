//! `palisade-engine`: the Palisade data plane, a pingora reverse proxy that inspects
//! each request before forwarding it to the protected app.
//!
//! - [`config`]: typed configuration (YAML, `PALISADE_*` env, flags) and validation.
//! - [`proxy`]: the data plane (protocol detection, HTTP phases, TCP passthrough).
//! - [`inspect`]: the inspection hook rule engines implement, and the limits inspector.
//! - [`admin`], [`metrics`], [`accesslog`]: observability.
//! - [`server`], [`reload`], [`state`]: lifecycle, hot reload and graceful drain.
#![forbid(unsafe_code)]

pub mod accesslog;
pub mod admin;
pub mod cli;
pub mod config;
pub mod inspect;
pub mod listen;
pub mod metrics;
pub mod proxy;
pub mod reload;
pub mod server;
pub mod state;
pub mod tune;
