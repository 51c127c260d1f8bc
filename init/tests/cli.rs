//! The binary's contract without root: help documents exit codes, bad values exit 64.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn init() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_palisade-init"));
    c.env_clear();
    c
}

#[test]
fn help_documents_env_vars_and_exit_codes() {
    let out = init().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "PALISADE_EXCLUDE_INBOUND_PORTS",
        "PALISADE_INCLUDE_INBOUND_PORTS",
        "--dry-run",
        "--check",
        "Exit codes",
        "64",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn invalid_port_list_exits_64_naming_variable_and_value() {
    for value in ["80,abc", "70000", "9100-9000"] {
        let out = init()
            .env("PALISADE_EXCLUDE_INBOUND_PORTS", value)
            .arg("--dry-run")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("PALISADE_EXCLUDE_INBOUND_PORTS") && err.contains(value),
            "{err}"
        );
    }
}

#[test]
fn invalid_mesh_mode_exits_64() {
    let out = init()
        .env("PALISADE_SERVICE_MESH", "linkerd")
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linkerd"));
}
