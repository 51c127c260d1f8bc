//! `palisade.dev/*` pod annotations: parsed and checked before anything is injected, so a bad
//! value denies the pod with a message naming the annotation, the value and what is allowed.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::EngineConfig;
use crate::quantity::Quantity;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("annotation {annotation}: invalid value {value:?}; allowed: {allowed}")]
pub struct AnnotationError {
    pub annotation: String,
    pub value: String,
    pub allowed: String,
}

/// One row of the annotation reference (docs/annotations.md is checked against this table).
#[derive(Debug, Clone, Copy)]
pub struct AnnotationSpec {
    /// Name without the `palisade.dev/` prefix.
    pub name: &'static str,
    pub allowed: &'static str,
    pub default: &'static str,
}

pub const ANNOTATIONS: &[AnnotationSpec] = &[
    AnnotationSpec {
        name: "exclude-inbound-ports",
        allowed: "comma-separated ports and ranges, e.g. 8081,9000-9100",
        default: "none",
    },
    AnnotationSpec {
        name: "include-inbound-ports",
        allowed: "* or comma-separated ports and ranges",
        default: "*",
    },
    AnnotationSpec {
        name: "mode",
        allowed: "block, monitor, off",
        default: "chart value engine.mode (block)",
    },
    AnnotationSpec {
        name: "paranoia-level",
        allowed: "1, 2, 3, 4",
        default: "chart value engine.paranoiaLevel (1)",
    },
    AnnotationSpec {
        name: "service-mesh",
        allowed: "none, istio",
        default: "none",
    },
    AnnotationSpec {
        name: "redirect",
        allowed: "cni, init, none",
        default: "chart value redirect.mode (cni)",
    },
    AnnotationSpec {
        name: "log-level",
        allowed: "error, warn, info, debug, trace",
        default: "chart value engine.logLevel (info)",
    },
    AnnotationSpec {
        name: "engine-cpu-request",
        allowed: "a Kubernetes quantity, e.g. 100m",
        default: "chart value engine.resources.requests.cpu",
    },
    AnnotationSpec {
        name: "engine-memory-request",
        allowed: "a Kubernetes quantity, e.g. 128Mi",
        default: "chart value engine.resources.requests.memory",
    },
    AnnotationSpec {
        name: "engine-cpu-limit",
        allowed: "a Kubernetes quantity, e.g. 1",
        default: "chart value engine.resources.limits.cpu",
    },
    AnnotationSpec {
        name: "engine-memory-limit",
        allowed: "a Kubernetes quantity, e.g. 512Mi",
        default: "chart value engine.resources.limits.memory",
    },
];

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALLOWED: &'static str = concat!($($text, " "),+);
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

word_enum!(
    /// Engine mode: block attacks, only log them, or pass everything.
    Mode { Block = "block", Monitor = "monitor", Off = "off" }
);
word_enum!(LogLevel { Error = "error", Warn = "warn", Info = "info", Debug = "debug", Trace = "trace" });
word_enum!(
    /// Who installs the redirect rules: the CNI plugin, an init container, or nobody.
    RedirectMode { Cni = "cni", Init = "init", None = "none" }
);
word_enum!(ServiceMesh { None = "none", Istio = "istio" });

/// Port selection: `None` for `*` (every port) or a list of inclusive ranges.
pub type PortRanges = Vec<(u16, u16)>;

/// Effective per-pod settings: annotations over the chart defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSettings {
    pub mode: Mode,
    pub paranoia_level: u8,
    pub log_level: LogLevel,
    pub redirect: RedirectMode,
    pub service_mesh: ServiceMesh,
    pub exclude_inbound_ports: PortRanges,
    /// `None` means `*`.
    pub include_inbound_ports: Option<PortRanges>,
    pub cpu_request: Quantity,
    pub memory_request: Quantity,
    pub cpu_limit: Quantity,
    pub memory_limit: Quantity,
    /// `palisade.dev/*` annotations the injector does not know (returned as warnings).
    pub unknown: Vec<String>,
}

fn err(name: &str, value: &str, allowed: &str) -> AnnotationError {
    AnnotationError {
        annotation: format!("palisade.dev/{name}"),
        value: value.to_owned(),
        allowed: allowed.trim().replace(' ', ", "),
    }
}

/// Parses "8081,9000-9100" (spaces around items tolerated).
pub fn parse_ports(name: &str, value: &str) -> Result<PortRanges, AnnotationError> {
    let bad = || AnnotationError {
        annotation: format!("palisade.dev/{name}"),
        value: value.to_owned(),
        allowed: "comma-separated ports 1-65535 or ranges LOW-HIGH, e.g. 8081,9000-9100".to_owned(),
    };
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p != 0);
    value
        .split(',')
        .map(|item| match item.split_once('-') {
            Some((lo, hi)) => match (port(lo), port(hi)) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(bad()),
            },
            None => port(item).map(|p| (p, p)).ok_or_else(bad),
        })
        .collect()
}

fn quantity(name: &str, value: &str) -> Result<Quantity, AnnotationError> {
    Quantity::parse(value).map_err(|_| AnnotationError {
        annotation: format!("palisade.dev/{name}"),
        value: value.to_owned(),
        allowed: crate::quantity::ALLOWED.to_owned(),
    })
}

/// Reads every `palisade.dev/*` annotation over the engine defaults.
pub fn parse(
    annotations: &BTreeMap<String, String>,
    engine: &EngineConfig,
    default_redirect: RedirectMode,
) -> Result<PodSettings, AnnotationError> {
    let mut s = PodSettings {
        mode: engine.mode,
        paranoia_level: engine.paranoia_level,
        log_level: engine.log_level,
        redirect: default_redirect,
        service_mesh: ServiceMesh::None,
        exclude_inbound_ports: Vec::new(),
        include_inbound_ports: None,
        cpu_request: engine.cpu_request.clone(),
        memory_request: engine.memory_request.clone(),
        cpu_limit: engine.cpu_limit.clone(),
        memory_limit: engine.memory_limit.clone(),
        unknown: Vec::new(),
    };
    for (key, value) in annotations {
        let Some(name) = key.strip_prefix(crate::PREFIX) else {
            continue;
        };
        let v = value.trim();
        match name {
            "mode" => s.mode = Mode::parse(v).ok_or_else(|| err(name, v, Mode::ALLOWED))?,
            "log-level" => {
                s.log_level = LogLevel::parse(v).ok_or_else(|| err(name, v, LogLevel::ALLOWED))?
            }
            "redirect" => {
                s.redirect =
                    RedirectMode::parse(v).ok_or_else(|| err(name, v, RedirectMode::ALLOWED))?
            }
            "service-mesh" => {
                s.service_mesh =
                    ServiceMesh::parse(v).ok_or_else(|| err(name, v, ServiceMesh::ALLOWED))?
            }
            "paranoia-level" => {
                s.paranoia_level = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=4).contains(p))
                    .ok_or_else(|| err(name, v, "1 2 3 4"))?
            }
            "exclude-inbound-ports" if v.is_empty() => s.exclude_inbound_ports.clear(),
            "exclude-inbound-ports" => s.exclude_inbound_ports = parse_ports(name, v)?,
            "include-inbound-ports" if v == "*" => s.include_inbound_ports = None,
            "include-inbound-ports" => s.include_inbound_ports = Some(parse_ports(name, v)?),
            "engine-cpu-request" => s.cpu_request = quantity(name, v)?,
            "engine-memory-request" => s.memory_request = quantity(name, v)?,
            "engine-cpu-limit" => s.cpu_limit = quantity(name, v)?,
            "engine-memory-limit" => s.memory_limit = quantity(name, v)?,
            "status" => {}
            _ => s.unknown.push(key.clone()),
        }
    }
    check_request_le_limit("engine-cpu-request", &s.cpu_request, &s.cpu_limit)?;
    check_request_le_limit("engine-memory-request", &s.memory_request, &s.memory_limit)?;
    Ok(s)
}

/// The API server rejects a request above its limit; say so in terms of the annotations.
fn check_request_le_limit(
    name: &str,
    request: &Quantity,
    limit: &Quantity,
) -> Result<(), AnnotationError> {
    if request.value() > limit.value() {
        return Err(AnnotationError {
            annotation: format!("palisade.dev/{name}"),
            value: request.to_string(),
            allowed: format!("a quantity no larger than the limit {limit}"),
        });
    }
    Ok(())
}

/// Renders port ranges back to the annotation syntax ("8081,9000-9100").
pub fn format_ports(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
