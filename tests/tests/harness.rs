//! The harness itself: pods get addresses from the reference plugins and can talk to the node.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use palisade_tests::{PodConfig, TestNode, require_netns_env};

#[test]
fn reference_plugins_wire_a_pod_the_node_can_reach() {
    if !require_netns_env() {
        return;
    }
    let node = TestNode::for_test();
    let pod = node
        .add_pod(PodConfig::plain("web").without_palisade().ipv6())
        .expect("CNI ADD");
    assert!(
        pod.ipv4().to_string().starts_with("10.244.0."),
        "{}",
        pod.result()
    );
    let v6 = pod.ipv6().expect("IPv6 address from host-local");
    let listener = pod.netns().listen("[::]:8080");
    for addr in [
        std::net::SocketAddr::from((pod.ipv4(), 8080)),
        (v6, 8080).into(),
    ] {
        let mut c = node.netns().connect(addr);
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }
    let out = pod.netns().exec_ok("ip", &["-o", "addr"]);
    assert!(out.contains(&pod.ipv4().to_string()), "{out}");
}
