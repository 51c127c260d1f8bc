//! The demo: a "pod" network namespace wired by Debian's CNI reference plugins plus
//! palisade-cni, and traffic from the "node" showing what Palisade's redirect does.
//!
//! Each step prints one line of the summary; add a step by appending to `STEPS`.
//! Run as root after `cargo build -p palisade-cni-plugin -p palisade-init -p palisade-tests --bins`
//! (scripts/demo.sh does both).

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use palisade_tests::{PodConfig, TestNode, TestPod, accept_within, original_dst};

const CAPTURE: u16 = 15300;
const APP: u16 = 8080;
const EXCLUDED: u16 = 8081;

/// What the steps share: the node, the pod and the listeners inside the pod.
struct Demo<'a> {
    node: &'a TestNode,
    pod: TestPod<'a>,
    capture: TcpListener,
    app: TcpListener,
    excluded: TcpListener,
}

type Step = (&'static str, fn(&Demo<'_>) -> anyhow::Result<String>);

const STEPS: &[Step] = &[
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

fn main() -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("palisade-demo: run as root (network namespaces and packet filters)");
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
    let (capture, app, excluded) = (
        ns.listen(&format!("0.0.0.0:{CAPTURE}")),
        ns.listen(&format!("0.0.0.0:{APP}")),
        ns.listen(&format!("0.0.0.0:{EXCLUDED}")),
    );
    let demo = Demo {
        node: &node,
        pod,
        capture,
        app,
        excluded,
    };
    let mut failed = 0;
    for (i, (name, step)) in STEPS.iter().enumerate() {
        match step(&demo) {
            Ok(detail) => println!("[{}/{}] PASS {name}: {detail}", i + 1, STEPS.len()),
            Err(e) => {
                failed += 1;
                println!("[{}/{}] FAIL {name}: {e:#}", i + 1, STEPS.len());
            }
        }
    }
    println!("{} passed, {failed} failed", STEPS.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
