//! Helpers shared by the integration tests: locating ../shared and Debian's CRS, and the
//! fast-vs-reference comparison (`differential`).
// Each test crate that includes this module uses a subset of its helpers.
#![allow(dead_code)]
pub mod differential;

use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// Returns the path if it exists; otherwise fails under CI=true and returns None (skip)
/// locally: the workspace's one rule, `palisade_api::testing::require`.
pub fn require(path: PathBuf, what: &str) -> Option<PathBuf> {
    let why = format!("{what} not found at {}", path.display());
    palisade_api::testing::require(path.exists(), &why).then_some(path)
}

pub fn crs4() -> Option<PathBuf> {
    require(shared().join("crs/v4.28.0"), "CRS v4.28.0")
}

/// Debian's modsecurity-crs: (crs-setup.conf, rules dir).
pub fn crs3_debian() -> Option<(PathBuf, PathBuf)> {
    let rules = require(
        PathBuf::from("/usr/share/modsecurity-crs/rules"),
        "Debian modsecurity-crs rules",
    )?;
    let setup = [
        "/etc/modsecurity/crs/crs-setup.conf",
        "/usr/share/modsecurity-crs/crs-setup.conf",
        "/usr/share/modsecurity-crs/crs-setup.conf.example",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    let setup = require(
        setup.unwrap_or_else(|| PathBuf::from("/etc/modsecurity/crs/crs-setup.conf")),
        "Debian crs-setup.conf",
    )?;
    Some((setup, rules))
}
