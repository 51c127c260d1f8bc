//! The binary's edge: `palisade-cni` with no arguments speaks the CNI protocol (the container
//! runtime runs it so); `palisade-cni install` is the node DaemonSet's installer.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes of both modes, as `--help` lists them ([`exit::help`]).
pub mod exit {
    use palisade_api::exit as api;

    /// CNI: the command succeeded (its result, if any, is on stdout). install: a clean
    /// uninstall after SIGTERM.
    pub const OK: u8 = api::OK;
    /// CNI: the command failed; the CNI error object (with its code) is on stdout.
    /// install: a runtime failure.
    pub const FAILURE: u8 = api::FAILURE;
    /// Command-line syntax error (clap).
    pub const USAGE: u8 = api::USAGE;
    /// install: `install.json` is unreadable or invalid, or `repairMode: deletePods` without
    /// `NODE_NAME`.
    pub const CONFIG: u8 = api::CONFIG;

    /// Every code with its meaning, for `--help`.
    pub const CODES: &[(u8, &str)] = &[
        (
            OK,
            "CNI: success (result on stdout); install: clean uninstall after SIGTERM",
        ),
        (
            FAILURE,
            "CNI: failure (CNI error JSON with its code on stdout, see docs/cni.md); install: failure",
        ),
        (USAGE, "command-line syntax error"),
        (
            CONFIG,
            "install: install.json invalid, or repairMode: deletePods without NODE_NAME",
        ),
    ];

    /// The `--help` section. (The CNI protocol itself logs to the network config's
    /// `logFile` at its `logLevel`; `install` reads PALISADE_LOG, else install.json's
    /// `logLevel`.)
    pub fn help() -> String {
        api::help(CODES)
    }
}

/// CNI plugin that redirects an injected pod's inbound TCP to the Palisade engine. Run with
/// no arguments by the container runtime (CNI_COMMAND and friends in the environment, the
/// network config on stdin).
#[derive(Debug, Parser)]
#[command(name = "palisade-cni", version, after_help = exit::help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Mode>,
}

#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Install the plugin on this node and keep it installed until SIGTERM (the DaemonSet).
    Install(crate::install::cli::InstallArgs),
}

/// `palisade-cni`: dispatch on the mode.
pub fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Mode::Install(args)) => crate::install::cli::main(args),
        None => crate::cni_main(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn no_arguments_is_the_cni_protocol_and_install_takes_a_config() {
        assert!(
            Cli::try_parse_from(["palisade-cni"])
                .unwrap()
                .command
                .is_none()
        );
        let cli = Cli::try_parse_from(["palisade-cni", "install", "--config=/x.json"]).unwrap();
        let Some(Mode::Install(args)) = cli.command else {
            panic!("install mode expected");
        };
        assert_eq!(args.config, std::path::PathBuf::from("/x.json"));
        assert!(Cli::try_parse_from(["palisade-cni", "install", "--bogus"]).is_err());
    }
}
