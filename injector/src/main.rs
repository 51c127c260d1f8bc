//! `palisade-injector`: parses flags, sets up tracing, runs the webhook server.
//! Exit codes: 0 clean shutdown, 64 bad configuration or certificate, 1 runtime failure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use palisade_injector::{config::InjectorConfig, metrics::Metrics, server, tls};

/// Mutating admission webhook that adds the Palisade engine to pods.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, env = "PALISADE_INJECTOR_LISTEN", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// injector.json rendered by the chart.
    #[arg(long, env = "PALISADE_INJECTOR_CONFIG")]
    config: String,
    #[arg(long, env = "PALISADE_INJECTOR_TLS_CERT")]
    tls_cert: PathBuf,
    #[arg(long, env = "PALISADE_INJECTOR_TLS_KEY")]
    tls_key: PathBuf,
    /// How often the certificate files are checked for changes, in seconds.
    #[arg(long, default_value_t = 10)]
    tls_reload_seconds: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    // kube's client takes the process-wide provider; ignoring the error is right when one is set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let setup = || -> anyhow::Result<_> {
        let config = InjectorConfig::from_file(&args.config)?;
        let cert = tls::ReloadingCert::new(args.tls_cert.clone(), args.tls_key.clone())?;
        let tls_config = tls::server_config(cert.clone())?;
        Ok((config, cert, tls_config))
    };
    let (config, cert, tls_config) = match setup() {
        Ok(v) => v,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "bad configuration");
            return std::process::ExitCode::from(64);
        }
    };
    match run(args, config, cert, tls_config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "injector failed");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(
    args: Args,
    config: InjectorConfig,
    cert: Arc<tls::ReloadingCert>,
    tls_config: rustls::ServerConfig,
) -> anyhow::Result<()> {
    let state = server::State::new(config, Metrics::new().context("metrics registry")?);
    let listener = server::bind(args.listen).await?;
    let addr = listener.local_addr().context("local address")?;
    let _reload = cert.watch(Duration::from_secs(args.tls_reload_seconds.max(1)));
    tracing::info!(addr = %addr, "listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    server::serve(listener, Arc::new(tls_config), state, shutdown).await?;
    Ok(())
}
