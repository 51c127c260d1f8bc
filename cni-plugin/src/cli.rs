//! The binary's edge: `palisade-cni` with no arguments speaks the CNI protocol (the container
//! runtime runs it so); `palisade-cni install` is the node DaemonSet's installer.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes of both modes, as `--help` lists them ([`exit::HELP`]).
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

    /// The `--help` section; a unit test keeps it in step with the constants above.
    pub const HELP: &str = "\
Exit codes:
  0   CNI: success (result on stdout); install: clean uninstall after SIGTERM
  1   CNI: failure (CNI error JSON with its code on stdout, see docs/cni.md); install: failure
  2   command-line syntax error
  64  install: install.json invalid, or repairMode: deletePods without NODE_NAME

Logging: the CNI config's logFile/logLevel; install: PALISADE_LOG (default: install.json logLevel).";
}

/// CNI plugin that redirects an injected pod's inbound TCP to the Palisade engine. Run with
/// no arguments by the container runtime (CNI_COMMAND and friends in the environment, the
/// network config on stdin).
#[derive(Debug, Parser)]
#[command(name = "palisade-cni", version, after_help = exit::HELP)]
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
    fn help_lists_every_exit_code() {
        for code in [exit::OK, exit::FAILURE, exit::USAGE, exit::CONFIG] {
            assert!(
                exit::HELP.contains(&format!("\n  {code:<3} ")),
                "exit code {code} missing from --help"
            );
        }
    }

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
