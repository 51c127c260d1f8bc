//! `palisade-injector`: the mutating admission webhook that adds the Palisade engine to pods.
//!
//! The admission decision is a pure function ([`inject::decide`]): pod, namespace labels and
//! [`config::InjectorConfig`] in, a JSONPatch, a skip or a denial out. The server around it
//! ([`server`]) only decodes AdmissionReviews, looks up namespace labels and serves TLS.
#![forbid(unsafe_code)]

pub mod annotations;
pub mod config;
pub mod containers;
pub mod inject;
pub mod metrics;
pub mod multus;
pub mod quantity;
pub mod review;
pub mod server;
pub mod tls;

/// Annotation and label prefix shared by everything Palisade puts on a pod.
pub const PREFIX: &str = "palisade.dev/";
/// Pod and namespace label that switches injection on.
pub const INJECT_LABEL: &str = "palisade.dev/inject";
/// Annotation (and label) the injector sets; the CNI plugin acts only on pods carrying it.
pub const STATUS_KEY: &str = "palisade.dev/status";
pub const STATUS_INJECTED: &str = "injected";
/// Name of the injected engine container.
pub const ENGINE_CONTAINER: &str = "palisade-engine";
/// Name of the injected redirect init container (`redirect: init`).
pub const INIT_CONTAINER: &str = "palisade-init";
/// The CNI-mode init container that fails the pod when the redirect is missing.
pub const VALIDATE_CONTAINER: &str = "palisade-validate";
