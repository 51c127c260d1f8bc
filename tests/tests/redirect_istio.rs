//! `palisade.dev/service-mesh: istio`, per backend: Istio's inbound passthrough (from
//! 127.0.0.6 as UID 1337 over loopback) is redirected into the engine in nat OUTPUT, while
//! the engine's own connections and Istio's ports are left alone.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use palisade_tests::{
    Netns, PodConfig, TestNode, accept_within, original_dst, require, require_netns_env,
};

const ENGINE_UID: &str = "15300";

/// Connects from inside `ns` as `uid`, bound to `source`, and keeps the socket open a moment.
fn connect_as(ns: &Netns, uid: &str, source: &str, target: &str) -> palisade_tests::Background {
    let script = format!(
        "import socket,time\ns=socket.socket()\ns.bind(('{source}',0))\ns.connect(('{target}',8080))\ntime.sleep(3)"
    );
    let mut cmd = ns.command("setpriv");
    cmd.args([
        "--reuid",
        uid,
        "--regid",
        uid,
        "--clear-groups",
        "/usr/bin/python3",
        "-c",
        &script,
    ]);
    ns.spawn_command(&mut cmd)
}

fn istio_loopback_forwarding_goes_through_the_engine(test: &str, backend: &str) {
    if !require_netns_env()
        || !require(
            std::path::Path::new("/usr/bin/python3").exists(),
            "/usr/bin/python3 is needed to connect as another UID",
        )
    {
        return;
    }
    let node = TestNode::new(test);
    let pod = node
        .add_pod(
            PodConfig::injected("web")
                .backend(backend)
                .annotation("palisade.dev/service-mesh", "istio"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let ns = pod.netns();
    let capture = ns.listen("0.0.0.0:15300");
    let app = ns.listen("0.0.0.0:8080");
    let wait = Duration::from_secs(15);
    let nothing = Duration::from_millis(500);

    // Istio's sidecar forwarding to the app: redirected into the engine.
    let _istio = connect_as(ns, "1337", "127.0.0.6", "127.0.0.1");
    let got =
        accept_within(&capture, wait).expect("Istio's loopback forwarding reached the engine");
    assert_eq!(
        original_dst(&got).unwrap(),
        SocketAddr::from(([127, 0, 0, 1], 8080))
    );
    assert!(
        accept_within(&app, nothing).is_none(),
        "the app saw Istio's connection directly"
    );

    // The engine's own upstream connection, even from 127.0.0.6: never redirected.
    let _engine = connect_as(ns, ENGINE_UID, "127.0.0.6", "127.0.0.1");
    assert!(
        accept_within(&app, wait).is_some(),
        "engine's connection did not reach the app"
    );
    assert!(
        accept_within(&capture, nothing).is_none(),
        "engine's connection looped into itself"
    );

    // UID 1337 from another loopback source is not Istio's passthrough.
    let _other = connect_as(ns, "1337", "127.0.0.1", "127.0.0.1");
    assert!(accept_within(&app, wait).is_some());
    assert!(accept_within(&capture, nothing).is_none());

    // Istio's own inbound port from the node is not redirected.
    let istio_port = ns.listen("0.0.0.0:15006");
    let _c = node.netns().connect((pod.ipv4(), 15006));
    assert!(
        accept_within(&istio_port, wait).is_some(),
        "Istio's port 15006 was redirected"
    );
    assert!(accept_within(&capture, nothing).is_none());
}

#[test]
fn nft_istio_loopback_forwarding_goes_through_the_engine() {
    istio_loopback_forwarding_goes_through_the_engine("istio-nft", "nft");
}

#[test]
fn iptables_nft_istio_loopback_forwarding_goes_through_the_engine() {
    istio_loopback_forwarding_goes_through_the_engine("istio-iptables-nft", "iptables-nft");
}

#[test]
fn iptables_legacy_istio_loopback_forwarding_goes_through_the_engine() {
    istio_loopback_forwarding_goes_through_the_engine("istio-iptables-legacy", "iptables-legacy");
}
