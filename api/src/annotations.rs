//! `palisade.dev/*` pod annotations: the reference table (docs/annotations.md is checked
//! against it), the redirect settings every redirect installer reads, and the full set the
//! injector reads.
//!
//! The redirect settings ([`RedirectSettings`]) are parsed and validated first, by the same
//! code in the injector and the CNI plugin, so a pod the CNI plugin would fail is denied at
//! admission with the CNI plugin's message.

use std::collections::BTreeMap;

use crate::names::{self, init_env};
use crate::ports::{EnginePorts, PortRange, PortSelection};
use crate::{
    ConfigMapName, Error, LogLevel, Mode, ParanoiaLevel, Quantity, RedirectMode, ServiceMesh,
};

/// One row of the annotation reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnotationSpec {
    /// The full key, `palisade.dev/...`.
    pub key: &'static str,
    /// What the docs table says is allowed (without Markdown backticks).
    pub allowed: &'static str,
    /// What the docs table says the default is (without Markdown backticks).
    pub default: &'static str,
}

/// Every annotation a user may set, in the order of docs/annotations.md.
pub const ANNOTATIONS: &[AnnotationSpec] = &[
    AnnotationSpec {
        key: names::EXCLUDE_INBOUND_PORTS,
        allowed: "comma-separated ports and ranges",
        default: "none",
    },
    AnnotationSpec {
        key: names::INCLUDE_INBOUND_PORTS,
        allowed: "* or comma-separated ports and ranges",
        default: "*",
    },
    AnnotationSpec {
        key: names::MODE,
        allowed: Mode::ALLOWED,
        default: "chart value engine.mode (block)",
    },
    AnnotationSpec {
        key: names::PARANOIA_LEVEL,
        allowed: ParanoiaLevel::ALLOWED,
        default: "chart value engine.paranoiaLevel (1)",
    },
    AnnotationSpec {
        key: names::SERVICE_MESH,
        allowed: ServiceMesh::ALLOWED,
        default: "none",
    },
    AnnotationSpec {
        key: names::REDIRECT,
        allowed: RedirectMode::ALLOWED,
        default: "chart value redirect.mode (cni)",
    },
    AnnotationSpec {
        key: names::LOG_LEVEL,
        allowed: LogLevel::ALLOWED,
        default: "chart value engine.logLevel (info)",
    },
    AnnotationSpec {
        key: names::ENGINE_CPU_REQUEST,
        allowed: "Kubernetes quantity",
        default: "chart value engine.resources.requests.cpu (100m)",
    },
    AnnotationSpec {
        key: names::ENGINE_MEMORY_REQUEST,
        allowed: "Kubernetes quantity",
        default: "chart value engine.resources.requests.memory (128Mi)",
    },
    AnnotationSpec {
        key: names::ENGINE_CPU_LIMIT,
        allowed: "Kubernetes quantity",
        default: "chart value engine.resources.limits.cpu (1)",
    },
    AnnotationSpec {
        key: names::ENGINE_MEMORY_LIMIT,
        allowed: "Kubernetes quantity",
        default: "chart value engine.resources.limits.memory (512Mi)",
    },
    AnnotationSpec {
        key: names::RULES_CONFIG_MAP,
        allowed: "ConfigMap name in the pod's namespace (DNS-1123 subdomain)",
        default: "none",
    },
];

/// Where the three redirect settings come from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectFields {
    pub include: &'static str,
    pub exclude: &'static str,
    pub mesh: &'static str,
}

impl RedirectFields {
    /// Pod annotations (the injector, the CNI plugin).
    pub const ANNOTATIONS: Self = Self {
        include: names::INCLUDE_INBOUND_PORTS,
        exclude: names::EXCLUDE_INBOUND_PORTS,
        mesh: names::SERVICE_MESH,
    };
    /// `palisade-init`'s environment.
    pub const INIT_ENV: Self = Self {
        include: init_env::INCLUDE_INBOUND_PORTS,
        exclude: init_env::EXCLUDE_INBOUND_PORTS,
        mesh: init_env::SERVICE_MESH,
    };
}

/// What the redirect installers (CNI plugin, `palisade-init`) take from a pod: which ports
/// are redirected and the mesh. Always valid: the engine's ports are never targets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectSettings {
    pub include: PortSelection,
    pub exclude: Vec<PortRange>,
    pub mesh: ServiceMesh,
}

// === impl RedirectSettings ===

impl RedirectSettings {
    /// Parses the three values (`None`: not set, the default) and checks them against the
    /// engine's ports. Errors name the field from `fields`.
    pub fn parse(
        fields: RedirectFields,
        include: Option<&str>,
        exclude: Option<&str>,
        mesh: Option<&str>,
        engine: EnginePorts,
    ) -> Result<Self, Error> {
        let settings = Self {
            include: include
                .map(|v| PortSelection::parse(fields.include, v))
                .transpose()?
                .unwrap_or_default(),
            exclude: exclude
                .map(|v| PortRange::parse_list(fields.exclude, v))
                .transpose()?
                .unwrap_or_default(),
            mesh: mesh
                .map(|v| ServiceMesh::parse(fields.mesh, v))
                .transpose()?
                .unwrap_or_default(),
        };
        settings
            .include
            .check_engine_ports(fields.include, engine)?;
        Ok(settings)
    }

    /// The settings of a pod from its annotations.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
        engine: EnginePorts,
    ) -> Result<Self, Error> {
        let get = |k: &str| annotations.get(k).map(String::as_str);
        let f = RedirectFields::ANNOTATIONS;
        Self::parse(f, get(f.include), get(f.exclude), get(f.mesh), engine)
    }
}

/// Every `palisade.dev/*` annotation of a pod, parsed. `None`: not set (the chart default
/// applies).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodAnnotations {
    pub ports: RedirectSettings,
    pub mode: Option<Mode>,
    pub paranoia_level: Option<ParanoiaLevel>,
    pub redirect: Option<RedirectMode>,
    pub log_level: Option<LogLevel>,
    pub engine_cpu_request: Option<Quantity>,
    pub engine_memory_request: Option<Quantity>,
    pub engine_cpu_limit: Option<Quantity>,
    pub engine_memory_limit: Option<Quantity>,
    /// Per-pod rules, loaded after the CRS and the cluster-wide rules ConfigMap.
    pub rules_config_map: Option<ConfigMapName>,
    /// `palisade.dev/*` keys that are not annotations Palisade reads (worth a warning).
    pub unknown: Vec<String>,
}

// === impl PodAnnotations ===

impl PodAnnotations {
    /// Parses every annotation; the redirect settings first, exactly as the CNI plugin does,
    /// so the first error is the one it would report.
    pub fn parse(
        annotations: &BTreeMap<String, String>,
        engine: EnginePorts,
    ) -> Result<Self, Error> {
        fn opt<T>(
            a: &BTreeMap<String, String>,
            key: &str,
            parse: impl Fn(&str, &str) -> Result<T, Error>,
        ) -> Result<Option<T>, Error> {
            a.get(key).map(|v| parse(key, v)).transpose()
        }
        Ok(Self {
            ports: RedirectSettings::from_annotations(annotations, engine)?,
            mode: opt(annotations, names::MODE, Mode::parse)?,
            paranoia_level: opt(annotations, names::PARANOIA_LEVEL, ParanoiaLevel::parse)?,
            redirect: opt(annotations, names::REDIRECT, RedirectMode::parse)?,
            log_level: opt(annotations, names::LOG_LEVEL, LogLevel::parse)?,
            engine_cpu_request: opt(annotations, names::ENGINE_CPU_REQUEST, Quantity::parse)?,
            engine_memory_request: opt(annotations, names::ENGINE_MEMORY_REQUEST, Quantity::parse)?,
            engine_cpu_limit: opt(annotations, names::ENGINE_CPU_LIMIT, Quantity::parse)?,
            engine_memory_limit: opt(annotations, names::ENGINE_MEMORY_LIMIT, Quantity::parse)?,
            rules_config_map: opt(annotations, names::RULES_CONFIG_MAP, ConfigMapName::parse)?,
            unknown: annotations
                .keys()
                .filter(|k| k.starts_with(names::PREFIX))
                .filter(|k| *k != names::STATUS && !ANNOTATIONS.iter().any(|a| a.key == *k))
                .cloned()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn unset_annotations_leave_the_defaults() {
        let a = PodAnnotations::parse(&map(&[]), EnginePorts::default()).unwrap();
        assert_eq!(a, PodAnnotations::default());
    }

    #[test]
    fn redirect_errors_come_first_whatever_else_is_wrong() {
        let a = map(&[
            (names::MODE, "loud"),
            (names::INCLUDE_INBOUND_PORTS, "15300"),
        ]);
        let e = PodAnnotations::parse(&a, EnginePorts::default()).unwrap_err();
        assert_eq!(e.field(), names::INCLUDE_INBOUND_PORTS);
    }

    #[test]
    fn unknown_palisade_keys_are_listed_and_others_ignored() {
        let a = map(&[
            ("palisade.dev/moed", "block"),
            (names::STATUS, names::STATUS_INJECTED),
            ("example.com/x", "1"),
        ]);
        let parsed = PodAnnotations::parse(&a, EnginePorts::default()).unwrap();
        assert_eq!(parsed.unknown, vec!["palisade.dev/moed".to_owned()]);
    }

    #[test]
    fn init_fields_name_the_environment_variables() {
        let e = RedirectSettings::parse(
            RedirectFields::INIT_ENV,
            Some("80,,81"),
            None,
            None,
            EnginePorts::default(),
        )
        .unwrap_err();
        assert_eq!(e.field(), "PALISADE_INCLUDE_INBOUND_PORTS");
    }
}
