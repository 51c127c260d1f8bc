//! Shared helpers for the injector's integration tests.
// Each test crate that includes this module uses a subset of its helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use palisade_injector::config::InjectorConfig;
use serde_json::{Value, json};

pub fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

/// The config the chart renders with default values (Kubernetes 1.33).
pub fn base_config_json() -> Value {
    json!({
        "kubernetesVersion": "1.33",
        "excludeNamespaces": ["palisade-system", "kube-system"],
        "engine": {
            "image": "ghcr.io/palisade-waf/palisade-engine:0.1.0",
            "imagePullPolicy": "IfNotPresent",
            "mode": "block", "paranoiaLevel": 1, "logLevel": "info",
            "capturePort": 15300, "adminPort": 15301, "uid": 15300,
            "cpuRequest": "100m", "memoryRequest": "128Mi", "cpuLimit": "1", "memoryLimit": "512Mi",
            "rulesConfigMap": null
        },
        "redirect": {
            "mode": "cni",
            "initImage": "ghcr.io/palisade-waf/palisade-cni:0.1.0",
            "initImagePullPolicy": "IfNotPresent"
        },
        "multusNetwork": null
    })
}

pub fn config_with(edit: impl FnOnce(&mut Value)) -> InjectorConfig {
    let mut v = base_config_json();
    edit(&mut v);
    InjectorConfig::from_json(&v.to_string(), "test").expect("test config is valid")
}

pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(dir("fixtures").join(name)).expect("fixture exists");
    serde_yaml::from_str(&text).expect("fixture is YAML")
}
