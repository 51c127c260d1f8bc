//! The injector.json the palisade chart renders (pinned by scripts/ci.d/20-charts.sh, which
//! compares it with Helm's output) is accepted by the injector's config parser.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use palisade_api::RedirectMode;
use palisade_injector::config::InjectorConfig;

fn load(name: &str) -> InjectorConfig {
    let path = common::dir("fixtures").join(name);
    InjectorConfig::from_file(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn chart_default_config_parses_with_chart_defaults() {
    let cfg = load("chart-injector.json");
    assert_eq!(
        cfg.engine.image,
        "ghcr.io/palisade-waf/palisade-engine:0.1.0"
    );
    assert_eq!(
        (
            cfg.engine.capture_port,
            cfg.engine.admin_port,
            cfg.engine.uid
        ),
        (15300, 15301, Some(15300))
    );
    assert_eq!(cfg.redirect.mode, RedirectMode::Cni);
    assert!(cfg.exclude_namespaces.contains(&"kube-system".to_owned()));
    assert!(cfg.multus_network.is_none());
}

#[test]
fn chart_openshift_config_parses_with_multus_network() {
    let cfg = load("chart-injector-openshift.json");
    assert_eq!(
        (cfg.multus_network.as_deref(), cfg.engine.uid),
        (Some("default/palisade-cni"), None)
    );
}

#[test]
fn bad_config_values_name_the_field() {
    let mut v = common::base_config_json();
    v["kubernetesVersion"] = serde_json::json!("latest");
    let err = InjectorConfig::from_json(&v.to_string(), "x.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kubernetesVersion") && err.contains("latest"),
        "{err}"
    );
    let mut v = common::base_config_json();
    v["engine"]["mode"] = serde_json::json!("loud");
    let err = InjectorConfig::from_json(&v.to_string(), "x.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.json") && err.contains("loud"), "{err}");
}

#[test]
fn cluster_wide_rules_configmap_must_be_a_configmap_name() {
    // `engine.crs.source: configMap` with `engine.crs.configMap` left empty renders "".
    for bad in ["", "Shop_Rules"] {
        let mut v = common::base_config_json();
        v["engine"]["rulesConfigMap"] = serde_json::json!(bad);
        let err = InjectorConfig::from_json(&v.to_string(), "x.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "invalid config x.json: engine.rulesConfigMap: invalid value {bad:?}"
            )) && err.contains("DNS-1123"),
            "{err}"
        );
    }
}
