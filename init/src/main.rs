//! `palisade-init`: parse flags/env, log to stderr, run the library, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use palisade_init::{Args, Outcome, exit, run};

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(palisade_api::names::LOG_ENV)
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(palisade_api::names::DEFAULT_LOG)
                }),
        )
        .init();
    match run(&args) {
        Ok(Outcome::Drift(b, d)) => {
            eprintln!("{}", Outcome::Drift(b, d));
            ExitCode::from(exit::DRIFT)
        }
        Ok(missing @ Outcome::Missing(..)) => {
            eprintln!("{missing}");
            // Best effort: outside Kubernetes the termination log may not exist.
            if let Err(e) = std::fs::write(&args.termination_log, missing.to_string()) {
                eprintln!(
                    "palisade-init: writing {}: {e}",
                    args.termination_log.display()
                );
            }
            ExitCode::from(exit::REDIRECT_MISSING)
        }
        Ok(outcome) => {
            println!("{outcome}");
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("palisade-init: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
