//! The installer's life: install, serve `/readyz`, keep the config in place while the primary
//! CNI rewrites its file and the token rotates, and on SIGTERM uninstall only when its
//! DaemonSet is being deleted (an upgrade or drain leaves the plugin in place).

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

/// What to do with the node's plugin when the installer stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shutdown {
    /// The DaemonSet is going away (`helm uninstall`): remove the plugin and its entry.
    Uninstall,
    /// Anything else (rolling update, node drain, eviction, an unreachable API server):
    /// leave plugin, conflist entry and kubeconfig in place so no pod starts unprotected
    /// while the next installer pod is scheduled.
    Keep(String),
}

/// The installer's DaemonSet as seen at SIGTERM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonSetState {
    Gone,
    Deleting,
    Present,
    /// Not asked (no name or namespace configured) or the API did not answer.
    Unknown(String),
}

/// Pure: only a DaemonSet that is really being deleted uninstalls, and only with
/// `cleanupOnExit`. Every doubt keeps the plugin: failing open would start injected pods
/// without redirection, while a plugin left behind only costs a `helm uninstall` rerun.
pub fn decide_on_stop(cleanup_on_exit: bool, daemonset: &DaemonSetState) -> Shutdown {
    match (cleanup_on_exit, daemonset) {
        (false, _) => Shutdown::Keep("cleanupOnExit is false".to_owned()),
        (true, DaemonSetState::Gone | DaemonSetState::Deleting) => Shutdown::Uninstall,
        (true, DaemonSetState::Present) => Shutdown::Keep(
            "the DaemonSet still exists (rolling update, drain or eviction)".to_owned(),
        ),
        (true, DaemonSetState::Unknown(why)) => Shutdown::Keep(format!(
            "cannot tell whether the DaemonSet is deleted: {why}"
        )),
    }
}

/// Looks the DaemonSet up; its name and namespace come from the pod's environment
/// (`PALISADE_DAEMONSET`, `POD_NAMESPACE`, set by the chart).
pub async fn daemonset_state(
    client: Option<kube::Client>,
    namespace: Option<String>,
    name: Option<String>,
) -> DaemonSetState {
    let (Some(client), Some(namespace), Some(name)) = (client, namespace, name) else {
        return DaemonSetState::Unknown(
            "no API client, POD_NAMESPACE or PALISADE_DAEMONSET".to_owned(),
        );
    };
    let api: kube::Api<k8s_openapi::api::apps::v1::DaemonSet> =
        kube::Api::namespaced(client, &namespace);
    match tokio::time::timeout(Duration::from_secs(3), api.get_opt(&name)).await {
        Ok(Ok(None)) => DaemonSetState::Gone,
        Ok(Ok(Some(ds))) if ds.metadata.deletion_timestamp.is_some() => DaemonSetState::Deleting,
        Ok(Ok(Some(_))) => DaemonSetState::Present,
        Ok(Err(e)) => DaemonSetState::Unknown(e.to_string()),
        Err(_) => DaemonSetState::Unknown("no answer within 3 s".to_owned()),
    }
}

/// Keeps the plugin installed until `shutdown` resolves, then uninstalls if it says so.
/// `ready` is true while the plugin is in place.
pub async fn supervise(
    installer: &Installer,
    ready: &AtomicBool,
    shutdown: impl std::future::Future<Output = Shutdown>,
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
    let mut plugin_log = installer
        .cfg
        .plugin_log_file
        .clone()
        .map(super::pluginlog::PluginLog::follow);
    let mut log_tick = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(shutdown);
    // The plugin-log tick copies lines only; every other wake-up re-checks the config.
    let mut check = true;
    let decision = loop {
        let ensure = if std::mem::replace(&mut check, true) {
            Some(installer.ensure_config())
        } else {
            None
        };
        match ensure {
            None => {}
            Some(Ok(Ensure::Wrote(file))) => {
                tracing::info!(file, "palisade-cni config written");
                ready.store(true, Ordering::SeqCst);
            }
            Some(Ok(Ensure::Current(_))) => ready.store(true, Ordering::SeqCst),
            Some(Ok(Ensure::NoPrimary)) => {
                tracing::info!(dir = %installer.cfg.host_conf_dir.display(), "waiting for the primary CNI config");
                ready.store(false, Ordering::SeqCst);
            }
            // A primary CNI caught mid-write: the next event or tick retries.
            Some(Err(error)) => tracing::warn!(%error, "cannot update the CNI config yet"),
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
            _ = log_tick.tick() => {
                check = false;
                if let Some(log) = plugin_log.as_mut()
                    && let Err(error) = log.drain(&mut std::io::stderr())
                {
                    tracing::warn!(%error, "cannot copy the plugin's log");
                }
            }
            decision = &mut shutdown => break decision,
        }
    };
    ready.store(false, Ordering::SeqCst);
    drop(watcher);
    match decision {
        Shutdown::Uninstall => {
            installer.uninstall()?;
            tracing::info!("palisade-cni removed from the node: its DaemonSet is deleted");
        }
        Shutdown::Keep(reason) => {
            tracing::info!(reason, "palisade-cni stays on the node");
        }
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
    let client = match kube::Client::try_default().await {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::warn!(%error, "no Kubernetes client: no repair controller, and SIGTERM keeps the plugin");
            None
        }
    };
    let repair = match std::env::var("NODE_NAME") {
        Ok(node) => match client.clone() {
            Some(client) => Some(tokio::spawn(repair::run_controller(
                client,
                node,
                cfg.repair_mode,
                cfg.exclude_namespaces.clone(),
            ))),
            None => None,
        },
        Err(_) => {
            tracing::warn!("NODE_NAME not set: repair controller not running");
            None
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(RunError::Signal)?;
    let cleanup_on_exit = cfg.cleanup_on_exit;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        // Asked only now: at SIGTERM, the DaemonSet is either being deleted (uninstall) or
        // being updated, drained or evicted (the plugin must stay for the pods that start
        // before the next installer pod runs).
        let state = daemonset_state(
            client,
            std::env::var("POD_NAMESPACE").ok(),
            std::env::var("PALISADE_DAEMONSET").ok(),
        )
        .await;
        let decision = decide_on_stop(cleanup_on_exit, &state);
        tracing::info!(daemonset = ?state, decision = ?decision, "SIGTERM");
        decision
    };
    let installer = Installer::new(cfg, server);
    let result = supervise(&installer, &ready, shutdown).await;
    readyz.abort();
    if let Some(r) = repair {
        r.abort();
    }
    result
}
