//! The plugin's network configuration (stdin) and the decisions drawn from it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use palisade_api::ports::{DEFAULT_ADMIN_PORT, DEFAULT_CAPTURE_PORT, DEFAULT_ENGINE_ID};
use palisade_redirect::BackendChoice;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{CniError, code};

/// CNI spec versions this plugin understands.
pub const SUPPORTED_VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
/// The runtime capability containerd fills with the pod's annotations.
pub const ANNOTATIONS_CAPABILITY: &str = "io.kubernetes.cri.pod-annotations";

/// Plugin config as the runtime passes it. Unknown keys are ignored, as the spec asks.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    pub cni_version: String,
    #[serde(default)]
    pub name: String,
    /// Set when chained; passed through unchanged.
    #[serde(default)]
    pub prev_result: Option<Value>,
    #[serde(default)]
    pub runtime_config: RuntimeConfig,
    #[serde(default = "default_capture_port")]
    pub capture_port: u16,
    #[serde(default = "default_admin_port")]
    pub admin_port: u16,
    #[serde(default = "default_engine_id")]
    pub engine_uid: u32,
    #[serde(default = "default_engine_id")]
    pub engine_gid: u32,
    /// `auto`, `nft`, `iptables-nft` or `iptables-legacy`.
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    #[serde(default)]
    pub log_level: Option<String>,
    #[serde(default = "default_exclude_namespaces")]
    pub exclude_namespaces: Vec<String>,
    #[serde(default)]
    pub kubernetes: Option<KubernetesConf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuntimeConfig {
    /// `None`: the runtime did not pass the key at all (no capability declared, or a runtime
    /// that does not know it). `Some(empty)`: the runtime passed `null` or `{}`, which is how
    /// containerd sends a pod without annotations; that is an answer, not a gap to fill from
    /// the API server.
    #[serde(
        default,
        rename = "io.kubernetes.cri.pod-annotations",
        deserialize_with = "present_annotations"
    )]
    pub pod_annotations: Option<BTreeMap<String, String>>,
}

/// Only called when the key is present: `null` and `{}` both become an empty map.
fn present_annotations<'de, D>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map: Option<BTreeMap<String, String>> = Option::deserialize(d)?;
    Ok(Some(map.unwrap_or_default()))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KubernetesConf {
    pub kubeconfig: Option<PathBuf>,
}

fn default_capture_port() -> u16 {
    DEFAULT_CAPTURE_PORT
}
fn default_admin_port() -> u16 {
    DEFAULT_ADMIN_PORT
}
fn default_engine_id() -> u32 {
    DEFAULT_ENGINE_ID
}
fn default_exclude_namespaces() -> Vec<String> {
    vec!["kube-system".into()]
}

impl NetConf {
    /// Parses stdin: malformed JSON is a decode failure (6), a wrong field type or value an
    /// invalid config (7), an unknown `cniVersion` an incompatible version (1).
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        let value: Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(
                code::DECODE_FAILURE,
                format!("network config on stdin is not valid JSON: {e}"),
            )
        })?;
        let conf: NetConf = serde_json::from_value(value)
            .map_err(|e| CniError::new(code::INVALID_CONFIG, format!("network config: {e}")))?;
        check_version(&conf.cni_version)?;
        conf.backend_choice()?;
        Ok(conf)
    }

    pub fn backend_choice(&self) -> Result<BackendChoice, CniError> {
        BackendChoice::parse("backend", self.backend.as_deref().unwrap_or("auto"))
            .map_err(|e| CniError::new(code::INVALID_CONFIG, format!("network config: {e}")))
    }
}

pub fn check_version(version: &str) -> Result<(), CniError> {
    if SUPPORTED_VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "cniVersion: `{version}` is not supported; expected one of {}",
                SUPPORTED_VERSIONS.join(", ")
            ),
        ))
    }
}

/// The version answer of `VERSION`.
pub fn version_answer() -> Value {
    serde_json::json!({ "cniVersion": "1.1.0", "supportedVersions": SUPPORTED_VERSIONS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_annotations_are_read_from_runtime_config() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"k8s","type":"palisade-cni",
                "runtimeConfig":{"io.kubernetes.cri.pod-annotations":{"palisade.dev/status":"injected"}}}"#,
        )
        .unwrap();
        assert_eq!(c.capture_port, 15300);
        assert_eq!(c.exclude_namespaces, vec!["kube-system"]);
        assert_eq!(
            c.runtime_config.pod_annotations.unwrap()["palisade.dev/status"],
            "injected"
        );
    }

    #[test]
    fn null_or_empty_annotations_from_the_runtime_are_no_annotations() {
        for passed in ["null", "{}"] {
            let c = NetConf::parse(
                format!(
                    r#"{{"cniVersion":"1.0.0","runtimeConfig":{{"io.kubernetes.cri.pod-annotations":{passed}}}}}"#
                )
                .as_bytes(),
            )
            .unwrap();
            assert_eq!(
                c.runtime_config.pod_annotations,
                Some(BTreeMap::new()),
                "{passed}"
            );
        }
        for absent in [
            r#"{"cniVersion":"1.0.0"}"#,
            r#"{"cniVersion":"1.0.0","runtimeConfig":{}}"#,
            r#"{"cniVersion":"1.0.0","runtimeConfig":{"portMappings":[]}}"#,
        ] {
            let c = NetConf::parse(absent.as_bytes()).unwrap();
            assert_eq!(c.runtime_config.pod_annotations, None, "{absent}");
        }
    }

    #[test]
    fn bad_input_gets_the_spec_codes() {
        assert_eq!(
            NetConf::parse(b"{not json").unwrap_err().code,
            code::DECODE_FAILURE
        );
        let e = NetConf::parse(br#"{"cniVersion":"9.9.9"}"#).unwrap_err();
        assert_eq!(e.code, code::INCOMPATIBLE_VERSION);
        assert!(e.msg.contains("9.9.9"));
        let e = NetConf::parse(br#"{"cniVersion":"1.0.0","capturePort":"x"}"#).unwrap_err();
        assert_eq!(e.code, code::INVALID_CONFIG);
        let e = NetConf::parse(br#"{"cniVersion":"1.0.0","backend":"ipfw"}"#).unwrap_err();
        assert!(e.msg.contains("ipfw"), "{}", e.msg);
    }
}
