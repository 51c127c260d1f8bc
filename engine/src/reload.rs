//! Reload triggers: SIGHUP, and changes to the config file (watched through its
//! directory, so editors' rename-over and Kubernetes ConfigMap symlink swaps count).
//! Each reload is built on a blocking thread and swapped in by [`Shared::reload`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::ProcessEnv;
use crate::state::Shared;

/// Errors setting up the triggers.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot watch {path} for changes: {source}")]
    Watch { path: String, source: notify::Error },
}

/// Start the reload task; the returned watcher must be kept alive.
pub fn spawn(shared: Arc<Shared>) -> Result<Option<notify::RecommendedWatcher>, ReloadError> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(ReloadError::Signal)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = match &shared.config_path {
        Some(path) => Some(watch(path, tx)?),
        None => None,
    };
    let path = shared.config_path.clone();
    tokio::spawn(async move {
        let mut last = path.as_deref().and_then(read);
        loop {
            let from_signal = tokio::select! {
                s = hup.recv() => match s { Some(()) => true, None => return },
                f = rx.recv() => match f { Some(()) => false, None => return },
            };
            if !from_signal {
                // Let a burst of file events settle, then reload only on a real change.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while rx.try_recv().is_ok() {}
                let now = path.as_deref().and_then(read);
                if now == last {
                    continue;
                }
            }
            last = path.as_deref().and_then(read);
            tracing::info!(
                trigger = if from_signal { "SIGHUP" } else { "file" },
                "reloading configuration"
            );
            let shared = shared.clone();
            let _ = tokio::task::spawn_blocking(move || shared.reload(&ProcessEnv)).await;
        }
    });
    Ok(watcher)
}

fn read(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

fn watch(
    path: &Path,
    tx: mpsc::UnboundedSender<()>,
) -> Result<notify::RecommendedWatcher, ReloadError> {
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let err = |source| ReloadError::Watch {
        path: dir.display().to_string(),
        source,
    };
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok() {
            let _ = tx.send(());
        }
    })
    .map_err(err)?;
    w.watch(&dir, RecursiveMode::NonRecursive).map_err(err)?;
    Ok(w)
}
