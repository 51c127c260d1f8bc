//! The engine in transparent mode inside a pod: a client in the node namespace connects to
//! the pod's app port, `palisade-cni`'s rules REDIRECT it to the engine on :15300, and the
//! engine forwards to the app on loopback using `SO_ORIGINAL_DST`.
//!
//! The engine runs as `nobody` with no capabilities, as in production: reading
//! `SO_ORIGINAL_DST` and binding :15300 need neither.
//!
//! Needs root (`setpriv` from util-linux) and the `palisade-engine` and `palisade-cni`
//! binaries in this target dir (`cargo build -p palisade-engine -p palisade-cni-plugin`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use palisade_tests::{
    PodConfig, PodEngine, TestNode, TestPod, require_netns_env, serve_http, serve_lines,
};

/// The proxy tests run without rule files, which block mode refuses unless asked.
const NO_RULES: &str = "inspection:\n  allow_no_rules: true\n";

/// Sends one request from the node and returns the whole response.
fn request(node: &TestNode, to: SocketAddr, raw: &str) -> String {
    let mut s = node.netns().connect(to);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Root, the netns tools, and `setpriv` (util-linux) to drop to `nobody`.
fn require_env() -> bool {
    require_netns_env()
        && palisade_tests::require(
            ["/usr/bin/setpriv", "/bin/setpriv"]
                .iter()
                .any(|p| Path::new(p).exists()),
            "setpriv (util-linux) is needed to run the engine as nobody",
        )
}

fn pod_with_app(node: &TestNode) -> TestPod<'_> {
    let pod = node
        .add_pod(PodConfig::injected("web").ipv6())
        .unwrap_or_else(|e| panic!("{e}"));
    pod.netns()
        .exec_ok("sysctl", &["-qw", "net.ipv6.bindv6only=1"]);
    serve_http(pod.netns().listen("0.0.0.0:8080"));
    serve_http(pod.netns().listen("[::]:8080"));
    pod
}

#[test]
fn engine_transparent_forwards_redirected_http_to_app_on_loopback() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_http");
    let pod = pod_with_app(&node);
    let engine = PodEngine::start(&node, &pod, NO_RULES);
    let mut targets: Vec<IpAddr> = vec![pod.ipv4().into()];
    targets.extend(pod.ipv6().map(IpAddr::from));
    assert_eq!(targets.len(), 2, "pod has IPv4 and IPv6");
    for ip in targets {
        let to = SocketAddr::new(ip, 8080);
        let resp = request(
            &node,
            to,
            "GET /through/engine HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{to}: {resp}");
        let lower = resp.to_lowercase();
        assert!(
            lower.contains("app saw:\nget /through/engine http/1.1"),
            "{resp}"
        );
        assert!(
            lower.contains("x-forwarded-for: "),
            "the engine handled it: {resp}"
        );
        assert!(lower.contains("x-request-id: "), "{resp}");
        let loopback = if ip.is_ipv4() {
            "127.0.0.1:8080"
        } else {
            "[::1]:8080"
        };
        let line = engine.wait(|v| {
            v["type"] == "access" && v["path"] == "/through/engine" && v["upstream"] == loopback
        });
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["decision"], "allow");
    }
}

#[test]
fn engine_transparent_answers_limit_violations_before_the_app() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_limit");
    let pod = pod_with_app(&node);
    let engine = PodEngine::start(
        &node,
        &pod,
        &format!("{NO_RULES}limits:\n  max_uri_bytes: 64\n"),
    );
    let to = SocketAddr::from((pod.ipv4(), 8080));
    let long = "a".repeat(200);
    let resp = request(
        &node,
        to,
        &format!("GET /{long} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"),
    );
    assert!(resp.starts_with("HTTP/1.1 414"), "{resp}");
    assert!(!resp.contains("app saw"), "the app never saw it: {resp}");
    let line = engine.wait(|v| v["type"] == "access" && v["status"] == 414);
    assert_eq!(line["decision"], "block");
    assert!(line["upstream"].is_null());
}

#[test]
fn engine_transparent_passes_non_http_through_to_the_original_port() {
    if !require_env() {
        return;
    }
    let node = TestNode::new("engine_tp_tcp");
    let pod = node
        .add_pod(PodConfig::injected("db"))
        .unwrap_or_else(|e| panic!("{e}"));
    serve_lines(pod.netns().listen("0.0.0.0:9000"));
    let engine = PodEngine::start(&node, &pod, NO_RULES);
    let mut s = node.netns().connect((pod.ipv4(), 9000));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    // A one-word first line is no HTTP request line for any server (see front/detect.rs).
    for line in ["PING", "second line"] {
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut back = String::new();
        reader.read_line(&mut back).unwrap();
        assert_eq!(back, format!("echo: {line}\n"));
    }
    drop(reader);
    drop(s);
    let ev = engine.wait(|v| v["type"] == "tcp");
    assert_eq!(ev["action"], "passthrough");
    assert_eq!(ev["upstream"], "127.0.0.1:9000");
}

/// The OWASP CRS from `../shared` as the engine's rules, at paranoia level 1.
fn crs_config() -> String {
    let crs = palisade_tests::shared_dir().join("crs/v4.28.0");
    assert!(
        crs.join("rules").is_dir(),
        "the CRS is expected at {} (../shared beside the checkout)",
        crs.display()
    );
    format!(
        "inspection:\n  mode: block\n  rules:\n    - {}\n    - {}\n",
        crs.join("crs-setup.conf.example").display(),
        crs.join("rules/*.conf").display()
    )
}

#[test]
fn engine_transparent_with_crs_passes_the_cluster_e2e_traffic_checks() {
    if !require_env()
        || !palisade_tests::require(
            palisade_tests::which("curl").is_some(),
            "curl is needed by vagrant/check-endpoint.sh",
        )
    {
        return;
    }
    let node = TestNode::new("engine_tp_crs");
    let pod = node
        .add_pod(
            PodConfig::injected("web").annotation("palisade.dev/exclude-inbound-ports", "8081"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    serve_http(pod.netns().listen("0.0.0.0:8080"));
    serve_http(pod.netns().listen("0.0.0.0:8081"));
    let engine = PodEngine::start(&node, &pod, &crs_config());
    // The same request/assert library the Vagrant cluster's e2e.sh uses, from the node.
    let script = palisade_tests::workspace_root().join("vagrant/check-endpoint.sh");
    let base = format!("http://{}:8080", pod.ipv4());
    let excluded = format!("http://{}:8081", pod.ipv4());
    let out = node
        .netns()
        .exec("bash", &[script.to_str().unwrap(), &base, &excluded]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check-endpoint.sh failed:\n{text}");
    let blocked = engine
        .events()
        .into_iter()
        .filter(|v| v["type"] == "access" && v["decision"] == "block")
        .count();
    assert!(
        blocked >= 6,
        "the engine blocked the attacks itself ({blocked} blocks):\n{text}"
    );
}

/// Issue #9, class 4, in the namespaced transparent mode: HTTP/2 with prior knowledge
/// (h2c) to the pod's port is redirected, inspected with the CRS and proxied. Benign
/// requests get 200 (the view has `Host` from `:authority`), attacks 403.
#[test]
fn engine_transparent_inspects_h2c_with_the_crs() {
    if !require_env()
        || !palisade_tests::require(
            palisade_tests::which("curl").is_some(),
            "curl (with HTTP/2) sends the h2c requests",
        )
    {
        return;
    }
    let node = TestNode::new("engine_tp_h2c");
    let pod = node
        .add_pod(PodConfig::injected("web"))
        .unwrap_or_else(|e| panic!("{e}"));
    serve_http(pod.netns().listen("0.0.0.0:8080"));
    let engine = PodEngine::start(&node, &pod, &crs_config());
    let get = |path: &str| {
        let url = format!("http://{}:8080{path}", pod.ipv4());
        let out = node.netns().exec(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "--http2-prior-knowledge",
                "-w",
                "%{http_code} %{http_version}",
                &url,
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(get("/products?id=42"), "200 2");
    assert_eq!(get("/?id=1%27%20or%201%3D1--"), "403 2");
    let line = engine.wait(|v| v["type"] == "access" && v["status"] == 403);
    assert_eq!(line["protocol"], "HTTP/2.0", "{line}");
    let allowed = engine.wait(|v| v["type"] == "access" && v["status"] == 200);
    assert_eq!(allowed["protocol"], "HTTP/2.0", "{allowed}");
    assert_eq!(allowed["upstream"], "127.0.0.1:8080", "{allowed}");
}
