//! Entry point for `palisade-cni install [--config PATH]` (arguments parsed by clap in
//! [`crate::cli`]). Exit codes: [`crate::cli::exit`].

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_api::names::LOG_ENV;

use super::config::InstallConfig;
use super::repair;
use crate::cli::exit;

pub const DEFAULT_CONFIG: &str = "/etc/palisade-cni/install.json";

/// The arguments after `install`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// install.json rendered by the palisade-cni chart.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// JSON logs on stderr; `PALISADE_LOG` wins over install.json's `logLevel`.
fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
                .or_else(|_| tracing_subscriber::EnvFilter::try_new(default))
                .unwrap_or_else(|_| palisade_api::names::DEFAULT_LOG.into()),
        )
        .try_init();
}

pub fn main(args: InstallArgs) -> ExitCode {
    let cfg = InstallConfig::from_file(&args.config);
    init_tracing(
        cfg.as_ref()
            .map_or(palisade_api::names::DEFAULT_LOG, |c| c.log_level.as_str()),
    );
    let cfg = match cfg {
        Ok(cfg) => cfg,
        Err(error) => {
            tracing::error!(%error, "bad install config");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let node = std::env::var("NODE_NAME").ok();
    if let Err(error) = repair::check_node_name(cfg.repair_mode, node.as_deref()) {
        tracing::error!(%error, "bad install config");
        return ExitCode::from(exit::CONFIG);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(exit::FAILURE);
        }
    };
    // kube's client picks the process-wide rustls provider; an error means one is set already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match runtime.block_on(super::run(cfg)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            tracing::error!(%error, "palisade-cni install failed");
            ExitCode::from(exit::FAILURE)
        }
    }
}
