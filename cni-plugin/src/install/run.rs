//! The installer's life: install, serve `/readyz`, keep the config in place while the primary
//! CNI rewrites its file and the token rotates, and uninstall on SIGTERM.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use notify::Watcher as _;

use super::config::InstallConfig;
use super::installer::{Ensure, InstallError, Installer};
use super::kubeconfig::{self, KubeconfigError};
use super::repair;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error("cannot watch {path}: {source}")]
    Watch { path: String, source: notify::Error },
    #[error("cannot serve /readyz on {addr}: {source}")]
    Readyz {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
}

/// How often the token and the config are checked even without a file event.
const RESYNC: Duration = Duration::from_secs(5);

/// Keeps the plugin installed until `shutdown` resolves, then uninstalls if configured.
/// `ready` is true while the plugin is in place.
pub async fn supervise(
    installer: &Installer,
    ready: &AtomicBool,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    installer.install_binary()?;
    installer.refresh_kubeconfig()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |_event| {
        let _ = tx.send(());
    })
    .map_err(|source| RunError::Watch {
        path: installer.cfg.host_conf_dir.display().to_string(),
        source,
    })?;
    watcher
        .watch(
            &installer.cfg.host_conf_dir,
            notify::RecursiveMode::NonRecursive,
        )
        .map_err(|source| RunError::Watch {
            path: installer.cfg.host_conf_dir.display().to_string(),
            source,
        })?;
    let mut tick = tokio::time::interval(RESYNC);
    tokio::pin!(shutdown);
    loop {
        match installer.ensure_config() {
            Ok(Ensure::Wrote(file)) => {
                tracing::info!(file, "palisade-cni config written");
                ready.store(true, Ordering::SeqCst);
            }
            Ok(Ensure::Current(_)) => ready.store(true, Ordering::SeqCst),
            Ok(Ensure::NoPrimary) => {
                tracing::info!(dir = %installer.cfg.host_conf_dir.display(), "waiting for the primary CNI config");
                ready.store(false, Ordering::SeqCst);
            }
            // A primary CNI caught mid-write: the next event or tick retries.
            Err(error) => tracing::warn!(%error, "cannot update the CNI config yet"),
        }
        tokio::select! {
            Some(()) = rx.recv() => {
                // Let a burst of writes settle, then handle them once.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while rx.try_recv().is_ok() {}
            }
            _ = tick.tick() => match installer.refresh_kubeconfig() {
                Ok(true) => tracing::info!("kubeconfig rewritten (token or CA changed)"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot refresh the kubeconfig"),
            },
            () = &mut shutdown => break,
        }
    }
    ready.store(false, Ordering::SeqCst);
    drop(watcher);
    if installer.cfg.cleanup_on_exit {
        installer.uninstall()?;
        tracing::info!("palisade-cni removed from the node");
    }
    Ok(())
}

async fn bind_readyz(addr: SocketAddr) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Readyz { addr, source })
}

/// `/readyz`: 200 while `ready`, else 503.
pub async fn serve_readyz(listener: tokio::net::TcpListener, ready: Arc<AtomicBool>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let ready = ready.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let ok = req.uri().path() == "/readyz" && ready.load(Ordering::SeqCst);
                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(if ok {
                    b"ok\n"
                } else {
                    b"not ready\n"
                })));
                if !ok {
                    *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                }
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// `palisade-cni install`: everything, until SIGTERM.
pub async fn run(cfg: InstallConfig) -> Result<(), RunError> {
    let server = kubeconfig::server_from_env()?;
    let ready = Arc::new(AtomicBool::new(false));
    let addr = SocketAddr::from(([0, 0, 0, 0], cfg.readyz_port));
    let readyz = tokio::spawn(serve_readyz(bind_readyz(addr).await?, ready.clone()));
    let repair = match std::env::var("NODE_NAME") {
        Ok(node) => match kube::Client::try_default().await {
            Ok(client) => Some(tokio::spawn(repair::run_controller(
                client,
                node,
                cfg.repair_mode,
                cfg.exclude_namespaces.clone(),
            ))),
            Err(error) => {
                tracing::warn!(%error, "no Kubernetes client: repair controller not running");
                None
            }
        },
        Err(_) => {
            tracing::warn!("NODE_NAME not set: repair controller not running");
            None
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(RunError::Signal)?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let installer = Installer::new(cfg, server);
    let result = supervise(&installer, &ready, shutdown).await;
    readyz.abort();
    if let Some(r) = repair {
        r.abort();
    }
    result
}
