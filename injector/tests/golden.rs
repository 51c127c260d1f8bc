//! Fixture pods of real shapes in, patched pods out, compared with golden files in
//! tests/golden/ (regenerate with UPDATE_GOLDEN=1). scripts/ci.d/20-charts.sh validates every
//! golden pod strictly against the Kubernetes 1.29 and 1.33 schemas.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{config_with, dir, fixture};
use k8s_openapi::api::core::v1::Pod;
use palisade_injector::config::InjectorConfig;
use palisade_injector::inject::{Decision, decide};
use serde_json::{Value, json};

fn enabled_ns() -> BTreeMap<String, String> {
    BTreeMap::from([("palisade.dev/inject".to_owned(), "enabled".to_owned())])
}

fn patched(name: &str, cfg: &InjectorConfig, ns_labels: &BTreeMap<String, String>) -> Value {
    let mut doc = fixture(name);
    let ns = doc["metadata"]["namespace"].as_str().unwrap().to_owned();
    let pod: Pod = serde_json::from_value(doc.clone()).unwrap();
    let Decision::Patch { patch, .. } = decide(&pod, &ns, ns_labels, cfg) else {
        panic!(
            "{name}: expected a patch, got {:?}",
            decide(&pod, &ns, ns_labels, cfg)
        );
    };
    let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
    json_patch::patch(&mut doc, &patch)
        .unwrap_or_else(|e| panic!("{name}: patch does not apply: {e}"));
    // Injecting the result again must change nothing.
    let again: Pod = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(
        decide(&again, &ns, ns_labels, cfg),
        Decision::Skip("already injected"),
        "{name}: second pass"
    );
    doc
}

fn check_golden(golden: &str, doc: &Value) {
    let path = dir("golden").join(golden);
    palisade_api::testing::golden(&path, &serde_yaml::to_string(doc).unwrap());
}

fn init_names(doc: &Value) -> Vec<&str> {
    doc["spec"]["initContainers"]
        .as_array()
        .map_or(vec![], |a| {
            a.iter().map(|c| c["name"].as_str().unwrap()).collect()
        })
}

fn engine_env(container: &Value, name: &str) -> String {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn labelled_pod_gets_native_sidecar_engine_on_1_33() {
    let doc = patched("web-labelled.yaml", &config_with(|_| {}), &BTreeMap::new());
    assert_eq!(init_names(&doc), ["palisade-engine"]);
    let engine = &doc["spec"]["initContainers"][0];
    assert_eq!(engine["restartPolicy"], "Always");
    assert_eq!(engine["startupProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(engine["securityContext"]["runAsUser"], 15300);
    assert_eq!(engine["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        engine_env(engine, "PALISADE_LISTEN"),
        "0.0.0.0:15300,[::]:15300"
    );
    assert_eq!(engine_env(engine, "PALISADE_ADMIN"), "0.0.0.0:15301");
    assert_eq!(
        doc["metadata"]["annotations"]["palisade.dev/status"],
        "injected"
    );
    check_golden("web-labelled.yaml", &doc);
}

#[test]
fn regular_container_engine_before_kubernetes_1_29() {
    let cfg = config_with(|c| c["kubernetesVersion"] = json!("1.28"));
    let doc = patched("web-labelled.yaml", &cfg, &BTreeMap::new());
    assert!(doc["spec"].get("initContainers").is_none());
    let names: Vec<_> = doc["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("web"), json!("palisade-engine")]);
    assert!(doc["spec"]["containers"][1].get("restartPolicy").is_none());
    check_golden("web-labelled-k8s-1.28.yaml", &doc);
}

#[test]
fn namespace_label_injects_with_annotation_overrides() {
    let doc = patched("multi-container.yaml", &config_with(|_| {}), &enabled_ns());
    let engine = &doc["spec"]["initContainers"][0];
    assert_eq!(engine_env(engine, "PALISADE_INSPECTION_MODE"), "monitor");
    assert_eq!(
        engine_env(engine, "PALISADE_INSPECTION_PARANOIA_LEVEL"),
        "3"
    );
    assert_eq!(engine_env(engine, "PALISADE_LOG"), "debug");
    assert_eq!(engine["resources"]["requests"]["cpu"], "250m");
    assert_eq!(engine["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(
        doc["metadata"]["annotations"]["prometheus.io/scrape"], "true",
        "existing annotations kept"
    );
    check_golden("multi-container.yaml", &doc);
}

#[test]
fn init_redirect_puts_palisade_init_first_before_existing_init_containers() {
    let doc = patched("existing-init.yaml", &config_with(|_| {}), &BTreeMap::new());
    assert_eq!(
        init_names(&doc),
        ["palisade-init", "palisade-engine", "migrate"]
    );
    let init = &doc["spec"]["initContainers"][0];
    assert_eq!(
        init["securityContext"]["capabilities"],
        json!({"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]})
    );
    assert_eq!(
        engine_env(init, "PALISADE_INCLUDE_INBOUND_PORTS"),
        "8080,8443"
    );
    let volumes: Vec<_> = doc["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(volumes, [json!("config"), json!("palisade-tmp")]);
    check_golden("existing-init.yaml", &doc);
}

fn openshift() -> InjectorConfig {
    // As values-openshift.yaml renders it: Multus network, UID left to the SCC.
    config_with(|c| {
        c["multusNetwork"] = json!("palisade-system/palisade-cni");
        c["engine"]["uid"] = Value::Null;
    })
}

#[test]
fn multus_network_appended_to_comma_form() {
    let doc = patched("multus-comma.yaml", &openshift(), &BTreeMap::new());
    assert_eq!(
        doc["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"],
        "sriov-net@net1,palisade-system/palisade-cni"
    );
    let engine_sc = &doc["spec"]["initContainers"][0]["securityContext"];
    assert!(
        engine_sc.get("runAsUser").is_none() && engine_sc["runAsNonRoot"] == true,
        "{engine_sc}"
    );
    check_golden("multus-comma.yaml", &doc);
}

#[test]
fn multus_network_appended_to_json_list_form() {
    let doc = patched("multus-json.yaml", &openshift(), &BTreeMap::new());
    let nets: Value = serde_json::from_str(
        doc["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(nets[0]["name"], "macvlan-conf");
    assert_eq!(
        nets[1],
        json!({"name": "palisade-cni", "namespace": "palisade-system"})
    );
    check_golden("multus-json.yaml", &doc);
}

#[test]
fn istio_injected_pod_keeps_istio_containers_and_gets_mesh_mode() {
    let doc = patched(
        "istio-injected.yaml",
        &config_with(|_| {}),
        &BTreeMap::new(),
    );
    assert_eq!(
        init_names(&doc),
        [
            "palisade-init",
            "palisade-engine",
            "istio-init",
            "istio-proxy"
        ]
    );
    assert_eq!(
        engine_env(&doc["spec"]["initContainers"][0], "PALISADE_SERVICE_MESH"),
        "istio"
    );
    check_golden("istio-injected.yaml", &doc);
}

#[test]
fn rules_config_map_is_mounted_read_only() {
    let cfg = config_with(|c| c["engine"]["rulesConfigMap"] = json!("shop-rules"));
    let doc = patched("web-labelled.yaml", &cfg, &BTreeMap::new());
    let engine = &doc["spec"]["initContainers"][0];
    assert_eq!(
        engine_env(engine, "PALISADE_INSPECTION_RULES"),
        "/usr/share/palisade/crs/crs-setup.conf,/usr/share/palisade/crs/rules/*.conf,/etc/palisade/rules/*.conf"
    );
    assert!(
        doc["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["configMap"]["name"] == "shop-rules")
    );
    check_golden("web-labelled-rules.yaml", &doc);
}

#[test]
fn every_engine_variable_injected_is_one_the_engine_documents() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .expect("docs/configuration.md (the engine's configuration reference)");
    let cfg = config_with(|c| c["engine"]["rulesConfigMap"] = json!("rules"));
    let doc = patched("multi-container.yaml", &cfg, &enabled_ns());
    let engine = &doc["spec"]["initContainers"][0];
    for var in engine["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap();
        assert!(
            docs.contains(&format!("`{name}`")),
            "{name} is not an engine setting in docs/configuration.md"
        );
    }
}

#[test]
fn cni_mode_with_validate_adds_palisade_validate_before_the_engine() {
    let cfg = config_with(|c| c["redirect"]["validate"] = json!(true));
    let doc = patched("web-labelled.yaml", &cfg, &BTreeMap::new());
    assert_eq!(init_names(&doc), ["palisade-validate", "palisade-engine"]);
    let validate = &doc["spec"]["initContainers"][0];
    assert_eq!(validate["command"], json!(["palisade-validate"]));
    // Pod Security `restricted`: non-root, no capabilities, no escalation, RuntimeDefault.
    let sc = &validate["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none(), "{sc}");
    assert_eq!(sc["runAsNonRoot"], json!(true));
    assert_eq!(sc["allowPrivilegeEscalation"], json!(false));
    assert_eq!(sc["seccompProfile"]["type"], json!("RuntimeDefault"));
    let engine = &doc["spec"]["initContainers"][1];
    assert_eq!(
        engine["securityContext"]["seccompProfile"]["type"],
        json!("RuntimeDefault")
    );
}

fn volume_config_maps(doc: &Value) -> Vec<(String, String)> {
    doc["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("configMap").is_some())
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["configMap"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn mounts(container: &Value) -> Vec<(String, String, bool)> {
    container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["mountPath"].as_str().unwrap().to_owned(),
                m["readOnly"] == true,
            )
        })
        .collect()
}

const IMAGE_CRS: &str =
    "/usr/share/palisade/crs/crs-setup.conf,/usr/share/palisade/crs/rules/*.conf";

#[test]
fn rules_configmap_annotation_mounts_the_pods_rules_read_only_after_the_crs() {
    let doc = patched(
        "web-rules-annotation.yaml",
        &config_with(|_| {}),
        &BTreeMap::new(),
    );
    let engine = &doc["spec"]["initContainers"][0];
    assert_eq!(
        engine_env(engine, "PALISADE_INSPECTION_RULES"),
        format!("{IMAGE_CRS},/etc/palisade/pod-rules/*.conf")
    );
    assert_eq!(
        volume_config_maps(&doc),
        [("palisade-pod-rules".to_owned(), "web-exclusions".to_owned())]
    );
    assert!(
        mounts(engine).contains(&(
            "palisade-pod-rules".to_owned(),
            "/etc/palisade/pod-rules".to_owned(),
            true
        )),
        "{engine}"
    );
    check_golden("web-rules-annotation.yaml", &doc);
}

#[test]
fn without_the_annotation_or_a_cluster_configmap_the_engine_keeps_the_images_rules() {
    let doc = patched("web-labelled.yaml", &config_with(|_| {}), &BTreeMap::new());
    let engine = &doc["spec"]["initContainers"][0];
    assert!(
        !engine["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "PALISADE_INSPECTION_RULES"),
        "the image's own default applies: {engine}"
    );
    assert!(volume_config_maps(&doc).is_empty(), "{doc}");
    assert_eq!(
        mounts(engine),
        [("palisade-tmp".to_owned(), "/tmp".to_owned(), false)]
    );
}

#[test]
fn cluster_wide_rules_load_first_then_the_pods_own() {
    let cfg = config_with(|c| c["engine"]["rulesConfigMap"] = json!("org-baseline"));
    let doc = patched("web-rules-annotation.yaml", &cfg, &BTreeMap::new());
    let engine = &doc["spec"]["initContainers"][0];
    assert_eq!(
        engine_env(engine, "PALISADE_INSPECTION_RULES"),
        format!("{IMAGE_CRS},/etc/palisade/rules/*.conf,/etc/palisade/pod-rules/*.conf")
    );
    assert_eq!(
        volume_config_maps(&doc),
        [
            ("palisade-rules".to_owned(), "org-baseline".to_owned()),
            ("palisade-pod-rules".to_owned(), "web-exclusions".to_owned()),
        ]
    );
    let m = mounts(engine);
    for dir in ["/etc/palisade/rules", "/etc/palisade/pod-rules"] {
        assert!(m.iter().any(|(_, p, ro)| p == dir && *ro), "{dir}: {m:?}");
    }
    check_golden("web-rules-annotation-and-cluster.yaml", &doc);
}

#[test]
fn annotation_naming_the_cluster_wide_configmap_loads_it_once_with_a_warning() {
    let cfg = config_with(|c| c["engine"]["rulesConfigMap"] = json!("web-exclusions"));
    let mut doc = fixture("web-rules-annotation.yaml");
    let pod: Pod = serde_json::from_value(doc.clone()).unwrap();
    let Decision::Patch { patch, warnings } = decide(&pod, "shop", &BTreeMap::new(), &cfg) else {
        panic!("not patched")
    };
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("palisade.dev/rules-configmap")
                && w.contains("web-exclusions")
                && w.contains("once")),
        "{warnings:?}"
    );
    let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
    json_patch::patch(&mut doc, &patch).unwrap();
    assert_eq!(
        volume_config_maps(&doc),
        [("palisade-rules".to_owned(), "web-exclusions".to_owned())]
    );
    assert_eq!(
        engine_env(
            &doc["spec"]["initContainers"][0],
            "PALISADE_INSPECTION_RULES"
        ),
        format!("{IMAGE_CRS},/etc/palisade/rules/*.conf")
    );
}

#[test]
fn invalid_rules_configmap_annotation_is_denied_naming_annotation_value_and_allowed() {
    for bad in ["Web_Exclusions", "", "rules/../x", "-rules"] {
        let mut doc = fixture("web-rules-annotation.yaml");
        doc["metadata"]["annotations"]["palisade.dev/rules-configmap"] = json!(bad);
        let pod: Pod = serde_json::from_value(doc).unwrap();
        let Decision::Deny(msg) = decide(&pod, "shop", &BTreeMap::new(), &config_with(|_| {}))
        else {
            panic!("{bad:?} not denied")
        };
        assert!(
            msg.starts_with(&format!(
                "palisade: palisade.dev/rules-configmap: invalid value {bad:?}"
            )) && msg.contains("DNS-1123 subdomain"),
            "{msg}"
        );
    }
}
