//! palisade-cni driven by a real container runtime: containerd (Debian) with its CRI plugin and
//! runc creates pod sandboxes exactly as kubelet asks, with the conflist `palisade-cni install`
//! wrote, once per packet-filter backend. Needs root, containerd, runc, a C compiler and the
//! static binaries (`scripts/build-static.sh`); under CI=true a missing one fails the test.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use palisade_tests::cri::{
    Containerd, PodSpec, Sandbox, palisade_rules, primary_conflist, static_bin,
};
use palisade_tests::{AS_NOBODY, INJECTED, accept_within, original_dst};

const EXCLUDE: &str = "palisade.dev/exclude-inbound-ports";
const CAPTURE_PORT: u16 = 15300;
const APP_PORT: u16 = 8080;
const EXCLUDED_PORT: u16 = 8081;

fn listen_in(netns: &Path, port: u16) -> TcpListener {
    palisade_redirect::netns::run_in(netns, || TcpListener::bind(("0.0.0.0", port)))
        .expect("enter the pod's netns")
        .unwrap_or_else(|e| panic!("bind :{port} in the pod: {e}"))
}

/// `palisade-validate` (static) inside the sandbox's network namespace, as nobody with no
/// capabilities, the way the injected init container runs; its exit code.
fn validate_in(pod: &Sandbox) -> (i32, String) {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", pod.netns_path().display()))
        .arg("setpriv")
        .args(AS_NOBODY)
        .arg(static_bin("palisade-validate"))
        .args(["--timeout-seconds=2", "--termination-log=/dev/null"])
        .output()
        .expect("run nsenter");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn injected(namespace: &str, name: &str) -> PodSpec {
    PodSpec::new(namespace, name).annotation(INJECTED.0, INJECTED.1)
}

/// A connection from the node to podIP:8080 lands on the capture port with the original
/// destination intact; the excluded port reaches the app's own listener.
fn assert_redirected(cd: &Containerd, pod: &Sandbox) {
    let netns = pod.netns_path();
    let capture = listen_in(&netns, CAPTURE_PORT);
    let excluded = listen_in(&netns, EXCLUDED_PORT);
    let _client = cd.node().connect((pod.ip, APP_PORT));
    let accepted = accept_within(&capture, Duration::from_secs(5))
        .expect("the connection to podIP:8080 did not land on the capture port");
    assert_eq!(
        original_dst(&accepted).expect("SO_ORIGINAL_DST"),
        SocketAddr::from((pod.ip, APP_PORT)),
        "original destination"
    );
    let _client = cd.node().connect((pod.ip, EXCLUDED_PORT));
    assert!(
        accept_within(&excluded, Duration::from_secs(5)).is_some(),
        "the excluded port did not reach the app"
    );
    assert!(
        accept_within(&capture, Duration::from_millis(200)).is_none(),
        "the excluded port was redirected"
    );
}

fn assert_untouched(cd: &Containerd, pod: &Sandbox, what: &str) {
    let rules = palisade_rules(&pod.netns_path());
    assert!(rules.is_empty(), "{what}: has Palisade rules: {rules:?}");
    // The app gets its own connections.
    let app = listen_in(&pod.netns_path(), APP_PORT);
    let _client = cd.node().connect((pod.ip, APP_PORT));
    assert!(
        accept_within(&app, Duration::from_secs(5)).is_some(),
        "{what}: the app did not get the connection"
    );
}

fn runtime_drives_the_plugin(backend: &str) {
    if !palisade_tests::cri::require_containerd_env() {
        return;
    }
    let started = Instant::now();
    let mut cd = Containerd::start(&format!("cri-{backend}"), Some(backend));
    let ready = started.elapsed();

    // The conflist containerd loaded is the one palisade-cni install wrote.
    let written = cd.conflist();
    assert_eq!(cd.loaded_conflist(), written, "containerd's CNI config");
    let entry = written["plugins"]
        .as_array()
        .and_then(|p| p.last())
        .cloned()
        .expect("plugins");
    assert_eq!(entry["type"], "palisade-cni");
    assert_eq!(entry["backend"], backend);
    assert_eq!(
        entry["capabilities"]["io.kubernetes.cri.pod-annotations"],
        true
    );

    // An injected pod gets its rules, in the configured backend, and they redirect.
    let web = cd
        .run_pod(&injected("shop", "web").annotation(EXCLUDE, &EXCLUDED_PORT.to_string()))
        .unwrap_or_else(|e| panic!("injected pod: {e}\n{}", cd.containerd_log()));
    let rules = palisade_rules(&web.netns_path());
    assert!(
        rules.contains_key(backend),
        "injected pod: no {backend} rules: {rules:?}"
    );
    let (code, out) = validate_in(&web);
    assert_eq!(code, 0, "unprivileged validator in the injected pod: {out}");
    assert_redirected(&cd, &web);

    // Pods the plugin must leave alone start normally, with no rules, and none of them needs
    // the API server (there is none: the kubeconfig points at a closed port).
    let plain = cd
        .run_pod(&PodSpec::new("shop", "plain").annotation("team", "a"))
        .unwrap_or_else(|e| panic!("pod not injected: {e}"));
    assert_untouched(&cd, &plain, "pod not injected");
    let system = cd
        .run_pod(&injected("kube-system", "coredns"))
        .unwrap_or_else(|e| panic!("kube-system pod: {e}"));
    assert_untouched(&cd, &system, "kube-system pod");
    let bare = cd
        .run_pod(&PodSpec::new("shop", "bare"))
        .unwrap_or_else(|e| panic!("pod without annotations, API server unreachable: {e}"));
    assert_untouched(&cd, &bare, "pod without annotations");
    let (code, out) = validate_in(&bare);
    assert_eq!(
        code, 66,
        "unprivileged validator in a pod without rules: {out}"
    );

    // A bad annotation fails the sandbox with the plugin's message.
    let err = cd
        .run_pod(&injected("shop", "bad").annotation(EXCLUDE, "80,abc"))
        .expect_err("a pod with a bad annotation started");
    assert!(
        err.contains("palisade-cni") && err.contains(EXCLUDE) && err.contains("80,abc"),
        "runtime error does not carry the plugin's message: {err}"
    );

    // Stopping the sandbox removes the rules (the namespace is held open to look inside).
    let held = web.hold_netns();
    cd.stop_pod(&web);
    let left = palisade_rules(&held.path());
    assert!(left.is_empty(), "rules left after StopPodSandbox: {left:?}");

    // The primary CNI rewrites its conflist without palisade-cni: the installer puts it back
    // and containerd loads it again; the next injected pod is redirected.
    std::fs::write(
        cd.conflist_path(),
        serde_json::to_vec_pretty(&primary_conflist(cd.dir())).expect("json"),
    )
    .expect("overwrite the conflist");
    cd.wait_network_ready();
    assert_eq!(cd.loaded_conflist(), cd.conflist(), "after re-insertion");
    let again = cd
        .run_pod(&injected("shop", "again"))
        .unwrap_or_else(|e| panic!("injected pod after re-insertion: {e}"));
    assert!(
        palisade_rules(&again.netns_path()).contains_key(backend),
        "no rules after re-insertion"
    );
    // A rolling update stops the installer (SIGTERM) before its successor runs: the plugin,
    // its conflist entry and the kubeconfig stay, so a pod created in between is redirected.
    // (No API server here: "cannot tell whether the DaemonSet is deleted" keeps the plugin.)
    let status = cd.stop_installer();
    assert!(status.success(), "installer exit on SIGTERM: {status}");
    assert_eq!(
        cd.conflist(),
        written,
        "conflist changed on SIGTERM:\n{}",
        cd.installer_log()
    );
    assert!(
        cd.dir().join("cni-bin/palisade-cni").is_file(),
        "plugin binary removed"
    );
    let during = cd
        .run_pod(&injected("shop", "during-update"))
        .unwrap_or_else(|e| panic!("injected pod during the update: {e}"));
    assert!(
        palisade_rules(&during.netns_path()).contains_key(backend),
        "a pod created while no installer ran got no rules"
    );
    cd.start_installer();
    cd.wait_network_ready();
    eprintln!(
        "containerd {backend}: ready in {:.1?}, whole test {:.1?}",
        ready,
        started.elapsed()
    );
}

#[test]
fn containerd_drives_palisade_cni_with_nft() {
    runtime_drives_the_plugin("nft");
}

#[test]
fn containerd_drives_palisade_cni_with_iptables_nft() {
    runtime_drives_the_plugin("iptables-nft");
}

#[test]
fn containerd_drives_palisade_cni_with_iptables_legacy() {
    runtime_drives_the_plugin("iptables-legacy");
}
