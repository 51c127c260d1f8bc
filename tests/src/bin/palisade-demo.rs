//! The demo: a "pod" network namespace wired by Debian's CNI reference plugins plus
//! palisade-cni, and traffic from the "node" showing what Palisade's redirect does.
//!
//! Two stages: first the redirect alone (plain listeners in the pod show where each
//! connection lands), then `palisade-engine` with the OWASP CRS (from `../shared`) in the
//! pod, in front of an app, with benign and attack traffic from the node.
//!
//! Each step prints one line of the summary; add a step by appending to `REDIRECT_STEPS`
//! or `WAF_STEPS`. Run as root after `cargo build --workspace --bins` (scripts/demo.sh
//! does both).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use palisade_tests::{
    PodConfig, PodEngine, TestNode, TestPod, accept_within, original_dst, serve_http, shared_dir,
};

const CAPTURE: u16 = 15300;
const APP: u16 = 8080;
const EXCLUDED: u16 = 8081;

/// What the steps share: the node, the pod and the listeners inside the pod.
struct Demo<'a> {
    node: &'a TestNode,
    pod: &'a TestPod<'a>,
    capture: TcpListener,
    app: TcpListener,
    excluded: TcpListener,
}

/// A named step of the demo: checks one behaviour, returns the summary detail.
type Step = (&'static str, fn(&Demo<'_>) -> anyhow::Result<String>);

const REDIRECT_STEPS: &[Step] = &[
    (
        "pod wired by loopback + bridge + host-local, palisade-cni chained",
        pod_wired,
    ),
    (
        "connection to the pod's app port is redirected to the engine port",
        redirected,
    ),
    ("excluded port reaches the app directly", excluded),
    (
        "loopback traffic inside the pod is not redirected",
        loopback,
    ),
    ("redirect rules installed in the pod", rules),
];

fn pod_wired(d: &Demo<'_>) -> anyhow::Result<String> {
    Ok(format!(
        "pod {} has IP {} (netns {})",
        d.pod.config.name,
        d.pod.ipv4(),
        d.pod.netns().name()
    ))
}

fn redirected(d: &Demo<'_>) -> anyhow::Result<String> {
    let target = SocketAddr::from((d.pod.ipv4(), APP));
    let _client = d
        .node
        .netns()
        .try_connect(target)
        .context("connect from the node")?;
    let Some(conn) = accept_within(&d.capture, Duration::from_secs(3)) else {
        bail!("connection to {target} did not arrive on :{CAPTURE}");
    };
    let orig = original_dst(&conn).context("SO_ORIGINAL_DST")?;
    if accept_within(&d.app, Duration::from_millis(200)).is_some() {
        bail!("the app saw the connection too");
    }
    Ok(format!(
        "node -> {target} arrived on :{CAPTURE}, SO_ORIGINAL_DST = {orig}"
    ))
}

fn excluded(d: &Demo<'_>) -> anyhow::Result<String> {
    let target = SocketAddr::from((d.pod.ipv4(), EXCLUDED));
    let _client = d
        .node
        .netns()
        .try_connect(target)
        .context("connect from the node")?;
    if accept_within(&d.excluded, Duration::from_secs(3)).is_none() {
        bail!("connection to {target} did not reach the app's own listener");
    }
    if accept_within(&d.capture, Duration::from_millis(200)).is_some() {
        bail!("excluded port {EXCLUDED} was redirected");
    }
    Ok(format!(
        "node -> {target} reached the app on :{EXCLUDED} (palisade.dev/exclude-inbound-ports)"
    ))
}

fn loopback(d: &Demo<'_>) -> anyhow::Result<String> {
    let target = SocketAddr::from(([127, 0, 0, 1], APP));
    let _client = d
        .pod
        .netns()
        .try_connect(target)
        .context("connect inside the pod")?;
    if accept_within(&d.app, Duration::from_secs(3)).is_none() {
        bail!("{target} inside the pod did not reach the app");
    }
    Ok(format!(
        "pod -> {target} reached the app, as the engine's own upstream connection will"
    ))
}

fn rules(d: &Demo<'_>) -> anyhow::Result<String> {
    let out = d
        .pod
        .netns()
        .exec("nft", &["list", "table", "inet", "palisade"]);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("redirect to :15300") {
        bail!(
            "nft table inet palisade missing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(format!("nft list table inet palisade:\n{text}"))
}

/// The protected pod: the engine (transparent mode, CRS) in front of the app on :8080.
struct Protected<'a> {
    node: &'a TestNode,
    pod: &'a TestPod<'a>,
    engine: PodEngine,
}

type WafStep = (&'static str, fn(&Protected<'_>) -> anyhow::Result<String>);

const WAF_STEPS: &[WafStep] = &[
    (
        "engine ready in the pod: transparent mode, OWASP CRS v4.28.0, paranoia level 1, user nobody",
        engine_ready,
    ),
    ("benign requests reach the app through the engine", benign),
    ("attacks are blocked by the engine before the app", attacks),
    ("excluded port bypasses the engine", excluded_bypass),
    ("what the engine logged", logged),
];

const BENIGN: &[&str] = &[
    "/",
    "/products?id=42&sort=price",
    "/search?q=blue+running+shoes",
];

const ATTACKS: &[(&str, &str)] = &[
    ("SQL injection", "/products?id=1%27%20OR%20%271%27%3D%271"),
    (
        "XSS",
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
    ),
    (
        "path traversal",
        "/download?file=..%2F..%2F..%2Fetc%2Fpasswd",
    ),
    (
        "command injection",
        "/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd",
    ),
];

/// One GET from the node to the pod; returns the status and the body.
fn get(p: &Protected<'_>, port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    let to = SocketAddr::from((p.pod.ipv4(), port));
    let mut s = p
        .node
        .netns()
        .try_connect(to)
        .context("connect from the node")?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: demo-web\r\nUser-Agent: palisade-demo\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn engine_ready(p: &Protected<'_>) -> anyhow::Result<String> {
    let ev = p.engine.wait(|v| v["type"] == "listening");
    Ok(format!(
        "listening on {} (admin {})",
        ev["listen"], ev["admin"]
    ))
}

fn benign(p: &Protected<'_>) -> anyhow::Result<String> {
    for path in BENIGN {
        let (status, body) = get(p, APP, path)?;
        if status != 200 || !body.starts_with("app saw:") {
            bail!("{path}: status {status}, body {body:?}");
        }
    }
    Ok(format!("{} requests, all 200 from the app", BENIGN.len()))
}

fn attacks(p: &Protected<'_>) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    for (kind, path) in ATTACKS {
        let (status, body) = get(p, APP, path)?;
        if status != 403 || body.contains("app saw:") {
            bail!("{kind} {path}: status {status}, body {body:?}");
        }
        lines.push(format!("  403 {kind:<18} {path}"));
    }
    Ok(format!(
        "{} attacks, all 403 from the engine\n{}",
        ATTACKS.len(),
        lines.join("\n")
    ))
}

fn excluded_bypass(p: &Protected<'_>) -> anyhow::Result<String> {
    let (status, body) = get(p, EXCLUDED, ATTACKS[0].1)?;
    if status != 200 || !body.starts_with("app saw:") {
        bail!("port {EXCLUDED}: status {status}, body {body:?}");
    }
    Ok(format!(
        "an attack sent to :{EXCLUDED} reached the app uninspected, as the annotation asks"
    ))
}

fn logged(p: &Protected<'_>) -> anyhow::Result<String> {
    let access: Vec<_> = p
        .engine
        .events()
        .into_iter()
        .filter(|v| v["type"] == "access")
        .collect();
    let blocked = access.iter().filter(|v| v["decision"] == "block").count();
    if access.len() != BENIGN.len() + ATTACKS.len() || blocked != ATTACKS.len() {
        bail!(
            "expected {} access lines with {} blocks, got {access:?}",
            BENIGN.len() + ATTACKS.len(),
            ATTACKS.len()
        );
    }
    let lines: Vec<String> = access
        .iter()
        .map(|v| {
            format!(
                "  {} {} {} {} rules={}",
                v["status"], v["decision"], v["method"], v["path"], v["rule_ids"]
            )
        })
        .collect();
    Ok(format!(
        "{} access log lines, {blocked} blocks\n{}",
        access.len(),
        lines.join("\n")
    ))
}

/// Runs each step through `run`, printing one summary line each; returns the failures.
fn run_steps<F>(
    title: &str,
    steps: &[(&'static str, F)],
    run: impl Fn(&F) -> anyhow::Result<String>,
) -> usize {
    println!("== {title}");
    let mut failed = 0;
    for (i, (name, step)) in steps.iter().enumerate() {
        match run(step) {
            Ok(detail) => println!("[{}/{}] PASS {name}: {detail}", i + 1, steps.len()),
            Err(e) => {
                failed += 1;
                println!("[{}/{}] FAIL {name}: {e:#}", i + 1, steps.len());
            }
        }
    }
    failed
}

fn main() -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("palisade-demo: run as root (network namespaces and packet filters)");
        return ExitCode::from(1);
    }
    let crs = shared_dir().join("crs/v4.28.0");
    if !crs.join("rules").is_dir() {
        eprintln!(
            "palisade-demo: the OWASP CRS is expected at {} (../shared beside the checkout)",
            crs.display()
        );
        return ExitCode::from(1);
    }
    let node = TestNode::new("demo");
    let pod = match node.add_pod(
        PodConfig::injected("demo-web")
            .annotation("palisade.dev/exclude-inbound-ports", &EXCLUDED.to_string()),
    ) {
        Ok(pod) => pod,
        Err(e) => {
            eprintln!("palisade-demo: CNI ADD failed: {e}");
            return ExitCode::from(1);
        }
    };
    let ns = pod.netns();
    let demo = Demo {
        node: &node,
        pod: &pod,
        capture: ns.listen(&format!("0.0.0.0:{CAPTURE}")),
        app: ns.listen(&format!("0.0.0.0:{APP}")),
        excluded: ns.listen(&format!("0.0.0.0:{EXCLUDED}")),
    };
    let mut failed = run_steps("redirect: where connections land", REDIRECT_STEPS, |step| {
        step(&demo)
    });
    // The listeners make way for the engine and the app.
    drop(demo);
    serve_http(ns.listen(&format!("0.0.0.0:{APP}")));
    serve_http(ns.listen(&format!("0.0.0.0:{EXCLUDED}")));
    let config = format!(
        "inspection:\n  mode: block\n  paranoia_level: 1\n  rules:\n    - {}\n    - {}\n",
        crs.join("crs-setup.conf.example").display(),
        crs.join("rules/*.conf").display()
    );
    let protected = Protected {
        node: &node,
        pod: &pod,
        engine: PodEngine::start(&node, &pod, &config),
    };
    failed += run_steps("WAF: the engine in the pod", WAF_STEPS, |step| {
        step(&protected)
    });
    let total = REDIRECT_STEPS.len() + WAF_STEPS.len();
    println!("== summary: {} passed, {failed} failed", total - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
