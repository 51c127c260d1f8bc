//! `palisade-validate`, the unprivileged validator: as nobody, with no capabilities and no
//! new privileges, it passes in a pod whose redirect palisade-cni installed and fails (exit 66,
//! termination message with the repair controller's marker) in a pod without the rules, once
//! per backend for the passing case.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_tests::{
    AS_NOBODY, PodConfig, TestNode, TestPod, bin, require, require_netns_env, which,
};

const REDIRECT_MISSING: i32 = 66;
const MARKER: &str = "palisade: redirect missing";

/// Runs `palisade-validate` in the pod as uid/gid 65534 with every capability dropped.
fn validate(pod: &TestPod<'_>, termination_log: &std::path::Path) -> (i32, String) {
    let out = pod
        .netns()
        .command("setpriv")
        .args(AS_NOBODY)
        .arg(bin("palisade-validate"))
        .arg(format!("--termination-log={}", termination_log.display()))
        .arg("--timeout-seconds=2")
        .output()
        .expect("run palisade-validate");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn termination_log(name: &str) -> std::path::PathBuf {
    // In /tmp (world-traversable), since the validator runs as nobody.
    let path = std::env::temp_dir().join(format!("palisade-{}-{name}", std::process::id()));
    // Writable by the unprivileged validator, as kubelet's termination-log mount is.
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    path
}

fn passes_with_rules(backend: &str) {
    if !require_netns_env() || !require(which("setpriv").is_some(), "setpriv (util-linux)") {
        return;
    }
    let node = TestNode::new(&format!("validate-{backend}"));
    let pod = node
        .add_pod(PodConfig::injected("web").backend(backend))
        .expect("CNI ADD");
    let log = termination_log("validate-ok.log");
    let (code, out) = validate(&pod, &log);
    assert_eq!(code, 0, "validator failed in a redirected pod: {out}");
    assert!(out.contains("redirect verified"), "{out}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn unprivileged_validator_passes_in_a_redirected_pod_nft() {
    passes_with_rules("nft");
}

#[test]
fn unprivileged_validator_passes_in_a_redirected_pod_iptables_nft() {
    passes_with_rules("iptables-nft");
}

#[test]
fn unprivileged_validator_passes_in_a_redirected_pod_iptables_legacy() {
    passes_with_rules("iptables-legacy");
}

#[test]
fn unprivileged_validator_fails_a_pod_without_rules_with_the_marker() {
    if !require_netns_env() || !require(which("setpriv").is_some(), "setpriv (util-linux)") {
        return;
    }
    let node = TestNode::new("validate-missing");
    // Wired by the reference plugins only: the pod started before palisade-cni was there.
    let pod = node
        .add_pod(PodConfig::injected("web").without_palisade())
        .expect("CNI ADD");
    let log = termination_log("validate-missing.log");
    let (code, out) = validate(&pod, &log);
    assert_eq!(code, REDIRECT_MISSING, "{out}");
    let message = std::fs::read_to_string(&log).unwrap();
    assert!(message.starts_with(MARKER), "termination log: {message}");
    assert!(message.contains("15302"), "names the probe: {message}");
    let _ = std::fs::remove_file(&log);
}
