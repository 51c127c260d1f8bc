//! The binary speaks the CNI protocol: result or error JSON on stdout, exit status, codes.
//! No root needed: these never reach a network namespace.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn run(env: &[(&str, &str)], stdin: &str) -> (bool, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-cni"))
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.success(), json)
}

const ADD: [(&str, &str); 4] = [
    ("CNI_COMMAND", "ADD"),
    ("CNI_CONTAINERID", "c1"),
    ("CNI_IFNAME", "eth0"),
    ("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"),
];

#[test]
fn version_lists_every_supported_spec_version() {
    let (ok, v) = run(&[("CNI_COMMAND", "VERSION")], "{\"cniVersion\":\"1.1.0\"}");
    assert!(ok);
    assert_eq!(v["cniVersion"], "1.1.0");
    let versions: Vec<&str> = v["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
}

#[test]
fn malformed_json_is_a_decode_error() {
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    let (ok, v) = run(&env, "{\"cniVersion\":");
    assert!(!ok);
    assert_eq!(v["code"], 6, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("not valid JSON"), "{v}");
}

#[test]
fn unknown_cni_version_is_incompatible() {
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    let (ok, v) = run(
        &env,
        r#"{"cniVersion":"0.9.9","name":"n","type":"palisade-cni"}"#,
    );
    assert!(!ok);
    assert_eq!(v["code"], 1, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("0.9.9"), "{v}");
}

#[test]
fn missing_netns_on_add_is_an_invalid_environment() {
    let (ok, v) = run(
        &ADD,
        r#"{"cniVersion":"1.0.0","name":"n","type":"palisade-cni"}"#,
    );
    assert!(!ok);
    assert_eq!(v["code"], 4, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("CNI_NETNS"), "{v}");
}

#[test]
fn standalone_add_for_a_pod_that_is_not_injected_returns_an_empty_result() {
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    for version in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let conf = format!(
            r#"{{"cniVersion":"{version}","name":"n","type":"palisade-cni",
                "runtimeConfig":{{"io.kubernetes.cri.pod-annotations":{{}}}}}}"#
        );
        let (ok, v) = run(&env, &conf);
        assert!(ok, "{v}");
        assert_eq!(v["cniVersion"], version);
        assert_eq!(v["ips"], serde_json::json!([]));
    }
}

/// An injected pod whose redirect is its own `palisade-init` container's, or nobody's, gets
/// no rules from the plugin (the netns here does not exist: touching it would fail ADD),
/// while the same pod with `redirect: cni` or a mistyped value is redirected.
#[test]
fn injected_pods_with_redirect_init_or_none_pass_through() {
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    let conf = |redirect: &str| {
        format!(
            r#"{{"cniVersion":"1.0.0","name":"n","type":"palisade-cni",
                "prevResult":{{"cniVersion":"1.0.0","interfaces":[{{"name":"eth0"}}],"ips":[]}},
                "runtimeConfig":{{"io.kubernetes.cri.pod-annotations":{{
                    "palisade.dev/status":"injected","palisade.dev/redirect":"{redirect}"}}}}}}"#
        )
    };
    for redirect in ["init", "none"] {
        let (ok, v) = run(&env, &conf(redirect));
        assert!(ok, "redirect {redirect}: {v}");
        assert_eq!(
            v["interfaces"][0]["name"], "eth0",
            "prevResult passed through: {v}"
        );
    }
    for redirect in ["cni", "inti"] {
        let (ok, v) = run(&env, &conf(redirect));
        assert!(
            !ok,
            "redirect {redirect} must reach the netns and fail here: {v}"
        );
        assert!(v["msg"].as_str().unwrap().contains("redirect"), "{v}");
    }
}

#[test]
fn add_without_annotations_or_kubeconfig_fails_closed() {
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    let (ok, v) = run(
        &env,
        r#"{"cniVersion":"1.0.0","name":"n","type":"palisade-cni"}"#,
    );
    assert!(!ok, "{v}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("io.kubernetes.cri.pod-annotations"),
        "{v}"
    );
}

#[test]
fn del_without_netns_succeeds() {
    let env = [
        ("CNI_COMMAND", "DEL"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_IFNAME", "eth0"),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-cni"))
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"cniVersion":"1.0.0","name":"n"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "DEL prints nothing on success");
}

/// containerd passes `"io.kubernetes.cri.pod-annotations": null` for a pod without annotations
/// (and `{}` when the map is empty). That is the runtime's answer: the plugin must not ask the
/// API server, so such pods start while the API server is down. The kubeconfig here points at
/// a port nothing listens on; consulting it would fail the pod after its retries.
#[test]
fn pod_without_annotations_starts_without_asking_an_unreachable_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let mut env = ADD.to_vec();
    env.push(("CNI_NETNS", "/nonexistent"));
    for passed in ["null", "{}"] {
        let conf = format!(
            r#"{{"cniVersion":"1.0.0","name":"k8s","type":"palisade-cni",
                "capabilities":{{"io.kubernetes.cri.pod-annotations":true}},
                "kubernetes":{{"kubeconfig":"{}"}},
                "prevResult":{{"cniVersion":"1.0.0","interfaces":[{{"name":"eth0"}}],"ips":[]}},
                "runtimeConfig":{{"io.kubernetes.cri.pod-annotations":{passed}}}}}"#,
            kubeconfig.display()
        );
        let (ok, v) = run(&env, &conf);
        assert!(ok, "annotations {passed}: {v}");
        assert_eq!(
            v["interfaces"][0]["name"], "eth0",
            "prevResult passed through: {v}"
        );
    }
}
