//! Which pods Palisade acts on, and their redirect settings from `palisade.dev/*` annotations.

use std::collections::BTreeMap;

use palisade_redirect::{MeshMode, PortRange, PortSelection, RedirectConfig};

use crate::conf::NetConf;
use crate::error::{CniError, code};

pub const STATUS_ANNOTATION: &str = "palisade.dev/status";
pub const EXCLUDE_ANNOTATION: &str = "palisade.dev/exclude-inbound-ports";
pub const INCLUDE_ANNOTATION: &str = "palisade.dev/include-inbound-ports";
pub const MESH_ANNOTATION: &str = "palisade.dev/service-mesh";
/// The container name the injector gives the engine.
pub const ENGINE_CONTAINER: &str = "palisade-engine";

/// What the plugin knows about the pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub annotations: BTreeMap<String, String>,
    /// Names of `containers` and `initContainers`, when read from the API.
    pub containers: Vec<String>,
}

impl PodInfo {
    /// Marked by the injector, or carrying the engine container.
    pub fn is_injected(&self) -> bool {
        self.annotations.get(STATUS_ANNOTATION).map(String::as_str) == Some("injected")
            || self.containers.iter().any(|c| c == ENGINE_CONTAINER)
    }
}

/// The redirect config for an injected pod: plugin defaults overridden by annotations.
/// Invalid annotations fail with code 101 naming the annotation and value.
pub fn redirect_config(conf: &NetConf, pod: &PodInfo) -> Result<RedirectConfig, CniError> {
    let bad = |e: palisade_redirect::ConfigError| {
        CniError::new(code::INVALID_ANNOTATION, e.to_string())
            .with_details(format!("pod {}/{}", pod.namespace, pod.name))
    };
    let get = |k: &str| pod.annotations.get(k).map(String::as_str).unwrap_or("");
    let config = RedirectConfig {
        capture_port: conf.capture_port,
        admin_port: conf.admin_port,
        include: PortSelection::parse(INCLUDE_ANNOTATION, get(INCLUDE_ANNOTATION)).map_err(bad)?,
        exclude: PortRange::parse_list(EXCLUDE_ANNOTATION, get(EXCLUDE_ANNOTATION)).map_err(bad)?,
        mesh: MeshMode::parse(MESH_ANNOTATION, get(MESH_ANNOTATION)).map_err(bad)?,
        engine_uid: conf.engine_uid,
        engine_gid: conf.engine_gid,
        ..RedirectConfig::default()
    };
    config.validate(INCLUDE_ANNOTATION).map_err(bad)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(pairs: &[(&str, &str)]) -> PodInfo {
        PodInfo {
            namespace: "shop".into(),
            name: "web".into(),
            annotations: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            containers: vec![],
        }
    }

    fn conf() -> NetConf {
        NetConf::parse(br#"{"cniVersion":"1.0.0"}"#).unwrap()
    }

    #[test]
    fn only_marked_pods_or_pods_with_the_engine_are_injected() {
        assert!(pod(&[(STATUS_ANNOTATION, "injected")]).is_injected());
        assert!(!pod(&[(STATUS_ANNOTATION, "skipped")]).is_injected());
        let mut p = pod(&[]);
        p.containers = vec!["app".into(), ENGINE_CONTAINER.into()];
        assert!(p.is_injected());
    }

    #[test]
    fn annotations_override_defaults() {
        let c = redirect_config(
            &conf(),
            &pod(&[
                (EXCLUDE_ANNOTATION, "8081,9000-9100"),
                (MESH_ANNOTATION, "istio"),
            ]),
        )
        .unwrap();
        assert_eq!(c.exclude.len(), 2);
        assert_eq!(c.mesh, MeshMode::Istio);
    }

    #[test]
    fn invalid_annotation_names_key_and_value() {
        for v in ["80,abc", "70000", "9100-9000"] {
            let e = redirect_config(&conf(), &pod(&[(EXCLUDE_ANNOTATION, v)])).unwrap_err();
            assert_eq!(e.code, code::INVALID_ANNOTATION);
            assert!(
                e.msg.contains(EXCLUDE_ANNOTATION) && e.msg.contains(v),
                "{}",
                e.msg
            );
        }
        let e = redirect_config(&conf(), &pod(&[(MESH_ANNOTATION, "linkerd")])).unwrap_err();
        assert!(e.msg.contains("linkerd"), "{}", e.msg);
    }
}
