//! The binary's edge: flags, logging, exit codes. `main.rs` only calls [`main`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use palisade_api::names::{DEFAULT_LOG, LOG_ENV};

use crate::config::InjectorConfig;
use crate::metrics::Metrics;
use crate::{server, tls};

/// Exit codes, as `--help` lists them ([`exit::HELP`]).
pub mod exit {
    use palisade_api::exit as api;

    /// Clean shutdown on SIGTERM or Ctrl-C.
    pub const OK: u8 = api::OK;
    /// The server failed while running (bind, TLS, metrics registry).
    pub const FAILURE: u8 = api::FAILURE;
    /// Command-line syntax error (clap).
    pub const USAGE: u8 = api::USAGE;
    /// `injector.json` or the TLS certificate is unreadable or invalid.
    pub const CONFIG: u8 = api::CONFIG;

    /// The `--help` section; a unit test keeps it in step with the constants above.
    pub const HELP: &str = "\
Exit codes:
  0   clean shutdown (SIGTERM or Ctrl-C)
  1   the server failed while running
  2   command-line syntax error
  64  injector.json or the TLS certificate is unreadable or invalid

Logging: PALISADE_LOG (default info), e.g. PALISADE_LOG=debug.";
}

/// Mutating admission webhook that adds the Palisade engine to pods.
#[derive(Parser, Debug)]
#[command(name = "palisade-injector", version, after_help = exit::HELP)]
pub struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, env = "PALISADE_INJECTOR_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// injector.json rendered by the chart.
    #[arg(long, env = "PALISADE_INJECTOR_CONFIG")]
    pub config: String,
    #[arg(long, env = "PALISADE_INJECTOR_TLS_CERT")]
    pub tls_cert: PathBuf,
    #[arg(long, env = "PALISADE_INJECTOR_TLS_KEY")]
    pub tls_key: PathBuf,
    /// How often the certificate files are checked for changes, in seconds.
    #[arg(long, default_value_t = 10)]
    pub tls_reload_seconds: u64,
}

/// Everything `run` needs, loaded before anything listens; a failure here is exit 64.
pub struct Setup {
    pub config: InjectorConfig,
    pub cert: Arc<tls::ReloadingCert>,
    pub tls_config: rustls::ServerConfig,
}

impl Setup {
    pub fn load(args: &Args) -> anyhow::Result<Self> {
        let config = InjectorConfig::from_file(&args.config)?;
        let cert = tls::ReloadingCert::new(args.tls_cert.clone(), args.tls_key.clone())?;
        let tls_config = tls::server_config(cert.clone())?;
        Ok(Self {
            config,
            cert,
            tls_config,
        })
    }
}

/// `palisade-injector`: parse flags, log JSON to stderr, serve until SIGTERM.
pub fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
                .unwrap_or_else(|_| DEFAULT_LOG.into()),
        )
        .init();
    // kube's client takes the process-wide provider; ignoring the error is right when one is set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let setup = match Setup::load(&args) {
        Ok(setup) => setup,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "bad configuration");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(run(args, setup)));
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "injector failed");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Serves the webhook until SIGTERM or Ctrl-C.
pub async fn run(args: Args, setup: Setup) -> anyhow::Result<()> {
    let state = server::State::new(setup.config, Metrics::new().context("metrics registry")?);
    let listener = server::bind(args.listen).await?;
    let addr = listener.local_addr().context("local address")?;
    let _reload = setup
        .cert
        .watch(Duration::from_secs(args.tls_reload_seconds.max(1)));
    tracing::info!(addr = %addr, "listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    server::serve(listener, Arc::new(setup.tls_config), state, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::exit;

    #[test]
    fn help_lists_every_exit_code() {
        for code in [exit::OK, exit::FAILURE, exit::USAGE, exit::CONFIG] {
            assert!(
                exit::HELP.contains(&format!("\n  {code:<3} ")),
                "exit code {code} missing from --help"
            );
        }
    }
}
