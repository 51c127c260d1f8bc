//! A pod's effective settings: its `palisade.dev/*` annotations, parsed and validated by the
//! contract crate ([`palisade_api`]) exactly as the CNI plugin and `palisade-init` parse
//! them, over the chart defaults. A bad value denies the pod with the contract's message.

use std::collections::BTreeMap;

use palisade_api::{
    ConfigMapName, EnginePorts, Error, LogLevel, Mode, ParanoiaLevel, PodAnnotations, Quantity,
    RedirectMode, RedirectSettings, names,
};

use crate::config::EngineConfig;

/// Effective per-pod settings: annotations over the chart defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSettings {
    pub mode: Mode,
    pub paranoia_level: ParanoiaLevel,
    pub log_level: LogLevel,
    pub redirect: RedirectMode,
    /// Include/exclude ports and mesh, as the redirect installers will read them.
    pub ports: RedirectSettings,
    pub cpu_request: Quantity,
    pub memory_request: Quantity,
    pub cpu_limit: Quantity,
    pub memory_limit: Quantity,
    /// `palisade.dev/rules-configmap`: this pod's own rules, loaded after the cluster-wide ones.
    pub rules_config_map: Option<ConfigMapName>,
    /// `palisade.dev/*` annotations Palisade does not read (returned as warnings).
    pub unknown: Vec<String>,
}

/// Reads every `palisade.dev/*` annotation over the engine defaults.
pub fn parse(
    annotations: &BTreeMap<String, String>,
    engine: &EngineConfig,
    default_redirect: RedirectMode,
) -> Result<PodSettings, Error> {
    let ports = EnginePorts {
        capture: engine.capture_port,
        admin: engine.admin_port,
    };
    let a = PodAnnotations::parse(annotations, ports)?;
    let s = PodSettings {
        mode: a.mode.unwrap_or(engine.mode),
        paranoia_level: a.paranoia_level.unwrap_or(engine.paranoia_level),
        log_level: a.log_level.unwrap_or(engine.log_level),
        redirect: a.redirect.unwrap_or(default_redirect),
        ports: a.ports,
        cpu_request: a
            .engine_cpu_request
            .unwrap_or_else(|| engine.cpu_request.clone()),
        memory_request: a
            .engine_memory_request
            .unwrap_or_else(|| engine.memory_request.clone()),
        cpu_limit: a
            .engine_cpu_limit
            .unwrap_or_else(|| engine.cpu_limit.clone()),
        memory_limit: a
            .engine_memory_limit
            .unwrap_or_else(|| engine.memory_limit.clone()),
        rules_config_map: a.rules_config_map,
        unknown: a.unknown,
    };
    Quantity::check_request_le_limit(
        names::ENGINE_CPU_REQUEST,
        &s.cpu_request,
        names::ENGINE_CPU_LIMIT,
        &s.cpu_limit,
    )?;
    Quantity::check_request_le_limit(
        names::ENGINE_MEMORY_REQUEST,
        &s.memory_request,
        names::ENGINE_MEMORY_LIMIT,
        &s.memory_limit,
    )?;
    Ok(s)
}
