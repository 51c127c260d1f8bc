//! Editing CNI network configuration: pure functions over JSON values, pinned by golden tests
//! with calico-, flannel- and cilium-shaped files.

use serde_json::{Map, Value, json};

use super::config::{InstallConfig, PLUGIN_NAME};

#[derive(Debug, thiserror::Error)]
pub enum ConflistError {
    #[error("{file}: not JSON: {source}")]
    Json {
        file: String,
        source: serde_json::Error,
    },
    #[error(
        "{file}: neither a conflist (\"plugins\" list) nor a conf (\"type\"); cannot add palisade-cni"
    )]
    Shape { file: String },
}

/// The plugin's own entry, as it appears in a conflist. The capability asks containerd to pass
/// the pod's annotations in `runtimeConfig`, which spares the plugin an API call.
pub fn plugin_entry(cfg: &InstallConfig, kubeconfig_on_node: &str) -> Value {
    let mut entry = json!({
        "type": PLUGIN_NAME,
        "capabilities": { "io.kubernetes.cri.pod-annotations": true },
        "kubernetes": { "kubeconfig": kubeconfig_on_node },
        "excludeNamespaces": cfg.exclude_namespaces,
        "logLevel": cfg.log_level,
    });
    if let Some(backend) = &cfg.backend {
        entry["backend"] = json!(backend);
    }
    if let Some(log) = &cfg.plugin_log_file_on_node {
        entry["logFile"] = json!(log);
    }
    entry
}

/// The standalone conf Multus runs for pods that list the network.
pub fn standalone(cfg: &InstallConfig, kubeconfig_on_node: &str) -> Value {
    let mut conf = Map::new();
    conf.insert("cniVersion".to_owned(), json!("1.0.0"));
    conf.insert("name".to_owned(), json!(cfg.network_name));
    if let Value::Object(entry) = plugin_entry(cfg, kubeconfig_on_node) {
        conf.extend(entry);
    }
    Value::Object(conf)
}

fn is_ours(plugin: &Value) -> bool {
    plugin.get("type").and_then(Value::as_str) == Some(PLUGIN_NAME)
}

pub fn parse(file: &str, text: &str) -> Result<Value, ConflistError> {
    serde_json::from_str(text).map_err(|source| ConflistError::Json {
        file: file.to_owned(),
        source,
    })
}

/// Adds `entry` as the last plugin, replacing an older palisade entry wherever it was. A
/// single-plugin `.conf` becomes a conflist whose first plugin is the original conf.
pub fn insert(file: &str, primary: &Value, entry: &Value) -> Result<Value, ConflistError> {
    let shape = || ConflistError::Shape {
        file: file.to_owned(),
    };
    let obj = primary.as_object().ok_or_else(shape)?;
    if let Some(plugins) = obj.get("plugins") {
        let mut plugins: Vec<Value> = plugins
            .as_array()
            .ok_or_else(shape)?
            .iter()
            .filter(|p| !is_ours(p))
            .cloned()
            .collect();
        plugins.push(entry.clone());
        let mut out = obj.clone();
        out.insert("plugins".to_owned(), Value::Array(plugins));
        return Ok(Value::Object(out));
    }
    if obj.get("type").and_then(Value::as_str).is_none() {
        return Err(shape());
    }
    let mut first = obj.clone();
    let version = first.remove("cniVersion").unwrap_or_else(|| json!("0.3.1"));
    let name = first
        .remove("name")
        .unwrap_or_else(|| json!("k8s-pod-network"));
    Ok(json!({ "cniVersion": version, "name": name, "plugins": [Value::Object(first), entry] }))
}

/// Whether `conflist` already ends with exactly `entry` (nothing to write).
pub fn is_current(conflist: &Value, entry: &Value) -> bool {
    let Some(plugins) = conflist.get("plugins").and_then(Value::as_array) else {
        return false;
    };
    plugins.last() == Some(entry) && plugins.iter().filter(|p| is_ours(p)).count() == 1
}

/// The conflist without palisade's entry; `None` when it had none.
pub fn remove(conflist: &Value) -> Option<Value> {
    let plugins = conflist.get("plugins")?.as_array()?;
    if !plugins.iter().any(is_ours) {
        return None;
    }
    let mut out = conflist.clone();
    out["plugins"] = Value::Array(plugins.iter().filter(|p| !is_ours(p)).cloned().collect());
    Some(out)
}

/// The primary CNI's file: the configured one, else the first config file in name order
/// (the order the container runtime uses), never palisade's own standalone conf.
pub fn pick_primary(names: &[String], configured: &str, own: &str) -> Option<String> {
    if !configured.is_empty() {
        // A .conf we converted earlier now exists as .conflist.
        let converted = configured
            .strip_suffix(".conf")
            .map(|b| format!("{b}.conflist"));
        return names
            .iter()
            .find(|n| *n == configured || Some(*n) == converted.as_ref())
            .cloned();
    }
    let mut candidates: Vec<&String> = names
        .iter()
        .filter(|n| !n.starts_with('.') && n.as_str() != own)
        .filter(|n| n.ends_with(".conflist") || n.ends_with(".conf") || n.ends_with(".json"))
        .collect();
    candidates.sort();
    candidates.first().map(|n| (*n).clone())
}

/// The file name a primary config is written back to (`.conf` becomes `.conflist`).
pub fn output_name(primary: &str) -> String {
    match primary.strip_suffix(".conf") {
        Some(base) => format!("{base}.conflist"),
        None => primary.to_owned(),
    }
}
