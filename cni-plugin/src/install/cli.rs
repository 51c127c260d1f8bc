//! Entry point for `palisade-cni install [--config PATH]`, so the binary's dispatch is one line.
//! Exit codes: 0 after a clean uninstall on SIGTERM, 64 bad arguments or config, 1 failure.

use std::path::PathBuf;
use std::process::ExitCode;

use super::config::InstallConfig;

pub const DEFAULT_CONFIG: &str = "/etc/palisade-cni/install.json";

/// `args` are the arguments after `install`.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let mut config = PathBuf::from(DEFAULT_CONFIG);
    for arg in args {
        match arg.strip_prefix("--config=") {
            Some(path) => config = PathBuf::from(path),
            None => {
                tracing::error!(
                    argument = arg,
                    "unknown argument; usage: palisade-cni install [--config=PATH]"
                );
                return ExitCode::from(64);
            }
        }
    }
    let cfg = match InstallConfig::from_file(&config) {
        Ok(cfg) => cfg,
        Err(error) => {
            tracing::error!(%error, "bad install config");
            return ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    // kube's client picks the process-wide rustls provider; an error means one is set already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match runtime.block_on(super::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "palisade-cni install failed");
            ExitCode::FAILURE
        }
    }
}
