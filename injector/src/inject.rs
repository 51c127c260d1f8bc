//! The admission decision as a pure function: pod + namespace labels + config in, a JSONPatch,
//! a skip or a denial out. No I/O, so every case is a fixture test.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use palisade_api::RedirectMode;
use palisade_api::names::{self, INJECT_LABEL, STATUS, STATUS_INJECTED};

use crate::annotations;
use crate::config::InjectorConfig;
use crate::{containers, multus};

/// What the webhook answers for one pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Admit unchanged; the reason is logged.
    Skip(&'static str),
    /// Admit with this RFC 6902 patch (a JSON array of operations).
    Patch { patch: Value, warnings: Vec<String> },
    /// Reject the pod; the message reaches the user (`kubectl apply` prints it).
    Deny(String),
}

/// Whether the namespace labels are needed: only when the pod label does not decide alone.
pub fn needs_namespace_labels(pod: &Pod) -> bool {
    !matches!(
        pod_label(pod),
        Some(names::INJECT_POD_ON | names::INJECT_POD_OFF)
    )
}

fn pod_label(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(INJECT_LABEL)
        .map(String::as_str)
}

/// The CNI plugin's own test ([`names::is_injected`]): marked, or carrying the engine.
fn already_injected(pod: &Pod) -> bool {
    let containers = pod.spec.iter().flat_map(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .map(|c| c.name.as_str())
    });
    names::is_injected(pod.metadata.annotations.as_ref(), containers)
}

/// JSON Pointer escaping (RFC 6901) for map keys such as `palisade.dev/status`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn set_map_entries(
    ops: &mut Vec<Value>,
    path: &str,
    existing: Option<&BTreeMap<String, String>>,
    entries: &[(&str, String)],
) {
    match existing {
        None => {
            let map: serde_json::Map<String, Value> = entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect();
            ops.push(json!({ "op": "add", "path": path, "value": map }));
        }
        Some(_) => {
            for (k, v) in entries {
                ops.push(
                    json!({ "op": "add", "path": format!("{path}/{}", escape(k)), "value": v }),
                );
            }
        }
    }
}

/// Decides what to do with a pod being created in `namespace` (whose labels are `ns_labels`).
pub fn decide(
    pod: &Pod,
    namespace: &str,
    ns_labels: &BTreeMap<String, String>,
    cfg: &InjectorConfig,
) -> Decision {
    if cfg.exclude_namespaces.iter().any(|n| n == namespace) {
        return Decision::Skip("namespace excluded");
    }
    match pod_label(pod) {
        Some(names::INJECT_POD_OFF) => {
            return Decision::Skip("pod label palisade.dev/inject=false");
        }
        Some(names::INJECT_POD_ON) => {}
        _ if ns_labels
            .get(INJECT_LABEL)
            .is_some_and(|v| v == names::INJECT_NAMESPACE_ON) => {}
        _ => return Decision::Skip("injection not enabled for pod or namespace"),
    }
    if already_injected(pod) {
        return Decision::Skip("already injected");
    }
    let Some(spec) = pod.spec.as_ref() else {
        return Decision::Deny("pod has no spec".to_owned());
    };
    if spec.host_network == Some(true) {
        // Redirect rules would land in the node's own network namespace.
        return Decision::Skip("hostNetwork pod");
    }
    let empty = BTreeMap::new();
    let pod_annotations = pod.metadata.annotations.as_ref().unwrap_or(&empty);
    let settings = match annotations::parse(pod_annotations, &cfg.engine, cfg.redirect.mode) {
        Ok(s) => s,
        Err(e) => return Decision::Deny(format!("palisade: {e}")),
    };

    let mut ops = Vec::new();
    let mut new_annotations = vec![(STATUS, STATUS_INJECTED.to_owned())];
    if let (Some(network), RedirectMode::Cni) = (&cfg.multus_network, settings.redirect) {
        let current = pod_annotations
            .get(multus::NETWORKS_ANNOTATION)
            .map(String::as_str);
        match multus::append(current, network, namespace) {
            Ok(Some(value)) => new_annotations.push((multus::NETWORKS_ANNOTATION, value)),
            Ok(None) => {}
            Err(e) => return Decision::Deny(format!("palisade: {e}")),
        }
    }
    set_map_entries(
        &mut ops,
        "/metadata/annotations",
        pod.metadata.annotations.as_ref(),
        &new_annotations,
    );
    set_map_entries(
        &mut ops,
        "/metadata/labels",
        pod.metadata.labels.as_ref(),
        &[(STATUS, STATUS_INJECTED.to_owned())],
    );

    let native = cfg.native_sidecar();
    let engine = containers::engine(&cfg.engine, &settings, native);
    // Order in initContainers: redirect rules first, then the engine, then the pod's own.
    let mut front = Vec::new();
    match settings.redirect {
        RedirectMode::Init => front.push(containers::init(&cfg.redirect, &cfg.engine, &settings)),
        RedirectMode::Cni if cfg.redirect.validate => {
            front.push(containers::validate(&cfg.redirect, &cfg.engine, &settings));
        }
        _ => {}
    }
    if native {
        front.push(engine.clone());
    }
    if !front.is_empty() {
        let values: Vec<Value> = front.iter().map(to_value).collect();
        if spec.init_containers.is_none() {
            ops.push(json!({ "op": "add", "path": "/spec/initContainers", "value": values }));
        } else {
            for (i, v) in values.into_iter().enumerate() {
                ops.push(
                    json!({ "op": "add", "path": format!("/spec/initContainers/{i}"), "value": v }),
                );
            }
        }
    }
    if !native {
        ops.push(json!({ "op": "add", "path": "/spec/containers/-", "value": to_value(&engine) }));
    }
    let volumes: Vec<Value> = containers::volumes(&cfg.engine, &settings)
        .iter()
        .map(to_value)
        .collect();
    if spec.volumes.is_none() {
        ops.push(json!({ "op": "add", "path": "/spec/volumes", "value": volumes }));
    } else {
        for v in volumes {
            ops.push(json!({ "op": "add", "path": "/spec/volumes/-", "value": v }));
        }
    }
    let mut warnings: Vec<String> = settings
        .unknown
        .iter()
        .map(|a| format!("palisade: unknown annotation {a} ignored"))
        .collect();
    if let Some(cm) = &settings.rules_config_map
        && cfg.engine.rules_config_map.as_deref() == Some(cm.as_str())
    {
        warnings.push(format!(
            "palisade: {} names {cm}, the cluster-wide rules ConfigMap; it is loaded once",
            names::RULES_CONFIG_MAP
        ));
    }
    Decision::Patch {
        patch: Value::Array(ops),
        warnings,
    }
}

/// k8s-openapi types always serialise (string keys, no fallible impls); Null is unreachable.
fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
