//! `palisade-init` run inside a pod namespace wired by the reference plugins only (the
//! init-container path) gives the same kernel behaviour as palisade-cni, per backend.
//!
//! Needs root and `cargo build -p palisade-init` (or `--workspace --bins`) first.

use std::net::SocketAddr;
use std::time::Duration;

use palisade_tests::{PodConfig, TestNode, accept_within, bin, original_dst, require_netns_env};

fn init_redirects_like_the_plugin(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let init = bin("palisade-init");
    let node = TestNode::new(test);
    let pod = node
        .add_pod(PodConfig::plain("web").without_palisade().ipv6())
        .unwrap_or_else(|e| panic!("{e}"));
    let ns = pod.netns();
    let run = |extra: &[&str]| {
        let mut cmd = ns.command(&init);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PALISADE_EXCLUDE_INBOUND_PORTS", "8081")
            .env("PALISADE_BACKEND", backend)
            .args(extra);
        cmd.output().expect("run palisade-init")
    };

    let dry = run(&["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        printed.contains("15300") && printed.contains("8081"),
        "{printed}"
    );
    let check = run(&["--check"]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "--check before apply must report drift: {check:?}"
    );

    let apply = run(&[]);
    assert!(apply.status.success(), "{apply:?}");
    assert!(
        String::from_utf8_lossy(&apply.stdout).contains(backend),
        "{apply:?}"
    );
    let check = run(&["--check"]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");

    ns.exec_ok("sysctl", &["-qw", "net.ipv6.bindv6only=1"]);
    for ip in [
        std::net::IpAddr::from(pod.ipv4()),
        pod.ipv6().expect("IPv6").into(),
    ] {
        let any = if ip.is_ipv4() { "0.0.0.0" } else { "[::]" };
        let capture = ns.listen(&format!("{any}:15300"));
        let app = ns.listen(&format!("{any}:8080"));
        let excluded = ns.listen(&format!("{any}:8081"));
        let target = SocketAddr::new(ip, 8080);
        let _c = node.netns().connect(target);
        let got = accept_within(&capture, Duration::from_secs(3)).expect("redirected to :15300");
        assert_eq!(original_dst(&got).unwrap(), target);
        assert!(accept_within(&app, Duration::from_millis(300)).is_none());
        let _c = node.netns().connect(SocketAddr::new(ip, 8081));
        assert!(
            accept_within(&excluded, Duration::from_secs(3)).is_some(),
            "excluded port reaches the app"
        );
        let lo: std::net::IpAddr = if ip.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        let _c = ns.connect(SocketAddr::new(lo, 8080));
        assert!(
            accept_within(&app, Duration::from_secs(3)).is_some(),
            "loopback reaches the app"
        );
    }

    let remove = run(&["--remove"]);
    assert!(remove.status.success(), "{remove:?}");
    assert_eq!(
        run(&["--check"]).status.code(),
        Some(1),
        "--check after --remove must report drift"
    );
}

#[test]
fn nft_init_container_redirects_like_the_plugin() {
    init_redirects_like_the_plugin("init-nft", "nft");
}

#[test]
fn iptables_nft_init_container_redirects_like_the_plugin() {
    init_redirects_like_the_plugin("init-iptables-nft", "iptables-nft");
}

#[test]
fn iptables_legacy_init_container_redirects_like_the_plugin() {
    init_redirects_like_the_plugin("init-iptables-legacy", "iptables-legacy");
}

/// Race protection in CNI mode: a pod whose sandbox was wired before palisade-cni was on
/// the node has no rules; `palisade-init --validate` (the injected `palisade-validate`
/// init container) fails it with exit 66 and a termination message the repair controller
/// recognises, and passes a pod palisade-cni did wire.
#[test]
fn validate_fails_a_pod_wired_without_palisade_and_passes_a_wired_one() {
    if !require_netns_env() {
        return;
    }
    let init = bin("palisade-init");
    let node = TestNode::new("init-validate");
    let validate = |pod: &palisade_tests::TestPod<'_>, annotations: &[(&str, &str)]| {
        let log = node
            .dir()
            .join(format!("{}-termination-log", pod.config.name));
        let mut cmd = pod.netns().command(&init);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PALISADE_TERMINATION_LOG", &log)
            .arg("--validate");
        for (k, v) in annotations {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run palisade-init --validate");
        (out, std::fs::read_to_string(&log).unwrap_or_default())
    };

    let unprotected = node
        .add_pod(PodConfig::injected("raced").without_palisade())
        .unwrap_or_else(|e| panic!("{e}"));
    let (out, message) = validate(&unprotected, &[]);
    // The repair controller matches on the contract's code and marker.
    use palisade_api::exit;
    assert_eq!(
        out.status.code(),
        Some(exit::REDIRECT_MISSING_K8S),
        "{out:?}"
    );
    assert!(
        message.starts_with(exit::REDIRECT_MISSING_MARKER),
        "termination message: {message:?}"
    );
    assert!(
        message.contains("missing"),
        "names what is missing: {message}"
    );

    let wired = node
        .add_pod(
            PodConfig::injected("wired").annotation("palisade.dev/exclude-inbound-ports", "8081"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (out, message) = validate(&wired, &[("PALISADE_EXCLUDE_INBOUND_PORTS", "8081")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(message.is_empty(), "nothing written on success: {message}");
}
