//! palisade-cni chained after the reference plugins: what the kernel does with the rules it
//! installs, once per backend (native nft, iptables-nft, iptables-legacy).
//!
//! Needs root and `cargo build -p palisade-cni-plugin` (or `--workspace --bins`) first.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use palisade_tests::{
    PodConfig, TestNode, TestPod, accept_within, original_dst, require_netns_env, ruleset_snapshot,
};

const CAPTURE: u16 = 15300;
const WAIT: Duration = Duration::from_secs(3);
const NOTHING: Duration = Duration::from_millis(300);

fn pod_addrs(pod: &TestPod<'_>) -> Vec<std::net::IpAddr> {
    let mut v = vec![pod.ipv4().into()];
    v.extend(pod.ipv6().map(std::net::IpAddr::from));
    v
}

/// Listeners for `port` on IPv4 and IPv6 inside the pod.
fn listen(pod: &TestPod<'_>, port: u16) -> (TcpListener, TcpListener) {
    pod.netns()
        .exec_ok("sysctl", &["-qw", "net.ipv6.bindv6only=1"]);
    (
        pod.netns().listen(&format!("0.0.0.0:{port}")),
        pod.netns().listen(&format!("[::]:{port}")),
    )
}

fn pick(l: &(TcpListener, TcpListener), ip: std::net::IpAddr) -> &TcpListener {
    if ip.is_ipv4() { &l.0 } else { &l.1 }
}

/// Connects from the node to `ip:port` and asserts which listener gets it.
fn assert_lands(
    node: &TestNode,
    ip: std::net::IpAddr,
    port: u16,
    on: &TcpListener,
    not_on: &TcpListener,
) {
    let target = SocketAddr::new(ip, port);
    let _client = node.netns().connect(target);
    let accepted = accept_within(on, WAIT)
        .unwrap_or_else(|| panic!("connection to {target} did not reach {:?}", on.local_addr()));
    if on.local_addr().unwrap().port() == CAPTURE {
        assert_eq!(original_dst(&accepted).unwrap(), target, "SO_ORIGINAL_DST");
    }
    assert!(
        accept_within(not_on, NOTHING).is_none(),
        "{target} also reached {:?}",
        not_on.local_addr()
    );
}

fn injected_pod<'a>(node: &'a TestNode, backend: &str, extra: &[(&str, &str)]) -> TestPod<'a> {
    let mut config = PodConfig::injected("web").backend(backend).ipv6();
    for (k, v) in extra {
        config = config.annotation(k, v);
    }
    node.add_pod(config).unwrap_or_else(|e| panic!("{e}"))
}

pub fn inbound_connection_lands_on_capture_port_with_original_dst(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(&node, backend, &[]);
    let capture = listen(&pod, CAPTURE);
    let app = listen(&pod, 8080);
    assert!(pod.ipv6().is_some(), "pod has IPv6");
    for ip in pod_addrs(&pod) {
        assert_lands(&node, ip, 8080, pick(&capture, ip), pick(&app, ip));
    }
}

pub fn excluded_and_not_included_ports_reach_the_app(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(
        &node,
        backend,
        &[
            ("palisade.dev/include-inbound-ports", "8080,8081"),
            ("palisade.dev/exclude-inbound-ports", "8081"),
        ],
    );
    let capture = listen(&pod, CAPTURE);
    let (l8080, l8081, l9090) = (listen(&pod, 8080), listen(&pod, 8081), listen(&pod, 9090));
    for ip in pod_addrs(&pod) {
        assert_lands(&node, ip, 8080, pick(&capture, ip), pick(&l8080, ip));
        // Excluded: straight to the app.
        assert_lands(&node, ip, 8081, pick(&l8081, ip), pick(&capture, ip));
        // Outside the include list: straight to the app.
        assert_lands(&node, ip, 9090, pick(&l9090, ip), pick(&capture, ip));
    }
}

pub fn loopback_connection_inside_pod_is_not_redirected(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(&node, backend, &[]);
    let capture = listen(&pod, CAPTURE);
    let app = listen(&pod, 8080);
    for ip in ["127.0.0.1", "::1"] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        let _c = pod.netns().connect((ip, 8080));
        assert!(
            accept_within(pick(&app, ip), WAIT).is_some(),
            "{ip}:8080 did not reach the app"
        );
        assert!(
            accept_within(pick(&capture, ip), NOTHING).is_none(),
            "{ip}:8080 was redirected"
        );
    }
}

pub fn add_twice_gives_the_same_ruleset(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(
        &node,
        backend,
        &[("palisade.dev/exclude-inbound-ports", "9000-9100")],
    );
    let once = ruleset_snapshot(pod.netns());
    assert!(once.contains("15300"), "no redirect in:\n{once}");
    let again = pod.palisade("ADD");
    assert!(again.success(), "second ADD: {again:?}");
    assert_eq!(
        again.json(),
        *pod.result(),
        "ADD passes prevResult through unchanged"
    );
    assert_eq!(ruleset_snapshot(pod.netns()), once);
    // Logs go to the configured file; stdout carried only the result parsed above.
    let log = std::fs::read_to_string(node.palisade_log()).expect("palisade-cni log file");
    assert!(log.contains("redirect applied"), "{log}");
}

/// Adds a rule that is not Palisade's, in the same backend and both families.
fn add_unrelated_rules(pod: &TestPod<'_>, backend: &str) {
    let ns = pod.netns();
    match backend {
        "nft" => {
            ns.exec_ok("nft", &["add", "table", "inet", "other"]);
            ns.exec_ok(
                "nft",
                &["add chain inet other pre { type nat hook prerouting priority dstnat; }"],
            );
            ns.exec_ok(
                "nft",
                &["add rule inet other pre tcp dport 7777 redirect to :7778"],
            );
        }
        _ => {
            for tool in [
                backend.to_string(),
                backend.replace("iptables", "ip6tables"),
            ] {
                ns.exec_ok(
                    &tool,
                    &[
                        "-w",
                        "-t",
                        "nat",
                        "-A",
                        "PREROUTING",
                        "-p",
                        "tcp",
                        "--dport",
                        "7777",
                        "-j",
                        "REDIRECT",
                        "--to-ports",
                        "7778",
                    ],
                );
            }
        }
    }
}

pub fn del_leaves_no_trace_and_keeps_unrelated_rules(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = node
        .add_pod(
            PodConfig::injected("web")
                .backend(backend)
                .ipv6()
                .without_palisade(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    add_unrelated_rules(&pod, backend);
    let before = ruleset_snapshot(pod.netns());
    let add = pod.palisade("ADD");
    assert!(add.success(), "ADD: {add:?}");
    assert_ne!(
        ruleset_snapshot(pod.netns()),
        before,
        "ADD installed nothing"
    );
    for _ in 0..2 {
        let del = pod.palisade("DEL");
        assert!(del.success(), "DEL: {del:?}");
        assert_eq!(
            ruleset_snapshot(pod.netns()),
            before,
            "DEL left a trace or removed a foreign rule"
        );
    }
}

pub fn check_detects_a_hand_deleted_rule(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(&node, backend, &[]);
    let ok = pod.palisade("CHECK");
    assert!(ok.success(), "CHECK right after ADD: {ok:?}");
    match backend {
        "nft" => pod
            .netns()
            .exec_ok("nft", &["flush", "chain", "inet", "palisade", "capture"]),
        _ => pod.netns().exec_ok(
            backend,
            &["-w", "-t", "nat", "-D", "PALISADE_REDIRECT", "1"],
        ),
    };
    let drift = pod.palisade("CHECK");
    assert!(!drift.success(), "CHECK missed a deleted rule");
    let err = drift.json();
    assert_eq!(err["code"], 102, "{err}");
    assert!(
        err["details"].as_str().unwrap().contains("missing"),
        "{err}"
    );
    assert!(err["details"].as_str().unwrap().contains("15300"), "{err}");
}

pub fn re_add_with_new_annotations_replaces_the_old_rules(test: &str, backend: &str) {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::new(test);
    let pod = injected_pod(&node, backend, &[("palisade.dev/service-mesh", "istio")]);
    let istio = ruleset_snapshot(pod.netns());
    assert!(
        istio.contains("15000"),
        "istio ports not excluded:\n{istio}"
    );
    let mut conf = pod.palisade_config();
    let annotations = &mut conf["runtimeConfig"]["io.kubernetes.cri.pod-annotations"];
    annotations["palisade.dev/service-mesh"] = serde_json::json!("none");
    annotations["palisade.dev/exclude-inbound-ports"] = serde_json::json!("8081");
    let add = pod.palisade_with("ADD", &conf.to_string(), Some(pod.netns().path()));
    assert!(add.success(), "{add:?}");
    let now = ruleset_snapshot(pod.netns());
    assert!(
        !now.contains("15000") && !now.contains("PALISADE_OUTPUT") && !now.contains("mesh_output"),
        "istio rules left:\n{now}"
    );
    assert!(now.contains("8081"), "new exclusion missing:\n{now}");
    let check = pod.palisade_with("CHECK", &conf.to_string(), Some(pod.netns().path()));
    assert!(check.success(), "{check:?}");
}

macro_rules! per_backend {
    ($($module:ident => $backend:literal),* $(,)?) => {$(
        mod $module {
            macro_rules! t {
                ($name:ident) => {
                    #[test]
                    fn $name() {
                        super::$name(concat!(stringify!($module), "-", stringify!($name)), $backend);
                    }
                };
            }
            t!(inbound_connection_lands_on_capture_port_with_original_dst);
            t!(excluded_and_not_included_ports_reach_the_app);
            t!(loopback_connection_inside_pod_is_not_redirected);
            t!(add_twice_gives_the_same_ruleset);
            t!(del_leaves_no_trace_and_keeps_unrelated_rules);
            t!(check_detects_a_hand_deleted_rule);
            t!(re_add_with_new_annotations_replaces_the_old_rules);
        }
    )*};
}

per_backend! {
    nft => "nft",
    iptables_nft => "iptables-nft",
    iptables_legacy => "iptables-legacy",
}
