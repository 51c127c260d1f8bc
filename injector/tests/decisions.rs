//! Skips and denials of the pure admission decision.

mod common;

use std::collections::BTreeMap;

use common::{config_with, fixture};
use k8s_openapi::api::core::v1::Pod;
use palisade_injector::inject::{Decision, decide};
use serde_json::json;

fn web_with(annotations: serde_json::Value) -> Pod {
    let mut doc = fixture("web-labelled.yaml");
    doc["metadata"]["annotations"] = annotations;
    serde_json::from_value(doc).unwrap()
}

fn denial(annotations: serde_json::Value) -> String {
    match decide(
        &web_with(annotations),
        "shop",
        &BTreeMap::new(),
        &config_with(|_| {}),
    ) {
        Decision::Deny(msg) => msg,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn bad_paranoia_level_is_denied_naming_annotation_and_allowed_values() {
    let msg = denial(json!({"palisade.dev/paranoia-level": "5"}));
    assert!(
        msg.contains("palisade.dev/paranoia-level")
            && msg.contains("\"5\"")
            && msg.contains("1, 2, 3, 4"),
        "{msg}"
    );
}

#[test]
fn bad_mode_is_denied_with_allowed_modes() {
    let msg = denial(json!({"palisade.dev/mode": "blocking"}));
    assert!(
        msg.contains("palisade.dev/mode") && msg.contains("block, monitor, off"),
        "{msg}"
    );
}

#[test]
fn bad_port_lists_are_denied() {
    for bad in ["80,abc", "0", "70000", "9100-9000", "80,,81"] {
        let msg = denial(json!({"palisade.dev/exclude-inbound-ports": bad}));
        assert!(
            msg.contains("palisade.dev/exclude-inbound-ports") && msg.contains("1-65535"),
            "{bad}: {msg}"
        );
    }
    let msg = denial(json!({"palisade.dev/include-inbound-ports": "all"}));
    assert!(msg.contains("palisade.dev/include-inbound-ports"), "{msg}");
}

#[test]
fn bad_quantity_is_denied_with_quantity_syntax() {
    let msg = denial(json!({"palisade.dev/engine-memory-limit": "1GB"}));
    assert!(
        msg.contains("palisade.dev/engine-memory-limit") && msg.contains("512Mi"),
        "{msg}"
    );
}

#[test]
fn request_above_limit_is_denied() {
    let msg = denial(json!({"palisade.dev/engine-cpu-request": "2"}));
    assert!(
        msg.contains("palisade.dev/engine-cpu-request") && msg.contains(r#"limit "1""#),
        "{msg}"
    );
}

#[test]
fn bad_service_mesh_redirect_and_log_level_are_denied() {
    assert!(denial(json!({"palisade.dev/service-mesh": "linkerd"})).contains("none, istio"));
    assert!(denial(json!({"palisade.dev/redirect": "ebpf"})).contains("cni, init, none"));
    assert!(
        denial(json!({"palisade.dev/log-level": "verbose"}))
            .contains("error, warn, info, debug, trace")
    );
}

#[test]
fn malformed_multus_annotation_is_denied_in_multus_mode() {
    let pod = web_with(json!({"k8s.v1.cni.cncf.io/networks": "[{\"nam\": 1}]"}));
    let cfg = config_with(|c| c["multusNetwork"] = json!("palisade-system/palisade-cni"));
    let Decision::Deny(msg) = decide(&pod, "shop", &BTreeMap::new(), &cfg) else {
        panic!("not denied")
    };
    assert!(msg.contains("k8s.v1.cni.cncf.io/networks"), "{msg}");
}

#[test]
fn unknown_palisade_annotation_is_a_warning_not_a_denial() {
    let pod = web_with(json!({"palisade.dev/paranoia": "2"}));
    let Decision::Patch { warnings, .. } =
        decide(&pod, "shop", &BTreeMap::new(), &config_with(|_| {}))
    else {
        panic!()
    };
    assert_eq!(
        warnings,
        ["palisade: unknown annotation palisade.dev/paranoia ignored"]
    );
}

#[test]
fn pod_label_false_opts_out_of_an_enabled_namespace() {
    let mut doc = fixture("multi-container.yaml");
    doc["metadata"]["labels"]["palisade.dev/inject"] = json!("false");
    let pod: Pod = serde_json::from_value(doc).unwrap();
    let ns = BTreeMap::from([("palisade.dev/inject".to_owned(), "enabled".to_owned())]);
    assert_eq!(
        decide(&pod, "shop", &ns, &config_with(|_| {})),
        Decision::Skip("pod label palisade.dev/inject=false")
    );
}

#[test]
fn unlabelled_pod_in_plain_namespace_is_not_injected() {
    let pod: Pod = serde_json::from_value(fixture("multi-container.yaml")).unwrap();
    assert!(matches!(
        decide(&pod, "shop", &BTreeMap::new(), &config_with(|_| {})),
        Decision::Skip(_)
    ));
}

#[test]
fn excluded_namespace_is_never_injected() {
    let pod = web_with(json!({}));
    assert_eq!(
        decide(&pod, "kube-system", &BTreeMap::new(), &config_with(|_| {})),
        Decision::Skip("namespace excluded")
    );
}

#[test]
fn host_network_pod_is_not_injected() {
    let mut doc = fixture("web-labelled.yaml");
    doc["spec"]["hostNetwork"] = json!(true);
    let pod: Pod = serde_json::from_value(doc).unwrap();
    assert_eq!(
        decide(&pod, "shop", &BTreeMap::new(), &config_with(|_| {})),
        Decision::Skip("hostNetwork pod")
    );
}

#[test]
fn pod_with_engine_container_is_not_injected_again() {
    let mut doc = fixture("web-labelled.yaml");
    doc["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "palisade-engine", "image": "x"}));
    let pod: Pod = serde_json::from_value(doc).unwrap();
    assert_eq!(
        decide(&pod, "shop", &BTreeMap::new(), &config_with(|_| {})),
        Decision::Skip("already injected")
    );
}
