//! Exit codes shared by Palisade's binaries (each binary's `--help` lists the ones it uses)
//! and the termination marker the CNI installer's repair controller looks for.
//!
//! The numbers follow BSD `sysexits.h` where one fits, so they read the same in every
//! container's `kubectl describe`.

/// Success.
pub const OK: u8 = 0;
/// A runtime failure not covered below (`--check` drift for `palisade-init`).
pub const FAILURE: u8 = 1;
/// Command-line syntax error (clap's own code).
pub const USAGE: u8 = 2;
/// Invalid configuration: a flag, a `PALISADE_*` variable, a config file or a certificate
/// (`EX_USAGE`).
pub const CONFIG: u8 = 64;
/// The pod's redirect rules are missing: it started before `palisade-cni` was on its node.
/// The repair controller looks for this code (or [`REDIRECT_MISSING_MARKER`]).
pub const REDIRECT_MISSING: u8 = 66;
/// A required system facility failed: entering the namespace, running `iptables-restore`
/// or `nft` (`EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;

/// Start of the termination message written with [`REDIRECT_MISSING`], so the repair
/// controller recognises the failure even where the exit code is not reported.
pub const REDIRECT_MISSING_MARKER: &str = "palisade: redirect missing";

/// [`REDIRECT_MISSING`] as Kubernetes reports exit codes (`ContainerStateTerminated.exitCode`).
pub const REDIRECT_MISSING_K8S: i32 = REDIRECT_MISSING as i32;
