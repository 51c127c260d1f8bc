//! `install.json`, rendered by the palisade-cni chart from its values.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read install config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid install config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InstallMode {
    /// Last plugin of the primary CNI's conflist.
    Chained,
    /// A conf of its own that Multus runs for pods that join the network.
    Standalone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RepairMode {
    /// Record an Event on pods that started without redirection.
    None,
    /// Also delete them, so their controller recreates them with the plugin in place.
    DeletePods,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallConfig {
    pub mode: InstallMode,
    /// The node's CNI bin dir as mounted in the installer container.
    pub host_bin_dir: PathBuf,
    /// The node's CNI conf dir as mounted in the installer container.
    pub host_conf_dir: PathBuf,
    /// The same directories as the node (and so the plugin) sees them.
    pub host_bin_dir_on_node: PathBuf,
    pub host_conf_dir_on_node: PathBuf,
    /// Chained mode: the conflist to edit; empty means the first one in the conf dir.
    #[serde(default)]
    pub conf_file: String,
    /// Standalone mode: network name, also the conf file name (`<name>.conf`).
    #[serde(default = "default_network")]
    pub network_name: String,
    #[serde(default)]
    pub exclude_namespaces: Vec<String>,
    #[serde(default = "default_repair")]
    pub repair_mode: RepairMode,
    #[serde(default = "default_true")]
    pub cleanup_on_exit: bool,
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// The plugin's packet-filter backend (`auto`, `nft`, `iptables-nft`, `iptables-legacy`);
    /// unset: the plugin's default (`auto`).
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default = "default_readyz_port")]
    pub readyz_port: u16,
    /// Service-account token and CA, projected by Kubernetes.
    #[serde(default = "default_sa_dir")]
    pub service_account_dir: PathBuf,
    /// The plugin's log file as the installer sees it (copied to the installer's stderr) and
    /// as the node sees it (the plugin's `logFile`); unset: the plugin does not log.
    #[serde(default)]
    pub plugin_log_file: Option<PathBuf>,
    #[serde(default)]
    pub plugin_log_file_on_node: Option<PathBuf>,
    /// The plugin binary to copy; default: the running executable (it is the plugin).
    #[serde(default)]
    pub plugin_binary: Option<PathBuf>,
}

pub const PLUGIN_NAME: &str = "palisade-cni";
pub const KUBECONFIG_NAME: &str = "palisade-cni-kubeconfig";

fn default_network() -> String {
    PLUGIN_NAME.to_owned()
}
fn default_repair() -> RepairMode {
    RepairMode::None
}
fn default_true() -> bool {
    true
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_readyz_port() -> u16 {
    15309
}
fn default_sa_dir() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount")
}

// === impl InstallConfig ===

impl InstallConfig {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Where the kubeconfig lives, inside the container and on the node.
    pub fn kubeconfig_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.host_conf_dir.join(KUBECONFIG_NAME),
            self.host_conf_dir_on_node.join(KUBECONFIG_NAME),
        )
    }

    pub fn standalone_file(&self) -> String {
        format!("{}.conf", self.network_name)
    }
}
