//! Injector configuration: the `injector.json` the chart renders from its values.

use serde::Deserialize;

use palisade_api::{ConfigMapName, LogLevel, Mode, ParanoiaLevel, Quantity, RedirectMode};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("invalid config field {field} = {value:?}: {allowed}")]
    Field {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// A field checked by the contract crate's parser (the message names it).
    #[error("invalid config {path}: {source}")]
    Contract {
        path: String,
        source: Box<palisade_api::Error>,
    },
}

/// Engine defaults; pods override them with `palisade.dev/*` annotations.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineConfig {
    pub image: String,
    #[serde(default = "default_pull_policy")]
    pub image_pull_policy: String,
    pub mode: Mode,
    pub paranoia_level: ParanoiaLevel,
    pub log_level: LogLevel,
    pub capture_port: u16,
    pub admin_port: u16,
    /// Engine UID/GID; `None` leaves it to the platform (OpenShift assigns one per namespace).
    #[serde(default)]
    pub uid: Option<i64>,
    pub cpu_request: Quantity,
    pub memory_request: Quantity,
    pub cpu_limit: Quantity,
    pub memory_limit: Quantity,
    /// Cluster-wide ConfigMap with the user's rules, mounted at `/etc/palisade/rules` in every
    /// injected pod (a pod's `palisade.dev/rules-configmap` adds its own after it).
    #[serde(default)]
    pub rules_config_map: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedirectConfig {
    pub mode: RedirectMode,
    /// In `cni` mode, add the `palisade-validate` init container (race protection).
    #[serde(default)]
    pub validate: bool,
    pub init_image: String,
    #[serde(default = "default_pull_policy")]
    pub init_image_pull_policy: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InjectorConfig {
    /// `major.minor` of the cluster: >= 1.29 gets the engine as a native sidecar.
    pub kubernetes_version: String,
    #[serde(default)]
    pub exclude_namespaces: Vec<String>,
    pub engine: EngineConfig,
    pub redirect: RedirectConfig,
    /// `<namespace>/<name>` of the palisade-cni NetworkAttachmentDefinition (Multus mode).
    #[serde(default)]
    pub multus_network: Option<String>,
}

fn default_pull_policy() -> String {
    "IfNotPresent".to_owned()
}

// === impl InjectorConfig ===

impl InjectorConfig {
    pub fn from_file(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    pub fn from_json(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: Self = serde_json::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        self.kube_minor()?;
        if let Some(cm) = &self.engine.rules_config_map {
            ConfigMapName::parse("engine.rulesConfigMap", cm).map_err(|source| {
                ConfigError::Contract {
                    path: path.to_owned(),
                    source: Box::new(source),
                }
            })?;
        }
        if let Some(net) = &self.multus_network
            && (net.is_empty() || net.split('/').count() > 2)
        {
            return Err(ConfigError::Field {
                field: "multusNetwork",
                value: net.clone(),
                allowed: "<namespace>/<name> or <name>",
            });
        }
        Ok(())
    }

    /// `(major, minor)` of `kubernetesVersion` ("1.29", "v1.33.2").
    pub fn kube_minor(&self) -> Result<(u32, u32), ConfigError> {
        let bad = || ConfigError::Field {
            field: "kubernetesVersion",
            value: self.kubernetes_version.clone(),
            allowed: "a version such as 1.29 or v1.33.1",
        };
        let v = self.kubernetes_version.trim_start_matches('v');
        let mut parts = v.split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts
            .next()
            .map(|p| p.trim_end_matches('+'))
            .and_then(|p| p.parse().ok())
            .ok_or_else(bad)?;
        Ok((major, minor))
    }

    /// Native sidecars (init containers with `restartPolicy: Always`) are on by default
    /// from Kubernetes 1.29.
    pub fn native_sidecar(&self) -> bool {
        self.kube_minor().map(|v| v >= (1, 29)).unwrap_or(false)
    }
}
