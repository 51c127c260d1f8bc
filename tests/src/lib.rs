//! Test harness: "pods" as network namespaces, wired exactly as a container runtime does.
//!
//! A [`TestNode`] is a "node" network namespace. [`TestNode::add_pod`] creates a "pod"
//! namespace and runs Debian's CNI reference plugins from `/usr/lib/cni` the way containerd
//! does: `loopback` for `lo`, then the conflist `bridge` (+ `host-local` IPAM) and, unless
//! switched off, `palisade-cni` chained with the real `prevResult`. Plugins run inside the
//! node namespace (it plays the host), with `CNI_*` environment variables and the config on
//! stdin. Pod annotations reach `palisade-cni` through
//! `runtimeConfig["io.kubernetes.cri.pod-annotations"]`, as containerd passes them when the
//! plugin declares the capability.
//!
//! Every namespace is named after the test (`pal-<pid>-<test>-<role>`) and deleted on drop
//! (or by the next test, when its process was killed before dropping),
//! with the node's bridge, veths and rules in it; [`Background`] processes are killed on drop.
//!
//! ```no_run
//! use palisade_tests::{PodConfig, TestNode, require_netns_env};
//! # fn t() {
//! if !require_netns_env() { return; }              // fails under CI=true, skips otherwise
//! let node = TestNode::for_test();
//! let pod = node.add_pod(PodConfig::injected("web")).expect("CNI ADD");
//! let app = pod.netns().listen("0.0.0.0:8080");  // socket lives in the pod namespace
//! let conn = node.netns().connect((pod.ipv4(), 8080)); // connect from the node
//! # let _ = (app, conn); }
//! ```
//!
//! What is there:
//! - [`PodConfig`]: `injected(name)` / `plain(name)`, `.annotation(k, v)` (passed through
//!   `runtimeConfig`), `.ipv6()`, `.backend("nft" | "iptables-nft" | "iptables-legacy")`,
//!   `.without_palisade()` (reference plugins only: the `palisade-init` path).
//! - [`TestPod`]: `ipv4()`, `ipv6()`, `netns()`, `result()`; `palisade("ADD" | "CHECK" | "DEL")`
//!   re-runs palisade-cni with the runtime's exact config, `palisade_with(cmd, stdin, netns)`
//!   sends anything (bad-input tests).
//! - [`Netns`]: `exec`/`exec_ok` (`ip netns exec`), `spawn` (a [`Background`] process killed on
//!   drop), `run(closure)` on a dedicated thread inside the namespace, `listen`, `connect`.
//! - [`accept_within`], [`original_dst`] (`SO_ORIGINAL_DST`), [`ruleset_snapshot`] (nft +
//!   legacy iptables, for before/after comparisons).
//! - [`PodEngine`]: `palisade-engine` in transparent mode inside a pod, as `nobody` with no
//!   capabilities; [`serve_http`] and [`serve_lines`] put an app behind it.
//! - [`require_root`], [`require_netns_env`], [`require`]: fail under `CI=true`, skip otherwise.
//! - Over-HTTP suites on loopback: [`LocalEngine`] (explicit mode, JSON log in a file),
//!   [`LogTail`], [`send_raw`], [`start_albedo`] (go-ftw's reflector backend) and [`ftw`]
//!   (the go-ftw test format: requests built and stages scored as go-ftw does).
//!
//! Binaries of the workspace are found next to the test executable with [`bin`]; build them
//! first with `cargo build --workspace --bins` (or `-p palisade-cni-plugin -p palisade-init`).

// A test-support library, linked only into tests: a panic (unwrap/expect) is how its helpers
// report a broken prerequisite to the test that called them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod albedo;
mod cni;
pub mod corpus;
pub mod cri;
mod engine;
mod env;
pub mod ftw;
pub mod kubelet;
mod netns;
mod node;
mod pod;
mod waf;

pub use albedo::start_albedo;
pub use cni::PluginOutput;
pub use engine::{PodEngine, serve_http, serve_lines};
pub use env::{
    AS_NOBODY, bin, ci, require, require_netns_env, require_root, shared_dir, test_name, which,
    workspace_root,
};
pub use netns::{Background, Netns, accept_within, original_dst, ruleset_snapshot};
pub use node::{CniFailure, PodConfig, TestNode};
pub use pod::TestPod;
pub use waf::{LocalEngine, LogTail, MODSEC_NGINX_MODULE, ModsecNginx, send_raw};

/// The annotation marking a pod the injector has processed.
pub const INJECTED: (&str, &str) = (
    palisade_api::names::STATUS,
    palisade_api::names::STATUS_INJECTED,
);
/// Directory of Debian's CNI reference plugins.
pub const CNI_PLUGIN_DIR: &str = "/usr/lib/cni";
