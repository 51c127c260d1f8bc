//! Which pods Palisade acts on, and their redirect settings from `palisade.dev/*` annotations.
//! Both decisions are the contract crate's ([`palisade_api`]), so the injector denies at
//! admission exactly the pods this plugin would fail, with the same message.

use std::collections::BTreeMap;

use palisade_api::{EnginePorts, RedirectMode, RedirectSettings, names};
use palisade_redirect::RedirectConfig;

use crate::conf::NetConf;
use crate::error::{CniError, code};

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
        names::is_injected(
            Some(&self.annotations),
            self.containers.iter().map(String::as_str),
        )
    }

    /// The pod's `palisade.dev/redirect` when it leaves the redirect to someone else: its own
    /// `palisade-init` container (`init`) or nobody (`none`). The repair controller ignores
    /// such pods for the same reason. A value that does not parse was denied at admission; it
    /// counts as the plugin's, so a typo never leaves a pod without a redirect.
    pub fn redirect_elsewhere(&self) -> Option<RedirectMode> {
        self.annotations
            .get(names::REDIRECT)
            .and_then(|v| RedirectMode::parse(names::REDIRECT, v).ok())
            .filter(|m| matches!(m, RedirectMode::Init | RedirectMode::None))
    }
}

/// The redirect config for an injected pod: plugin defaults overridden by annotations.
/// Invalid annotations fail with code 101 and the contract's message.
pub fn redirect_config(conf: &NetConf, pod: &PodInfo) -> Result<RedirectConfig, CniError> {
    let engine = EnginePorts {
        capture: conf.capture_port,
        admin: conf.admin_port,
    };
    let settings = RedirectSettings::from_annotations(&pod.annotations, engine).map_err(|e| {
        CniError::new(code::INVALID_ANNOTATION, e.to_string())
            .with_details(format!("pod {}/{}", pod.namespace, pod.name))
    })?;
    Ok(RedirectConfig {
        engine_uid: conf.engine_uid,
        engine_gid: conf.engine_gid,
        ..RedirectConfig::new(engine, settings)
    })
}

#[cfg(test)]
mod tests {
    use palisade_api::ServiceMesh;
    use palisade_api::names::{ENGINE_CONTAINER, EXCLUDE_INBOUND_PORTS, SERVICE_MESH, STATUS};

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
    fn init_and_none_pods_are_redirected_elsewhere_and_typos_by_the_plugin() {
        use palisade_api::names::REDIRECT;
        assert_eq!(
            pod(&[(REDIRECT, "init")]).redirect_elsewhere(),
            Some(RedirectMode::Init)
        );
        assert_eq!(
            pod(&[(REDIRECT, "none")]).redirect_elsewhere(),
            Some(RedirectMode::None)
        );
        assert_eq!(pod(&[(REDIRECT, "cni")]).redirect_elsewhere(), None);
        assert_eq!(pod(&[(REDIRECT, "inti")]).redirect_elsewhere(), None);
        assert_eq!(pod(&[]).redirect_elsewhere(), None);
    }

    #[test]
    fn only_marked_pods_or_pods_with_the_engine_are_injected() {
        assert!(pod(&[(STATUS, "injected")]).is_injected());
        assert!(!pod(&[(STATUS, "skipped")]).is_injected());
        let mut p = pod(&[]);
        p.containers = vec!["app".into(), ENGINE_CONTAINER.into()];
        assert!(p.is_injected());
    }

    #[test]
    fn annotations_override_defaults() {
        let c = redirect_config(
            &conf(),
            &pod(&[
                (EXCLUDE_INBOUND_PORTS, "8081,9000-9100"),
                (SERVICE_MESH, "istio"),
            ]),
        )
        .unwrap();
        assert_eq!(c.exclude.len(), 2);
        assert_eq!(c.mesh, ServiceMesh::Istio);
    }

    #[test]
    fn invalid_annotation_names_key_and_value() {
        for v in ["80,abc", "70000", "9100-9000"] {
            let e = redirect_config(&conf(), &pod(&[(EXCLUDE_INBOUND_PORTS, v)])).unwrap_err();
            assert_eq!(e.code, code::INVALID_ANNOTATION);
            assert!(
                e.msg.contains(EXCLUDE_INBOUND_PORTS) && e.msg.contains(v),
                "{}",
                e.msg
            );
        }
        let e = redirect_config(&conf(), &pod(&[(SERVICE_MESH, "linkerd")])).unwrap_err();
        assert!(e.msg.contains("linkerd"), "{}", e.msg);
    }
}
