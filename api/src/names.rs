//! Names that travel between components: labels, annotation keys, container names, the
//! status value and the environment variables the injector sets on what it injects.

use std::collections::BTreeMap;

/// Prefix of every label and annotation Palisade reads or writes.
pub const PREFIX: &str = "palisade.dev/";

// === labels ===

/// Pod label (`"true"`/`"false"`) and namespace label (`enabled`) that switch injection on.
pub const INJECT_LABEL: &str = "palisade.dev/inject";
/// Pod value of [`INJECT_LABEL`] that injects the pod whatever its namespace says.
pub const INJECT_POD_ON: &str = "true";
/// Pod value of [`INJECT_LABEL`] that opts the pod out of an enabled namespace.
pub const INJECT_POD_OFF: &str = "false";
/// Namespace value of [`INJECT_LABEL`] that injects every pod not labelled off.
pub const INJECT_NAMESPACE_ON: &str = "enabled";

/// Annotation and label the injector sets on every pod it changes; the CNI plugin and the
/// repair controller act only on pods carrying it (or an engine container).
pub const STATUS: &str = "palisade.dev/status";
/// The value of [`STATUS`] on an injected pod.
pub const STATUS_INJECTED: &str = "injected";

// === annotation keys (values parsed in [`crate::annotations`]) ===

pub const EXCLUDE_INBOUND_PORTS: &str = "palisade.dev/exclude-inbound-ports";
pub const INCLUDE_INBOUND_PORTS: &str = "palisade.dev/include-inbound-ports";
pub const MODE: &str = "palisade.dev/mode";
pub const PARANOIA_LEVEL: &str = "palisade.dev/paranoia-level";
pub const SERVICE_MESH: &str = "palisade.dev/service-mesh";
pub const REDIRECT: &str = "palisade.dev/redirect";
pub const LOG_LEVEL: &str = "palisade.dev/log-level";
pub const ENGINE_CPU_REQUEST: &str = "palisade.dev/engine-cpu-request";
pub const ENGINE_MEMORY_REQUEST: &str = "palisade.dev/engine-memory-request";
pub const ENGINE_CPU_LIMIT: &str = "palisade.dev/engine-cpu-limit";
pub const ENGINE_MEMORY_LIMIT: &str = "palisade.dev/engine-memory-limit";
/// A ConfigMap (same namespace) whose `*.conf` keys the engine loads after the CRS.
pub const RULES_CONFIG_MAP: &str = "palisade.dev/rules-configmap";

// === containers ===

/// The injected engine (a native sidecar, or the last regular container).
pub const ENGINE_CONTAINER: &str = "palisade-engine";
/// The redirect init container (`redirect: init`).
pub const INIT_CONTAINER: &str = "palisade-init";
/// The CNI-mode init container that fails the pod when the redirect is missing.
pub const VALIDATE_CONTAINER: &str = "palisade-validate";
/// Containers whose exit with [`crate::exit::REDIRECT_MISSING`] means "started unprotected".
pub const REDIRECT_CHECKERS: &[&str] = &[ENGINE_CONTAINER, VALIDATE_CONTAINER];

// === environment ===

/// The log filter of every Palisade binary (`info`, `debug`, `palisade_engine=trace,info`).
/// The injector sets it from `palisade.dev/log-level` on everything it injects.
pub const LOG_ENV: &str = "PALISADE_LOG";
/// Log filter used when [`LOG_ENV`] is unset.
pub const DEFAULT_LOG: &str = "info";

/// The variables `palisade-init` reads; the injector sets them from the annotations.
pub mod init_env {
    pub const CAPTURE_PORT: &str = "PALISADE_CAPTURE_PORT";
    pub const ADMIN_PORT: &str = "PALISADE_ADMIN_PORT";
    pub const EXCLUDE_INBOUND_PORTS: &str = "PALISADE_EXCLUDE_INBOUND_PORTS";
    pub const INCLUDE_INBOUND_PORTS: &str = "PALISADE_INCLUDE_INBOUND_PORTS";
    pub const SERVICE_MESH: &str = "PALISADE_SERVICE_MESH";
    pub const ENGINE_UID: &str = "PALISADE_ENGINE_UID";
    pub const ENGINE_GID: &str = "PALISADE_ENGINE_GID";
    pub const BACKEND: &str = "PALISADE_BACKEND";
    pub const NETNS: &str = "PALISADE_NETNS";
    pub const TERMINATION_LOG: &str = "PALISADE_TERMINATION_LOG";
}

/// Whether Palisade owns this pod: marked by the injector, or carrying the engine container
/// (in `containers` or `initContainers`). The injector uses it to never inject twice, the CNI
/// plugin to leave every other pod alone.
pub fn is_injected<'a>(
    annotations: Option<&BTreeMap<String, String>>,
    containers: impl IntoIterator<Item = &'a str>,
) -> bool {
    annotations
        .and_then(|a| a.get(STATUS))
        .is_some_and(|v| v == STATUS_INJECTED)
        || containers.into_iter().any(|c| c == ENGINE_CONTAINER)
}
