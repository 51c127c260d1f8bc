//! Test prerequisites: root, tools, workspace binaries. Under `CI=true` a missing
//! prerequisite fails the test; otherwise the test prints why and is skipped. The rule
//! itself ([`require`], [`ci`]) is the workspace's one, from `palisade_api::testing`.

use std::path::{Path, PathBuf};

pub use palisade_api::testing::{ci, require};

/// The test needs root (network namespaces, iptables, nft).
pub fn require_root() -> bool {
    require(
        nix::unistd::geteuid().is_root(),
        "this test needs root for network namespaces and packet filters",
    )
}

/// Root plus every tool the namespaced tests use: `ip`, `nft`, the iptables front ends and
/// Debian's CNI reference plugins.
pub fn require_netns_env() -> bool {
    if !require_root() {
        return false;
    }
    let mut missing = Vec::new();
    for tool in [
        "ip",
        "nft",
        "iptables-nft-restore",
        "iptables-legacy-restore",
        "ip6tables-nft-restore",
        "ip6tables-legacy-restore",
    ] {
        if which(tool).is_none() {
            missing.push(tool.to_string());
        }
    }
    for plugin in ["loopback", "bridge", "host-local"] {
        let p = Path::new(crate::CNI_PLUGIN_DIR).join(plugin);
        if !p.exists() {
            missing.push(p.display().to_string());
        }
    }
    require(
        missing.is_empty(),
        &format!(
            "missing {}; install Debian's iproute2 iptables nftables containernetworking-plugins",
            missing.join(", ")
        ),
    )
}

/// The running test's function name, as libtest and nextest name the thread that runs it
/// (`module::test_fn` gives `test_fn`), sanitised for namespace and file names; `test` where
/// the harness runs tests on the main thread (`--test-threads=1`).
pub fn test_name() -> String {
    let thread = std::thread::current();
    let name = thread
        .name()
        .filter(|n| *n != "main")
        .and_then(|n| n.rsplit("::").next())
        .unwrap_or("test");
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The path of `tool` in PATH (or /usr/sbin, /sbin).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// `setpriv` arguments that run the command after them as nobody (65534:65534), with no
/// supplementary groups and every capability dropped: how the engine and
/// `palisade-validate` run in a pod whose security context drops `ALL`.
pub const AS_NOBODY: [&str; 6] = [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
];

/// A workspace binary (`palisade-cni`, `palisade-init`, `palisade-engine`, ...) from the
/// target directory this test was built into. Panics with the build command when missing.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let mut dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "binary `{name}` not found at {}: run `cargo build --workspace --bins` with the same \
             CARGO_TARGET_DIR and profile before running these tests",
            path.display()
        );
    }
    path
}

/// The repository root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits in the workspace")
        .to_path_buf()
}

/// `../shared` beside the checkout (CRS and SecLang test data).
pub fn shared_dir() -> PathBuf {
    workspace_root().join("../shared")
}
