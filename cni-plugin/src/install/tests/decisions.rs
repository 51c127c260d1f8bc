//! Pure decisions: conflist editing and which pods the repair controller acts on.

use serde_json::{Value, json};

use crate::install::config::RepairMode;
use crate::install::conflist;
use crate::install::repair::{self, Repair};

#[test]
fn older_palisade_entry_is_replaced_not_duplicated() {
    let primary = json!({"cniVersion": "1.0.0", "name": "net", "plugins": [
        {"type": "bridge"}, {"type": "palisade-cni", "logLevel": "debug"}, {"type": "portmap"}]});
    let entry = json!({"type": "palisade-cni", "logLevel": "info"});
    let out = conflist::insert("x.conflist", &primary, &entry).unwrap();
    assert_eq!(
        out["plugins"],
        json!([{"type": "bridge"}, {"type": "portmap"}, entry])
    );
    assert!(conflist::is_current(&out, &entry));
}

#[test]
fn unusable_primary_config_is_a_clear_error() {
    let err = conflist::insert("99-odd.conf", &json!({"name": "x"}), &json!({})).unwrap_err();
    assert!(err.to_string().contains("99-odd.conf"), "{err}");
    assert!(
        conflist::parse("10-bad.conflist", "{")
            .unwrap_err()
            .to_string()
            .contains("10-bad.conflist")
    );
}

#[test]
fn primary_is_the_first_config_file_by_name_never_our_own() {
    let names: Vec<String> = [
        "palisade-cni.conf",
        "99-loopback.conf",
        "10-calico.conflist",
        ".tmp.conflist",
        "calico-kubeconfig",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(
        conflist::pick_primary(&names, "", "palisade-cni.conf").as_deref(),
        Some("10-calico.conflist")
    );
    assert_eq!(
        conflist::pick_primary(&names, "99-loopback.conf", "palisade-cni.conf").as_deref(),
        Some("99-loopback.conf")
    );
    let converted = vec!["05-cilium.conflist".to_owned()];
    assert_eq!(
        conflist::pick_primary(&converted, "05-cilium.conf", "x").as_deref(),
        Some("05-cilium.conflist")
    );
}

fn pod(annotations: Value, statuses: Value) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "annotations": annotations},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        "status": {"initContainerStatuses": statuses}
    }))
    .unwrap()
}

fn engine_exited(code: i32, message: &str) -> Value {
    json!([{"name": "palisade-engine", "image": "e", "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": code, "message": message}}}])
}

#[test]
fn pod_whose_engine_found_no_redirect_is_deleted_in_delete_mode() {
    let p = pod(
        json!({"palisade.dev/status": "injected"}),
        engine_exited(palisade_api::exit::REDIRECT_MISSING_K8S, ""),
    );
    assert!(
        matches!(repair::decide(&p, RepairMode::DeletePods, &[]), Repair::Delete(r) if r.contains("palisade-engine"))
    );
    assert!(matches!(
        repair::decide(&p, RepairMode::None, &[]),
        Repair::Report(_)
    ));
}

#[test]
fn redirect_missing_message_is_recognised_too() {
    let p = pod(
        json!({"palisade.dev/status": "injected"}),
        engine_exited(1, "palisade: redirect missing on port 8080"),
    );
    assert!(matches!(
        repair::decide(&p, RepairMode::DeletePods, &[]),
        Repair::Delete(_)
    ));
}

#[test]
fn healthy_uninjected_init_mode_or_excluded_pods_are_left_alone() {
    let failed = engine_exited(palisade_api::exit::REDIRECT_MISSING_K8S, "");
    let other_crash = pod(
        json!({"palisade.dev/status": "injected"}),
        engine_exited(1, "config error"),
    );
    let uninjected = pod(json!({}), failed.clone());
    let init_mode = pod(
        json!({"palisade.dev/status": "injected", "palisade.dev/redirect": "init"}),
        failed.clone(),
    );
    let injected = pod(json!({"palisade.dev/status": "injected"}), failed);
    for p in [&other_crash, &uninjected, &init_mode] {
        assert_eq!(
            repair::decide(p, RepairMode::DeletePods, &[]),
            Repair::Ignore
        );
    }
    assert_eq!(
        repair::decide(&injected, RepairMode::DeletePods, &["shop".to_owned()]),
        Repair::Ignore
    );
}
