//! palisade-cni decisions that do not depend on the backend: pods it must leave alone, bad
//! input that must fail with the right CNI error and leave the namespace unchanged, and DEL
//! after the sandbox is gone.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_tests::{PodConfig, TestNode, require_netns_env, ruleset_snapshot};
use serde_json::json;

fn has_palisade(snapshot: &str) -> bool {
    snapshot.contains("palisade") || snapshot.contains("PALISADE")
}

#[test]
fn pod_that_is_not_injected_gets_no_rules() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = node
        .add_pod(PodConfig::plain("web").annotation("palisade.dev/exclude-inbound-ports", "8081"))
        .unwrap_or_else(|e| panic!("{e}"));
    let snap = ruleset_snapshot(pod.netns());
    assert!(
        !has_palisade(&snap),
        "rules in a pod that is not injected:\n{snap}"
    );
    // Default excludeNamespaces: kube-system, even when marked injected.
    let mut cfg = PodConfig::injected("sys");
    cfg.namespace = "kube-system".into();
    let pod = node.add_pod(cfg).unwrap_or_else(|e| panic!("{e}"));
    let snap = ruleset_snapshot(pod.netns());
    assert!(
        !has_palisade(&snap),
        "rules in excluded namespace kube-system:\n{snap}"
    );
}

#[test]
fn bad_input_gets_the_right_cni_error_and_leaves_the_netns_unchanged() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = node
        .add_pod(PodConfig::injected("web").without_palisade())
        .unwrap_or_else(|e| panic!("{e}"));
    let before = ruleset_snapshot(pod.netns());
    let good = pod.palisade_config();
    let netns = Some(pod.netns().path());

    let mut cases: Vec<(String, Option<&std::path::Path>, u64, String)> = vec![
        ("{\"cniVersion\": ".into(), netns, 6, "JSON".into()),
        (
            {
                let mut c = good.clone();
                c["cniVersion"] = json!("0.9.9");
                c.to_string()
            },
            netns,
            1,
            "0.9.9".into(),
        ),
        (good.to_string(), None, 4, "CNI_NETNS".into()),
    ];
    for bad in ["80,abc", "70000", "9100-9000"] {
        let mut c = good.clone();
        c["runtimeConfig"]["io.kubernetes.cri.pod-annotations"]["palisade.dev/exclude-inbound-ports"] =
            json!(bad);
        cases.push((c.to_string(), netns, 101, bad.to_string()));
    }
    for (stdin, ns, code, needle) in cases {
        let out = pod.palisade_with("ADD", &stdin, ns);
        assert!(!out.success(), "ADD accepted {stdin}");
        let err = out.json();
        assert_eq!(err["code"], code, "{stdin} -> {err}");
        assert!(
            err["msg"].as_str().unwrap().contains(&needle),
            "{err} does not name {needle}"
        );
        assert_eq!(
            ruleset_snapshot(pod.netns()),
            before,
            "failed ADD changed the netns ({stdin})"
        );
    }
}

#[test]
fn del_succeeds_when_the_netns_is_already_gone() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = node
        .add_pod(PodConfig::injected("web"))
        .unwrap_or_else(|e| panic!("{e}"));
    let gone = node.dir().join("no-such-netns");
    let out = pod.palisade_with("DEL", &pod.palisade_config().to_string(), Some(&gone));
    assert!(out.success(), "DEL with a vanished netns: {out:?}");
    // The runtime's path still exists but no namespace is mounted on it any more.
    let stale = node.dir().join("unmounted-netns");
    std::fs::write(&stale, b"").unwrap();
    let out = pod.palisade_with("DEL", &pod.palisade_config().to_string(), Some(&stale));
    assert!(out.success(), "DEL with an unmounted netns path: {out:?}");
    let out = pod.palisade_with("DEL", &pod.palisade_config().to_string(), None);
    assert!(out.success(), "DEL without CNI_NETNS: {out:?}");
}

#[test]
fn status_and_gc_succeed_on_a_ready_node() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = node
        .add_pod(PodConfig::plain("web"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut conf = pod.palisade_config();
    conf["cniVersion"] = json!("1.1.0");
    conf["cni.dev/valid-attachments"] = json!([]);
    for cmd in ["STATUS", "GC"] {
        let out = pod.palisade_with(cmd, &conf.to_string(), None);
        assert!(out.success(), "{cmd}: {out:?}");
        assert!(
            out.stdout.trim().is_empty(),
            "{cmd} prints nothing on success"
        );
    }
}
