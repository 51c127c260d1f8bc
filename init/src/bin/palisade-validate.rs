//! `palisade-validate`: the unprivileged validator init container (CNI mode). Runs as
//! non-root with no capabilities, before the engine; proves the redirect is in place with a
//! connection only the redirect can complete ([`palisade_init::probe`]). Exit 0 when it is,
//! else exit 66 with the termination message the repair controller looks for.
//!
//! Exit codes: 0 verified, 2 usage, 66 redirect missing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use palisade_api::exit::{self, REDIRECT_MISSING_MARKER};

/// Prove, without privileges, that this pod's inbound redirect is in place.
#[derive(Debug, Parser)]
#[command(name = "palisade-validate", version)]
struct Args {
    /// Port the engine captures redirected connections on (free until the engine starts).
    #[arg(long, env = palisade_api::names::init_env::CAPTURE_PORT, default_value_t = palisade_api::ports::DEFAULT_CAPTURE_PORT)]
    capture_port: u16,
    /// How long to wait for the redirected connection.
    #[arg(long, default_value_t = 5)]
    timeout_seconds: u64,
    /// Where the finding goes for `kubectl describe` and the repair controller.
    #[arg(long, env = palisade_api::names::init_env::TERMINATION_LOG, default_value = "/dev/termination-log")]
    termination_log: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(palisade_api::names::LOG_ENV)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match palisade_init::probe::probe(args.capture_port, Duration::from_secs(args.timeout_seconds))
    {
        Ok(()) => {
            println!(
                "redirect verified: {}:{} reached the capture port {}",
                palisade_redirect::VALIDATION_ADDR,
                palisade_redirect::VALIDATION_PORT,
                args.capture_port
            );
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            let message = format!(
                "{REDIRECT_MISSING_MARKER}: {e}; was palisade-cni on the node when the pod started?"
            );
            eprintln!("{message}");
            // Best effort: outside Kubernetes the termination log may not exist.
            if let Err(err) = std::fs::write(&args.termination_log, &message) {
                eprintln!(
                    "palisade-validate: writing {}: {err}",
                    args.termination_log.display()
                );
            }
            ExitCode::from(exit::REDIRECT_MISSING)
        }
    }
}
