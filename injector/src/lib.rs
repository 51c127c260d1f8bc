//! `palisade-injector`: the mutating admission webhook that adds the Palisade engine to pods.
//!
//! The admission decision is a pure function ([`inject::decide`]): pod, namespace labels and
//! [`config::InjectorConfig`] in, a JSONPatch, a skip or a denial out. The server around it
//! ([`server`]) only decodes AdmissionReviews, looks up namespace labels and serves TLS.
//! Label, annotation and container names, and the annotation parsers, are the contract
//! crate's ([`palisade_api`]), shared with the CNI plugin and `palisade-init`.
#![forbid(unsafe_code)]

pub mod annotations;
pub mod cli;
pub mod config;
pub mod containers;
pub mod inject;
pub mod metrics;
pub mod multus;
pub mod review;
pub mod server;
pub mod tls;
