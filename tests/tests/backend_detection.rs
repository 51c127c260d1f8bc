//! `backend: auto` picks the front end the namespace already uses, proven by where
//! palisade-cni's rules land.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_tests::{PodConfig, TestNode, TestPod, require_netns_env};

fn seed_and_add<'a>(node: &'a TestNode, seed: Option<&str>) -> TestPod<'a> {
    let pod = node
        .add_pod(PodConfig::injected("web").without_palisade())
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(tool) = seed {
        // An unrelated rule, as a mesh or an admin would have left.
        pod.netns().exec_ok(
            tool,
            &[
                "-w", "-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "7777", "-j", "ACCEPT",
            ],
        );
    }
    let add = pod.palisade("ADD");
    assert!(add.success(), "ADD: {add:?}");
    pod
}

fn palisade_in(pod: &TestPod<'_>) -> (bool, bool, bool) {
    let ns = pod.netns();
    let nft = ns
        .exec("nft", &["list", "table", "inet", "palisade"])
        .status
        .success();
    let ipt_nft = ns
        .exec_ok("iptables-nft-save", &["-t", "nat"])
        .contains("PALISADE_INBOUND");
    let legacy = ns
        .exec_ok("iptables-legacy-save", &["-t", "nat"])
        .contains("PALISADE_INBOUND");
    (nft, ipt_nft, legacy)
}

#[test]
fn auto_uses_native_nft_in_a_fresh_namespace() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = seed_and_add(&node, None);
    assert_eq!(palisade_in(&pod), (true, false, false));
}

#[test]
fn auto_uses_iptables_nft_when_iptables_nft_rules_exist() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = seed_and_add(&node, Some("iptables-nft"));
    assert_eq!(palisade_in(&pod), (false, true, false));
}

#[test]
fn auto_uses_legacy_when_legacy_rules_exist() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = seed_and_add(&node, Some("iptables-legacy"));
    assert_eq!(palisade_in(&pod), (false, false, true));
    let del = pod.palisade("DEL");
    assert!(del.success(), "DEL: {del:?}");
    assert_eq!(
        palisade_in(&pod),
        (false, false, false),
        "DEL with auto cleans every backend"
    );
}
